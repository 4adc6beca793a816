"""Running maxima and minima (``cummax``, ``cummin``), ``logcumsumexp``, and the sign-bit functions
(``signbit``, ``copysign``), with PyTorch's semantics (NaN propagates through the running extremes; ties go to
the later index).

The scans are composites: ``ceil(log2 n)`` doubling steps of elementwise ops along the dim (the Hillis-Steele
scan), so they differentiate, trace and export like the ops they are built from.

>>> import ember
>>> ember.cummax(ember.tensor([1.0, 3.0, 2.0, 5.0]), dim=0)
torch.return_types.cummax(
values=tensor([1., 3., 3., 5.]),
indices=tensor([0, 1, 1, 3]))
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..ops import apply
from ..tensor import Tensor
from .math import _float_input, _promoted_dtype, binary, cast, where
from .math_more import _named_pair, logaddexp
from .shape import cat, narrow


def _shifted(x, dim, shift, fill):
    """``x`` moved ``shift`` places along ``dim``, the first ``shift`` places holding ``fill``."""
    from ..creation import full

    shape = list(x.shape)
    shape[dim] = shift
    head = full(shape, fill, dtype=x.dtype, device=x.device)
    return cat([head, narrow(x, dim, 0, x.shape[dim] - shift)], dim)


def _running_extreme(input, dim, largest):
    """Indices of the running maximum (minimum) along ``dim`` by a doubling scan over (value, index) pairs."""
    from ..creation import arange

    x = input if input._data.dtype.kind != "b" else cast(input, dtypes.uint8)
    d = dim % max(x.ndim, 1)
    n = x.shape[d] if x.ndim else 1
    if x.ndim == 0:
        return arange(1).reshape(()).to(dtypes.int64)
    place = [1] * x.ndim
    place[d] = n
    idx = arange(n, device=x.device).reshape(place).expand(*x.shape)
    if x.is_floating_point():
        worst = float("-inf") if largest else float("inf")
    else:
        info = np.iinfo(x._data.dtype)
        worst = int(info.min if largest else info.max)
    vals, shift = x.detach(), 1
    while shift < n:
        early_v, early_i = _shifted(vals, d, shift, worst), _shifted(idx, d, shift, -1)
        later_wins = binary("ge" if largest else "le", vals, early_v)
        if x.is_floating_point():  # a NaN wins over everything before it (PyTorch's: the last NaN's index)
            later_wins = apply("logical_or", later_wins, binary("ne", vals, vals))
        vals, idx = where(later_wins, vals, early_v), where(later_wins, idx, early_i)
        shift *= 2
    return idx


_CumResult = {name: _named_pair(name, "values", "indices") for name in ("cummax", "cummin")}


def cummax(input, dim):
    """``(values, indices)`` of the running maximum along ``dim`` (NaN, once met, stays).

    >>> ember.cummax(ember.tensor([2, 1, 3]), 0).values
    tensor([2, 2, 3])
    """
    idx = _running_extreme(input, dim, largest=True)
    return _CumResult["cummax"](input.gather(dim % max(input.ndim, 1), idx) if input.ndim else input, idx)


def cummin(input, dim):
    """``(values, indices)`` of the running minimum along ``dim``.

    >>> ember.cummin(ember.tensor([2, 1, 3]), 0).values
    tensor([2, 1, 1])
    """
    idx = _running_extreme(input, dim, largest=False)
    return _CumResult["cummin"](input.gather(dim % max(input.ndim, 1), idx) if input.ndim else input, idx)


def logcumsumexp(input, dim):
    """``log(cumsum(exp(x)))`` along ``dim``, without overflow or underflow (a doubling scan of ``logaddexp``).

    >>> ember.logcumsumexp(ember.tensor([0.0, 0.0, -1000.0]), 0)
    tensor([0.0000, 0.6931, 0.6931])
    """
    x = _float_input(input)
    if x.ndim == 0:
        return x * 1
    d = dim % x.ndim
    n, shift = x.shape[d], 1
    while shift < n:
        x = logaddexp(_shifted(x, d, shift, float("-inf")), x)
        shift *= 2
    return x


def signbit(input):
    """Whether each element's sign bit is set: True for negatives, -0.0 and negative NaNs.

    >>> ember.signbit(ember.tensor([-0.0, 0.0, -1.0]))
    tensor([ True, False,  True])
    """
    if input._data.dtype.kind in "bu":
        return binary("ne", input, input)  # never set
    return apply("signbit", input)


def copysign(input, other):
    """``|input|`` with the sign of ``other`` (its sign bit: -0.0 counts as negative).

    >>> ember.copysign(ember.tensor([1.0, -2.0]), ember.tensor([-0.0, 3.0]))
    tensor([-1.,  2.])
    """
    kind = _promoted_dtype(input, other)
    kind = kind if dtypes.is_float(kind.np) else dtypes.get_default_dtype()
    a = cast(input, kind) if isinstance(input, Tensor) else other._scalar(float(input)).to(kind)
    b = cast(other, kind) if isinstance(other, Tensor) else a._scalar(float(other))
    return where(signbit(b), -a.abs(), a.abs())


_Mode = _named_pair("mode", "values", "indices")


def mode(input, dim=-1, keepdim=False):
    """``(values, indices)`` of the most frequent value along ``dim``: the smallest one on ties, with the index
    of its last occurrence (as PyTorch). Compares every pair along ``dim`` (n * n per row).

    >>> ember.mode(ember.tensor([1, 2, 2, 3, 3, 0]))
    torch.return_types.mode(
    values=tensor(2),
    indices=tensor(2))
    """
    from ..creation import arange

    x = input.reshape(1) if input.ndim == 0 else input
    d = dim % x.ndim
    moved = x.movedim(d, -1).detach()
    n = moved.shape[-1]
    counts = apply("sum", cast(binary("eq", moved.unsqueeze(-1), moved.unsqueeze(-2)), dtypes.int64),
                   axis=(moved.ndim,), keepdims=False)
    best = apply("amax", counts, axis=(moved.ndim - 1,), keepdims=True)
    if moved.is_floating_point():
        highest = float("inf")
    else:
        highest = int(np.iinfo(moved._data.dtype).max) if moved._data.dtype.kind != "b" else True
    chosen = apply("amin", where(binary("eq", counts, best), moved, highest), axis=(moved.ndim - 1,),
                   keepdims=True)
    positions = arange(n, device=x.device)
    last = apply("amax", where(binary("eq", moved, chosen), positions, -1), axis=(moved.ndim - 1,), keepdims=True)
    last = where(binary("lt", last, 0), n - 1, last)  # an all-NaN row: its last element
    idx = last.movedim(-1, d)
    values = x.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    if input.ndim == 0:
        values, idx = values.reshape(()), idx.reshape(())
    return _Mode(values, idx)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative of sampled values along each dim (``dim``: one or a list), by second-order central
    differences inside and one-sided ones (``edge_order`` 1 or 2) at the ends; ``spacing`` is a number, one per
    dim, or the sample coordinates (1-D tensors), as ``numpy.gradient``.

    >>> ember.gradient(ember.tensor([1.0, 4.0, 9.0, 16.0]))
    (tensor([3., 4., 6., 7.]),)
    """
    dims = list(range(input.ndim)) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    spacings = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(spacings) == 1 and len(dims) > 1:
        spacings = spacings * len(dims)
    if len(spacings) != len(dims):
        raise _error(f"gradient: expected one spacing per dim ({len(dims)}), got {len(spacings)}")
    if edge_order not in (1, 2):
        raise _error(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    x = _float_input(input)
    return tuple(_derivative(x, d % x.ndim, h, edge_order) for d, h in zip(dims, spacings))


def _error(message):
    from ..errors import mark, with_user_line

    return mark(with_user_line(RuntimeError(message), 3))


def _derivative(x, d, h, edge_order):
    n = x.shape[d]
    if n < edge_order + 1:
        raise _error(f"gradient: each dim needs at least edge_order + 1 = {edge_order + 1} samples, dim {d} "
                         f"has {n}")

    def at(start, length):
        return narrow(x, d, start, length)

    def along(v):  # a 1-D tensor of n - k values, shaped to broadcast along d
        shape = [1] * x.ndim
        shape[d] = -1
        return v.reshape(shape)

    if isinstance(h, Tensor):  # sample coordinates: numpy.gradient's uneven formulas
        c = cast(h, x.dtype).reshape(-1)
        gaps = narrow(c, 0, 1, n - 1) - narrow(c, 0, 0, n - 1)
        hd, hs = along(narrow(gaps, 0, 0, n - 2)), along(narrow(gaps, 0, 1, n - 2))
        inner = (hd * hd * at(2, n - 2) - hs * hs * at(0, n - 2) + (hs * hs - hd * hd) * at(1, n - 2)) / (
            hs * hd * (hd + hs))
        first = (at(1, 1) - at(0, 1)) / along(narrow(gaps, 0, 0, 1))
        last = (at(n - 1, 1) - at(n - 2, 1)) / along(narrow(gaps, 0, n - 2, 1))
        if edge_order == 2:
            raise _error("gradient: edge_order=2 with sample coordinates is not supported; use edge_order=1 "
                             "or a uniform spacing")
    else:
        inner = (at(2, n - 2) - at(0, n - 2)) / (2.0 * h)
        if edge_order == 1:
            first, last = (at(1, 1) - at(0, 1)) / h, (at(n - 1, 1) - at(n - 2, 1)) / h
        else:
            first = (-1.5 * at(0, 1) + 2.0 * at(1, 1) - 0.5 * at(2, 1)) / h
            last = (0.5 * at(n - 3, 1) - 2.0 * at(n - 2, 1) + 1.5 * at(n - 1, 1)) / h
    return cat([first, inner, last], d)


def _integer_pair(name, input, other):
    """Both operands as tensors of their promoted integer dtype (PyTorch refuses floats and bools here)."""
    for v in (input, other):
        if not isinstance(v, Tensor):
            raise _error(f"{name}: both arguments must be tensors, got {type(v).__name__}")
        if v._data.dtype.kind not in "iu":
            raise _error(f"{name}: needs integer tensors, got {v.dtype.name}; cast with .long()")
    kind = _promoted_dtype(input, other)
    return cast(input, kind), cast(other, kind)


def gcd(input, other):
    """The greatest common divisor of each pair of integers (never negative; ``gcd(0, 0)`` is 0).

    >>> ember.gcd(ember.tensor([12, -18, 0]), ember.tensor([-8, 12, 5]))
    tensor([4, 6, 5])
    """
    a, b = _integer_pair("gcd", input, other)
    return apply("gcd", a, b)


def lcm(input, other):
    """The least common multiple of each pair of integers (never negative; 0 where either is 0).

    >>> ember.lcm(ember.tensor([12, -4, 0]), ember.tensor([-8, -6, 5]))
    tensor([24, 12,  0])
    """
    a, b = _integer_pair("lcm", input, other)
    g = apply("gcd", a, b)
    zero = binary("eq", g, 0)
    safe = where(zero, a._scalar(1), g)  # gcd is 0 only when both are 0: the result is 0 there
    return where(zero, a._scalar(0), apply("abs", apply("floordiv", a, safe) * b))


_Frexp = _named_pair("frexp", "mantissa", "exponent")


def frexp(input):
    """``(mantissa, exponent)`` with ``input = mantissa * 2**exponent``, ``|mantissa|`` in [0.5, 1) (0, inf and
    NaN keep their value with exponent 0); the exponent is int32. The mantissa's gradient is ``2**-exponent``.

    >>> ember.frexp(ember.tensor([8.0, -0.75]))
    torch.return_types.frexp(
    mantissa=tensor([ 0.5000, -0.7500]),
    exponent=tensor([4, 0], dtype=ember.int32))
    """
    if not input.is_floating_point():
        raise _error(f"frexp: only floating-point tensors have a mantissa, got {input.dtype.name}; cast with "
                     ".float()")
    return _Frexp(apply("frexp_mantissa", input), apply("frexp_exponent", input))


def nextafter(input, other):
    """The next floating-point value after ``input`` in the direction of ``other`` (elementwise, in the promoted
    float dtype). Not differentiable.

    >>> ember.nextafter(ember.tensor([1.0], dtype=ember.float64), ember.tensor([2.0], dtype=ember.float64)) - 1
    tensor([2.2204e-16], dtype=ember.float64)
    """
    for v in (input, other):
        if not isinstance(v, Tensor):
            raise _error(f"nextafter: both arguments must be tensors, got {type(v).__name__}")
        if not v.is_floating_point():
            raise _error(f"nextafter: needs floating-point tensors, got {v.dtype.name}; cast with .float()")
    kind = _promoted_dtype(input, other)
    return apply("nextafter", cast(input, kind), cast(other, kind))
