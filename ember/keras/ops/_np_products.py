"""``keras.ops.numpy`` products: matmul, dot, einsum, tensordot, inner / outer / vdot, kron, cross, trace.

>>> from ember.keras import ops
>>> a = ops.reshape(ops.arange(6.0), (2, 3))
>>> ops.convert_to_numpy(ops.tensordot(a, a, axes=[[1], [1]])).tolist()
[[5.0, 14.0], [14.0, 50.0]]
"""

from __future__ import annotations

import builtins

import ember
from ember import functional as F

from ._common import fail, t, tf


def _common_dtype(a, b):
    if a.dtype != b.dtype:
        common = (a.reshape(-1)[:1] + b.reshape(-1)[:1]).dtype
        return a.to(common), b.to(common)
    return a, b


def matmul(x1, x2):
    a, b = _common_dtype(t(x1), t(x2))
    if a.ndim == 0 or b.ndim == 0:
        raise fail("matmul", f"operands must be at least 1-D, got shapes {tuple(a.shape)} and {tuple(b.shape)} "
                             "(use multiply for scalars)")
    if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
        raise fail("matmul", f"inner dimensions differ: {tuple(a.shape)} @ {tuple(b.shape)}")
    return F.matmul(a, b)


def dot(x1, x2):
    a, b = _common_dtype(t(x1), t(x2))
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return F.matmul(a, b)
    # N-D: a sum over a's last axis and b's second-to-last
    return tensordot(a, b, axes=[[a.ndim - 1], [b.ndim - 2]])


def einsum(subscripts, *operands, **kwargs):
    ops = [t(o) for o in operands]
    if len({o.dtype for o in ops}) > 1:
        common = ops[0].reshape(-1)[:1]
        for o in ops[1:]:
            common = common + o.reshape(-1)[:1]
        ops = [o.to(common.dtype) for o in ops]
    return F.einsum(subscripts, *ops)


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int: the last n of x1 with the first n of x2; or two lists)."""
    a, b = _common_dtype(t(x1), t(x2))
    if isinstance(axes, int):
        ax_a, ax_b = list(builtins.range(a.ndim - axes, a.ndim)), list(builtins.range(axes))
    else:
        ax_a, ax_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    ax_a, ax_b = [x % a.ndim for x in ax_a], [x % b.ndim for x in ax_b]
    if len(ax_a) != len(ax_b) or builtins.any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise fail("tensordot", f"axes {ax_a} of {tuple(a.shape)} and {ax_b} of {tuple(b.shape)} do not match")
    free_a = [i for i in builtins.range(a.ndim) if i not in ax_a]
    free_b = [i for i in builtins.range(b.ndim) if i not in ax_b]
    k = 1
    for i in ax_a:
        k *= a.shape[i]
    am = a.permute(*free_a, *ax_a).reshape(-1, k)
    bm = b.permute(*ax_b, *free_b).reshape(k, -1)
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return F.matmul(am, bm).reshape(shape)


def inner(x1, x2):
    a, b = _common_dtype(t(x1), t(x2))
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=[[a.ndim - 1], [b.ndim - 1]])


def outer(x1, x2):
    a, b = _common_dtype(t(x1), t(x2))
    return a.reshape(-1, 1) * b.reshape(1, -1)


def vdot(x1, x2):
    a, b = _common_dtype(t(x1), t(x2))
    return F.sum(a.reshape(-1) * b.reshape(-1))


def kron(x1, x2):
    a, b = _common_dtype(t(x1), t(x2))
    nd = builtins.max(a.ndim, b.ndim)
    a = a.reshape((1,) * (nd - a.ndim) + tuple(a.shape))
    b = b.reshape((1,) * (nd - b.ndim) + tuple(b.shape))
    # interleave: a's axes at even positions, b's at odd, then merge each pair
    ea = a.reshape(tuple(s for d in a.shape for s in (d, 1)))
    eb = b.reshape(tuple(s for d in b.shape for s in (1, d)))
    return (ea * eb).reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    a, b = _common_dtype(t(x1), t(x2))
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = F.movedim(a, axisa, -1), F.movedim(b, axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise fail("cross", f"vectors must have 2 or 3 components, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    if a.shape[-1] == 2:
        a = F.pad(a, [0, 1])
    if b.shape[-1] == 2:
        b = F.pad(b, [0, 1])
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out = F.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)
    return F.movedim(out, -1, axisc)


def trace(x, offset=0, axis1=0, axis2=1):
    x = t(x)
    if x.dtype.name == "bool":
        x = x.to(ember.int32)
    return F.sum(ember.linalg.diagonal(x, offset=offset, dim1=axis1, dim2=axis2), -1)


def correlate(x1, x2, mode="valid"):
    """Cross-correlation of two 1-D sequences (``'valid'``, ``'same'`` or ``'full'``), as a 1-D convolution."""
    if mode not in ("valid", "same", "full"):
        raise fail("correlate", f"mode must be 'valid', 'same' or 'full', got {mode!r}")
    a, b = tf(x1), tf(x2)
    a, b = _common_dtype(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise fail("correlate", f"expects 1-D inputs, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    n, m = a.shape[0], b.shape[0]
    swap = m > n
    if swap:
        a, b, n, m = b, a, m, n
    pad_l, pad_r = {"valid": (0, 0), "same": (m // 2, m - 1 - m // 2), "full": (m - 1, m - 1)}[mode]
    out = ember.nn.functional.conv1d(F.pad(a, [pad_l, pad_r]).reshape(1, 1, -1), b.reshape(1, 1, -1)).reshape(-1)
    return F.flip(out, (0,)) if swap else out


def slogdet(x):
    x = tf(x)
    res = ember.linalg.slogdet(x)
    return res[0], res[1]
