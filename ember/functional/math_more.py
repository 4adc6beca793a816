"""The rest of torch's top-level elementwise math and statistics, as composites of Ember primitives (so they
differentiate, trace into ``ember.compile`` graphs and export like the ops they are built from).

>>> import ember
>>> ember.logaddexp(ember.tensor([0.0, -1000.0]), ember.tensor([0.0, -1000.0]))
tensor([ 6.9315e-01, -9.9931e+02])
"""
from __future__ import annotations

import math as _math

from .. import dtypes
from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Tensor
from .math import _float_input, _promoted_dtype, binary, cast, clamp, where
from .reduce import _axes, amax, amin, sort, values_indices


def _err(kind, message):
    return mark(with_user_line(kind(message), 3))


def _real_only(x, fn):
    if x._data.dtype.kind == "c":
        raise mark(with_user_line(NotImplementedError(f"{fn}: not implemented for complex tensors ({x.dtype.name}), "
                                                      "as in PyTorch"), 3))


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2`` (the update of many optimizers).

    >>> ember.addcmul(ember.tensor([1.0, 1.0]), ember.tensor([2.0, 3.0]), ember.tensor([4.0, 5.0]), value=0.5)
    tensor([5.0000, 8.5000])
    """
    return input + value * (tensor1 * tensor2) if value != 1 else input + tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``.

    >>> ember.addcdiv(ember.tensor([1.0]), ember.tensor([3.0]), ember.tensor([2.0]), value=2)
    tensor([4.])
    """
    if _is_int(tensor1) and _is_int(tensor2):
        raise _err(RuntimeError, "addcdiv: integer division of tensor1 by tensor2 is not supported (as in PyTorch); "
                                 "convert one with .float() or use ember.div(..., rounding_mode='trunc')")
    return input + value * (tensor1 / tensor2) if value != 1 else input + tensor1 / tensor2


def _is_int(x):
    return isinstance(x, Tensor) and x._data.dtype.kind in "iub"


def _softplus(z):
    return apply("maximum", z, z._scalar(0.0)) + apply("log1p", apply("exp", -z.abs()))


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow or underflow; equal infinities give themselves.

    >>> ember.logaddexp(ember.tensor([1.0]), ember.tensor([2.0]))
    tensor([2.3133])
    """
    import numpy as np

    a, b = _float_pair(input, other)
    big = float(np.finfo(a._data.dtype).max)
    # equal infinities would give inf - inf = NaN; a finite gap keeps the branch not taken free of inf - inf
    same = binary("eq", a, b)
    gap = (where(same, 0.0, b) - where(same, 0.0, a)).clamp(-big, big)
    return where(binary("ge", a, b), a + _softplus(gap), b + _softplus(-gap))


def logaddexp2(input, other):
    """``log2(2**input + 2**other)``, computed stably.

    >>> ember.logaddexp2(ember.tensor([1.0]), ember.tensor([1.0]))
    tensor([2.])
    """
    ln2 = _math.log(2.0)
    a, b = _float_pair(input, other)
    return logaddexp(a * ln2, b * ln2) / ln2


def _float_pair(a, b):
    kind = _promoted_dtype(a, b)
    kind = kind if dtypes.is_float(kind.np) else dtypes.get_default_dtype()
    return tuple(cast(v, kind) if isinstance(v, Tensor) else a._scalar(v) if isinstance(a, Tensor) else v
                 for v in (a, b))


def xlogy(input, other):
    """``input * log(other)``, and 0 where ``input`` is 0 (unless ``other`` is NaN).

    >>> ember.xlogy(ember.tensor([0.0, 2.0]), ember.tensor([0.0, 3.0]))
    tensor([0.0000, 2.1972])
    """
    x, y = _float_pair(input, other) if isinstance(input, Tensor) else reversed(_float_pair(other, input))
    zero_times = apply("logical_and", binary("eq", x, 0.0), binary("eq", y, y))
    return x * apply("log", where(zero_times, 1.0, y))  # log(1) = 0: no 0 * -inf, and no NaN gradient


def logit(input, eps=None):
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped into ``[eps, 1 - eps]``.

    >>> ember.logit(ember.tensor([0.5, 0.75]))
    tensor([0.0000, 1.0986])
    """
    p = _float_input(input)
    if eps is not None:
        p = p.clamp(eps, 1 - eps)
    return apply("log", p / (1 - p))


def exp2(input):
    """``2 ** x``, elementwise (integers give floats).

    >>> ember.exp2(ember.tensor([0, 3]))
    tensor([1., 8.])
    """
    x = _float_input(input)
    if x._data.dtype.itemsize == 2:  # float16/bfloat16: x * log(2) in float32, rounded once (as PyTorch)
        return cast(apply("exp", cast(x, dtypes.float32) * _math.log(2.0)), x.dtype)
    return apply("exp", x * _math.log(2.0))


def sinc(input):
    """The normalised sinc, ``sin(pi x) / (pi x)``, with 1 at 0.

    >>> ember.sinc(ember.tensor([0.0, 0.5]))
    tensor([1.0000, 0.6366])
    """
    x = _float_input(input)
    zero = binary("eq", x, 0.0)
    safe = where(zero, 1.0, x) * _math.pi  # no 0 / 0 (nor a NaN gradient) at the removable singularity
    return where(zero, 1.0, apply("sin", safe) / safe)


def frac(input):
    """The fractional part, ``x - trunc(x)`` (keeps the sign).

    >>> ember.frac(ember.tensor([1.25, -2.5]))
    tensor([ 0.2500, -0.5000])
    """
    return input - apply("trunc", input)


def deg2rad(input):
    """Degrees to radians.

    >>> ember.deg2rad(ember.tensor([180.0]))
    tensor([3.1416])
    """
    return _float_input(input) * (_math.pi / 180.0)


def rad2deg(input):
    """Radians to degrees.

    >>> ember.rad2deg(ember.tensor([3.141592653589793]))
    tensor([180.])
    """
    return _float_input(input) * (180.0 / _math.pi)


def fmax(input, other):
    """The larger element, ignoring a NaN on one side (NaN only where both are).

    >>> ember.fmax(ember.tensor([1.0, float("nan")]), ember.tensor([float("nan"), 2.0]))
    tensor([1., 2.])
    """
    return _nan_ignoring("maximum", input, other)


def fmin(input, other):
    """The smaller element, ignoring a NaN on one side.

    >>> ember.fmin(ember.tensor([1.0, float("nan")]), ember.tensor([float("nan"), 2.0]))
    tensor([1., 2.])
    """
    return _nan_ignoring("minimum", input, other)


def _nan_ignoring(op, a, b):
    both = binary(op, a, b)
    return where(binary("ne", a, a), b, where(binary("ne", b, b), a, both))


def heaviside(input, values):
    """The step function: 0 below zero, 1 above, ``values`` at zero.

    >>> ember.heaviside(ember.tensor([-1.0, 0.0, 2.0]), ember.tensor(0.5))
    tensor([0.0000, 0.5000, 1.0000])
    """
    kind = _promoted_dtype(input, values)
    step = cast(binary("gt", input, 0), kind)
    return where(binary("eq", input, 0), cast(values, kind), step)


def float_power(input, exponent):
    """``input ** exponent`` in float64, whatever the dtypes.

    >>> ember.float_power(ember.tensor([2]), 3)
    tensor([8.], dtype=ember.float64)
    """
    def wide(v):
        return cast(v, dtypes.float64) if isinstance(v, Tensor) else float(v)

    base = wide(input)
    if not isinstance(base, Tensor):
        return binary("pow", wide(exponent)._scalar(base), wide(exponent))
    return binary("pow", base, wide(exponent))


def positive(input):
    """``input`` itself (``+x``); bool tensors are refused, as in PyTorch.

    >>> ember.positive(ember.tensor([-1.0]))
    tensor([-1.])
    """
    if input._data.dtype.kind == "b":
        raise _err(TypeError, "positive: the + operator on a bool tensor is not supported; use logical ops")
    return input


def clamp_min(input, min):
    """``clamp(input, min=min)``.

    >>> ember.clamp_min(ember.tensor([-1.0, 2.0]), 0.0)
    tensor([0., 2.])
    """
    return clamp(input, min=min)


def clamp_max(input, max):
    """``clamp(input, max=max)``.

    >>> ember.clamp_max(ember.tensor([-1.0, 2.0]), 0.0)
    tensor([-1.,  0.])
    """
    return clamp(input, max=max)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum, treating NaN as zero.

    >>> ember.nansum(ember.tensor([1.0, float("nan"), 2.0]))
    tensor(3.)
    """
    if dtype is not None:
        input = cast(input, dtype)
    clean = where(binary("ne", input, input), 0, input) if input.is_floating_point() else input
    return apply("sum", clean, axis=_axes(input, dim, "nansum"), keepdims=keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the elements that are not NaN (NaN where all are).

    >>> ember.nanmean(ember.tensor([1.0, float("nan"), 2.0]))
    tensor(1.5000)
    """
    if dtype is not None:
        input = cast(input, dtype)
    if not input.is_floating_point():
        raise _err(RuntimeError, f"nanmean: expected a floating-point input, got {input.dtype.name}; use "
                                 "x.float() or pass dtype=")
    present = cast(binary("eq", input, input), input.dtype)
    axes = _axes(input, dim, "nanmean")
    return nansum(input, dim, keepdim) / apply("sum", present, axis=axes, keepdims=keepdim)


def nanmedian(input, dim=None, keepdim=False):
    """The median ignoring NaNs (the lower middle value, as ``median``); NaN where all are NaN.

    >>> ember.nanmedian(ember.tensor([3.0, float("nan"), 1.0, 2.0]))
    tensor(2.)
    """
    flat = dim is None
    x = input.reshape(-1) if flat else input
    axis = -1 if flat else dim % max(x.ndim, 1)
    ordered = sort(x, dim=axis)  # NaNs sort last
    count = apply("sum", binary("eq", x, x), axis=(axis % max(x.ndim, 1),), keepdims=True)
    middle = where(binary("gt", count, 0), binary("floordiv", count - 1, 2), x.shape[axis] - 1)
    values = ordered.values.gather(axis, middle)
    indices = ordered.indices.gather(axis, middle)
    if flat:
        return values.reshape(())
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return values_indices(values, indices)


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` of all elements, or along ``dim``.

    >>> ember.aminmax(ember.tensor([[1, 5], [3, 2]]), dim=1)
    torch.return_types.aminmax(
    min=tensor([1, 2]),
    max=tensor([5, 3]))
    """
    span = () if dim is None else dim
    return _MinMax(amin(input, span, keepdim), amax(input, span, keepdim))


def _named_pair(kind, first, second):
    """A ``torch.return_types.<kind>`` pair: a tuple whose two items also have names, printed as PyTorch's."""

    def __repr__(self):
        return f"torch.return_types.{kind}(\n{first}={self[0]!r},\n{second}={self[1]!r})"

    return type(kind, (tuple,), {"__new__": lambda cls, a, b: tuple.__new__(cls, (a, b)), "__slots__": (),
                                 first: property(lambda self: self[0]), second: property(lambda self: self[1]),
                                 "__repr__": __repr__})


_MinMax = _named_pair("aminmax", "min", "max")


def msort(input):
    """``input`` sorted along its first dim.

    >>> ember.msort(ember.tensor([[3, 1], [2, 4]]))
    tensor([[2, 1],
            [3, 4]])
    """
    return sort(input, dim=0).values


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (``prepend``/``append`` are joined on first).

    >>> ember.diff(ember.tensor([1, 3, 6, 10]))
    tensor([2, 3, 4])
    """
    from .shape import cat, narrow

    x = input
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, x, append) if t is not None], dim)
    for _ in range(n):
        size = x.shape[dim]
        if size == 0:
            break
        step = narrow(x, dim, 1, size - 1)
        x = apply("ne", step, narrow(x, dim, 0, size - 1)) if x._data.dtype.kind == "b" else \
            step - narrow(x, dim, 0, size - 1)
    return x


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` occurs in ``test_elements`` (a tensor or a number).

    >>> ember.isin(ember.tensor([1, 2, 3, 4]), ember.tensor([2, 4]))
    tensor([False,  True, False,  True])
    """
    if not isinstance(elements, Tensor):
        elements = test_elements._scalar(elements)
    pool = test_elements.reshape(-1) if isinstance(test_elements, Tensor) else elements._scalar(test_elements)
    found = apply("amax", binary("eq", elements.unsqueeze(-1), pool), axis=(elements.ndim,), keepdims=False) \
        if pool.numel() else binary("ne", elements, elements) if elements.is_floating_point() else \
        cast(elements * 0, dtypes.bool_)
    return apply("logical_not", found) if invert else found


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-th quantiles (``q`` a number or a 1-D tensor in [0, 1]); NaN if the data holds a NaN.

    >>> ember.quantile(ember.tensor([1.0, 2.0, 3.0, 4.0]), 0.5)
    tensor(2.5000)
    """
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` over the elements that are not NaN.

    >>> ember.nanquantile(ember.tensor([1.0, float("nan"), 3.0]), 0.5)
    tensor(2.)
    """
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    name = "nanquantile" if ignore_nan else "quantile"
    if interpolation not in _INTERPOLATIONS:
        raise _err(ValueError, f"{name}: interpolation must be one of {', '.join(_INTERPOLATIONS)}, got "
                               f"{interpolation!r}")
    if not input.is_floating_point():
        raise _err(RuntimeError, f"{name}: expected a floating-point input, got {input.dtype.name}; use x.float()")
    scalar_q = not isinstance(q, Tensor)
    qs = input._scalar(float(q)).reshape(1) if scalar_q else cast(q, input.dtype).reshape(-1)
    x = input.reshape(-1) if dim is None else input.movedim(dim, -1)
    n = x.shape[-1]
    if n == 0:
        raise _err(IndexError, f"{name}: the input is empty along the reduced dim (shape {tuple(input.shape)})")
    ordered = sort(x, dim=-1).values  # NaNs last
    count = apply("sum", binary("eq", x, x), axis=(x.ndim - 1,), keepdims=True) if ignore_nan else None
    last = (cast(count, x.dtype) - 1).clamp(min=0) if ignore_nan else float(n - 1)
    ordered = ordered.unsqueeze(0).expand(qs.shape[0], *ordered.shape)
    pos = (qs.reshape((-1,) + (1,) * x.ndim) * last).expand(*ordered.shape[:-1], 1)  # (q, ..., 1)
    lo = apply("floor", pos)
    hi = apply("ceil", pos)
    rank = {"lower": lo, "higher": hi, "nearest": apply("round", pos)}.get(interpolation)

    def pick(r):
        return ordered.gather(-1, cast(r, dtypes.int64))

    if rank is not None:
        out = pick(rank)
    else:
        low, high = pick(lo), pick(hi)
        weight = pos - lo if interpolation == "linear" else 0.5
        out = where(binary("eq", lo, hi), low, low + (high - low) * weight)
    if ignore_nan:
        out = where(binary("eq", count, 0).unsqueeze(0), float("nan"), out)
    else:  # any NaN in a row makes its quantiles NaN, as PyTorch
        tail = ordered[..., -1:]
        out = where(binary("ne", tail, tail), tail, out)
    out = out.squeeze(-1)
    if keepdim:
        out = out.reshape((qs.shape[0],) + (1,) * input.ndim) if dim is None else out.unsqueeze(dim % input.ndim + 1)
    return out.squeeze(0) if scalar_q else out


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in columns).

    >>> ember.cov(ember.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    x = input if input.ndim == 2 else input.reshape(1, -1)
    x = x if x.is_floating_point() else cast(x, dtypes.get_default_dtype())
    w = None
    for given in (fweights, aweights):
        if given is not None:
            given = cast(given, x.dtype)
            w = given if w is None else w * given
    if w is None:
        n = x.shape[1]
        mean = x.mean(1, keepdim=True)
        norm = max(n - correction, 0)
        centred = x - mean
        out = (centred @ centred.mT) / norm
    else:
        total = w.sum()
        mean = (x * w).sum(1, keepdim=True) / total
        norm = total - (correction * (w * aweights).sum() / total if aweights is not None else correction)
        centred = x - mean
        out = ((centred * w) @ centred.mT) / apply("maximum", norm, norm._scalar(0.0))
    return out.reshape(()) if input.ndim < 2 else out


def corrcoef(input):
    """Pearson correlation coefficients of the variables in the rows of ``input``, clipped into [-1, 1].

    >>> ember.corrcoef(ember.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = apply("sqrt", c.diagonal())
    return ((c / d.unsqueeze(1)) / d.unsqueeze(0)).clamp(-1, 1)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of ``y`` along ``dim`` by the trapezoidal rule, at points ``x`` or spaced ``dx`` (1).

    >>> ember.trapezoid(ember.tensor([1.0, 2.0, 3.0]))
    tensor(4.)
    """
    return _trapezoid_terms(y, x, dx, dim).sum(dim)


trapz = trapezoid


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral of ``y`` along ``dim`` (one element shorter than ``y``).

    >>> ember.cumulative_trapezoid(ember.tensor([1.0, 2.0, 3.0]))
    tensor([1.5000, 4.0000])
    """
    return _trapezoid_terms(y, x, dx, dim).cumsum(dim)


def _trapezoid_terms(y, x, dx, dim):
    from .shape import narrow

    if x is not None and dx is not None:
        raise _err(TypeError, "trapezoid: give the sample points x or the spacing dx, not both")
    y = _float_input(y)
    n = y.shape[dim]
    mids = (narrow(y, dim, 1, max(n - 1, 0)) + narrow(y, dim, 0, max(n - 1, 0))) * 0.5
    if x is None:
        return mids * (1.0 if dx is None else dx)
    spacing = diff(x, dim=-1 if x.ndim == 1 else dim)
    if x.ndim == 1 and y.ndim > 1:  # 1-D points lie along dim
        shape = [1] * y.ndim
        shape[dim] = -1
        spacing = spacing.reshape(shape)
    return mids * spacing


def hypot(input, other):
    """``sqrt(input**2 + other**2)`` without overflow or underflow in the squares.

    >>> ember.hypot(ember.tensor([3.0, 1e30]), ember.tensor([4.0, 1e30]))
    tensor([5.0000e+00, 1.4142e+30])
    """
    a, b = (v.abs() for v in _float_pair(input, other))
    big = apply("maximum", a, b)
    zero = binary("eq", big, 0.0)
    scale = where(zero, 1.0, big)  # (0, 0) is 0, without 0 / 0 or a NaN gradient
    ratio = apply("minimum", a, b) / scale
    # an infinite side makes the hypotenuse infinite even when the other is NaN (as C's hypot)
    out = where(zero, 0.0, big * apply("sqrt", 1 + ratio * ratio))
    infinite = apply("logical_or", binary("eq", a, float("inf")), binary("eq", b, float("inf")))
    return where(infinite, float("inf"), out)


def ldexp(input, other):
    """``input * 2**other``.

    >>> ember.ldexp(ember.tensor([1.0, 3.0]), ember.tensor([3, -1]))
    tensor([8.0000, 1.5000])
    """
    x = _float_input(input)
    return x * apply("exp", _float_input(other) * _math.log(2.0)) if isinstance(other, Tensor) else x * 2.0 ** other


def isposinf(input):
    """Where ``input`` is +inf.

    >>> ember.isposinf(ember.tensor([1.0, float("inf"), float("-inf")]))
    tensor([False,  True, False])
    """
    _real_only(input, "isposinf")
    return binary("eq", input, float("inf")) if input.is_floating_point() else binary("ne", input, input)


def isneginf(input):
    """Where ``input`` is -inf.

    >>> ember.isneginf(ember.tensor([1.0, float("inf"), float("-inf")]))
    tensor([False, False,  True])
    """
    _real_only(input, "isneginf")
    return binary("eq", input, float("-inf")) if input.is_floating_point() else binary("ne", input, input)


def renorm(input, p, dim, maxnorm):
    """``input`` with each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to it.

    >>> ember.renorm(ember.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0)
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    d = dim % input.ndim
    others = tuple(i for i in range(input.ndim) if i != d)
    norms = apply("sum", input.abs() ** p, axis=others, keepdims=True) ** (1.0 / p)
    scale = where(binary("gt", norms, maxnorm), maxnorm / (norms + 1e-7), 1.0)  # PyTorch's 1e-7 guard
    return input * scale
