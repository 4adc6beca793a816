"""Op-table rows: the rest of torch's top-level names (ember/functional/math_more.py, shape_more.py,
linalg_more.py) and their aliases. Each runs against a NumPy reference, against PyTorch (values, dtypes,
gradients) and, where differentiable, through the float64 gradient checks."""

from __future__ import annotations

import itertools

import numpy as np

from .spec import NZ, D, F, Fn, I, P, Row


def _nan_at(*shape, count=1):
    def make(rng, sizes):
        x = F(*shape).make(rng, sizes)
        x.reshape(-1)[rng.choice(x.size, count, replace=False)] = np.nan
        return x

    return Fn(make)


def _unit(*shape):  # probabilities away from 0 and 1
    return Fn(lambda rng, sizes: rng.uniform(0.1, 0.9, F(*shape).resolve(rng, sizes)))


def _sorted_rows(*shape):
    return Fn(lambda rng, sizes: np.sort(rng.integers(-5, 6, F(*shape).resolve(rng, sizes)), -1).astype(np.int64),
              differentiable=False)


def _ints(*shape, lo=0, hi=5):
    return I(*shape, lo=lo, hi=hi)


def _renorm_ref(a, p, dim, maxnorm):
    others = tuple(i for i in range(a.ndim) if i != dim)
    norms = (np.abs(a) ** p).sum(others, keepdims=True) ** (1 / p)
    return a * np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def _index_copy_ref(a, b):
    out = a.copy()
    out[[2, 0]] = b[:2]
    return out


def _index_put_ref(a, b):
    out = a.copy()
    out[0] += 2 * b[0]
    return out


def _arg_running(x, axis, better):
    """The index of the running extreme along ``axis`` (the later one on ties)."""
    moved = np.moveaxis(x, axis, -1)
    out = np.zeros(moved.shape, np.int64)
    for pos in np.ndindex(moved.shape[:-1]):
        best = 0
        for i, v in enumerate(moved[pos]):
            if better(v, moved[pos][best]):
                best = i
            out[pos + (i,)] = best
    return np.moveaxis(out, -1, axis)


def _mode_ref(x, axis):
    """The smallest most frequent value along ``axis`` and the index of its last occurrence."""
    moved = np.moveaxis(x, axis, -1)
    values, indices = np.zeros(moved.shape[:-1], x.dtype), np.zeros(moved.shape[:-1], np.int64)
    for pos in np.ndindex(moved.shape[:-1]):
        row = moved[pos]
        uniq, counts = np.unique(row, return_counts=True)
        values[pos] = uniq[np.argmax(counts)]  # np.unique sorts: argmax picks the smallest on ties
        indices[pos] = np.nonzero(row == values[pos])[0][-1]
    return values, indices


def _logaddexp(a, b):
    return np.logaddexp(a, b)


def _quantile_ref(x, q, dim, keep, interp):
    return np.quantile(x, q, axis=dim, keepdims=keep, method=interp)


def _cdist_ref(a, b, p):
    gap = np.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == 0:
        return (gap != 0).sum(-1).astype(a.dtype)
    if p == np.inf:
        return gap.max(-1)
    return (gap ** p).sum(-1) ** (1 / p)


def _kron_ref(a, b):
    return np.kron(a, b)


def _meshgrid(L, a, b, c):
    return L.meshgrid(a, b, c, indexing="ij") + L.meshgrid(a, b, indexing="xy")


def _meshgrid_ref(a, b, c):
    return tuple(np.meshgrid(a, b, c, indexing="ij")) + tuple(np.meshgrid(a, b, indexing="xy"))


def _cov(L, x, w):
    return (L.cov(x), L.cov(x, correction=0), L.cov(x, aweights=w), L.cov(x[0]), L.corrcoef(x))


def _cov_ref(x, w):
    return (np.cov(x), np.cov(x, ddof=0), np.cov(x, aweights=w), np.cov(x[0]), np.corrcoef(x))


def _splits(L, x):
    return (L.hsplit(x, 2) + L.vsplit(x, [1]) + L.dsplit(x, 2) + (L.column_stack([x[0, :, 0], x[1, :, 1]]),)
            + (L.dstack([x[0], x[1]]), L.atleast_3d(x[0]), L.atleast_3d(x[0, 0]), L.ravel(x),
               L.moveaxis(x, 0, -1), L.rot90(x, 1, (1, 2)), L.rot90(x, 2), L.rot90(x, -1)))


def _splits_ref(x):
    return (tuple(np.hsplit(x, 2)) + tuple(np.vsplit(x, [1])) + tuple(np.dsplit(x, 2))
            + (np.column_stack([x[0, :, 0], x[1, :, 1]]),)
            + (np.dstack([x[0], x[1]]), np.atleast_3d(x[0]), np.atleast_3d(x[0, 0]), np.ravel(x),
               np.moveaxis(x, 0, -1), np.rot90(x, 1, (1, 2)), np.rot90(x, 2), np.rot90(x, -1)))


def _elementwise(L, a, b):
    return (L.addcmul(a, a, b, value=0.5), L.addcdiv(a, a, b), L.logaddexp(a, b), L.logaddexp2(a, b),
            L.fmax(a, b), L.fmin(a, b), L.multiply(a, b), L.subtract(a, b), L.divide(a, b), L.negative(a),
            L.absolute(a), L.positive(a), L.clamp_min(a, 0.1), L.clamp_max(a, 0.1), L.frac(a), L.deg2rad(a),
            L.rad2deg(a), L.sinc(a), L.exp2(a), L.float_power(a.abs(), b))


def _elementwise_ref(a, b):
    return (a + 0.5 * a * b, a + a / b, np.logaddexp(a, b), np.logaddexp2(a, b), np.fmax(a, b), np.fmin(a, b),
            a * b, a - b, a / b, -a, np.abs(a), a, np.maximum(a, 0.1), np.minimum(a, 0.1), a - np.trunc(a),
            np.deg2rad(a), np.rad2deg(a), np.sinc(a), np.exp2(a), np.abs(a) ** b)


def _index_bits(L, x, idx, mask):
    return (L.take(x, idx), L.index_fill(x, 1, idx.remainder(x.shape[1]), -1.0),
            L.masked_scatter(x, mask, x * 2), L.diagflat(x[0]), L.diagonal(x, 1), L.trace(x))


def _index_bits_ref(x, idx, mask):
    filled = x.copy()
    filled[:, idx % x.shape[1]] = -1.0
    scattered = x.copy()
    scattered[mask] = (x * 2).reshape(-1)[: mask.sum()]
    return (x.reshape(-1)[idx], filled, scattered, np.diagflat(x[0]), np.diagonal(x, 1), np.trace(x))


def _products(L, a, b, v, w):
    return (L.kron(a, b), L.tensordot(a, b, dims=([1], [0])), L.tensordot(a, a, dims=2), L.inner(a, a),
            L.vdot(v, w), L.addr(a, v, w, beta=0.5, alpha=2), L.cross(L.stack([v, w, v], 0), L.stack([w, w, v], 0)),
            L.matrix_power(b, 3), L.matrix_power(b, 0), L.chain_matmul(a, b, b))


def _products_ref(a, b, v, w):
    return (np.kron(a, b), np.tensordot(a, b, axes=([1], [0])), np.tensordot(a, a, axes=2), np.inner(a, a),
            np.vdot(v, w), 0.5 * a + 2 * np.outer(v, w), np.cross(np.stack([v, w, v], 0), np.stack([w, w, v], 0),
                                                                   axis=0),
            np.linalg.matrix_power(b, 3), np.eye(b.shape[0]), a @ b @ b)


def _stats(L, x):
    return (L.nansum(x), L.nansum(x, 1), L.nanmean(x, 0), L.nanmedian(x), L.nanmedian(x, 1),
            L.nanquantile(x, 0.3, dim=1), L.aminmax(x.nan_to_num(), dim=0), L.msort(x.nan_to_num()))


def _stats_ref(x):
    med_rows = []
    for row in x:
        clean = np.sort(row[~np.isnan(row)])
        med_rows.append(clean[(len(clean) - 1) // 2] if len(clean) else np.nan)
    clean_all = np.sort(x[~np.isnan(x)])
    filled = np.nan_to_num(x)
    return (np.nansum(x), np.nansum(x, 1), np.nanmean(x, 0), clean_all[(len(clean_all) - 1) // 2],
            (np.asarray(med_rows), None), np.nanquantile(x, 0.3, axis=1), (filled.min(0), filled.max(0)),
            np.sort(filled, 0))


def _drop_indices(L, x):
    out = _stats(L, x)
    return out[:4] + (out[4].values,) + out[5:]


def _drop_indices_ref(x):
    out = _stats_ref(x)
    return out[:4] + (out[4][0],) + out[5:]


def _creation(L, a, b):
    return (L.tril_indices(4, 3), L.triu_indices(3, 4, 1), L.cartesian_prod(a, b), L.combinations(a, 2),
            L.combinations(a, 2, with_replacement=True), L.block_diag(a.reshape(1, -1), b.reshape(-1, 1)),
            L.vander(a, N=3), L.vander(a, increasing=True))


def _creation_ref(a, b):
    tri = (np.stack(np.tril_indices(4, 0, 3)), np.stack(np.triu_indices(3, 1, 4)))
    prod = np.array(list(itertools.product(a, b)))
    comb = np.array(list(itertools.combinations(a, 2)))
    combr = np.array(list(itertools.combinations_with_replacement(a, 2)))
    block = np.zeros((1 + len(b), len(a) + 1))
    block[0, : len(a)], block[1:, len(a)] = a, b
    return tri + (prod, comb, combr, block, np.vander(a, 3), np.vander(a, increasing=True))


def _counting(L, x, seq, vals):
    return (L.unique(x), L.unique(x, return_inverse=True, return_counts=True), L.unique_consecutive(x),
            L.bincount(x.reshape(-1)), L.bincount(x.reshape(-1), minlength=9), L.searchsorted(seq, vals),
            L.searchsorted(seq, vals, right=True), L.bucketize(vals, seq[0]), L.isin(x, vals),
            L.isin(x, vals, invert=True), L.histc(x.float(), bins=4, min=0, max=4),
            L.unravel_index(x.reshape(-1), (2, 3)), L.diff(x), L.diff(x, n=2, dim=0, prepend=x))


def _counting_ref(x, seq, vals):
    flat = x.reshape(-1)
    u, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    starts = np.concatenate([[True], flat[1:] != flat[:-1]])
    rows = np.stack([np.searchsorted(s, v) for s, v in zip(seq, vals)])
    rows_r = np.stack([np.searchsorted(s, v, side="right") for s, v in zip(seq, vals)])
    hist = np.histogram(x.astype(np.float64), bins=4, range=(0, 4))[0].astype(np.float32)
    return (u, (u, inv.reshape(x.shape), cnt), flat[starts], np.bincount(flat), np.bincount(flat, minlength=9),
            rows, rows_r, np.searchsorted(seq[0], vals, side="left"), np.isin(x, vals), ~np.isin(x, vals), hist,
            np.unravel_index(flat, (2, 3)), np.diff(x), np.diff(np.concatenate([x, x], 0), n=2, axis=0))


ROWS = [
    Row("elementwise_more", _elementwise, _elementwise_ref, [(NZ("a", "b"), P("a", "b"))],
        covers=("addcmul", "addcdiv", "logaddexp", "logaddexp2", "fmax", "fmin", "multiply", "subtract", "divide",
                "negative", "absolute", "positive", "clamp_min", "clamp_max", "frac", "deg2rad", "rad2deg",
                "sinc", "exp2", "float_power")),
    Row("xlogy_logit", lambda L, x, y, p: (L.xlogy(x, y), L.logit(p), L.logit(p, eps=0.2)),
        lambda x, y, p: (x * np.log(y), np.log(p / (1 - p)), np.log(np.clip(p, .2, .8) / (1 - np.clip(p, .2, .8)))),
        [(F("a", "b"), P("a", "b"), _unit("a", "b"))], covers=("xlogy", "logit")),
    Row("heaviside", lambda L, x, v: L.heaviside(x.round(), v), lambda x, v: np.heaviside(np.round(x), v),
        [(F("a", "b"), F("b"))], grad=False, covers=("heaviside",)),
    Row("quantile", lambda L, x, q: (L.quantile(x, q), L.quantile(x, q, dim=1, keepdim=True),
                                     L.quantile(x, 0.25, dim=0, interpolation="lower"),
                                     L.quantile(x, 0.6, dim=1, interpolation="midpoint"),
                                     L.quantile(x, 0.6, interpolation="nearest")),
        lambda x, q: (_quantile_ref(x, q, None, False, "linear"), _quantile_ref(x, q, 1, True, "linear"),
                      _quantile_ref(x, 0.25, 0, False, "lower"), _quantile_ref(x, 0.6, 1, False, "midpoint"),
                      _quantile_ref(x, 0.6, None, False, "nearest")),
        [(D("a", "b"), Fn(lambda rng, s: np.array([0.1, 0.5, 0.9]), differentiable=False))],
        covers=("quantile",)),
    Row("nan_stats", _drop_indices, _drop_indices_ref, [(_nan_at(4, 5, count=3),)], grad=False,
        covers=("nansum", "nanmean", "nanmedian", "nanquantile", "aminmax", "msort")),
    Row("nan_stats_grad", lambda L, x: (L.nansum(x, 1), L.nanmean(x, 0), L.nanmedian(x, 1).values,
                                        L.nanquantile(x, 0.4, dim=1)),
        lambda x: (x.sum(1), x.mean(0), np.sort(x, 1)[:, (x.shape[1] - 1) // 2], np.quantile(x, 0.4, axis=1)),
        [(D("a", "b"),)], covers=()),
    Row("cov_corrcoef", _cov, _cov_ref, [(F(3, 6), _unit(6))], covers=("cov", "corrcoef")),
    Row("trapezoid", lambda L, y, x: (L.trapezoid(y), L.trapezoid(y, dx=0.5, dim=0), L.trapezoid(y, x),
                                      L.trapz(y, x), L.cumulative_trapezoid(y), L.cumulative_trapezoid(y, x)),
        lambda y, x: (np.trapezoid(y), np.trapezoid(y, dx=0.5, axis=0), np.trapezoid(y, x), np.trapezoid(y, x),
                      np.cumsum((y[..., 1:] + y[..., :-1]) / 2, -1),
                      np.cumsum((y[..., 1:] + y[..., :-1]) / 2 * np.diff(x), -1)),
        [(F("a", "b"), D("b"))], covers=("trapezoid", "trapz", "cumulative_trapezoid")),
    Row("cdist", lambda L, a, b: tuple(L.cdist(a, b, p=p) for p in (2.0, 1.0, 3.0, float("inf"), 0.0)),
        lambda a, b: tuple(_cdist_ref(a, b, p) for p in (2.0, 1.0, 3.0, np.inf, 0.0)),
        [(F("a", 3), F("b", 3)), (F(2, "a", 4), F(2, "b", 4))], grad2=False, covers=("cdist",)),
    Row("products_more", _products, _products_ref, [(F(3, 3), F(3, 3), F(3), F(3))],
        covers=("kron", "tensordot", "inner", "vdot", "addr", "cross", "matrix_power", "chain_matmul")),
    Row("addbmm", lambda L, m, a, b: L.addbmm(m, a, b, beta=0.5, alpha=2),
        lambda m, a, b: 0.5 * m + 2 * (a @ b).sum(0), [(F("a", "c"), F(3, "a", "b"), F(3, "b", "c"))],
        covers=("addbmm",)),
    Row("meshgrid", _meshgrid, _meshgrid_ref, [(F("a"), F("b"), F("c"))], covers=("meshgrid",)),
    Row("splits_more", _splits, _splits_ref, [(F(2, 4, 4),)],
        covers=("hsplit", "vsplit", "dsplit", "column_stack", "dstack", "atleast_3d", "ravel", "moveaxis",
                "rot90")),
    Row("index_more", _index_bits, _index_bits_ref,
        [(F(3, 3), _ints(5, lo=-9, hi=9), Fn(lambda rng, s: rng.random((3, 3)) < 0.5, differentiable=False))],
        covers=("take", "index_fill", "masked_scatter", "diagflat", "diagonal", "trace")),
    Row("creation_more", _creation, _creation_ref, [(F(3), F(2))], grad=False,
        covers=("tril_indices", "triu_indices", "cartesian_prod", "combinations", "block_diag", "vander")),
    Row("counting", _counting, _counting_ref, [(_ints(2, 3, hi=6), _sorted_rows(2, 5), _ints(2, 3, lo=-6, hi=6))],
        grad=False, covers=("unique", "unique_consecutive", "bincount", "searchsorted", "bucketize", "isin",
                            "histc", "unravel_index", "diff")),
    Row("aliases_more", lambda L, a, b: (L.greater(a, b), L.greater_equal(a, b), L.less(a, b), L.less_equal(a, b),
                                         L.not_equal(a, b), L.fix(a), L.sgn(a)),
        lambda a, b: (a > b, a >= b, a < b, a <= b, a != b, np.trunc(a), np.sign(a)),
        [(F("a", "b"), F("a", "b"))], grad=False,
        covers=("greater", "greater_equal", "less", "less_equal", "not_equal", "fix", "sgn")),
    Row("hypot_renorm", lambda L, a, b: (L.hypot(a, b), L.renorm(a, 2, 0, 1.0), L.renorm(a, 1, 1, 0.5)),
        lambda a, b: (np.hypot(a, b), _renorm_ref(a, 2, 0, 1.0), _renorm_ref(a, 1, 1, 0.5)),
        [(NZ("a", "b"), NZ("a", "b"))], covers=("hypot", "renorm")),
    # PyTorch's ldexp backward raises 2 to the integer exponent in integers (0 for a negative one): its gradient
    # is not compared; the float64 gradient checks hold Ember's (2**e)
    Row("ldexp", lambda L, a, e: L.ldexp(a, e), np.ldexp, [(NZ("a", "b"), _ints("a", "b", lo=-3, hi=4))],
        torch_grad=False),
    Row("real_flags", lambda L, x: (L.isposinf(x), L.isneginf(x), L.isreal(x), L.real(x), L.conj(x),
                                    L.resolve_conj(x), L.resolve_neg(x), L.conj_physical(x)),
        lambda x: (np.isposinf(x), np.isneginf(x), np.isreal(x), x, x, x, x, x),
        [(Fn(lambda rng, s: np.array([1.0, np.inf, -np.inf, np.nan, -2.0])),)], grad=False,
        covers=("isposinf", "isneginf", "isreal", "real", "conj", "resolve_conj", "resolve_neg", "conj_physical")),
    Row("histogram", lambda L, x: tuple(L.histogram(x, bins=5, range=(-2.0, 2.0))) + tuple(L.histogram(x, bins=3)),
        lambda x: tuple(np.histogram(x, bins=5, range=(-2, 2))) + tuple(np.histogram(x, bins=3)),
        [(F(40),)], grad=False, covers=("histogram",)),
    Row("torch_linalg_names", lambda L, a, s: (L.svd(a)[1], L.svd(a, some=False)[1], L.pinverse(a),
                                               L.cholesky(s @ s.mT + L.eye(3)), L.slogdet(s @ s.mT + L.eye(3))[1]),
        lambda a, s: (np.linalg.svd(a)[1], np.linalg.svd(a)[1], np.linalg.pinv(a),
                      np.linalg.cholesky(s @ s.T + np.eye(3)), np.linalg.slogdet(s @ s.T + np.eye(3))[1]),
        [(F(4, 3), F(3, 3))], grad2=False, covers=()),
    Row("small_more", lambda L, a, b: (L.adjoint(a), L.dist(a, b), L.dist(a, b, 1), L.dist(a, b, float("inf")),
                                       L.angle(a), L.narrow_copy(a, 1, 1, 2),
                                       L.index_copy(a, 0, L.tensor([2, 0]), b[:2]),
                                       L.index_put(a, (L.tensor([0, 0]),), b[0], accumulate=True)),
        lambda a, b: (a.T, np.linalg.norm((a - b).ravel()), np.abs(a - b).sum(), np.abs(a - b).max(),
                      np.where(a < 0, np.pi, 0.0), a[:, 1:3], _index_copy_ref(a, b), _index_put_ref(a, b)),
        [(NZ(3, 4), NZ(3, 4))], covers=("adjoint", "dist", "angle", "narrow_copy", "index_copy", "index_put")),
    Row("is_nonzero_range", lambda L, x: (L.is_nonzero(x[:1] * 0 + 1), L.range(1, 4), L.range(0, 1, 0.25)),
        lambda x: (True, np.arange(1.0, 5.0), np.arange(0.0, 1.01, 0.25)), [(F(3),)], grad=False,
        covers=("is_nonzero", "range")),
    Row("scans_more", lambda L, x: (L.cummax(x, 1), L.cummin(x, 0), L.logcumsumexp(x, 1), L.logcumsumexp(x, 0)),
        lambda x: ((np.maximum.accumulate(x, 1), _arg_running(x, 1, np.greater_equal)),
                   (np.minimum.accumulate(x, 0), _arg_running(x, 0, np.less_equal)),
                   np.logaddexp.accumulate(x, 1), np.logaddexp.accumulate(x, 0)),
        [(D(3, 5),), (D(4, 1),), (D(2, 9),)], covers=("cummax", "cummin", "logcumsumexp")),
    Row("copysign_signbit", lambda L, a, b: (L.copysign(a, b), L.signbit(b), L.copysign(a, -1.0)),
        lambda a, b: (np.copysign(a, b), np.signbit(b), np.copysign(a, -1.0)), [(NZ("a", "b"), NZ("a", "b"))],
        prims=("signbit",), covers=("copysign", "signbit")),
    Row("mode", lambda L, x, t: (L.mode(x, 1), L.mode(x, 0, keepdim=True), L.mode(t)),
        lambda x, t: (_mode_ref(x, 1), tuple(np.expand_dims(v, 0) for v in _mode_ref(x, 0)), _mode_ref(t, 0)),
        [(Fn(lambda rng, s: rng.integers(0, 3, (3, 6)).astype(np.float64)), _ints(7, hi=3))],
        grad=False, covers=("mode",)),  # repeated values: finite differences break the ties (no derivative)
    Row("gradient", lambda L, f, c: L.gradient(f) + L.gradient(f, spacing=2.0, dim=1, edge_order=2)
        + L.gradient(f, spacing=(c,), dim=0),
        lambda f, c: tuple(np.gradient(f)) + (np.gradient(f, 2.0, axis=1, edge_order=2), np.gradient(f, c, axis=0)),
        [(F(4, 5), Fn(lambda rng, s: np.cumsum(rng.uniform(0.5, 1.5, 4)), differentiable=False))],
        covers=("gradient",)),
    Row("broadcast_shapes", lambda L, x: tuple(L.broadcast_shapes((2, 1), (3,), 1)), lambda x: (2, 3),
        [(F(1),)], grad=False, torch=True, covers=("broadcast_shapes",)),
]
