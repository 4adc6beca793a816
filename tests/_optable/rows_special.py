"""Op-table rows: the special functions (ember/ops/special.py, ember/functional/special.py), each on inputs in its
domain (lgamma/digamma on positive and negative non-integers, erfinv in (-1, 1), ndtri in (0, 1)). References
are mpmath's (installed with torch's sympy), evaluated in float64."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from .spec import F, Fn, P, Row


def _vec(fn):
    """A float64 NumPy reference from a scalar mpmath function."""
    return np.vectorize(lambda v: float(fn(mp.mpf(float(v)))), otypes=[np.float64])


def _non_integers(*shape, lo=-4, hi=6):
    """Floats at least 0.1 away from every integer (lgamma, digamma and polygamma have poles at 0, -1, ...)."""
    def make(rng, sizes):
        shape_ = F(*shape).resolve(rng, sizes)
        return rng.integers(lo, hi, shape_) + rng.uniform(0.1, 0.9, shape_)

    return Fn(make)


def _constant(*shape):
    return Fn(lambda rng, sizes: P(*shape).make(rng, sizes), differentiable=False)


def _open(*shape, lo, hi):
    return Fn(lambda rng, sizes: rng.uniform(lo, hi, F(*shape).resolve(rng, sizes)))


_lgamma = _vec(lambda v: mp.log(abs(mp.gamma(v))))
_digamma = _vec(mp.digamma)
_erfc = np.vectorize(math.erfc, otypes=[np.float64])
_erfinv = _vec(mp.erfinv)


def _polygamma(n):
    return _vec(lambda v: mp.polygamma(n, v))


def _bessel(order, scaled):
    return _vec(lambda v: mp.besseli(order, v) * (mp.exp(-abs(v)) if scaled else 1))


def _mvlgamma_ref(x, p):
    return p * (p - 1) / 4 * math.log(math.pi) + sum(_lgamma(x - j / 2) for j in range(p))


def _ndtr(x):
    return 0.5 * _erfc(-x / math.sqrt(2))


def _unary(name, ref, spec, prims=None, lib_fn=None, **kw):
    fn = lib_fn or (lambda L, x: getattr(L.special, name)(x))
    return Row(name, fn, ref, [(spec("a", "b"),), (spec(),), (spec(0, "a"),)],
               prims=(name,) if prims is None else prims, **kw)


ROWS = [
    _unary("lgamma", _lgamma, _non_integers, lib_fn=lambda L, x: x.lgamma()),
    _unary("digamma", _digamma, _non_integers, lib_fn=lambda L, x: L.digamma(x)),
    Row("polygamma", lambda L, x: (L.polygamma(1, x), L.polygamma(2, x), x.polygamma(3)),
        lambda x: (_polygamma(1)(x), _polygamma(2)(x), _polygamma(3)(x)), [(_non_integers("a", "b"),)],
        prims=("polygamma",), rtol=1e-4, atol=1e-4),
    Row("mvlgamma", lambda L, x: (L.mvlgamma(x, 1), x.mvlgamma(3), L.special.multigammaln(x, 2)),
        lambda x: (_mvlgamma_ref(x, 1), _mvlgamma_ref(x, 3), _mvlgamma_ref(x, 2)),
        [(_open("a", "b", lo=1.2, hi=5.0),)], prims=("lgamma",), covers=("mvlgamma",)),
    _unary("erfinv", _erfinv, lambda *s: _open(*s, lo=-0.95, hi=0.95), lib_fn=lambda L, x: x.erfinv()),
    _unary("erfc", _erfc, lambda *s: F(*s, lo=-3, hi=5), lib_fn=lambda L, x: L.erfc(x)),
    _unary("erfcx", _vec(lambda v: mp.exp(v * v) * mp.erfc(v)), lambda *s: F(*s, lo=-2, hi=8)),
    _unary("ndtri", _vec(lambda v: -mp.sqrt(2) * mp.erfinv(1 - 2 * v)), lambda *s: _open(*s, lo=0.02, hi=0.98)),
    _unary("i0", _bessel(0, False), lambda *s: F(*s, lo=-25, hi=25), lib_fn=lambda L, x: L.i0(x), rtol=2e-4),
    _unary("i0e", _bessel(0, True), lambda *s: F(*s, lo=-25, hi=25)),
    _unary("i1", _bessel(1, False), lambda *s: F(*s, lo=-25, hi=25), rtol=2e-4),
    _unary("i1e", _bessel(1, True), lambda *s: F(*s, lo=-25, hi=25)),
    Row("ndtr_log_ndtr", lambda L, x: (L.special.ndtr(x), L.special.log_ndtr(x)),
        lambda x: (_ndtr(x), _vec(lambda v: mp.log(mp.ncdf(v)))(x)), [(F("a", "b", lo=-6, hi=4),)],
        prims=("erfc", "erfcx"), covers=()),
    Row("xlog1py_entr", lambda L, x, y: (L.special.xlog1py(x, y), L.special.entr(y)),
        lambda x, y: (x * np.log1p(y), -y * np.log(y)), [(F("a", "b"), P("a", "b")), (F(), P("b"))], covers=()),
    # not differentiable (as in PyTorch): inputs without requires_grad, so no trace asks for its vjp
    Row("zeta", lambda L, s, q: L.special.zeta(s + 2.0, q), lambda s, q: _vec2(s + 2.0, q),
        [(_constant("a", "b"), _constant("a", "b")), (_constant(), _constant("b"))], prims=("zeta",), grad=False,
        covers=()),
    # differentiable in x only (as in PyTorch): the shape parameter a is a constant input
    Row("igamma", lambda L, a, x: (L.igamma(a + 0.5, x * 3), L.special.gammaincc(a + 0.5, x * 3)),
        lambda a, x: (_gammainc(a + 0.5, x * 3, False), _gammainc(a + 0.5, x * 3, True)),
        [(_constant("a", "b"), P("a", "b")), (_constant(), P("b"))], prims=("igamma", "igammac"),
        covers=("igamma", "igammac")),
]


def _gammainc(a, x, upper):
    a, x = np.broadcast_arrays(a, x)
    fn = (lambda s, t: mp.gammainc(s, t, mp.inf, regularized=True)) if upper else \
        (lambda s, t: mp.gammainc(s, 0, t, regularized=True))
    return np.array([float(fn(mp.mpf(float(s)), mp.mpf(float(t)))) for s, t in zip(a.ravel(), x.ravel())]
                    ).reshape(a.shape)


def _vec2(s, q):
    s, q = np.broadcast_arrays(s, q)
    return np.array([float(mp.zeta(a, b)) for a, b in zip(s.ravel(), q.ravel())]).reshape(s.shape)
