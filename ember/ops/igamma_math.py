"""The regularized incomplete gamma functions ``P(a, x)`` and ``Q(a, x) = 1 - P(a, x)`` and ``dP/da``, on
float64 arrays: the numerics behind the ``igamma``/``igammac`` primitives, ``Gamma.cdf`` and the implicit
reparameterisation gradient of gamma samples.

Below ``x = a + 1`` from the power series ``P = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n))``
(positive terms, differentiated term by term for ``dP/da``); above, from the continued fraction of ``Q``
(no cancellation near ``P = 1``).

>>> import numpy as np
>>> from ember.ops.igamma_math import gammainc
>>> gammainc(np, np.array([1.0]), np.array([1.0]), upper=False).round(6).tolist()  # 1 - e^-1
[0.632121]
"""
from __future__ import annotations

from . import special_math as sm

_MAX_TERMS = 100000


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


def _interior(xp, a, x, upper_tail):
    """``P`` (or ``Q``) for finite ``a > 0``, ``x > 0``; each tail is computed directly where it is the small one."""
    upper, lo, hi = _split(xp, a, x)
    s, _ = _series(xp, a, lo)
    p_low = xp.exp(a * xp.log(lo) - lo - sm.lgamma(xp, a + 1.0)) * s
    q_high = xp.exp(a * xp.log(hi) - hi - sm.lgamma(xp, a)) * _upper_cf(xp, a, hi)
    if upper_tail:
        return xp.where(upper, q_high, 1.0 - p_low)
    return xp.where(upper, 1.0 - q_high, p_low)


def gammainc(xp, a, x, upper=False):
    """``P(a, x)`` (``Q(a, x)`` with ``upper=True``) for float64 arrays, broadcast together, with PyTorch's edge
    values: NaN for ``a < 0``, ``x < 0``, ``a = x = 0``, ``a = x = inf`` and NaN inputs; ``P = 1`` at ``a = 0``
    (``x > 0``) and at ``x = inf``; ``P = 0`` at ``x = 0`` (``a > 0``) and at ``a = inf``."""
    a, x = xp.broadcast_arrays(xp.asarray(a, dtype="float64"), xp.asarray(x, dtype="float64"))
    inf, nan_in = float("inf"), xp.isnan(a) | xp.isnan(x)
    # the edge cases in PyTorch's order of checks (so e.g. P(nan, 0) = 0 and P(inf, nan) = 0, as there)
    nan = (a < 0) | (x < 0) | ((a == 0) & ~(x > 0))
    one = ~nan & (a == 0)
    zero = ~nan & ~one & (x == 0)
    nan = nan | (~one & ~zero & (a == inf) & (x == inf))
    zero = zero | (~nan & ~one & (a == inf))
    one = one | (~nan & ~zero & (x == inf))
    nan = nan | (~one & ~zero & nan_in)
    edge = nan | one | zero
    # clipped: for tiny ``a`` the lower branch's ``Q = 1 - P`` may round a hair below 0
    p = xp.clip(_interior(xp, xp.where(edge, 1.0, a), xp.where(edge, 1.0, x), upper), 0.0, 1.0)
    one_v, zero_v = (0.0, 1.0) if upper else (1.0, 0.0)
    return xp.where(nan, xp.nan, xp.where(one, one_v, xp.where(zero, zero_v, p)))

def dgammainc_da(xp, a, x):
    """``dP(a, x)/da`` divided by the density ``x^(a-1) e^-x / Gamma(a)``, i.e. minus the implicit gradient
    ``dx/da`` of a standard gamma sample ``x``; float64 arrays, ``x > 0``. Below ``a + 1`` from the series
    (positive terms); above, from ``Q``'s continued fraction and its complex-step derivative in ``a``, since
    the series' two sums cancel to many digits in the upper tail."""
    a, x = xp.broadcast_arrays(a, x)
    upper, lo, hi = _split(xp, a, x)
    s, d = _series(xp, a, lo)
    low = (lo / a) * (s * (xp.log(lo) - sm.digamma(xp, a + 1.0)) - d)
    step = 1e-30
    hc = _upper_cf(xp, a + 1j * step, hi.astype("complex128"))
    high = -hi * (hc.real * (xp.log(hi) - sm.digamma(xp, a)) + hc.imag / step)
    return xp.where(upper, high, low)
