"""Op-table rows: reductions (dim, keepdim), scans, sorting, softmax family."""

from __future__ import annotations

import numpy as np

from .spec import B, D, F, Fn, I, Lit, Row

DIMS = [
    (F("a", "b", "c"), Lit(None), Lit(False)),
    (F("a", "b", "c"), Lit(1), Lit(False)),
    (F("a", "b", "c"), Lit(-1), Lit(True)),
    (F("a", "b", "c"), Lit((0, 2)), Lit(False)),
    (F("a", "b"), Lit((0, 1)), Lit(True)),
    (F(), Lit(None), Lit(False)),
    (F(0, "a"), Lit(1), Lit(False)),
    (F(0, "a"), Lit(0), Lit(True)),
]
DIMS_NONEMPTY = [c for c in DIMS if c[0].shape[:1] != (0,)]
DDIMS = [(D(*c[0].shape), c[1], c[2]) for c in DIMS_NONEMPTY]
DIM1 = [(D("a", "b", "c"), Lit(1)), (D("a", "b"), Lit(-1)), (D("a"), Lit(0)), (D(), Lit(0))]


def reduce_row(name, ref, cases=DIMS, method=None, **kw):
    method = method or name

    def fn(L, x, dim, keep):
        if dim is None:
            return getattr(x, method)()
        return getattr(x, method)(dim, keepdim=keep)

    def npref(x, dim, keep):
        return ref(x, axis=dim, keepdims=keep) if dim is not None else ref(x)

    return Row(name, fn, npref, cases, **kw)


def _with_zero(*shape):
    def make(rng, sizes):
        x = F(*shape).make(rng, sizes)
        x.reshape(-1)[1] = 0.0
        return x

    return Fn(make)


def _ties(*shape):
    return Fn(lambda rng, sizes: rng.integers(0, 3, F(*shape).resolve(rng, sizes)).astype(np.float64))


def _max_dim(L, x, dim):
    v, i = x.max(dim)
    vk, ik = x.max(dim, keepdim=True)
    return v, i, vk, ik, L.max(x, dim).values


def _max_ref(x, dim):
    return (
        x.max(dim),
        x.argmax(dim),
        x.max(dim, keepdims=True),
        np.expand_dims(x.argmax(dim), dim),
        x.max(dim),
    )


def _min_dim(L, x, dim):
    v, i = x.min(dim)
    return v, i, x.min(dim, keepdim=True).indices


def _min_ref(x, dim):
    return x.min(dim), x.argmin(dim), np.expand_dims(x.argmin(dim), dim)


def _lse(x, axis, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _norm_ref(x, dim):
    a = np.abs(x)
    return (
        np.sqrt((x * x).sum(axis=dim)),
        a.sum(axis=dim),
        a.max(axis=dim),
        (a**3).sum(axis=dim) ** (1 / 3),
        np.sqrt((x * x).sum()),
        a.min(axis=dim),
    )


def _norm(L, x, dim):
    inf = float("inf")
    return (
        x.norm(dim=dim),
        x.norm(p=1, dim=dim),
        x.norm(p=inf, dim=dim),
        x.norm(p=3, dim=dim),
        L.norm(x),
        x.norm(p=-inf, dim=dim),
    )


def _sorted(x, dim, descending=False):
    idx = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, dim), idx


def _topk_ref(x, k, dim):
    vals, idx = _sorted(x, dim, descending=True)
    lo_vals, lo_idx = _sorted(x, dim)
    sl = [slice(None)] * x.ndim
    sl[dim] = slice(0, k)
    sl = tuple(sl)
    return vals[sl], idx[sl], lo_vals[sl], lo_idx[sl]


def _median_ref(x, dim):
    n = x.shape[dim]
    s = np.sort(x, axis=dim)
    return np.take(s, (n - 1) // 2, axis=dim), np.sort(x.reshape(-1))[(x.size - 1) // 2]


def _median(L, x, dim):
    return x.median(dim).values, x.median()


def _kth(L, x, dim):
    r = x.kthvalue(2, dim)
    return r.values, r.indices, x.kthvalue(1, dim, keepdim=True).values


def _kth_ref(x, dim):
    vals, idx = _sorted(x, dim)
    return np.take(vals, 1, dim), np.take(idx, 1, dim), np.take(vals, [0], dim)


def _var(L, x, dim, keep):
    return (
        x.var(dim, keepdim=keep),
        x.var(dim, correction=0),
        x.std(dim, keepdim=keep),
        x.std(dim, unbiased=False),
        L.var(x),
        L.std(x, correction=2),
    )


def _var_ref(x, dim, keep):
    return (
        x.var(axis=dim, ddof=1, keepdims=keep),
        x.var(axis=dim),
        x.std(axis=dim, ddof=1, keepdims=keep),
        x.std(axis=dim),
        x.var(ddof=1),
        x.std(ddof=2),
    )


ROWS = [
    reduce_row("sum", np.sum, prims=("sum",)),
    Row(
        "sum_int",
        lambda L, x: (x.sum(), x.sum(0), L.sum(x, 1, keepdim=True)),
        lambda x: (x.sum(), x.sum(0), x.sum(1, keepdims=True)),
        [(I("a", "b", lo=-5, hi=5),)],
        grad=False,
        prims=("sum",),
        covers=(),
    ),
    Row(
        "sum_bool",
        lambda L, x: (x.sum(), x.sum(-1)),
        lambda x: (x.sum(), x.sum(-1)),
        [(B("a", "b"),)],
        grad=False,
        prims=("sum",),
        covers=(),
    ),
    reduce_row("mean", np.mean, DIMS_NONEMPTY, prims=("sum", "div")),
    Row(
        "mean_empty",
        lambda L, x: (x.mean(), x.mean(0)),
        lambda x: (np.nan, np.full(x.shape[1:], np.nan)),
        [(F(0, "a"),)],
        grad=False,
        prims=("sum",),
        covers=(),
    ),
    reduce_row("prod", np.prod, [c for c in DIMS if not isinstance(c[1].value, tuple)], prims=("prod",)),
    Row(
        "prod_zero",
        lambda L, x: (x.prod(), x.prod(1)),
        lambda x: (x.prod(), x.prod(1)),
        [(_with_zero("a", "b"),)],
        prims=("prod",),
        covers=(),
    ),
    reduce_row("amax", np.max, DDIMS, prims=("amax",)),
    reduce_row("amin", np.min, DDIMS, prims=("amin",)),
    Row(
        "amax_ties",
        lambda L, x: (x.amax(1), x.amin(0), x.amax()),
        lambda x: (x.max(1), x.min(0), x.max()),
        [(_ties("a", "b"),)],
        prims=("amax", "amin"),
        covers=(),
        grad2=False,
    ),
    Row("max", _max_dim, _max_ref, DIM1[:3], prims=("argmax", "gather"), covers=("max",)),
    Row(
        "max_full",
        lambda L, x: (x.max(), L.min(x)),
        lambda x: (x.max(), x.min()),
        [(D("a", "b"),), (D(),)],
        prims=("amax", "amin"),
        covers=(),
    ),
    Row("min", _min_dim, _min_ref, DIM1[:3], prims=("argmin", "gather"), covers=("min",)),
    Row(
        "argmax",
        lambda L, x, d: (x.argmax(), x.argmax(d), x.argmax(d, keepdim=True), L.argmin(x, d), x.argmin()),
        lambda x, d: (
            x.argmax(),
            x.argmax(d),
            np.expand_dims(x.argmax(d), d) if x.ndim else x.argmax(),
            x.argmin(d),
            x.argmin(),
        ),
        DIM1,
        grad=False,
        prims=("argmax", "argmin"),
        covers=("argmax", "argmin"),
    ),
    Row(
        "var_std",
        _var,
        _var_ref,
        [
            (F("a", "b", "c"), Lit(1), Lit(False)),
            (F("a", "b", "c"), Lit((0, 2)), Lit(True)),
            (F("a", "b"), Lit(-1), Lit(True)),
        ],
        prims=("sum", "sqrt"),
        covers=("var", "std"),
    ),
    Row(
        "var_mean",
        lambda L, x: (L.var_mean(x, 1), L.std_mean(x, 0, correction=0)),
        lambda x: (x.var(1, ddof=1), x.mean(1), x.std(0), x.mean(0)),
        [(F("a", "b"),)],
        prims=("sum",),
        covers=("var_mean", "std_mean"),
    ),
    Row(
        "norm",
        _norm,
        _norm_ref,
        [(F("a", "b"), Lit(1)), (F("a", "b", "c"), Lit((0, 2)))],
        prims=("sqrt", "amax", "amin", "pow", "abs"),
        grad2=True,
    ),
    Row(
        "norm_p0",
        lambda L, x: x.norm(p=0, dim=1),
        lambda x: (x != 0).sum(1).astype(np.float64),
        [(Fn(lambda rng, s: rng.integers(0, 2, (3, 4)).astype(np.float64), False),)],
        grad=False,
        covers=(),
    ),
    Row(
        "logsumexp",
        lambda L, x, d: (x.logsumexp(d), L.logsumexp(x, d, keepdim=True)),
        lambda x, d: (_lse(x, d), _lse(x, d, True)),
        [(F("a", "b", lo=-20, hi=20), Lit(1)), (F("a", "b", "c"), Lit((0, 2))), (F("a"), Lit(0))],
        prims=("amax", "exp", "log", "sum"),
    ),
    Row(
        "logsumexp_inf",
        lambda L, x: x.logsumexp(1),
        lambda x: _lse_inf(x),
        [(Fn(lambda rng, s: np.array([[-np.inf, -np.inf], [0.0, -np.inf], [1.0, 2.0]]), False),)],
        grad=False,
        covers=(),
    ),
    Row(
        "cumsum",
        lambda L, x, d: (x.cumsum(d), L.cumsum(x, dim=d)),
        lambda x, d: (np.cumsum(x, d),) * 2,
        [(F("a", "b"), Lit(1)), (F("a", "b", "c"), Lit(-3)), (F("a"), Lit(0)), (F(0, "a"), Lit(1))],
        prims=("cumsum",),
    ),
    Row(
        "cumsum_int",
        lambda L, x: (x.cumsum(0), x.bool().cumsum(1)),
        lambda x: (np.cumsum(x, 0), np.cumsum(x != 0, 1)),
        [(I("a", "b"),)],
        grad=False,
        prims=("cumsum",),
        covers=(),
    ),
    Row(
        "cumprod",
        lambda L, x, d: (x.cumprod(d), L.cumprod(x, d)),
        lambda x, d: (np.cumprod(x, d),) * 2,
        [(F("a", "b"), Lit(1)), (F("a", "b", "c"), Lit(0))],
        prims=("mul",),
    ),
    Row(
        "all_any",
        lambda L, x, d: (x.all(), x.any(), x.all(d), L.any(x, d, keepdim=True)),
        lambda x, d: (x.all(), x.any(), x.all(d), x.any(d, keepdims=True)),
        [
            (B("a", "b"), Lit(1)),
            (B(), Lit(0)),
            (B(0, "a"), Lit(0)),
            (I("a", "b"), Lit(0)),
            (Fn(lambda rng, s: rng.integers(0, 2, (3, 4)).astype(np.float64), False), Lit(1)),
        ],
        grad=False,
        prims=("amin", "amax"),
        covers=("all", "any"),
    ),
    Row(
        "count_nonzero",
        lambda L, x: (L.count_nonzero(x), x.count_nonzero(1)),
        lambda x: (np.count_nonzero(x), np.count_nonzero(x, 1)),
        [(I("a", "b"),)],
        grad=False,
        prims=("ne", "sum"),
    ),
    Row(
        "sort",
        lambda L, x, d: (*x.sort(d), *L.sort(x, d, descending=True)),
        lambda x, d: (*_sorted(x, d), *_sorted(x, d, True)),
        DIM1[:3],
        prims=("argsort", "gather"),
    ),
    Row(
        "argsort",
        lambda L, x, d: (x.argsort(d), L.argsort(x, d, descending=True)),
        lambda x, d: (_sorted(x, d)[1], _sorted(x, d, True)[1]),
        DIM1[:3] + [(I("a", "b", hi=3), Lit(1))],
        grad=False,
        prims=("argsort",),
        torch_fn=lambda T, x, d: (
            T.sort(x, dim=d, stable=True).indices,
            T.sort(x, dim=d, descending=True, stable=True).indices,
        ),
    ),
    Row(
        "topk",
        lambda L, x, k, d: (*x.topk(k, d), *L.topk(x, k, d, largest=False)),
        _topk_ref,
        [(D("a", 5), Lit(2), Lit(1)), (D(5, "a"), Lit(3), Lit(0)), (D(4), Lit(0), Lit(0))],
        prims=("argsort", "gather"),
    ),
    Row("kthvalue", _kth, _kth_ref, [(D("a", 5), Lit(1)), (D(5, "a"), Lit(0))], prims=("argsort", "gather")),
    Row("median", _median, _median_ref, [(D("a", 5), Lit(1)), (D(4, "a"), Lit(0))], prims=("argsort",)),
    Row(
        "take_along_dim",
        lambda L, x, i: (L.take_along_dim(x, i, 1), x.take_along_dim(i.reshape(-1)[:2])),
        lambda x, i: (np.take_along_axis(x, i, 1), x.reshape(-1)[i.reshape(-1)[:2]]),
        [(F(3, 4), I(3, 5, hi=4)), (F(3, 4), I(1, 2, hi=4))],
        prims=("gather",),
    ),
    Row(
        "softmax",
        lambda L, x, d: (x.softmax(d), L.softmax(x, d)),
        lambda x, d: (_softmax(x, d),) * 2,
        [
            (F("a", "b", lo=-5, hi=5), Lit(1)),
            (F("a", "b", "c"), Lit(0)),
            (F("a"), Lit(-1)),
            (F(0, "a"), Lit(1)),
            (F("a", "b", "c"), Lit(-2)),
            (F(), Lit(0)),
        ],
        prims=("softmax",),
    ),
    Row(
        "log_softmax",
        lambda L, x, d: (x.log_softmax(d), L.log_softmax(x, d)),
        lambda x, d: (x - _lse(x, d, True),) * 2,
        [(F("a", "b", lo=-30, hi=30), Lit(1)), (F("a", "b", "c"), Lit(0)), (F("a"), Lit(-1))],
        prims=("exp", "log", "sub"),
    ),
    Row(
        "softmax_extreme",
        lambda L, x: (x.softmax(1), x.log_softmax(1)),
        lambda x: (_softmax(x, 1), x - _lse(x, 1, True)),
        [(Fn(lambda rng, s: np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])),)],
        covers=(),
        grad2=False,
    ),
    Row(
        "softmax_int_dtype",
        lambda L, x: x.softmax(1, dtype=L.float64),
        lambda x: _softmax(x, 1),
        [(F("a", "b"),)],
        prims=("cast",),
        covers=(),
    ),
]


def _lse_inf(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        m = x.max(1, keepdims=True)
        m = np.where(np.isinf(m), 0, m)
        return np.log(np.exp(x - m).sum(1)) + m[:, 0]
