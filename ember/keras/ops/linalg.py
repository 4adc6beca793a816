"""``keras.ops.linalg`` over ``ember.linalg`` (differentiable where Ember's linalg ops are).

>>> from ember.keras import ops
>>> a = ops.convert_to_tensor([[4.0, 1.0], [1.0, 3.0]])
>>> [round(float(v), 4) for v in ops.convert_to_numpy(ops.linalg.solve(a, ops.convert_to_tensor([1.0, 2.0])))]
[0.0909, 0.6364]
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember import linalg as L

from ._common import fail, public_names, t, tf, to_numpy


def _square(op, x):
    x = tf(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise fail(op, f"expects square matrices (..., n, n), got shape {tuple(x.shape)}")
    return x


def cholesky(x, upper=False):
    low = L.cholesky(_square("cholesky", x))
    return low.swapaxes(-1, -2) if upper else low


def cholesky_inverse(x, upper=False):
    """The inverse of ``A`` from its Cholesky factor ``x`` (lower, or upper with ``upper=True``)."""
    f = _square("cholesky_inverse", x)
    low = f.swapaxes(-1, -2) if upper else f
    eye = ember.eye(low.shape[-1], dtype=low.dtype)
    inv_low = L.solve_triangular(low, F.broadcast_to(eye, tuple(low.shape)), upper=False)
    return F.matmul(inv_low.swapaxes(-1, -2), inv_low)


def det(x):
    return L.det(_square("det", x))


def eig(x):
    return L.eig(_square("eig", x))


def eigh(x):
    w, v = L.eigh(_square("eigh", x))
    return w, v


def inv(x):
    return L.inv(_square("inv", x))


def solve(a, b):
    a, b = _square("solve", a), tf(b)
    return L.solve(a, b.to(a.dtype))


def solve_triangular(a, b, lower=False):
    a, b = _square("solve_triangular", a), tf(b)
    vector = b.ndim == a.ndim - 1
    out = L.solve_triangular(a, (b.unsqueeze(-1) if vector else b).to(a.dtype), upper=not lower)
    return out.squeeze(-1) if vector else out


def qr(x, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise fail("qr", f"mode must be 'reduced' or 'complete', got {mode!r}")
    q, r = L.qr(tf(x), mode=mode)
    return q, r


def svd(x, full_matrices=True, compute_uv=True):
    x = tf(x)
    if not compute_uv:
        return L.svdvals(x)
    u, s, vh = L.svd(x, full_matrices=full_matrices)
    return u, s, vh


def pinv(x, rcond=None):
    x = tf(x)
    if rcond is None:
        return L.pinv(x)
    u, s, vh = L.svd(x, full_matrices=False)
    cutoff = F.amax(s, -1, True) * rcond
    s_inv = F.where(s > cutoff, 1.0 / F.where(s > cutoff, s, s * 0 + 1), s * 0)
    return F.matmul(vh.swapaxes(-1, -2) * s_inv.unsqueeze(-2), u.swapaxes(-1, -2))


def lstsq(a, b, rcond=None):
    """The least-squares solution of ``a @ x = b`` via the pseudo-inverse (differentiable)."""
    a, b = tf(a), tf(b)
    if a.ndim != 2:
        raise fail("lstsq", f"a must be 2-D, got shape {tuple(a.shape)}")
    if rcond is None:
        rcond = float(np.finfo(a.dtype.name).eps) * max(a.shape)
    vector = b.ndim == 1
    out = F.matmul(pinv(a, rcond), b.unsqueeze(-1) if vector else b)
    return out.squeeze(-1) if vector else out


def lu_factor(x):
    """``(lu, pivots)`` as LAPACK's getrf (0-based pivots): computed without gradient."""
    x = tf(x)
    a = to_numpy(x).astype(np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise fail("lu_factor", f"expects a square 2-D matrix, got shape {a.shape}")
    n = a.shape[0]
    piv = np.zeros(n, np.int32)
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        piv[k] = p
        if p != k:
            a[[k, p]] = a[[p, k]]
        if a[k, k] != 0:
            a[k + 1:, k] /= a[k, k]
            a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    return t(a.astype(x.dtype.name)), t(piv)


def matrix_rank(x, tol=None):
    """The number of singular values above ``tol`` (default: ``max(s) * max(m, n) * eps``)."""
    x = tf(x)
    s = L.svdvals(x)
    if tol is None:
        tol = F.amax(s, -1, True) * (max(x.shape[-2:]) * float(np.finfo(x.dtype.name).eps))
    return F.sum((s > tol).to(ember.int32), -1)


def norm(x, ord=None, axis=None, keepdims=False):
    x = tf(x)
    if axis is None:
        if ord is None:
            return F.sqrt(F.sum(F.square(x)).reshape((1,) * x.ndim if keepdims else ()))
        axis = tuple(range(x.ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axis) == 1:
        return L.vector_norm(x, 2 if ord is None else ord, axis, keepdims)
    if len(axis) == 2:
        return L.matrix_norm(x, "fro" if ord is None else ord, axis, keepdims)
    raise fail("norm", f"axis must be None, an int or two ints, got {axis!r}")


def jvp(fun, primals, tangents, has_aux=False):
    """``(fun(*primals), J @ tangents)`` (and ``aux`` with ``has_aux=True``), as ``ember.func.jvp``."""
    from ember.func import jvp as ember_jvp

    primals = tuple(tf(p) for p in primals)
    tangents = tuple(tf(v) for v in tangents)
    return ember_jvp(fun, primals, tangents, has_aux=has_aux)


__all__ = public_names(globals(), __name__)
