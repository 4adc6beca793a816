"""Op-table rows: indexing (basic, advanced, boolean, item assignment), gather/scatter, masks, matmuls."""

from __future__ import annotations

import numpy as np

from .spec import B, F, Fn, I, Perm, Row


def _basic(L, x):
    return x[1], x[:, 1:3], x[..., ::2], x[None, -1, :, 0], x[1:, None], x[-2:, 1, ...], x[0, 0, 0]


def _basic_ref(x):
    return x[1], x[:, 1:3], x[..., ::2], x[None, -1, :, 0], x[1:, None], x[-2:, 1, ...], x[0, 0, 0], x[::-1]


def _advanced(L, x, i, j):
    return x[i], x[:, i], x[i, j], x[i, 1:, j], x[[0, 1]], x[..., j], x[i[:, None], j]


def _advanced_ref(x, i, j):
    return x[i], x[:, i], x[i, j], x[i, 1:, j], x[[0, 1]], x[..., j], x[i[:, None], j]


def _boolean(L, x, m):
    return x[m], x[x > 0], x[:, m[0]], x[m.any(1)]


def _boolean_ref(x, m):
    return x[m], x[x > 0], x[:, m[0]], x[m.any(1)]


def _setitem(L, x, v, i):
    z = x * 1
    z[1] = v[0]  # basic
    z[:, 0] = 2.5  # scalar broadcast
    z[i, 1] = v[: len(i), 1] * 3  # advanced, differentiable value
    z[z > 1.5] = 0.0  # boolean
    z[..., -1] = v[0, :1]
    return z


def _setitem_ref(x, v, i):
    z = x.copy()
    z[1] = v[0]
    z[:, 0] = 2.5
    z[i, 1] = v[: len(i), 1] * 3
    z[z > 1.5] = 0.0
    z[..., -1] = v[0, :1]
    return z


def _gather(L, x, i):
    return x.gather(1, i), L.gather(x, 0, i[:2, :2] % 3), x.gather(-1, i[:, :1])


def _gather_ref(x, i):
    return (
        np.take_along_axis(x, i, 1),
        np.take_along_axis(x[:, :2], i[:2, :2] % 3, 0),
        np.take_along_axis(x, i[:, :1], 1),
    )


def _scatter(L, x, i, s):
    return (
        x.scatter(1, i, s),
        L.scatter(x, 1, i, 7.0),
        x.scatter_add(1, i, s),
        L.scatter_add(x, 0, i[:1] % 3, s[:1]),
    )


def _scatter_last(x, i, s):
    out = x.copy()
    for r in range(i.shape[0]):
        out[r, i[r]] = s[r, : i.shape[1]]
    return out


def _scatter_ref(x, i, s):
    a = x.copy()
    np.put_along_axis(a, i, s, 1)
    b = x.copy()
    np.put_along_axis(b, i, 7.0, 1)
    c = x.copy()
    for r in range(i.shape[0]):
        for k in range(i.shape[1]):
            c[r, i[r, k]] += s[r, k]
    d = x.copy()
    for k in range(i.shape[1]):
        d[i[0, k] % 3, k] += s[0, k]
    return a, b, c, d


def _scatter_dups(rng, sizes):
    return rng.integers(0, 4, (3, 4)).astype(np.int64)


def _inplace_index(L, x, i, s):
    a = x * 1
    a.scatter_(1, i, s)
    b = x * 1
    b.scatter_add_(1, i, s)
    c = x * 1
    c.index_put_((i[:, 0] % 3,), s[:, :1] * 0 + s[0, 0], accumulate=True)
    d = x * 1
    d.masked_fill_(x > 0, 0.5)
    e = x * 1
    e.index_fill_(1, i[0, :2], -1.0)
    f = x * 1
    f.copy_(s * 2)
    g = x * 1
    g.fill_(3.0)
    h = x * 1
    h.zero_()
    return a, b, c, d, e, f, g, h


def _inplace_index_ref(x, i, s):
    a = x.copy()
    np.put_along_axis(a, i, s, 1)
    b = x.copy()
    for r in range(i.shape[0]):
        for k in range(i.shape[1]):
            b[r, i[r, k]] += s[r, k]
    c = x.copy()
    np.add.at(c, i[:, 0] % 3, s[0, 0])
    d = np.where(x > 0, 0.5, x)
    e = x.copy()
    e[:, i[0, :2]] = -1.0
    return a, b, c, d, e, s * 2, np.full_like(x, 3.0), np.zeros_like(x)


def _index_add_ref(x, i, s):
    out = x.copy()
    np.add.at(out, (slice(None), i), s)
    return out


def _tri(L, x):
    return x.tril(), L.tril(x, 1), x.triu(), L.triu(x, -1), x.tril(-2)


def _tri_ref(x):
    return np.tril(x), np.tril(x, 1), np.triu(x), np.triu(x, -1), np.tril(x, -2)


def _matmul(L, a, b):
    return a @ b, L.matmul(a, b), a.matmul(b)


def _mm(L, a, b, v):
    return (
        L.mm(a, b),
        a.mm(b),
        L.mv(a, v),
        a.mv(v),
        L.dot(v, v),
        v.dot(v),
        L.outer(v, v[:2]),
        L.bmm(a[None].expand(2, -1, -1), b[None].expand(2, -1, -1)),
    )


def _mm_ref(a, b, v):
    return (
        a @ b,
        a @ b,
        a @ v,
        a @ v,
        v @ v,
        v @ v,
        np.outer(v, v[:2]),
        np.broadcast_to(a @ b, (2,) + (a @ b).shape),
    )


def _einsum(L, a, b, c):
    return (
        L.einsum("ij,jk->ik", a, b),
        L.einsum("ij,jk,kl->il", a, b, c),
        L.einsum("ij->ji", a),
        L.einsum("ij->", a),
        L.einsum("ij,ij->i", a, a),
        L.einsum("ij,kl->ijkl", a, c),
        L.einsum("ij,jk", a, b),
        L.einsum("ij,jk->j", a, b),
    )


def _einsum_ref(a, b, c):
    return (
        np.einsum("ij,jk->ik", a, b),
        np.einsum("ij,jk,kl->il", a, b, c),
        a.T,
        a.sum(),
        np.einsum("ij,ij->i", a, a),
        np.einsum("ij,kl->ijkl", a, c),
        a @ b,
        np.einsum("ij,jk->j", a, b),
    )


def _bool_mask(rng, sizes):
    m = rng.random((3, 4)) < 0.5
    m[0, 0] = True
    return m


MATMUL = [
    (F("a", "b"), F("b", "c")),
    (F("b"), F("b", "c")),
    (F("a", "b"), F("b")),
    (F("b"), F("b")),
    (F(2, "a", "b"), F("b", "c")),
    (F(2, 1, "a", "b"), F(3, "b", "c")),
    (F(0, "b"), F("b", "c")),
    (F("a", 0), F(0, "c")),
]

ROWS = [
    Row(
        "getitem_basic",
        lambda L, x: _basic(L, x) + (x[::-1],),
        _basic_ref,
        [(F(4, 5, 6),)],
        prims=("getitem",),
        covers=("getitem",),
        torch_fn=lambda T, x: _basic(T, x) + (x.flip(0),),
    ),  # torch has no negative steps
    Row(
        "getitem_advanced",
        _advanced,
        _advanced_ref,
        [(F(4, 5, 6), I(3, hi=4), I(3, hi=5)), (F(4, 5, 6), I(3, lo=-4, hi=0), I(3, hi=5))],
        prims=("getitem",),
        covers=(),
    ),
    Row(
        "getitem_bool",
        _boolean,
        _boolean_ref,
        [(F(3, 4), Fn(_bool_mask, False))],
        prims=("getitem",),
        covers=(),
    ),
    Row(
        "getitem_tensor_scalar",
        lambda L, x, i: (x[i], x[i, i]),
        lambda x, i: (x[i], x[i, i]),
        [(F(4, 5), I(hi=4))],
        prims=("getitem",),
        covers=(),
    ),
    Row(
        "setitem",
        _setitem,
        _setitem_ref,
        [(F(4, 5), F(4, 5), Perm(3, axis=0))],
        prims=("index_put",),
        covers=("setitem",),
        grad2=True,
    ),
    Row(
        "setitem_accumulate_dups",
        lambda L, x, i, v: L.index_add(x, 1, i, v),
        _index_add_ref,
        [(F(3, 4), I(5, hi=4), F(3, 5))],
        prims=("index_put",),
        covers=("index_add",),
    ),
    Row("scatter_duplicates", lambda L, x, i, s: x.scatter(1, i, s),  # one value per position, never the sum
        lambda x, i, s: _scatter_last(x, i, s),
        [(F(3, 4), Fn(lambda rng, sz: np.array([[1, 1, 3], [0, 2, 2], [3, 3, 3]]), differentiable=False),
          Fn(lambda rng, sz: np.repeat(rng.uniform(-2, 2, (3, 1)), 3, 1)))], prims=("index_put",), covers=(),
        grad=False),  # a duplicate that is overwritten has no effect: finite differences see 0, PyTorch 1
    Row("gather", _gather, _gather_ref, [(F(3, 4), I(3, 5, hi=4))], prims=("gather",)),
    Row(
        "scatter",
        _scatter,
        _scatter_ref,
        [(F(3, 4), Perm(3, 4, axis=1), F(3, 4)), (F(3, 4), Perm(3, 2, axis=1), F(3, 2))],
        prims=("scatter_add", "index_put"),
        covers=("scatter", "scatter_add"),
    ),
    Row(
        "scatter_reduce_add",
        lambda L, x, i, s: x.scatter(1, i, s, reduce="add"),
        lambda x, i, s: _scatter_ref(x, i, s)[2],
        [(F(3, 4), Perm(3, 4, axis=1), F(3, 4))],
        prims=("scatter_add",),
        covers=(),
        torch_grad=False,
    ),
    Row(
        "scatter_add_dups",
        lambda L, x, i, s: x.scatter_add(1, i, s),
        lambda x, i, s: _scatter_ref(x, i, s)[2],
        [(F(3, 4), Fn(_scatter_dups, False), F(3, 4))],
        prims=("scatter_add",),
        covers=(),
    ),
    Row(
        "inplace_index",
        _inplace_index,
        _inplace_index_ref,
        [(F(3, 4), Perm(3, 4, axis=1), F(3, 4))],
        prims=("index_put",),
        covers=(
            "scatter_",
            "scatter_add_",
            "index_put_",
            "masked_fill_",
            "index_fill_",
            "copy_",
            "fill_",
            "zero_",
        ),
    ),
    Row(
        "index_select",
        lambda L, x, i: (x.index_select(0, i), L.index_select(x, 1, i[:2]), x.index_select(1, i[0])),
        lambda x, i: (x[i], x[:, i[:2]], x[:, [i[0]]]),
        [(F(4, 5), I(6, hi=4))],
        prims=("getitem",),
    ),
    Row(
        "masked_fill",
        lambda L, x, m: (x.masked_fill(m, 0.5), L.masked_fill(x, m[0], -1.0)),
        lambda x, m: (np.where(m, 0.5, x), np.where(m[0], -1.0, x)),
        [(F("a", "b"), B("a", "b"))],
        prims=("where",),
    ),
    Row(
        "masked_select",
        lambda L, x, m: (x.masked_select(m), L.masked_select(x, m[0])),
        lambda x, m: (x[m], np.broadcast_to(x, x.shape)[np.broadcast_to(m[0], x.shape)]),
        [(F(3, 4), Fn(_bool_mask, False))],
        prims=("getitem",),
    ),
    Row(
        "nonzero",
        lambda L, x: (x.nonzero(), L.nonzero(x, as_tuple=True), L.argwhere(x), L.where(x)),
        lambda x: (np.argwhere(x), np.nonzero(x), np.argwhere(x), np.nonzero(x)),
        [(I(3, 4),), (I(5),)],
        grad=False,
        covers=("nonzero", "argwhere"),
    ),
    Row(
        "tril_triu",
        _tri,
        _tri_ref,
        [(F("a", "b"),), (F(2, "a", "b"),)],
        prims=("where",),
        covers=("tril", "triu"),
    ),
    Row(
        "matmul",
        _matmul,
        lambda a, b: (a @ b,) * 3,
        MATMUL,
        prims=("matmul",),
        covers=("matmul", "__matmul__"),
    ),
    Row(
        "mm_family",
        _mm,
        _mm_ref,
        [(F("a", "b"), F("b", "c"), F("b"))],
        prims=("matmul",),
        covers=("mm", "bmm", "mv", "dot", "outer"),
    ),
    Row(
        "rmatmul",
        lambda L, a, b: a.__rmatmul__(b),
        lambda a, b: b @ a,
        [(F("b", "c"), F("a", "b"))],
        prims=("matmul",),
        covers=("__rmatmul__",),
        torch=False,
    ),
    Row("einsum", _einsum, _einsum_ref, [(F("a", "b"), F("b", "c"), F("c", "d"))], prims=("einsum",)),
    Row(
        "einsum_broadcast_dim",
        lambda L, a, b: L.einsum("ij,jk->ik", a, b),
        lambda a, b: np.broadcast_to(a, (a.shape[0], b.shape[0])) @ b,
        [(F("a", 1), F("b", "c"))],
        prims=("einsum",),
        covers=(),
        torch=False,
    ),
]
