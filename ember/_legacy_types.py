"""PyTorch's legacy typed constructors: ``ember.FloatTensor(2, 3)`` (uninitialised), ``ember.LongTensor([1, 2])``
(from data), and ``isinstance(t, ember.FloatTensor)`` (a CPU float32 tensor), as in PyTorch.

>>> import ember
>>> ember.LongTensor([1, 2])
tensor([1, 2])
>>> isinstance(ember.zeros(2), ember.FloatTensor), isinstance(ember.zeros(2), ember.LongTensor)
(True, False)
"""
from __future__ import annotations

from . import dtypes
from .errors import mark, with_user_line
from .tensor import Tensor

empty = tensor = None  # installed by ember/_wiring.py (pieces of higher layers)

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor", "CharTensor",
           "ShortTensor", "IntTensor", "LongTensor", "BoolTensor"]


class _TensorTypeMeta(type):
    def __instancecheck__(cls, obj):
        return (isinstance(obj, Tensor) and cls.dtype is not None and obj._data.dtype == cls.dtype.np
                and obj.device.type == "cpu")


class _TypedTensor(metaclass=_TensorTypeMeta):
    dtype = None

    def __new__(cls, *args, device=None):
        if device is not None and str(device) != "cpu":
            raise mark(with_user_line(RuntimeError(
                f"{cls.__name__}: legacy constructors make CPU tensors; use ember.tensor(data, dtype="
                f"ember.{cls.dtype.name}, device={str(device)!r})"), 2))
        if not args:
            return empty(0, dtype=cls.dtype)
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], tuple) and all(isinstance(a, int) for a in args[0]) and \
                type(args[0]).__name__ == "Size":
            return empty(*args[0], dtype=cls.dtype)
        if len(args) == 1:
            data = args[0]
            return data.to(cls.dtype) if isinstance(data, Tensor) else tensor(data, dtype=cls.dtype)
        raise mark(with_user_line(TypeError(
            f"{cls.__name__}: expected sizes (ints) or one sequence of data, got {args!r}"), 2))


def _make(name, dtype_name):
    return _TensorTypeMeta(name, (_TypedTensor,), {"dtype": getattr(dtypes, dtype_name, None),
                                                   "__doc__": f"A CPU {dtype_name} tensor (legacy constructor)."})


FloatTensor = _make("FloatTensor", "float32")
DoubleTensor = _make("DoubleTensor", "float64")
HalfTensor = _make("HalfTensor", "float16")
BFloat16Tensor = _make("BFloat16Tensor", "bfloat16")
ByteTensor = _make("ByteTensor", "uint8")
CharTensor = _make("CharTensor", "int8")
ShortTensor = _make("ShortTensor", "int16")
IntTensor = _make("IntTensor", "int32")
LongTensor = _make("LongTensor", "int64")
BoolTensor = _make("BoolTensor", "bool_")
