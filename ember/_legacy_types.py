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

# complex tensors' type names (x.type() says 'ember.ComplexFloatTensor'); PyTorch has no such constructors either
_COMPLEX = (_make("ComplexFloatTensor", "complex64"), _make("ComplexDoubleTensor", "complex128"))
_CLASSES = {c.dtype.name: c for c in (FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, ByteTensor, CharTensor,
                                      ShortTensor, IntTensor, LongTensor, BoolTensor) + _COMPLEX}
_BY_CLASS_NAME = {c.__name__: c for c in _CLASSES.values()}


def type_name(t) -> str:
    """``t.type()``: the legacy type's name, ``ember.FloatTensor`` (``ember.cuda.FloatTensor`` on a GPU)."""
    cls = _CLASSES[t.dtype.name]
    return f"ember.{'cuda.' if t.device.type == 'cuda' else ''}{cls.__name__}"


def convert(t, spec):
    """``t.type(spec)``: ``spec`` a dtype, a legacy class, or a name as ``t.type()`` writes it (``torch.`` names
    too, so a PyTorch program's strings work): ``t`` itself when nothing changes."""
    if isinstance(spec, type) and issubclass(spec, _TypedTensor):
        return t.to(spec.dtype) if t.device.type == "cpu" else t.to(spec.dtype).cpu()
    if isinstance(spec, str) and spec.split(".")[0] in ("ember", "torch") and spec.endswith("Tensor"):
        parts = spec.split(".")
        cls = _BY_CLASS_NAME.get(parts[-1])
        if cls is None or len(parts) not in (2, 3) or (len(parts) == 3 and parts[1] != "cuda"):
            raise mark(with_user_line(ValueError(f"type: invalid type {spec!r}; expected e.g. 'ember.FloatTensor' or "
                                                 f"'ember.cuda.LongTensor'"), 3))
        return t.to("cuda" if len(parts) == 3 else "cpu").to(cls.dtype)
    return t.to(dtypes.as_dtype(spec))
