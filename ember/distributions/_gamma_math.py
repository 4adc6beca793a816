"""The regularized incomplete gamma function ``P(a, x)`` and its derivative in ``a``: for ``Gamma.cdf`` and for
the implicit reparameterisation gradient of gamma samples, ``dx/da = -(dP/da) / p(x; a)`` (Figurnov et al.,
2018: differentiate ``P(a, x) = u`` with the uniform ``u`` held fixed).

Both come from the power series ``P = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n))``, differentiated term
by term; the upper tail of ``P`` uses the continued fraction of ``Q = 1 - P`` (no cancellation near 1).
"""
from __future__ import annotations

from ..autograd_function import Function
from ..backend import xp_of

_MAX_TERMS = 100000


def _lgamma(arr):
    from ..special import lgamma
    from ..tensor import Tensor

    return lgamma(Tensor._wrap(arr))._data


def _digamma(arr):
    from ..special import digamma
    from ..tensor import Tensor

    return digamma(Tensor._wrap(arr))._data


def _series(xp, a, x):
    """``S = sum t_n`` and ``D = sum t_n H_n`` with ``t_n = x^n / ((a+1)...(a+n))``, ``H_n = sum 1/(a+k)``; all
    terms are positive, so the sums carry no cancellation. Every 16 terms the elements whose tail is negligible
    (past the peak ``n > x - a``, last term below 1e-17 of the sum) are set aside: the loop runs on the rest."""
    shape = x.shape
    a, x = a.reshape(-1), x.reshape(-1)
    s_out, d_out = xp.empty_like(x), xp.empty_like(x)
    idx = xp.arange(x.size)
    t, s, h, d = xp.ones_like(x), xp.ones_like(x), xp.zeros_like(x), xp.zeros_like(x)
    n = 0
    while idx.size and n < _MAX_TERMS:
        n += 1
        t = t * x / (a + n)
        h = h + 1.0 / (a + n)
        s, d = s + t, d + t * h
        if n % 16 == 0:
            done = (n > x - a) & (t * xp.maximum(h, 1.0) <= 1e-17 * xp.maximum(d, s))
            if bool(done.any()):
                s_out[idx[done]], d_out[idx[done]] = s[done], d[done]
                keep = ~done
                idx, a, x, t, s, h, d = (v[keep] for v in (idx, a, x, t, s, h, d))
    s_out[idx], d_out[idx] = s, d
    return s_out.reshape(shape), d_out.reshape(shape)


def _upper_cf(xp, a, x):
    """The continued fraction ``h`` with ``Q(a, x) = x^a e^-x / Gamma(a) * h`` (modified Lentz; converges fast for
    ``x > a + 1``). Plain arithmetic only, so a complex ``a`` gives ``dh/da`` by the complex step."""
    tiny = 1e-300
    b = x + 1.0 - a
    c, d = xp.full_like(b, 1.0 / tiny), 1.0 / b
    h = d
    for i in range(1, 5000):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = xp.where(xp.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if bool(xp.all(xp.abs(delta - 1.0) < 1e-16)):
            break
    return h


def _split(xp, a, x):
    """Where each branch applies (the series below ``a + 1``, the continued fraction above) and the inputs each
    branch sees (a harmless stand-in elsewhere, so neither iterates on inputs it converges slowly on)."""
    upper = x > a + 1.0
    return upper, xp.where(upper, xp.minimum(x, a), x), xp.where(upper, x, a + 2.0)


def gammainc_array(a, x):
    """``P(a, x)`` for float64 arrays (broadcast together)."""
    xp = xp_of(a)
    a, x = xp.broadcast_arrays(a, x)
    pos = x > 0
    upper, lo, hi = _split(xp, a, xp.where(pos, x, 1.0))
    s, _ = _series(xp, a, lo)
    p_low = xp.exp(a * xp.log(lo) - lo - _lgamma(a + 1.0)) * s
    q_high = xp.exp(a * xp.log(hi) - hi - _lgamma(a)) * _upper_cf(xp, a, hi)
    return xp.where(pos, xp.where(upper, 1.0 - q_high, p_low), 0.0)


def dgammainc_da_array(a, x):
    """``dP(a, x)/da`` divided by the density ``x^(a-1) e^-x / Gamma(a)``, i.e. minus the implicit gradient
    ``dx/da`` of a standard gamma sample ``x``; float64 arrays, ``x > 0``. Below ``a + 1`` from the series
    (positive terms); above, from ``Q``'s continued fraction and its complex-step derivative in ``a``, since
    the series' two sums cancel to many digits in the upper tail."""
    xp = xp_of(a)
    a, x = xp.broadcast_arrays(a, x)
    upper, lo, hi = _split(xp, a, x)
    s, d = _series(xp, a, lo)
    low = (lo / a) * (s * (xp.log(lo) - _digamma(a + 1.0)) - d)
    step = 1e-30
    hc = _upper_cf(xp, a + 1j * step, hi.astype("complex128"))
    high = -hi * (hc.real * (xp.log(hi) - _digamma(a)) + hc.imag / step)
    return xp.where(upper, high, low)


class _GammaincA(Function):
    """``dP/da`` as a tensor with no derivative of its own (a second derivative through it raises)."""

    @staticmethod
    def forward(ctx, a, x):
        from ..tensor import Tensor

        xp = xp_of(a._data)
        ad, xd = a._data.astype("float64"), x._data.astype("float64")
        pdf = xp.exp((ad - 1) * xp.log(xd) - xd - _lgamma(ad))
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
