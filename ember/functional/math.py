"""Elementwise math: the dtype-promoting front doors to the primitives, and composites built on them."""
from __future__ import annotations

import math as _math

from .. import dtypes
from .._autocast import autocast_op
from ..ops import apply
from ..tensor import Tensor


def as_tensor_like(value, like: Tensor) -> Tensor:
    """A Python scalar, list or array as a tensor that can meet ``like`` in a binary op."""
    if isinstance(value, (bool, int, float)):
        return like._scalar(value)
    from ..creation import as_tensor

    return as_tensor(value, device=like.device)


def cast(x: Tensor, dtype) -> Tensor:
    d = dtypes.as_dtype(dtype)
    return x if x._data.dtype == d.np else apply("cast", x, dtype=d.name)


def _promote_pair(a: Tensor, b: Tensor):
    da, db = a.dtype, b.dtype
    if (a._data.ndim == 0) == (b._data.ndim == 0):
        r = dtypes.promote(da, db)
    elif a._data.ndim == 0:  # a 0-d tensor only decides the dtype when it is of a higher category
        r = da if da.category > db.category else db
    else:
        r = db if db.category > da.category else da
    return cast(a, r), cast(b, r)


def binary(op: str, a, b) -> Tensor:
    """Apply a binary primitive with PyTorch's type promotion (scalars never upcast tensors)."""
    if not isinstance(b, Tensor):
        b = as_tensor_like(b, a)
    elif not isinstance(a, Tensor):
        a = as_tensor_like(a, b)
    if a._data.dtype != b._data.dtype:
        a, b = _promote_pair(a, b)
    return apply(op, a, b)


def _float_input(x: Tensor) -> Tensor:
    """Integer inputs of float functions (exp, sqrt, ...) compute in the default float dtype, like PyTorch."""
    return x if dtypes.is_float(x._data.dtype) else apply("cast", x, dtype=dtypes.get_default_dtype().name)


def _unary(name):
    def fn(input: Tensor) -> Tensor:
        return apply(name, _float_input(input))

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} (``ember.{name}(x)``)."
    return fn


exp, log, sin, cos, tanh, sigmoid, sqrt, erf = (_unary(n) for n in
                                                ("exp", "log", "sin", "cos", "tanh", "sigmoid", "sqrt", "erf"))
exp, log = autocast_op(exp), autocast_op(log)  # float32 under CUDA autocast


def neg(input):
    return apply("neg", input)


def abs(input):
    return apply("abs", input)


def sign(input):
    return apply("sign", input)


def floor(input):
    return input if input._data.dtype.kind in "iub" else apply("floor", input)


def ceil(input):
    return input if input._data.dtype.kind in "iub" else apply("ceil", input)


def trunc(input):
    return input if input._data.dtype.kind in "iub" else apply("trunc", input)


def round(input, decimals=0):
    if input._data.dtype.kind in "iub":
        return input
    if decimals:
        scale = 10.0 ** decimals
        return apply("round", input * scale) / scale
    return apply("round", input)


@autocast_op
def tan(input):
    return sin(input) / cos(input)


@autocast_op
def rsqrt(input):
    return 1 / sqrt(input)


@autocast_op
def reciprocal(input):
    return 1 / _float_input(input)


@autocast_op
def log1p(input):
    return log(1 + _float_input(input))


@autocast_op
def expm1(input):
    return exp(input) - 1


@autocast_op
def log2(input):
    return log(input) / _math.log(2)


@autocast_op
def log10(input):
    return log(input) / _math.log(10)


def square(input):
    return input * input


def relu(input):
    """max(x, 0) through the ``relu`` primitive (ember/ops/nn.py): one kernel each way, measured to pay."""
    return apply("relu", input)


def clamp(input, min=None, max=None):
    """Clamp into [min, max]; the gradient passes where min <= x <= max (inclusive, like PyTorch)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    out = input
    if min is not None:
        lo = min if isinstance(min, Tensor) else input._scalar(min)
        out = apply("where", binary("lt", out, lo), cast(lo, out.dtype), out)
    if max is not None:
        hi = max if isinstance(max, Tensor) else input._scalar(max)
        out = apply("where", binary("gt", out, hi), cast(hi, out.dtype), out)
    return out


clip = clamp


def where(condition, input=None, other=None):
    if input is None and other is None:
        from .index import nonzero

        return nonzero(condition, as_tuple=True)
    if not isinstance(input, Tensor):
        input = as_tensor_like(input, other if isinstance(other, Tensor) else condition)
    if not isinstance(other, Tensor):
        other = as_tensor_like(other, input)
    if input._data.dtype != other._data.dtype:
        input, other = _promote_pair(input, other)
    cond = condition if condition._data.dtype.kind == "b" else apply("ne", condition, condition._scalar(0))
    return apply("where", cond, input, other)


def maximum(input, other):
    return binary("maximum", input, other)


def minimum(input, other):
    return binary("minimum", input, other)


@autocast_op
def pow(input, exponent):
    if isinstance(input, (int, float)):
        return binary("pow", exponent._scalar(input), exponent)
    if isinstance(exponent, (int, float)) and input._data.dtype.kind in "iu" and exponent < 0:
        from ..errors import mark, with_user_line

        raise mark(with_user_line(ValueError(
            "pow: integers to negative integer powers are not allowed; use a float tensor"), 3))
    return binary("pow", input, exponent)


def lerp(input, end, weight):
    return input + (end - input) * weight


def logical_not(input):
    return apply("logical_not", input)


def logical_and(input, other):
    return binary("logical_and", input, other)


def logical_or(input, other):
    return binary("logical_or", input, other)


def logical_xor(input, other):
    return binary("logical_xor", input, other)


def isnan(input):
    return apply("ne", input, input)


def isinf(input):
    return apply("eq", abs(input), input._scalar(float("inf")))


def isfinite(input):
    return logical_not(logical_or(isnan(input), isinf(input)))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    big = float(_finfo(input).max)
    out = where(isnan(input), nan, input)
    out = where(binary("eq", out, float("inf")), big if posinf is None else posinf, out)
    return where(binary("eq", out, float("-inf")), -big if neginf is None else neginf, out)


def _finfo(x):
    import numpy

    return numpy.finfo(x._data.dtype)


def add(input, other, alpha=1):
    return binary("add", input, other if alpha == 1 else other * alpha)


def sub(input, other, alpha=1):
    return binary("sub", input, other if alpha == 1 else other * alpha)


def mul(input, other):
    return binary("mul", input, other)


def div(input, other, rounding_mode=None):
    if rounding_mode == "floor":
        return binary("floordiv", input, other)
    if rounding_mode == "trunc":
        return trunc(true_divide(input, other))
    return true_divide(input, other)


def floor_divide(input, other):
    return binary("floordiv", input, other)


def remainder(input, other):
    return binary("remainder", input, other)


def fmod(input, other):
    """C-style remainder: the result has the sign of ``input``."""
    return input - trunc(true_divide(input, other)) * other


def true_divide(input, other):
    if isinstance(input, Tensor) and input._data.dtype.kind in "iub" and (
            not isinstance(other, Tensor) or other._data.dtype.kind in "iub") and not isinstance(other, float):
        input = cast(input, dtypes.get_default_dtype())
    return binary("div", input, other)


def eq(input, other):
    return binary("eq", input, other)


def ne(input, other):
    return binary("ne", input, other)


def lt(input, other):
    return binary("lt", input, other)


def le(input, other):
    return binary("le", input, other)


def gt(input, other):
    return binary("gt", input, other)


def ge(input, other):
    return binary("ge", input, other)


def equal(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape) and bool(eq(input, other).all())


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    close = binary("le", abs(input - other), atol + rtol * abs(other))
    return logical_or(close, logical_and(isnan(input), isnan(other))) if equal_nan else close
