"""``nn.utils.parametrizations``: weight normalisation and spectral normalisation as parametrizations (the
forms PyTorch recommends over the hook-based ``nn.utils.weight_norm`` / ``spectral_norm``), with PyTorch's
state_dict keys (``parametrizations.weight.original0`` / ``original1``; ``parametrizations.weight.0._u``).

>>> import ember
>>> from ember import nn
>>> layer = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3))
>>> sorted(layer.state_dict())
['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""
from __future__ import annotations

from ... import creation
from ...autograd import no_grad
from ..functional.normalization import normalize
from ..modules.module import Module
from .parametrize import register_parametrization
from .weight_norm import _norm_except_dim

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """``module.<name>`` computed as ``g * v / ||v||`` from ``original0`` (g) and ``original1`` (v); the norm
    over every dim but ``dim`` (all with ``dim=None``).

    >>> import ember
    >>> from ember import nn
    >>> tuple(nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 4, 3)).parametrizations.weight.original0.shape)
    (4, 1, 1)
    """
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations, dim, eps):
        super().__init__()
        self.dim = dim if dim >= 0 else dim + weight.ndim
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if weight.ndim > 1:
            mat = self._matrix(weight)
            h, w = mat.shape
            self.register_buffer("_u", normalize(creation.randn(h, dtype=weight.dtype, device=weight.device),
                                                 dim=0, eps=eps))
            self.register_buffer("_v", normalize(creation.randn(w, dtype=weight.dtype, device=weight.device),
                                                 dim=0, eps=eps))
            self._power_method(mat, 15)  # start from good estimates, as PyTorch does

    def _matrix(self, weight):
        w = weight.movedim(self.dim, 0) if self.dim != 0 else weight
        return w.reshape(w.shape[0], -1)

    def _power_method(self, mat, iterations):
        with no_grad():
            mat = mat.detach()
            for _ in range(iterations):  # u from v first (the parametrization's order; the hook form's is v first)
                self._u.copy_(normalize(mat @ self._v, dim=0, eps=self.eps))
                self._v.copy_(normalize(mat.mT @ self._u, dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """``module.<name>`` divided by its largest singular value, estimated by power iteration (updated on each
    training call; buffers ``_u`` and ``_v`` of the parametrization).

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3))
    >>> sorted(layer.state_dict())
    ['bias', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v', 'parametrizations.weight.original']
    """
    weight = getattr(module, name)
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    return register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
