"""``keras.ops.numpy`` elementwise math: arithmetic, comparisons, trig / hyperbolic, logic and bit operations.

>>> from ember.keras import ops
>>> ops.arctan2([1.0, -1.0], [1.0, 1.0])
tensor([ 0.7854, -0.7854])
"""

from __future__ import annotations

import builtins
import math as _math

import numpy as np

import ember
from ember import functional as F

from ._common import Tensor, edtype, fail, t, tf, wrap, xp_of


def _two(x1, x2):
    """Both operands as tensors; a Python number stays a number so it takes the tensor's dtype."""
    if isinstance(x1, Tensor) and isinstance(x2, (int, float, bool)):
        return x1, x2
    if isinstance(x2, Tensor) and isinstance(x1, (int, float, bool)):
        return x1, x2
    return t(x1), t(x2)


def _as_tensors(x1, x2):
    a, b = _two(x1, x2)
    if not isinstance(a, Tensor):
        a = t(np.asarray(a, dtype=np.dtype(b.dtype.name) if isinstance(a, float) == b.is_floating_point() else None))
    if not isinstance(b, Tensor):
        b = t(np.asarray(b, dtype=np.dtype(a.dtype.name) if isinstance(b, float) == a.is_floating_point() else None))
    return a, b


def _floats(x1, x2):
    a, b = _as_tensors(x1, x2)
    if a.is_floating_point() or b.is_floating_point():
        if a.dtype != b.dtype:
            common = (a + b).dtype  # the promoted dtype, torch's rules
            a, b = a.to(common), b.to(common)
        return a, b
    return tf(a), tf(b)


# -- arithmetic --------------------------------------------------------------------------------------------------
def add(x1, x2):
    a, b = _two(x1, x2)
    return a + b


def subtract(x1, x2):
    a, b = _two(x1, x2)
    return a - b


def multiply(x1, x2):
    a, b = _two(x1, x2)
    return a * b


def divide(x1, x2):
    a, b = _floats(x1, x2)
    return a / b


true_divide = divide


def divide_no_nan(x1, x2):
    """``x1 / x2``, 0 where ``x2 == 0`` (no NaN, no gradient through the masked entries)."""
    a, b = _floats(x1, x2)
    zero = b == 0
    safe = F.where(zero, ember.ones_like(b), b)
    return F.where(zero, a * 0, a / safe)


def floor_divide(x1, x2):
    a, b = _as_tensors(x1, x2)
    return F.floor_divide(a, b)


def mod(x1, x2):
    a, b = _as_tensors(x1, x2)
    return F.remainder(a, b)


def fmod(x1, x2):
    """The C-style remainder (the sign of ``x1``)."""
    a, b = _as_tensors(x1, x2)
    if a.is_floating_point() or b.is_floating_point():
        return F.fmod(a, b)
    r = F.remainder(a, b)
    return F.where((r != 0) & ((r < 0) != (a < 0)), r - b, r)


def power(x1, x2):
    a, b = _two(x1, x2)
    return a**b


def negative(x):
    return -t(x)


def reciprocal(x):
    return 1.0 / tf(x)


def square(x):
    return F.square(t(x))


def sqrt(x):
    return F.sqrt(tf(x))


def cbrt(x):
    x = tf(x)
    return F.sign(x) * F.abs(x) ** (1.0 / 3.0)


def abs(x):
    return F.abs(t(x))


absolute = fabs = abs


def sign(x):
    return F.sign(t(x))


def maximum(x1, x2):
    a, b = _as_tensors(x1, x2)
    common = (a + b).dtype if a.dtype != b.dtype else a.dtype
    return F.maximum(a.to(common), b.to(common))


def minimum(x1, x2):
    a, b = _as_tensors(x1, x2)
    common = (a + b).dtype if a.dtype != b.dtype else a.dtype
    return F.minimum(a.to(common), b.to(common))


def fmax(x1, x2):
    """The larger of two, ignoring a NaN in either."""
    a, b = _floats(x1, x2)
    return F.where(F.isnan(a), b, F.where(F.isnan(b), a, F.maximum(a, b)))


def fmin(x1, x2):
    a, b = _floats(x1, x2)
    return F.where(F.isnan(a), b, F.where(F.isnan(b), a, F.minimum(a, b)))


def clip(x, x_min, x_max):
    x = t(x)
    if x.dtype.name == "bool":
        x = x.to(edtype("int32"))
    return F.clamp(x, x_min, x_max)


def round(x, decimals=0):
    return F.round(t(x), decimals=decimals)


def trunc(x):
    x = t(x)
    return F.trunc(x) if x.is_floating_point() else x


def floor(x):
    return F.floor(tf(x))


def ceil(x):
    return F.ceil(tf(x))


def hypot(x1, x2):
    a, b = _floats(x1, x2)
    return F.sqrt(a * a + b * b)


def heaviside(x1, x2):
    a, b = _floats(x1, x2)
    return F.where(a > 0, a * 0 + 1, F.where(a < 0, a * 0, b + a * 0))


def logaddexp(x1, x2):
    a, b = _floats(x1, x2)
    hi = F.maximum(a, b)
    return hi + F.log1p(F.exp(-F.abs(a - b)))


def logaddexp2(x1, x2):
    a, b = _floats(x1, x2)
    hi = F.maximum(a, b)
    return hi + F.log1p(2.0 ** (-F.abs(a - b))) / _math.log(2.0)


def ldexp(x1, x2):
    a, b = t(x1), t(x2)
    a = tf(a)
    return a * 2.0 ** b.to(a.dtype)


def nextafter(x1, x2):
    """The next representable float after ``x1`` towards ``x2`` (no gradient)."""
    a, b = _floats(x1, x2)
    return wrap(xp_of(a).nextafter(a._data, b._data), a)


def gcd(x1, x2):
    a, b = _as_tensors(x1, x2)
    return wrap(xp_of(a).gcd(a._data, b._data), a)


def lcm(x1, x2):
    a, b = _as_tensors(x1, x2)
    return wrap(xp_of(a).lcm(a._data, b._data), a)


# -- exponentials, logs, trig ----------------------------------------------------------------------------------
def _unary_float(name, fn):
    def op(x):
        return fn(tf(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` (integer inputs give floatx)."
    return op


exp = _unary_float("exp", F.exp)
expm1 = _unary_float("expm1", F.expm1)
log = _unary_float("log", F.log)
log1p = _unary_float("log1p", F.log1p)
log2 = _unary_float("log2", F.log2)
log10 = _unary_float("log10", F.log10)
sin = _unary_float("sin", F.sin)
cos = _unary_float("cos", F.cos)
tan = _unary_float("tan", F.tan)
tanh = _unary_float("tanh", F.tanh)
sinh = _unary_float("sinh", F.sinh)
cosh = _unary_float("cosh", F.cosh)
arcsin = _unary_float("arcsin", F.asin)
arccos = _unary_float("arccos", F.acos)
arctan = _unary_float("arctan", F.atan)
arcsinh = _unary_float("arcsinh", F.asinh)
arccosh = _unary_float("arccosh", F.acosh)
arctanh = _unary_float("arctanh", F.atanh)


def exp2(x):
    return 2.0 ** tf(x)


def arctan2(x1, x2):
    a, b = _floats(x1, x2)
    return F.atan2(a, b)


def deg2rad(x):
    return tf(x) * (_math.pi / 180.0)


def rad2deg(x):
    return tf(x) * (180.0 / _math.pi)


def sinc(x):
    """``sin(pi x) / (pi x)``, 1 at 0."""
    x = tf(x)
    zero = x == 0
    px = F.where(zero, x * 0 + 1, x) * _math.pi
    return F.where(zero, x * 0 + 1, F.sin(px) / px)


def i0(x):
    """The modified Bessel function of the first kind, order 0 (power series; accurate for |x| < ~30)."""
    x = tf(x)
    q = (x * 0.5) ** 2
    term, total = x * 0 + 1, x * 0 + 1
    for k in builtins.range(1, 60):
        term = term * q / float(k * k)
        total = total + term
    return total


# -- complex-number views of real data (Ember tensors are real) ------------------------------------------------
def real(x):
    return t(x)


def imag(x):
    return ember.zeros_like(t(x))


def conj(x):
    return t(x)


conjugate = conj


def angle(x):
    x = tf(x)
    return F.where(x < 0, x * 0 + _math.pi, x * 0)


def isreal(x):
    return ember.ones_like(t(x), dtype=ember.bool)


# -- comparisons and tests ---------------------------------------------------------------------------------------
def _comparison(fn, name):
    def compare(x1, x2):
        a, b = _two(x1, x2)
        return fn(t(a), b)
    compare.__name__ = compare.__qualname__ = name
    return compare


equal, not_equal = _comparison(F.eq, "equal"), _comparison(F.ne, "not_equal")
greater, greater_equal = _comparison(F.gt, "greater"), _comparison(F.ge, "greater_equal")
less, less_equal = _comparison(F.lt, "less"), _comparison(F.le, "less_equal")


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    a, b = _floats(x1, x2)
    return F.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return F.all(isclose(x1, x2, rtol, atol, equal_nan))


def isfinite(x):
    return F.isfinite(t(x))


def isinf(x):
    return F.isinf(t(x))


def isnan(x):
    return F.isnan(t(x))


def isposinf(x):
    x = t(x)
    return F.isinf(x) & (x > 0)


def isneginf(x):
    x = t(x)
    return F.isinf(x) & (x < 0)


def signbit(x):
    x = t(x)
    if not x.is_floating_point():
        return x < 0
    return wrap(xp_of(x).signbit(x._data), x)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = t(x)
    return F.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf) if x.is_floating_point() else x


# -- logic and bits ---------------------------------------------------------------------------------------------
def logical_and(x1, x2):
    return F.logical_and(t(x1), t(x2))


def logical_or(x1, x2):
    return F.logical_or(t(x1), t(x2))


def logical_xor(x1, x2):
    return F.logical_xor(t(x1), t(x2))


def logical_not(x):
    return F.logical_not(t(x))


def bitwise_and(x, y):
    return F.bitwise_and(*_as_tensors(x, y))


def bitwise_or(x, y):
    return F.bitwise_or(*_as_tensors(x, y))


def bitwise_xor(x, y):
    return F.bitwise_xor(*_as_tensors(x, y))


def bitwise_not(x):
    return F.bitwise_not(t(x))


bitwise_invert = bitwise_not


def bitwise_left_shift(x, y):
    return F.bitwise_left_shift(*_as_tensors(x, y))


def bitwise_right_shift(x, y):
    return F.bitwise_right_shift(*_as_tensors(x, y))


left_shift, right_shift = bitwise_left_shift, bitwise_right_shift


def where(condition, x1=None, x2=None):
    c = t(condition)
    if x1 is None and x2 is None:
        return F.nonzero(c, as_tuple=True)
    if (x1 is None) != (x2 is None):
        raise fail("where", "give both x1 and x2, or neither (then it returns the indices of the true entries)")
    a, b = _two(x1, x2)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype != b.dtype:
        common = (a + b).dtype if a.dtype.name != "bool" else b.dtype
        a, b = a.to(common), b.to(common)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = t(a)
    if not c.dtype.name == "bool":
        c = c != 0
    return F.where(c, a, b)
