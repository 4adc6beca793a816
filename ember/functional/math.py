"""Elementwise math: the dtype-promoting front doors to the primitives, and composites built on them."""
from __future__ import annotations

import math as _math

from .. import dtypes
from .._autocast import autocast_op
from ..ops import apply
from ..tensor import Tensor


def as_tensor_like(value, like: Tensor) -> Tensor:
    """A Python scalar, list or array as a tensor that can meet ``like`` in a binary op."""
    if isinstance(value, (bool, int, float, complex)):
        return like._scalar(value)
    from ..creation import as_tensor

    return as_tensor(value, device=like.device)


def cast(x: Tensor, dtype) -> Tensor:
    d = dtypes.as_dtype(dtype)
    return x if x._data.dtype == d.np else apply("cast", x, dtype=d.name)


def convert(x: Tensor, dtype) -> Tensor:
    """``x.to(dtype)``: ``cast``, except that complex to real or integer takes the real part with PyTorch's
    warning (internal casts of complex tensors to real dtypes are refused instead, never silent)."""
    d = dtypes.as_dtype(dtype)
    if x._data.dtype.kind == "c" and d.category in (1, 2):
        from ..errors import warn_user

        warn_user("Casting complex values to real discards the imaginary part")
        x = apply("real", x)
    return cast(x, d)


def _promote_pair(a: Tensor, b: Tensor):
    da, db = a.dtype, b.dtype
    if (a._data.ndim == 0) == (b._data.ndim == 0):
        r = dtypes.promote(da, db)
    elif a._data.ndim == 0:  # a 0-d tensor only decides the dtype when it is of a higher category
        r = dtypes.promote_weak(db, da)
    else:
        r = dtypes.promote_weak(da, db)
    return cast(a, r), cast(b, r)


def binary(op: str, a, b) -> Tensor:
    """Apply a binary primitive with PyTorch's type promotion (scalars never upcast tensors)."""
    known = None  # a Python number divisor: checked here, not by a graph node
    if not isinstance(b, Tensor):
        known = b
        b = as_tensor_like(b, a)
    elif not isinstance(a, Tensor):
        a = as_tensor_like(a, b)
    if a._data.dtype != b._data.dtype:
        a, b = _promote_pair(a, b)
    if op in _INTEGER_DIVISIONS and a._data.dtype.kind in "iu" and (known is None or known == 0):
        _check_divisor(op, b)
    return apply(op, a, b)


_INTEGER_DIVISIONS = frozenset(("floordiv", "remainder"))


def _check_divisor(op, divisor):
    """PyTorch raises on an integer division by zero (NumPy only warns and returns 0). The check is an
    ``assert_all`` node, so a compiled function checks every call as the eager one does."""
    apply("assert_all", apply("ne", divisor, divisor._scalar(0)), error="RuntimeError", message=(
        f"{op}: integer division by zero (a divisor of shape {tuple(divisor.shape)} holds a 0). Divide floats "
        "(x.float()) to get inf or nan instead."))


def _float_input(x: Tensor) -> Tensor:
    """Integer inputs of float functions (exp, sqrt, ...) compute in the default float dtype, like PyTorch."""
    kind = x._data.dtype.kind  # (complex passes: the op then takes it or refuses it by name)
    return x if kind == "f" or kind == "c" or dtypes.is_float(x._data.dtype) else \
        apply("cast", x, dtype=dtypes.get_default_dtype().name)


def _unary(name, doc):
    def fn(input: Tensor) -> Tensor:
        return apply(name, _float_input(input))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


# integer inputs compute in the default float dtype (as in PyTorch)
exp = _unary("exp", """``e ** x``, elementwise.

    >>> ember.exp(ember.tensor([0.0, 1.0]))
    tensor([1.0000, 2.7183])
    """)
log = _unary("log", """The natural logarithm, elementwise (-inf at 0, NaN below).

    >>> ember.log(ember.tensor([1.0, 100.0]))
    tensor([0.0000, 4.6052])
    """)
sin = _unary("sin", """The sine of each element (in radians).

    >>> ember.sin(ember.tensor([0.0, 1.5708]))
    tensor([0., 1.])
    """)
cos = _unary("cos", """The cosine of each element (in radians).

    >>> ember.cos(ember.tensor([0.0, 3.1416]))
    tensor([ 1., -1.])
    """)
tanh = _unary("tanh", """The hyperbolic tangent, elementwise.

    >>> ember.tanh(ember.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.7616,  0.0000,  0.7616])
    """)
sigmoid = _unary("sigmoid", """The logistic function ``1 / (1 + exp(-x))``, elementwise.

    >>> ember.sigmoid(ember.tensor([-2.0, 0.0, 2.0]))
    tensor([0.1192, 0.5000, 0.8808])
    """)
sqrt = _unary("sqrt", """The square root, elementwise (NaN for negative elements).

    >>> ember.sqrt(ember.tensor([4, 9]))
    tensor([2., 3.])
    """)
erf = _unary("erf", """The Gauss error function, elementwise.

    >>> ember.erf(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8427])
    """)
exp, log = autocast_op(exp), autocast_op(log)  # float32 under CUDA autocast


def neg(input):
    """``-x``, elementwise.

    >>> ember.neg(ember.tensor([1, -2]))
    tensor([-1,  2])
    """
    return apply("neg", input)


def abs(input):
    """The absolute value of each element (keeps the dtype).

    >>> ember.abs(ember.tensor([-1.5, 2.0]))
    tensor([1.5000, 2.0000])
    """
    return apply("abs", input)


def sign(input):
    """-1, 0 or 1 by the sign of each element, in the input's dtype.

    >>> ember.sign(ember.tensor([-3.0, 0.0, 2.0]))
    tensor([-1.,  0.,  1.])
    """
    if input._data.dtype.kind == "b":  # a bool's sign is itself (PyTorch returns a bool copy)
        return input.clone()
    return apply("sign", input)


def floor(input):
    """The largest integer not above each element (integer tensors pass through).

    >>> ember.floor(ember.tensor([-1.5, 1.5]))
    tensor([-2.,  1.])
    """
    return input if input._data.dtype.kind in "iub" else apply("floor", input)


def ceil(input):
    """The smallest integer not below each element (integer tensors pass through).

    >>> ember.ceil(ember.tensor([-1.5, 1.5]))
    tensor([-1.,  2.])
    """
    return input if input._data.dtype.kind in "iub" else apply("ceil", input)


def trunc(input):
    """Each element rounded toward zero (integer tensors pass through).

    >>> ember.trunc(ember.tensor([-1.7, 1.7]))
    tensor([-1.,  1.])
    """
    return input if input._data.dtype.kind in "iub" else apply("trunc", input)


def round(input, decimals=0):
    """Round half to even, elementwise; ``decimals`` rounds to that many decimal places.

    >>> ember.round(ember.tensor([0.5, 1.5, 2.567]))
    tensor([0., 2., 3.])
    >>> ember.round(ember.tensor([2.567]), decimals=2)
    tensor([2.5700])
    """
    if input._data.dtype.kind in "iub":
        return input
    if decimals:
        scale = 10.0 ** decimals
        return apply("round", input * scale) / scale
    return apply("round", input)


@autocast_op
def tan(input):
    """The tangent of each element (in radians).

    >>> ember.tan(ember.tensor([0.0, 0.7854]))
    tensor([0.0000, 1.0000])
    """
    return sin(input) / cos(input)


@autocast_op
def rsqrt(input):
    """``1 / sqrt(x)``, elementwise.

    >>> ember.rsqrt(ember.tensor([1.0, 4.0]))
    tensor([1.0000, 0.5000])
    """
    return 1 / sqrt(input)


@autocast_op
def reciprocal(input):
    """``1 / x``, elementwise (integers give floats).

    >>> ember.reciprocal(ember.tensor([2, 4]))
    tensor([0.5000, 0.2500])
    """
    return 1 / _float_input(input)


@autocast_op
def log1p(input):
    """``log(1 + x)``, elementwise, accurate for tiny ``x`` (where ``log(1 + x)`` rounds to 0).

    >>> ember.log1p(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.6931])
    """
    return apply("log1p", _float_input(input))


@autocast_op
def expm1(input):
    """``exp(x) - 1``, elementwise, accurate for tiny ``x``.

    >>> ember.expm1(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 1.7183])
    """
    return apply("expm1", _float_input(input))


@autocast_op
def log2(input):
    """The base-2 logarithm, elementwise.

    >>> ember.log2(ember.tensor([1.0, 8.0]))
    tensor([0., 3.])
    """
    return log(input) / _math.log(2)


@autocast_op
def log10(input):
    """The base-10 logarithm, elementwise.

    >>> ember.log10(ember.tensor([1.0, 1000.0]))
    tensor([0., 3.])
    """
    return log(input) / _math.log(10)


def square(input):
    """``x * x``, elementwise.

    >>> ember.square(ember.tensor([-2, 3]))
    tensor([4, 9])
    """
    if input._data.dtype.kind == "b":  # PyTorch squares bools as int64 (pow(x, 2)), not as logical and
        input = cast(input, dtypes.int64)
    return input * input


def relu(input):
    """max(x, 0) through the ``relu`` primitive (ember/ops/nn.py): one kernel each way, measured to pay.

    >>> ember.relu(ember.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return apply("relu", input)


def clamp(input, min=None, max=None):
    """Clamp into [min, max]; the gradient passes where min <= x <= max (inclusive, like PyTorch).

    >>> ember.clamp(ember.tensor([-2.0, 0.5, 3.0]), min=-1.0, max=1.0)
    tensor([-1.0000,  0.5000,  1.0000])
    >>> ember.clip(ember.tensor([-2.0, 3.0]), max=0.0)  # clip is the same function
    tensor([-2.,  0.])
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    # the result's dtype is PyTorch's promotion of the input with the bounds (an int tensor clamped at 0.5 is
    # float, a float32 one clamped by a float64 tensor float64)
    if input._data.dtype.kind == "f" and not isinstance(min, Tensor) and not isinstance(max, Tensor):
        kind = input.dtype  # a float tensor keeps its dtype with Python bounds (the common case, no promotion)
    else:
        kind = _promoted_dtype(input, *(b for b in (min, max) if b is not None))
    out = input if input.dtype == kind else cast(input, kind)
    if min is not None:
        lo = cast(min, kind) if isinstance(min, Tensor) else out._scalar(min)
        out = apply("where", binary("lt", out, lo), lo, out)
    if max is not None:
        hi = cast(max, kind) if isinstance(max, Tensor) else out._scalar(max)
        out = apply("where", binary("gt", out, hi), hi, out)
    return out


def _promoted_dtype(*values):
    """PyTorch's result dtype of tensors and Python numbers ``values`` (``torch.result_type``)."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    return dtypes.result_type([t.dtype for t in tensors if t._data.ndim],
                              [t.dtype for t in tensors if not t._data.ndim],
                              [v for v in values if not isinstance(v, Tensor)])


clip = clamp


def where(condition, input=None, other=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (either may be a Python scalar);
    with only ``condition``, the tuple of its nonzero indices (as ``nonzero(as_tuple=True)``).

    >>> x = ember.tensor([-1.0, 2.0, -3.0])
    >>> ember.where(x > 0, x, 0.0)
    tensor([0., 2., 0.])
    >>> ember.where(x > 0)
    (tensor([1]),)
    """
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
    """The larger of the two tensors' elements, with broadcasting.

    >>> ember.maximum(ember.tensor([1, 5]), ember.tensor([3, 2]))
    tensor([3, 5])
    """
    return binary("maximum", input, other)


def minimum(input, other):
    """The smaller of the two tensors' elements, with broadcasting.

    >>> ember.minimum(ember.tensor([1, 5]), ember.tensor([3, 2]))
    tensor([1, 2])
    """
    return binary("minimum", input, other)


@autocast_op
def pow(input, exponent):
    """``input ** exponent``, elementwise; either may be a Python number (integers to negative integer powers
    raise, as in PyTorch).

    >>> ember.pow(ember.tensor([1, 2, 3]), 2)
    tensor([1, 4, 9])
    >>> ember.pow(2, ember.tensor([0.5, 1.0]))
    tensor([1.4142, 2.0000])
    """
    if isinstance(input, (int, float)):
        base = exponent._scalar(input)
        return _int_pow(base, exponent) if _is_integral(input) and _is_integral(exponent) else \
            binary("pow", base, exponent)
    if isinstance(exponent, (int, float)) and input._data.dtype.kind in "iu" and exponent < 0:
        from ..errors import mark, with_user_line

        raise mark(with_user_line(ValueError(
            "pow: integers to negative integer powers are not allowed; use a float tensor"), 3))
    if isinstance(exponent, Tensor) and _is_integral(exponent) and input._data.dtype.kind in "iub":
        return _int_pow(input, exponent)
    if input._data.dtype.kind == "b" and (exponent is True or exponent is False):  # NumPy's bool power is int8
        return input.clone() if exponent else apply("eq", input, input)  # x ** 0 is 1
    return binary("pow", input, exponent)


def _int_pow(base, exponent):
    """Integer powers as PyTorch takes them elementwise: a negative exponent gives 1 for a base of 1, +-1 for
    -1 and 0 otherwise (the integer part of 1 / base**-e), where NumPy raises for the whole tensor."""
    if base._data.dtype != exponent._data.dtype:
        base, exponent = _promote_pair(base, exponent)
    if base._data.dtype.kind != "i":  # unsigned (or bool) exponents are never negative
        return binary("pow", base, exponent)
    negative = binary("lt", exponent, 0)
    power = binary("pow", base, apply("where", negative, exponent._scalar(0), exponent))
    kind = power.dtype
    odd = cast(binary("remainder", exponent, 2), kind)  # 0 or 1, also for negative exponents
    one, minus_one = (cast(binary("eq", base, v), kind) for v in (1, -1))
    return apply("where", negative, one + minus_one * (1 - 2 * odd), power)


def lerp(input, end, weight):
    """Linear interpolation ``input + weight * (end - input)``.

    >>> ember.lerp(ember.tensor([0.0, 10.0]), ember.tensor([10.0, 20.0]), 0.25)
    tensor([ 2.5000, 12.5000])
    """
    return input + (end - input) * weight


def logical_not(input):
    """True where the element is zero (or False).

    >>> ember.logical_not(ember.tensor([0, 1, 2]))
    tensor([ True, False, False])
    """
    return apply("logical_not", input)


def logical_and(input, other):
    """Elementwise AND of the two tensors' truth values.

    >>> ember.logical_and(ember.tensor([True, True, False]), ember.tensor([True, False, False]))
    tensor([ True, False, False])
    """
    return binary("logical_and", input, other)


def logical_or(input, other):
    """Elementwise OR of the two tensors' truth values.

    >>> ember.logical_or(ember.tensor([True, False, False]), ember.tensor([0, 1, 0]))
    tensor([ True,  True, False])
    """
    return binary("logical_or", input, other)


def logical_xor(input, other):
    """Elementwise exclusive OR of the two tensors' truth values.

    >>> ember.logical_xor(ember.tensor([True, True]), ember.tensor([True, False]))
    tensor([False,  True])
    """
    return binary("logical_xor", input, other)


def isnan(input):
    """True where the element is NaN.

    >>> ember.isnan(ember.tensor([1.0, float("nan")]))
    tensor([False,  True])
    """
    return apply("ne", input, input)


def isinf(input):
    """True where the element is +inf or -inf.

    >>> ember.isinf(ember.tensor([1.0, float("inf"), -float("inf")]))
    tensor([False,  True,  True])
    """
    return apply("eq", abs(input), input._scalar(float("inf")))


def isfinite(input):
    """True where the element is neither NaN nor infinite.

    >>> ember.isfinite(ember.tensor([1.0, float("inf"), float("nan")]))
    tensor([ True, False, False])
    """
    return logical_not(logical_or(isnan(input), isinf(input)))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN replaced by ``nan``, +inf/-inf by ``posinf``/``neginf`` (default: the dtype's largest/smallest value).

    >>> ember.nan_to_num(ember.tensor([float("nan"), float("inf"), 1.0]), posinf=9.0)
    tensor([0., 9., 1.])
    """
    if input._data.dtype.kind in "biu":  # integers hold no NaN or infinity: PyTorch returns them as they are
        return input.clone()
    big = float(_finfo(input).max)
    out = where(isnan(input), nan, input)
    out = where(binary("eq", out, float("inf")), big if posinf is None else posinf, out)
    return where(binary("eq", out, float("-inf")), -big if neginf is None else neginf, out)


def _finfo(x):
    import numpy

    return numpy.finfo(x._data.dtype)


def add(input, other, alpha=1):
    """``input + alpha * other``, elementwise with broadcasting and PyTorch's type promotion.

    >>> ember.add(ember.tensor([1, 2]), ember.tensor([10, 20]), alpha=2)
    tensor([21, 42])
    >>> ember.add(ember.tensor([1, 2]), 0.5)
    tensor([1.5000, 2.5000])
    """
    return binary("add", input, other if alpha == 1 else other * alpha)


def sub(input, other, alpha=1):
    """``input - alpha * other``, elementwise with broadcasting.

    >>> ember.sub(ember.tensor([5.0, 7.0]), ember.tensor([1.0, 2.0]), alpha=2)
    tensor([3., 3.])
    """
    return binary("sub", input, other if alpha == 1 else other * alpha)


def mul(input, other):
    """``input * other``, elementwise with broadcasting.

    >>> ember.mul(ember.tensor([[1], [2]]), ember.tensor([3, 4]))
    tensor([[3, 4],
            [6, 8]])
    """
    return binary("mul", input, other)


def div(input, other, rounding_mode=None):
    """``input / other`` (true division, so integers give floats); ``rounding_mode`` 'floor' or 'trunc' rounds
    (and keeps integer inputs integer).

    >>> ember.div(ember.tensor([7, -7]), 2)
    tensor([ 3.5000, -3.5000])
    >>> ember.div(ember.tensor([7, -7]), 2, rounding_mode="trunc")
    tensor([ 3, -3])
    """
    if rounding_mode == "floor":
        return binary("floordiv", input, other)
    if rounding_mode == "trunc":
        if _is_integral(input) and _is_integral(other):
            return _trunc_int_div(input, other)
        return trunc(true_divide(input, other))
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    return true_divide(input, other)


def _is_integral(v):
    return v._data.dtype.kind in "iu" if isinstance(v, Tensor) else isinstance(v, int) and not isinstance(v, bool)


def _trunc_int_div(input, other):
    """Integer division rounded toward zero, exactly (no float round trip): the floor quotient, plus one where
    the division is inexact and the signs differ."""
    q = binary("floordiv", input, other)
    inexact = binary("ne", q * other, input)
    a_neg, b_neg = (binary("lt", v, 0) if isinstance(v, Tensor) else v < 0 for v in (input, other))
    if isinstance(b_neg, Tensor):
        signs_differ = logical_xor(a_neg, b_neg)
    else:  # a Python int divisor
        signs_differ = logical_not(a_neg) if b_neg else a_neg
    return q + cast(logical_and(inexact, signs_differ), q.dtype)


def floor_divide(input, other):
    """``input // other``: the quotient rounded toward -inf (as Python's ``//``).

    >>> ember.floor_divide(ember.tensor([7, -7]), 2)
    tensor([ 3, -4])
    """
    return binary("floordiv", input, other)


def remainder(input, other):
    """Python-style modulus: the result has the sign of ``other``.

    >>> ember.remainder(ember.tensor([5, -5]), 3)
    tensor([2, 1])
    """
    return binary("remainder", input, other)


def fmod(input, other):
    """C-style remainder: the result has the sign of ``input``.

    >>> ember.fmod(ember.tensor([5.0, -5.0]), 3.0)
    tensor([ 2., -2.])
    """
    if all(isinstance(v, int) or isinstance(v, Tensor) and v._data.dtype.kind in "iub" for v in (input, other)):
        input, other = (cast(v, dtypes.int64) if isinstance(v, Tensor) and v._data.dtype.kind == "b" else v
                        for v in (input, other))
        return input - _trunc_int_div(input, other) * other  # exact, and integer like PyTorch's
    return input - trunc(true_divide(input, other)) * other


def true_divide(input, other):
    """``input / other`` as floats (the same as ``div`` without a rounding mode).

    >>> ember.true_divide(ember.tensor([1, 3]), 2)
    tensor([0.5000, 1.5000])
    """
    if isinstance(input, Tensor) and input._data.dtype.kind in "iub" and (
            not isinstance(other, Tensor) or other._data.dtype.kind in "iub") and not isinstance(other, float):
        input = cast(input, dtypes.get_default_dtype())
    return binary("div", input, other)


def eq(input, other):
    """``input == other``, elementwise (a bool tensor).

    >>> ember.eq(ember.tensor([1, 2, 3]), 2)
    tensor([False,  True, False])
    """
    return binary("eq", input, other)


def ne(input, other):
    """``input != other``, elementwise (a bool tensor).

    >>> ember.ne(ember.tensor([1, 2, 3]), 2)
    tensor([ True, False,  True])
    """
    return binary("ne", input, other)


def lt(input, other):
    """``input < other``, elementwise (a bool tensor).

    >>> ember.lt(ember.tensor([1, 2, 3]), 2)
    tensor([ True, False, False])
    """
    return binary("lt", input, other)


def le(input, other):
    """``input <= other``, elementwise (a bool tensor).

    >>> ember.le(ember.tensor([1, 2, 3]), 2)
    tensor([ True,  True, False])
    """
    return binary("le", input, other)


def gt(input, other):
    """``input > other``, elementwise (a bool tensor).

    >>> ember.gt(ember.tensor([1, 2, 3]), 2)
    tensor([False, False,  True])
    """
    return binary("gt", input, other)


def ge(input, other):
    """``input >= other``, elementwise (a bool tensor).

    >>> ember.ge(ember.tensor([1, 2, 3]), 2)
    tensor([False,  True,  True])
    """
    return binary("ge", input, other)


def equal(input, other) -> bool:
    """True when both tensors have the same shape and the same elements (a Python bool).

    >>> ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2]))
    True
    """
    return tuple(input.shape) == tuple(other.shape) and bool(eq(input, other).all())


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    """True when every element pair passes ``isclose`` (a Python bool).

    >>> ember.allclose(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.0 + 1e-7]))
    True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise; NaNs match only with ``equal_nan=True``.

    >>> ember.isclose(ember.tensor([1.0, 1.1]), ember.tensor([1.0, 1.0]))
    tensor([ True, False])
    """
    if isinstance(input, Tensor) and isinstance(other, Tensor) and input.dtype == other.dtype == dtypes.bool_:
        return binary("eq", input, other)  # PyTorch: bools are close when equal (they do not subtract)
    if isinstance(input, Tensor) and input._data.dtype.kind == "u":  # a difference of unsigned ints wraps
        input, other = cast(input, dtypes.int64), cast(other, dtypes.int64) if isinstance(other, Tensor) else other
    close = binary("le", abs(input - other), atol + rtol * abs(other))
    return logical_or(close, logical_and(isnan(input), isnan(other))) if equal_nan else close
