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
