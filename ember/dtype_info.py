"""PyTorch's dtype queries: ``finfo``, ``iinfo``, ``promote_types``, ``result_type``, ``can_cast``.

``ember.finfo(ember.float32).eps`` and ``ember.iinfo(ember.int64).max`` are what PyTorch programs use for
attention-mask fill values, epsilons and overflow checks; the promotion queries answer with PyTorch's rules
(``dtypes.promote``), which differ from NumPy's (int64 and float16 give float16; float16 and bfloat16 give
float32).

>>> import ember
>>> ember.finfo(ember.float32).eps
1.1920928955078125e-07
>>> ember.iinfo(ember.int8).min, ember.promote_types(ember.int64, ember.float16)
(-128, ember.float16)
"""
from __future__ import annotations

import math

import numpy as np

from . import dtypes
from .dtypes import DType


def _dtype(d, fn) -> DType:
    if d is None:
        return dtypes.get_default_dtype()
    try:
        return dtypes.as_dtype(d)
    except (TypeError, ValueError, KeyError):
        raise TypeError(f"{fn}: expected an ember dtype, got {d!r}") from None


class finfo:  # noqa: N801  (torch's name)
    """Machine limits of a floating dtype (the default dtype when none is given): ``bits``, ``eps``, ``max``,
    ``min``, ``tiny`` (= ``smallest_normal``), ``resolution`` and ``dtype`` (its name), as Python floats."""

    def __init__(self, type=None):  # noqa: A002  (torch's argument name)
        d = _dtype(type, "finfo")
        if not d.is_floating_point:
            raise TypeError(f"finfo: {d.name} is not a floating point dtype; use ember.iinfo for integer dtypes")
        info = _np_finfo(d)
        self.bits = int(info.bits)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -math.floor(-math.log10(self.eps))  # (PyTorch's: exactly 0.01 for bfloat16)
        self.dtype = d.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.tiny:g}, tiny={self.tiny:g}, dtype={self.dtype})")


def _np_finfo(d: DType):
    if d.np.kind == "V" or d.name == "bfloat16":  # bfloat16 is ml_dtypes' type, not a NumPy float
        import ml_dtypes

        return ml_dtypes.finfo(d.np)
    return np.finfo(d.np)


class iinfo:  # noqa: N801  (torch's name)
    """Limits of an integer dtype: ``bits``, ``max``, ``min`` as Python ints and ``dtype`` (its name)."""

    def __init__(self, type):  # noqa: A002
        d = _dtype(type, "iinfo")
        if d.category != 1:
            raise TypeError(f"iinfo: {d.name} is not an integer dtype" +
                            ("; use ember.finfo for floating dtypes" if d.is_floating_point else ""))
        info = np.iinfo(d.np)
        self.bits, self.min, self.max = int(info.bits), int(info.min), int(info.max)
        self.dtype = d.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def promote_types(type1, type2) -> DType:
    """The smallest dtype both ``type1`` and ``type2`` convert to without losing their kind (PyTorch's table)."""
    return dtypes.promote(_dtype(type1, "promote_types"), _dtype(type2, "promote_types"))


def result_type(tensor1, tensor2) -> DType:
    """The dtype an arithmetic op on ``tensor1`` and ``tensor2`` (tensors or Python numbers) returns:
    dimensioned tensors outrank 0-d tensors, which outrank Python numbers, each only within a higher kind."""
    tensors = [t.dtype for t in (tensor1, tensor2) if hasattr(t, "dtype") and t.ndim]
    zero_dim = [t.dtype for t in (tensor1, tensor2) if hasattr(t, "dtype") and not t.ndim]
    scalars = [v for v in (tensor1, tensor2) if not hasattr(v, "dtype")]
    return dtypes.result_type(tensors, zero_dim, scalars)


def can_cast(from_, to) -> bool:
    """Whether PyTorch's type promotion allows casting ``from_`` to ``to``: never down a kind (float to
    integer, integer to bool); any size and signedness within a kind or up one."""
    return _dtype(from_, "can_cast").category <= _dtype(to, "can_cast").category
