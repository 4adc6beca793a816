"""``nn.utils.weight_norm`` and ``nn.utils.spectral_norm`` (the hook-based forms many models still use): a
module's weight is recomputed before every call from new parameters, with PyTorch's names (``weight_g`` /
``weight_v``; ``weight_orig`` with ``weight_u`` / ``weight_v`` buffers), formulas and state_dict keys.

>>> import ember
>>> from ember import nn
>>> layer = nn.utils.weight_norm(nn.Linear(4, 3))
>>> sorted(name for name, _ in layer.named_parameters())
['bias', 'weight_g', 'weight_v']
>>> layer(ember.randn(2, 4)).shape
ember.Size([2, 3])
"""
from __future__ import annotations

from ... import functional as EF
from ...autograd import no_grad
from ...errors import mark, with_user_line
from ..functional.normalization import normalize
from ..modules.module import Parameter

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def _norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dim but ``dim`` (all of them for ``dim=-1``), shaped to broadcast."""
    if dim == -1:
        return EF.sqrt((v * v).sum())
    d = dim % v.ndim
    others = tuple(i for i in range(v.ndim) if i != d)
    return EF.sqrt((v * v).sum(others, keepdim=True))


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrise ``module.<name>`` as ``g * v / ||v||`` (the norm over every dim but ``dim``; ``dim=None``:
    over all), with parameters ``<name>_g`` and ``<name>_v``; the weight is recomputed before each call.

    >>> import ember
    >>> from ember import nn
    >>> conv = nn.utils.weight_norm(nn.Conv1d(2, 4, 3), dim=0)
    >>> tuple(conv.weight_g.shape)
    (4, 1, 1)
    """
    if any(isinstance(h, _WeightNorm) and h.name == name for h, _ in module._forward_pre_hooks.values()):
        raise mark(with_user_line(RuntimeError(f"weight_norm: {name!r} of {type(module).__name__} already has "
                                               "weight norm"), 2))
    weight = _parameter(module, name, "weight_norm")
    fn = _WeightNorm(name, -1 if dim is None else dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight.detach(), fn.dim)))
    module.register_parameter(name + "_v", Parameter(weight.detach().clone()))
    setattr(module, name, fn.compute(module))
    module.__dict__["_weight_norm_" + name] = module.register_forward_pre_hook(fn)
    return module


def _parameter(module, name, what):
    weight = getattr(module, name, None)
    if not isinstance(weight, Parameter):
        raise mark(with_user_line(AttributeError(f"{what}: {type(module).__name__} has no parameter {name!r}"), 3))
    return weight


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``<name>`` becomes one parameter again, holding the current weight.

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.utils.remove_weight_norm(nn.utils.weight_norm(nn.Linear(4, 3)))
    >>> sorted(name for name, _ in layer.named_parameters())
    ['bias', 'weight']
    """
    return _remove(module, name, "_weight_norm_", (name + "_g", name + "_v"), "weight_norm")


def _remove(module, name, key, params, what):
    handle = module.__dict__.pop(key + name, None)
    if handle is None:
        raise mark(with_user_line(ValueError(f"remove_{what}: {what} of {name!r} not found in "
                                             f"{type(module).__name__}"), 3))
    hook = module._forward_pre_hooks[handle.id][0]
    with no_grad():
        weight = hook.compute(module, False) if isinstance(hook, _SpectralNorm) else hook.compute(module)
    handle.remove()
    for p in params:
        delattr(module, p)
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight.detach()))
    return module


class _SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight):
        w = weight.movedim(self.dim, 0) if self.dim != 0 else weight
        return w.reshape(w.shape[0], -1)

    def compute(self, module, power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.matrix(weight)
        if power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):  # the buffers keep the vectors between calls
                    v.copy_(normalize(mat.detach().mT @ u, dim=0, eps=self.eps))
                    u.copy_(normalize(mat.detach() @ v, dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()  # the gradient reads these values, not later updates
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its largest singular value, estimated by ``n_power_iterations`` power
    iterations per training call (``<name>_u`` / ``<name>_v`` buffers hold the vectors; ``<name>_orig`` is the
    parameter). ``dim``: the output dim (1 for transposed convolutions, else 0).

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.utils.spectral_norm(nn.Linear(4, 3))
    >>> sorted(layer.state_dict())
    ['bias', 'weight_orig', 'weight_u', 'weight_v']
    """
    from ... import creation

    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    weight = _parameter(module, name, "spectral_norm")
    if n_power_iterations < 0:
        raise mark(with_user_line(ValueError(f"spectral_norm: n_power_iterations must be non-negative, got "
                                             f"{n_power_iterations}"), 2))
    fn = _SpectralNorm(name, n_power_iterations, dim, eps)
    mat = fn.matrix(weight.detach())
    h, w = mat.shape
    u = normalize(creation.randn(h, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
    v = normalize(creation.randn(w, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    setattr(module, name, weight.detach())
    module.__dict__["_spectral_norm_" + name] = module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``<name>`` becomes one parameter holding the normalised weight.

    >>> import ember
    >>> from ember import nn
    >>> layer = nn.utils.remove_spectral_norm(nn.utils.spectral_norm(nn.Linear(4, 3)))
    >>> sorted(layer.state_dict())
    ['bias', 'weight']
    """
    return _remove(module, name, "_spectral_norm_", (name + "_orig", name + "_u", name + "_v"), "spectral_norm")
