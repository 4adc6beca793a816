"""The numerics of the special-function primitives (``ops/special.py``): array code written once with ``xp``
(NumPy or CuPy), float64 inside, each input rounded back to its own dtype once by the caller.

Methods (formulas and constants from the literature, or computed here at import):

- ``lgamma``: Taylor series of log Gamma around 2 (coefficients ``(-1)^k (zeta(k) - 1) / k``) on [1.5, 2.5),
  the recurrence down to it below 10, Stirling's series from 10 up, reflection below 0.5.
- ``digamma``: the recurrence up to 10 then the asymptotic series; reflection below 0.
- ``hurwitz_zeta`` (and so ``polygamma``): Euler-Maclaurin summation after shifting ``q`` past 9.
- ``ndtri`` / ``erfinv``: Wichura's AS241 (PPND16) rational approximations, relative error ~1e-16.
- ``erfcx`` / ``erfc``: Chebyshev interpolants of erfcx on 16 pieces of [0, 4] (node values from ``math.erfc``
  at import), Laplace's continued fraction beyond; ``erfc = exp(-x^2) erfcx(x)`` with ``x^2`` split so it stays exact.
- ``i0``/``i1`` (and the scaled forms): the power series below 20, the Hankel asymptotic series above.

>>> import numpy as np
>>> from ember.ops.special_math import lgamma, erfinv
>>> float(lgamma(np, np.array(5.0)))  # log(4!)
3.1780538303479458
>>> float(erfinv(np, np.array(0.5)))
0.4769362762044699
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as _np

EULER = 0.57721566490153286061


def _zeta_int(k):
    """zeta(k) for an integer k >= 2 (to double precision), by direct summation plus the Euler-Maclaurin tail."""
    n = 50  # the next Euler-Maclaurin term is below 2e-17
    head = math.fsum(j ** -k for j in range(1, n))
    tail = n ** (1 - k) / (k - 1) + 0.5 * n ** -k + k / 12 * n ** (-k - 1)
    return head + tail - k * (k + 1) * (k + 2) / 720 * n ** (-k - 3) + \
        k * (k + 1) * (k + 2) * (k + 3) * (k + 4) / 30240 * n ** (-k - 5)


def _horner(xp, coeffs, x):
    """sum c_i x^i with ``coeffs`` lowest power first."""
    acc = xp.full_like(x, coeffs[-1])
    for c in coeffs[-2::-1]:
        acc = acc * x + c
    return acc


def _sinpi(xp, x):
    """sin(pi x) with the argument reduced exactly first (0 at integers, as math requires)."""
    r = x - 2.0 * xp.round(x * 0.5)  # in [-1, 1], exact
    return xp.sin(math.pi * xp.where(xp.abs(r) > 0.5, xp.sign(r) - r, r))


# lgamma(2 + z) = (1 - gamma) z + sum_{k>=2} (-1)^k (zeta(k) - 1) / k z^k  (|z| < 2)
_LG2 = (0.0, 1.0 - EULER) + tuple((-1) ** k * (_zeta_int(k) - 1.0) / k for k in range(2, 40))
# Stirling: sum_k B_2k / (2k (2k - 1) x^(2k-1)), as a polynomial in 1/x^2 times 1/x
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _lgamma_pos(xp, x):
    """log Gamma(x) for x >= 0.5 (NaN and inf pass through)."""
    z, prod = xp.minimum(x, 10.0), xp.ones_like(x)
    for _ in range(8):  # Gamma(z) = (z - 1) Gamma(z - 1): down into [1.5, 2.5)
        high = z >= 2.5
        prod = xp.where(high, prod * (z - 1.0), prod)
        z = xp.where(high, z - 1.0, z)
    low = z < 1.5  # [0.5, 1.5): lgamma(z) = lgamma(z + 1) - log(z)
    t = xp.where(low, z - 1.0, z - 2.0)
    mid = _horner(xp, _LG2, t) + xp.log(prod) - xp.where(low, xp.log1p(xp.where(low, t, 0.0)), 0.0)
    big = xp.maximum(x, 10.0)
    inv = 1.0 / big
    stirling = (big - 0.5) * (xp.log(big) - 1.0) + (_HALF_LOG_2PI - 0.5) + inv * _horner(xp, _STIRLING, inv * inv)
    return xp.where(x >= 10.0, stirling, mid)


def lgamma(xp, x):
    """log |Gamma(x)|; +inf at 0, the negative integers and -inf (as PyTorch)."""
    x = xp.asarray(x, dtype=_np.float64)
    refl = x < 0.5
    xr = xp.where(refl, 1.0 - x, x)
    pos = _lgamma_pos(xp, xr)
    with _np.errstate(divide="ignore"):
        s = xp.abs(_sinpi(xp, xp.where(refl, x, 0.5)))
        out = xp.where(refl, math.log(math.pi) - xp.log(s) - pos, pos)
    return xp.where(xp.isinf(x), xp.inf, out)


# digamma ~ log x - 1/(2x) - sum_k B_2k / (2k x^2k)
_PSI_ASYM = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def digamma(xp, x):
    """psi(x); -inf at +0 (+inf at -0), NaN at the negative integers and -inf (as PyTorch)."""
    x = xp.asarray(x, dtype=_np.float64)
    neg = x < 0
    with _np.errstate(divide="ignore", invalid="ignore"):
        # psi(1 - x) - psi(x) = pi cot(pi x)
        shift = xp.where(neg, -math.pi / xp.tan(math.pi * (x - xp.trunc(x))), 0.0)
        z = xp.where(neg, 1.0 - x, x)
        acc = xp.zeros_like(z)
        for _ in range(10):  # psi(z) = psi(z + 1) - 1/z, up to z >= 10
            small = z < 10.0
            acc = acc - xp.where(small, 1.0 / z, 0.0)
            z = xp.where(small, z + 1.0, z)
        inv2 = 1.0 / (z * z)
        out = xp.log(z) - 0.5 / z - inv2 * _horner(xp, _PSI_ASYM, inv2) + acc + shift
        out = xp.where(neg & (x == xp.trunc(x)), xp.nan, out)
        return xp.where(x == 0, xp.copysign(xp.inf, -x), out)


# Euler-Maclaurin: B_2j / (2j)!, j = 1..12
_EM = tuple(c / math.factorial(2 * j) for j, c in enumerate(
    (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330,
     854513 / 138, -236364091 / 2730), start=1))


def hurwitz_zeta(xp, s, q):
    """zeta(s, q) = sum_k (q + k)^-s; inf at s == 1 and at integer q <= 0, NaN for s < 1, for q < 0 with a
    non-integer s and for q = inf (as PyTorch's)."""
    s, q = xp.broadcast_arrays(xp.asarray(s, dtype=_np.float64), xp.asarray(q, dtype=_np.float64))
    # PyTorch's order: s == 1 is a pole, s < 1 NaN, then q a non-positive integer a pole, then q < 0 with a
    # non-integer s NaN (q^-s is not real)
    pole = (s == 1) | ((s > 1) & (q <= 0) & (q == xp.floor(q)))
    bad = (s < 1) | ((q < 0) & (s != xp.floor(s)) & ~pole)
    live = ~(bad | pole) & xp.isfinite(q)
    a = xp.where(live, q, 10.0)
    ss = xp.where(live, s, 2.0)
    total = xp.zeros_like(a)
    with _np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        # direct terms until a >= 9 (a data-dependent count for negative q, as in every implementation)
        first = True
        while first or bool(xp.any(a < 9.0)):
            step = (a < 9.0) | first
            total = total + xp.where(step, a ** -ss, 0.0)
            a = xp.where(step, a + 1.0, a)
            first = False
        tail = a ** (1.0 - ss) / (ss - 1.0) + 0.5 * a ** -ss
        fac, power = ss.copy(), a ** (-ss - 1.0)
        inv2 = 1.0 / (a * a)
        for j, c in enumerate(_EM, start=1):
            tail = tail + c * fac * power
            fac = fac * (ss + 2 * j - 1) * (ss + 2 * j)
            power = power * inv2
        out = total + xp.where(ss > 1e6, 0.0, tail)  # a^(1-s) underflows for huge s (inf * 0 in the terms)
    out = xp.where(pole, xp.inf, xp.where(q == xp.inf, xp.nan, out))  # (q = inf: NaN, as PyTorch's)
    return xp.where(s == 1, xp.inf, xp.where(bad | xp.isnan(q) | xp.isnan(s), xp.nan, out))


def polygamma(xp, n, x):
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1; digamma for n == 0."""
    if n == 0:
        return digamma(xp, x)
    out = (-1.0) ** (n + 1) * math.factorial(n) * hurwitz_zeta(xp, float(n + 1), x)
    if n == 1:  # PyTorch's trigamma (its own routine, not zeta's): 0 at inf, NaN at -inf
        out = xp.where(xp.isinf(x), xp.where(x > 0, 0.0, xp.nan), out)
    return out


# -- the normal quantile (AS241, Wichura 1988) --------------------------------------------------------------
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3, 1.3731693765509461125e4,
      4.5921953931549871457e4, 6.7265770927008700853e4, 3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3, 2.1213794301586595867e4,
      3.9307895800092710610e4, 2.8729085735721942674e4, 5.2264952788528545610e3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
      1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
      2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15)


def _as241(xp, q, tail):
    """The normal quantile from ``q = p - 1/2`` and ``tail = min(p, 1 - p)``, each given exactly."""
    r = 0.180625 - q * q
    central = q * _horner(xp, _A, r) / _horner(xp, _B, r)
    with _np.errstate(divide="ignore", invalid="ignore"):
        t = xp.sqrt(-xp.log(xp.where(xp.abs(q) > 0.425, tail, 0.5)))
        near = _horner(xp, _C, t - 1.6) / _horner(xp, _D, t - 1.6)
        far = _horner(xp, _E, t - 5.0) / _horner(xp, _F, t - 5.0)
    out = xp.where(t <= 5.0, near, far)
    out = xp.where(q < 0, -out, out)
    out = xp.where(xp.abs(q) <= 0.425, central, out)
    out = xp.where(tail == 0, xp.copysign(xp.inf, q), out)
    return xp.where((tail < 0) | xp.isnan(q), xp.nan, out)


def ndtri(xp, p):
    """The standard normal quantile: -inf at 0, inf at 1, NaN outside [0, 1]."""
    p = xp.asarray(p, dtype=_np.float64)
    return _as241(xp, p - 0.5, xp.where(p > 0.5, 1.0 - p, p))


def erfinv(xp, x):
    """The inverse error function: ndtri((1 + x) / 2) / sqrt(2), with q = x / 2 and the tail (1 - |x|) / 2
    exact; +-inf at +-1, NaN outside [-1, 1]."""
    x = xp.asarray(x, dtype=_np.float64)
    return _as241(xp, 0.5 * x, 0.5 * (1.0 - xp.abs(x))) * math.sqrt(0.5)


# -- erfc / erfcx ------------------------------------------------------------------------------------------
def _exact_erfcx(x):
    """erfcx at a Python float in [0, 4]: exp(x^2) with x^2 split into two floats, times math.erfc (1 ulp)."""
    sq = Fraction(x) ** 2
    hi = float(sq)
    return math.exp(hi) * (1.0 + float(sq - Fraction(hi))) * math.erfc(x)


_PIECE, _PIECES, _DEG = 0.25, 16, 14  # [0, 4] in 16 pieces, a degree-13 polynomial on each


def _piece_poly(lo, hi, n):
    """Power-basis coefficients (in t in [-1, 1]) of erfcx's Chebyshev interpolant on [lo, hi] at n points."""
    th = [math.pi * (k + 0.5) / n for k in range(n)]
    vals = [_exact_erfcx(lo + (hi - lo) * (math.cos(t) + 1) / 2) for t in th]
    cheb = [(1 if j else 0.5) * 2 / n * math.fsum(v * math.cos(j * t) for v, t in zip(vals, th)) for j in range(n)]
    return _np.polynomial.chebyshev.cheb2poly(cheb)


_TABLE = _np.array([_piece_poly(i * _PIECE, (i + 1) * _PIECE, _DEG) for i in range(_PIECES)])
_TABLES: dict = {}


def _table(xp):
    if xp is _np:
        return _TABLE
    return _TABLES.setdefault(xp, xp.asarray(_TABLE))


def _erfcx_pos(xp, z):
    """erfcx(z) for z >= 0 (NaN passes, inf gives 0)."""
    table, top = _table(xp), _PIECE * _PIECES
    idx = xp.clip(xp.nan_to_num(z / _PIECE), 0, _PIECES - 1).astype(_np.int64)
    t = (xp.minimum(z, top) - (idx + 0.5) * _PIECE) * (2.0 / _PIECE)
    poly = table[idx, -1]
    for k in range(_DEG - 2, -1, -1):  # Horner with each element's own piece
        poly = poly * t + table[idx, k]
    big = xp.maximum(z, top)
    k = big
    for n in range(60, 0, -1):  # Laplace: 1 / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))) / sqrt(pi)
        k = big + (n * 0.5) / k
    with _np.errstate(invalid="ignore"):
        frac = xp.where(xp.isinf(big), 0.0, 1.0 / (k * math.sqrt(math.pi)))
    return xp.where(z < top, poly, frac)


def _exp_neg_sq(xp, x):
    """exp(-x^2) with x = hi + lo, hi having 26 bits, so hi^2 is exact and the rest small."""
    finite = xp.isfinite(x)
    xf = xp.where(finite, x, 0.0)
    hi = xp.round(xf * 4096.0) / 4096.0
    lo = xf - hi
    return xp.where(finite, xp.exp(-hi * hi) * xp.exp(-lo * (xf + hi)), 0.0)


def erfcx(xp, x):
    """exp(x^2) erfc(x); inf below about -26.6 (as PyTorch)."""
    x = xp.asarray(x, dtype=_np.float64)
    pos = _erfcx_pos(xp, xp.abs(x))
    with _np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        neg = 2.0 / _exp_neg_sq(xp, x) - pos
    return xp.where(x < 0, xp.where(x == -xp.inf, xp.inf, neg), pos)


def erfc(xp, x):
    """1 - erf(x) with full relative accuracy in the upper tail."""
    x = xp.asarray(x, dtype=_np.float64)
    z = xp.abs(x)
    with _np.errstate(invalid="ignore", under="ignore"):
        tail = _exp_neg_sq(xp, z) * _erfcx_pos(xp, z)
    return xp.where(x < 0, 2.0 - tail, tail)


# -- modified Bessel functions of orders 0 and 1 -----------------------------------------------------------
_BESSEL_SWITCH = 20.0
_I0_SERIES = tuple(1.0 / math.factorial(k) ** 2 for k in range(45))  # in (x/2)^2
_I1_SERIES = tuple(1.0 / (math.factorial(k) * math.factorial(k + 1)) for k in range(45))


def _hankel(xp, nu, inv_x, terms=30):
    """sum_k (-1)^k a_k(nu) / x^k of I_nu(x) ~ e^x / sqrt(2 pi x) * (...), large x."""
    mu, coeffs, c = 4.0 * nu * nu, [1.0], 1.0
    for k in range(1, terms):
        c *= -(mu - (2 * k - 1) ** 2) / (k * 8.0)
        coeffs.append(c)
    return _horner(xp, tuple(coeffs), inv_x)


def bessel_i(xp, x, order, scaled):
    """I_0 or I_1 (``order``), times exp(-|x|) when ``scaled``."""
    x = xp.asarray(x, dtype=_np.float64)
    z = xp.abs(x)
    small = xp.minimum(z, _BESSEL_SWITCH)
    t = 0.25 * small * small
    series = _horner(xp, _I0_SERIES if order == 0 else _I1_SERIES, t)
    if order == 1:
        series = series * (0.5 * small)
    if scaled:
        series = series * xp.exp(-small)
    big = xp.maximum(z, _BESSEL_SWITCH)
    with _np.errstate(over="ignore", invalid="ignore"):
        asym = _hankel(xp, order, 1.0 / big) / xp.sqrt(2.0 * math.pi * big)
        if not scaled:  # (at +-inf: NaN, as PyTorch's i0 and i1 give; the scaled forms tend to 0)
            asym = xp.where(xp.isinf(big), xp.nan, asym * xp.exp(big))
    out = xp.where(z < _BESSEL_SWITCH, series, asym)
    return xp.where(x < 0, -out, out) if order == 1 else out
