"""Autograd wrappers over the regularized incomplete gamma function ``P(a, x)`` and its derivative in ``a``
(numerics in ``ember/ops/igamma_math.py``): for ``Gamma.cdf`` and for
the implicit reparameterisation gradient of gamma samples, ``dx/da = -(dP/da) / p(x; a)`` (Figurnov et al.,
2018: differentiate ``P(a, x) = u`` with the uniform ``u`` held fixed).

"""
from __future__ import annotations

from ..autograd_function import Function
from ..backend import xp_of
from ..ops import special_math as sm
from ..ops.igamma_math import dgammainc_da, gammainc


def gammainc_array(a, x):
    """``P(a, x)`` for float64 arrays (broadcast together)."""
    return gammainc(xp_of(a), a, x)


def dgammainc_da_array(a, x):
    """``dP(a, x)/da`` over the gamma density (see ``ember.ops.igamma_math.dgammainc_da``)."""
    return dgammainc_da(xp_of(a), a, x)


class _GammaincA(Function):
    """``dP/da`` as a tensor with no derivative of its own (a second derivative through it raises)."""

    @staticmethod
    def forward(ctx, a, x):
        from ..tensor import Tensor

        xp = xp_of(a._data)
        ad, xd = a._data.astype("float64"), x._data.astype("float64")
        pdf = xp.exp((ad - 1) * xp.log(xd) - xd - sm.lgamma(xp, ad))
        return Tensor._wrap((dgammainc_da_array(ad, xd) * pdf).astype(a._data.dtype))

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError("second derivatives of the incomplete gamma function (Gamma.cdf, gamma "
                                  "rsample) with respect to the concentration are not implemented")


class Gammainc(Function):
    """``P(a, x)``, differentiable in ``x`` (the density) and, once, in ``a`` (the series derivative)."""

    @staticmethod
    def forward(ctx, a, x):
        from ..tensor import Tensor

        ctx.save_for_backward(a, x)
        out = gammainc_array(a._data.astype("float64"), x._data.astype("float64"))
        return Tensor._wrap(out.astype(a._data.dtype))

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        ga = gx = None
        if ctx.needs_input_grad[1]:
            xs = x.clamp(min=0)
            gx = g * ((a - 1) * xs.log() - xs - a.lgamma()).exp().where(x > 0, x * 0)
        if ctx.needs_input_grad[0]:
            ga = g * _GammaincA.apply(a, x.clamp(min=1e-300)).where(x > 0, x * 0)
        return ga, gx


class _StandardGammaSample(Function):
    """Identity on a gamma sample ``x`` drawn for ``alpha``; the backward is the implicit reparameterisation
    gradient ``dx/dalpha = -(dP/dalpha) / p(x)``."""

    @staticmethod
    def forward(ctx, alpha, x):
        from ..tensor import Tensor

        ctx.save_for_backward(alpha, x)
        return Tensor._wrap(x._data)

    @staticmethod
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        return -g * _ImplicitGammaGrad.apply(alpha, x), None


class _ImplicitGammaGrad(Function):
    @staticmethod
    def forward(ctx, alpha, x):
        from ..tensor import Tensor

        ad, xd = alpha._data.astype("float64"), x._data.astype("float64")
        return Tensor._wrap(dgammainc_da_array(ad, xd).astype(alpha._data.dtype))

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError("second derivatives of gamma samples (Gamma/Beta/Dirichlet rsample) with "
                                  "respect to the concentration are not implemented")


def standard_gamma(alpha, shape):
    """Gamma(``alpha``, rate 1) samples of ``shape`` (``alpha`` broadcast to it), reparameterised: gradients
    reach ``alpha`` by the implicit function theorem. Samples are clamped to the smallest positive normal
    number, so ``log`` of them stays finite (as PyTorch does)."""
    from ..autograd import no_grad
    from ..ops import apply

    alpha = alpha.expand(*shape) if tuple(alpha.shape) != tuple(shape) else alpha
    with no_grad():
        x = apply("gamma", alpha.detach(), shape=tuple(shape), dtype=alpha.dtype.name, device=str(alpha.device))
        x = x.clamp(min=float(xp_of(x._data).finfo(x._data.dtype).tiny))
    return _StandardGammaSample.apply(alpha, x) if alpha.requires_grad else x
