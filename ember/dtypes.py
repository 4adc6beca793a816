"""Ember dtypes and PyTorch's type-promotion rules."""
from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type, e.g. ``ember.float32``. ``.np`` is the matching NumPy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "category")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating, 3 complex
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        self.is_signed = category >= 2 or (category == 1 and self.np.kind == "i")
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):  # DataLoader workers send dtypes between processes
        return (from_name, (self.name,))


bool_ = DType("bool", np.bool_, 0)
uint8 = DType("uint8", np.uint8, 1)
int8 = DType("int8", np.int8, 1)
int16 = DType("int16", np.int16, 1)
int32 = DType("int32", np.int32, 1)
int64 = DType("int64", np.int64, 1)
float16 = DType("float16", np.float16, 2)
float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 2)
# complex numbers: enough for ember.fft and its round trips (see docs/porting_from_pytorch.md, "Complex numbers")
complex64 = DType("complex64", np.complex64, 3)
complex128 = DType("complex128", np.complex128, 3)
ALL = [bool_, uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128]
try:  # bfloat16 comes from ml_dtypes when it is installed
    import ml_dtypes

    bfloat16 = DType("bfloat16", ml_dtypes.bfloat16, 2)
    ALL.append(bfloat16)
except ImportError:  # pragma: no cover - optional
    bfloat16 = None

_BY_NP = {d.np: d for d in ALL if d.category != 3}
_COMPLEX_BY_NP = {d.np: d for d in ALL if d.category == 3}  # (a lookup of its own: it sets COMPLEX_SEEN)
# NumPy files ml_dtypes' bfloat16 under kind "V" (void), not "f": ask ``is_float`` rather than ``kind == "f"``
_V_FLOATS = frozenset(d.np for d in ALL if d.is_floating_point and d.np.kind != "f")


def is_float(np_dtype) -> bool:
    """Whether a NumPy/CuPy dtype is floating point (bfloat16 included)."""
    kind = np_dtype.kind
    return kind == "f" or (kind == "V" and np_dtype in _V_FLOATS)


_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(half=float16, float=float32, double=float64, long=int64, int=int32, short=int16, cfloat=complex64,
                cdouble=complex128)
_PY_TYPES = {bool: bool_, int: int64, float: None}  # float -> default dtype
_COMPLEX_OF = {"float32": complex64, "float64": complex128}
_REAL_OF = {"complex64": float32, "complex128": float64}
# Set (for good) once a complex array has been seen: from then on ops.apply checks each op's inputs for complex
# dtypes and refuses them where the op cannot handle complex numbers (until then the check costs one lookup).
COMPLEX_SEEN = [False]

_default_float = float32


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(d) -> None:
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default_float = d


def from_np(np_dtype) -> DType:
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        pass
    try:
        d = _COMPLEX_BY_NP[np_dtype]
    except KeyError:
        raise TypeError(f"Ember has no dtype for NumPy's {np.dtype(np_dtype)}; supported: "
                        f"{', '.join(d.name for d in ALL)}") from None
    COMPLEX_SEEN[0] = True
    return d


def from_name(name: str) -> DType:
    return _BY_NAME[name]


def as_dtype(d) -> DType:
    """Accept an Ember dtype, a NumPy dtype or scalar type, a Python type, or a name like 'float32'."""
    if isinstance(d, DType):
        return d
    if d is float:
        return _default_float
    if d in _PY_TYPES:
        return _PY_TYPES[d]
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        return from_np(np.dtype(d))
    except TypeError as e:
        raise TypeError(f"{d!r} is not a dtype Ember knows; use e.g. ember.float32") from e


def to_np(d) -> np.dtype:
    return as_dtype(d).np


def to_complex(d: DType, what: str = "this op") -> DType:
    """The complex dtype with ``d``'s precision: float32 -> complex64, float64 -> complex128 (complex stays)."""
    if d.category == 3:
        return d
    c = _COMPLEX_OF.get(d.name)
    if c is None:
        raise TypeError(f"{what}: Ember has complex64 and complex128 only (no complex32, PyTorch's chalf, for "
                        f"{d.name}); convert to float32 or float64 first")
    return c


def to_real(d: DType) -> DType:
    """The real dtype of a complex one's parts (complex64 -> float32); other dtypes are returned as they are."""
    return _REAL_OF.get(d.name, d)


def default_complex() -> DType:
    """The complex dtype of the default float dtype (complex64 for float32)."""
    return to_complex(_default_float, "a complex number")


def promote_weak(stronger: DType, weaker: DType) -> DType:
    """PyTorch's dtype when an operand of lower priority (a 0-d tensor, a Python number) has the higher kind
    ``weaker``: its kind, with a float ``stronger``'s precision kept for complex (float64 and a 0-d complex64
    give complex128; float32 and 1j give complex64). ``stronger`` when ``weaker``'s kind is not higher."""
    if weaker.category <= stronger.category:
        return stronger
    if weaker.category == 3 and stronger.category == 2:
        return to_complex(stronger, "promotion to complex")
    return weaker


def promote(a: DType, b: DType) -> DType:
    """PyTorch's promotion between two dimensioned tensors of dtypes a and b."""
    if a is b:
        return a
    if a.category != b.category:
        if a.category + b.category == 5:  # complex with float: complex of the wider precision
            c, f = (a, b) if a.category == 3 else (b, a)
            return to_complex(promote(to_real(c), f))
        return a if a.category > b.category else b
    if a.category == 2 and {a.name, b.name} == {"float16", "bfloat16"}:
        return float32
    return from_np(np.promote_types(a.np, b.np))


def scalar_dtype(value) -> DType:
    """The dtype a Python scalar takes when it meets no tensor of its category."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    if isinstance(value, float):
        return _default_float
    if isinstance(value, complex):
        return default_complex()
    return from_np(np.asarray(value).dtype)


def category_of_scalar(value) -> int:
    return 0 if isinstance(value, bool) else 1 if isinstance(value, int) else 3 if isinstance(value, complex) else 2


def result_type(tensor_dtypes, zero_dim_dtypes=(), scalars=()) -> DType:
    """PyTorch's result_type: dimensioned tensors > 0-d tensors > Python scalars, by category."""
    best = None
    for d in tensor_dtypes:
        best = d if best is None else promote(best, d)
    for group_is_zero_dim, items in ((True, zero_dim_dtypes), (False, scalars)):
        for item in items:
            d = item if group_is_zero_dim else scalar_dtype(item)
            if best is None:
                best = d
            elif d.category > best.category:
                best = promote_weak(best, d if group_is_zero_dim or d.category >= 2 else int64)
            elif group_is_zero_dim and d.category == best.category and not tensor_dtypes:
                best = promote(best, d)
    return best
