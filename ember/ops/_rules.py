"""Shape and dtype rules shared by the primitives (raise the user-facing errors).

Dims are ints or ``None`` (unknown: a dynamic size). Rules propagate ``None`` and raise only on a definite
mismatch, so one rule serves eager error messages (every dim known), graph verification and dynamic shapes.
"""
from __future__ import annotations

import math

from ..dtypes import bool_, from_name, promote
from ._core import Aval


# -- dim arithmetic with unknown (None) dims ---------------------------------------------------------------
def differ(a, b) -> bool:
    """True only when both dims are known and different."""
    return a is not None and b is not None and a != b


def dprod(dims):
    """The product of ``dims``, or None when one is unknown (0 wins: an empty tensor stays empty)."""
    dims = tuple(dims)
    if 0 in dims:
        return 0
    return None if None in dims else math.prod(dims)


def dsum(dims):
    dims = tuple(dims)
    return None if None in dims else sum(dims)


def dadd(d, k):
    return None if d is None else d + k


def broadcast_shapes(op: str, *shapes) -> tuple:
    ndim = max(len(s) for s in shapes)
    out = []
    for k in range(-ndim, 0):
        dims = [s[k] for s in shapes if len(s) >= -k]
        sizes = {d for d in dims if d != 1 and d is not None}
        if len(sizes) > 1:
            shown = " and ".join(str(tuple(s)) for s in shapes)
            sizes_txt = " vs ".join(str(s[k]) if len(s) >= -k else "-" for s in shapes)
            raise ValueError(f"{op}: shapes {shown} cannot be broadcast together: dimension {k} is "
                             f"{sizes_txt} (sizes must match or be 1)")
        out.append(sizes.pop() if sizes else (None if None in dims else 1))
    return tuple(out)


def elementwise(op: str, *avals, out_dtype=None) -> Aval:
    devices = {a.device for a in avals}
    if len(devices) > 1:
        raise RuntimeError(f"{op}: expected all tensors on the same device, but found "
                           + " and ".join(sorted(devices)) + ". Move them with .to(device) first.")
    shape = broadcast_shapes(op, *[a.shape for a in avals])
    dt = avals[0].dtype
    for a in avals[1:]:
        dt = promote(dt, a.dtype)
    return Aval(shape, out_dtype or dt, avals[0].device)


def comparison(op):
    return lambda *avals: elementwise(op, *avals, out_dtype=bool_)


def check_axes(op: str, aval: Aval, axis) -> tuple:
    if axis is None:
        return tuple(range(aval.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = max(aval.ndim, 1)
    for a in axes:
        if not -nd <= a < nd:
            raise IndexError(f"{op}: dimension {a} is out of range for a tensor of shape {aval.shape} "
                             f"(expected a dim in [{-nd}, {nd - 1}])")
    return tuple(a % nd for a in axes)


def reduce_rule(op: str, dtype=None):
    def rule(x, axis=None, keepdims=False, **_):
        axes = check_axes(op, x, axis)
        shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape)) if keepdims else \
            tuple(s for i, s in enumerate(x.shape) if i not in axes)
        return Aval(shape, dtype or x.dtype, x.device)

    return rule


def cast_rule(x, dtype):
    return Aval(x.shape, from_name(dtype), x.device)
