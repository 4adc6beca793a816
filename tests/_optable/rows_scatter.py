"""Op-table rows: scatters with a reduction (``scatter_reduce`` in every mode, ``index_reduce``,
``scatter(reduce="multiply")``), the ``*_scatter`` writes, and ``gcd``/``lcm``/``frexp``/``nextafter``.

Indices repeat positions on purpose (a position folds several values), leave some positions untouched, and
dims are given both ways (1 and -1). amax/amin inputs are distinct (``D``): ties are tested against PyTorch in
tests/test_scatter_reduce.py, where finite differences have no meaning."""

from __future__ import annotations

import numpy as np

from .spec import NZ, D, F, Fn, I, Row

_FOLD = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}


def _dups(shape, hi):  # an int64 index with repeated positions (and, usually, some never named)
    return Fn(lambda rng, sizes: rng.integers(0, hi, shape).astype(np.int64), differentiable=False)


def _np_scatter_reduce(x, i, s, reduce, include_self):
    """The reference along dim 1 of 2-D arrays, one position at a time."""
    out = x.copy()
    for r in range(i.shape[0]):
        for c in range(x.shape[1]):
            vals = [s[r, k] for k in range(i.shape[1]) if i[r, k] == c]
            if vals:
                out[r, c] = _FOLD[reduce](([x[r, c]] if include_self else []) + vals)
    return out


def _scatter_row(reduce, spec):
    def fn(L, x, i, s):
        return (x.scatter_reduce(1, i, s, reduce), L.scatter_reduce(x, -1, i, s, reduce, include_self=False),
                x.t().scatter_reduce(0, i.t(), s.t(), reduce, include_self=False))

    def ref(x, i, s):
        return (_np_scatter_reduce(x, i, s, reduce, True), _np_scatter_reduce(x, i, s, reduce, False),
                _np_scatter_reduce(x, i, s, reduce, False).T)

    return [Row(f"scatter_reduce_{reduce}", fn, ref, [(spec(3, 4), _dups((3, 5), 4), spec(3, 5))],
                prims=("scatter_reduce",), covers=("scatter_reduce",)),
            # src larger than index: only its first part is read (PyTorch's backward refuses this shape: the
            # float64 checks test ours)
            Row(f"scatter_reduce_{reduce}_wide_src", fn, ref, [(spec(3, 4), _dups((2, 6), 4), spec(4, 7))],
                prims=("scatter_reduce",), covers=("scatter_reduce",), torch_grad=False)]


def _np_index_reduce(x, i, s, reduce, include_self):
    """The reference along dim 0."""
    out = x.copy()
    for row in range(x.shape[0]):
        picked = [s[k] for k in range(len(i)) if i[k] == row]
        if picked:
            out[row] = _FOLD[reduce](([x[row]] if include_self else []) + picked, axis=0)
    return out


def _index_row(reduce, spec):
    def fn(L, x, i, s):
        return (L.index_reduce(x, 0, i, s, reduce), x.index_reduce(0, i, s, reduce, include_self=False),
                x.t().index_reduce(-1, i, s.t(), reduce))

    def ref(x, i, s):
        return (_np_index_reduce(x, i, s, reduce, True), _np_index_reduce(x, i, s, reduce, False),
                _np_index_reduce(x, i, s, reduce, True).T)

    return Row(f"index_reduce_{reduce}", fn, ref, [(spec(4, 3), _dups((5,), 4), spec(5, 3))],
               prims=("scatter_reduce",), covers=("index_reduce",))


def _writes(L, x, a, b, y, c):
    return (L.select_scatter(x, a, 0, 1), x.select_scatter(b, -1, -2),
            L.slice_scatter(x, y, 1, 1, None, 2), x.slice_scatter(c, start=1))


def _writes_ref(x, a, b, y, c):
    outs = [x.copy() for _ in range(4)]
    outs[0][1], outs[1][:, -2], outs[2][:, 1::2], outs[3][1:] = a, b, y, c
    return outs


def _diag(L, x, a, b, c, z, d):
    return (L.diagonal_scatter(x, a), x.diagonal_scatter(b, 1), L.diagonal_scatter(x, c, -1),
            L.diagonal_scatter(z, d, 0, -1, 1), x.diagonal_scatter(a, 0, 1, 0))


def _diag_ref(x, a, b, c, z, d):
    outs = [x.copy() for _ in range(3)] + [z.copy(), x.copy()]
    k = np.arange(3)
    outs[0][k, k], outs[1][k, k + 1], outs[2][k[:2] + 1, k[:2]] = a, b, c
    outs[3][:, k, k] = d  # dims (2, 1) of a 3-D tensor: the diagonal of each plane, the same entries
    outs[4][k, k] = a
    return outs


def _frexp_ref(x):
    m, e = np.frexp(x)
    return m, e.astype(np.int32)


def _gap(L, x, y):  # one float32 step: compare the gap, not the (nearly equal) values
    return (L.nextafter(x, y) - x) / x.abs()


def _gap_ref(x, y):
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    return ((np.nextafter(x32, y32) - x32) / np.abs(x32)).astype(np.float64)


def _np_multiply(x, i, s):
    return _np_scatter_reduce(x, i, s, "prod", True)


ROWS = [row for r in ("sum", "prod", "mean", "amax", "amin")
        for row in _scatter_row(r, D if r in ("amax", "amin") else F)]
ROWS += [_index_row(r, D if r in ("amax", "amin") else F) for r in ("prod", "mean", "amax", "amin")]
ROWS += [
    Row("scatter_multiply", lambda L, x, i, s: x.scatter(1, i, s, reduce="multiply"), _np_multiply,
        [(F(3, 4), _dups((3, 5), 4), F(3, 5))], prims=("scatter_reduce",), covers=(),
        torch_grad=False),  # PyTorch has no gradient for scatter with reduce=; the float64 checks test ours
    Row("select_slice_scatter", _writes, _writes_ref, [(F(3, 4), F(4), F(3), F(3, 2), F(2, 4))],
        prims=("index_put",), covers=("select_scatter", "slice_scatter")),
    Row("diagonal_scatter", _diag, _diag_ref, [(F(3, 4), F(3), F(3), F(2), F(2, 3, 3), F(2, 3))],
        prims=("index_put",)),
    Row("gcd_lcm", lambda L, a, b: (L.gcd(a, b), a.lcm(b), L.gcd(a, b[:1])),
        lambda a, b: (np.gcd(a, b), np.lcm(a, b), np.gcd(a, b[:1])),
        [(I(3, 4, lo=-30, hi=30), I(3, 4, lo=-12, hi=12))], prims=("gcd", "floordiv"), covers=("gcd", "lcm"),
        grad=False),
    Row("frexp", lambda L, x: tuple(L.frexp(x)) + tuple(x.frexp()), lambda x: _frexp_ref(x) * 2,
        [(NZ(3, 4),), (F(5, lo=-1e3, hi=1e3),)], prims=("frexp_mantissa", "frexp_exponent")),
    Row("nextafter", _gap, _gap_ref, [(NZ(3, 4), F(3, 4, lo=-4, hi=4)), (NZ(2, 3), NZ(3))], prims=("nextafter",),
        grad=False, rtol=1e-3, atol=1e-12),
]
