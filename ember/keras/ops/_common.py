"""Shared helpers of ``ember.keras.ops``: conversion of Keras-style inputs, dtypes, axes and errors."""

from __future__ import annotations

import numpy as np

import ember
from ember.errors import mark, with_user_line
from ember.tensor import Tensor

from ..backend import convert, floatx, standardize_dtype, to_numpy

__all__ = ["Tensor", "convert", "to_numpy", "t", "tf", "edtype", "fail", "axes_of", "xp_of", "wrap",
           "floatx", "standardize_dtype", "const_like", "check_data_format", "public_names"]


def t(x, dtype=None) -> Tensor:
    """An Ember tensor from a tensor, NumPy array, list or number (float data becomes floatx)."""
    return convert(x, None if dtype is None else standardize_dtype(dtype))


def tf(x) -> Tensor:
    """``x`` as a floating tensor: integer and bool inputs become floatx, as Keras's float-valued ops do."""
    x = t(x)
    return x if x.is_floating_point() else x.to(edtype(floatx()))


def edtype(dtype):
    """An Ember dtype from a Keras dtype name, NumPy dtype or Ember dtype."""
    return ember.dtypes.from_np(np.dtype(standardize_dtype(dtype)))


def fail(op: str, message: str, exc=ValueError) -> BaseException:
    """A marked user error ``keras.ops.<op>: <message>`` carrying the user's line (``raise fail(...)``)."""
    return mark(with_user_line(exc(f"keras.ops.{op}: {message}"), skip=3))


def axes_of(x: Tensor, axis) -> tuple:
    """Every axis (``None``), or ``axis`` as a tuple of non-negative ints."""
    if axis is None:
        return tuple(range(x.ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % x.ndim if x.ndim else 0 for a in axis)


def xp_of(x: Tensor):
    return ember.backend.xp_of(x._data)


def wrap(arr, like: Tensor | None = None) -> Tensor:
    """A tensor holding a backend array computed from non-differentiable data (indices, counts, masks)."""
    from ember.tensor import Tensor as T

    if like is not None and not isinstance(arr, type(like._data)):
        arr = xp_of(like).asarray(arr)
    return T._wrap(arr)


def const_like(arr, like: Tensor) -> Tensor:
    """A constant NumPy array (weights, masks, matrices) on ``like``'s device, in its dtype when floating."""
    arr = np.asarray(arr)
    if arr.dtype.kind == "f" and like.is_floating_point():
        arr = arr.astype(like.dtype.name)
    return wrap(xp_of(like).asarray(arr))


def check_data_format(op: str, data_format) -> str:
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise fail(op, f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def public_names(namespace: dict, *modules: str) -> list:
    """The public functions of ``namespace`` defined in ``modules`` (a module's ``__all__``)."""
    return sorted(n for n, v in namespace.items()
                  if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) in modules)
