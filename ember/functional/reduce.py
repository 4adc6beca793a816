"""Reductions with PyTorch's (dim, keepdim) signatures; most are composites of sum/amax/amin/prod."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes
from .._autocast import autocast_op
from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Tensor
from .math import cast, exp, log, sqrt

values_indices = namedtuple("values_indices", ["values", "indices"])
values_indices.__doc__ = """The ``(values, indices)`` pair that ``max``/``min`` over a dim, ``sort``, ``topk``,
``kthvalue`` and ``median`` return (a named tuple, as PyTorch's ``return_types``).

>>> v, i = ember.max(ember.tensor([[1, 5], [7, 2]]), dim=1)
>>> i
tensor([1, 0])
"""


def _axes(x: Tensor, dim, op: str):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    nd = builtins_max(x.ndim, 1)
    for d in dims:
        if not -nd <= d < nd:
            raise mark(with_user_line(IndexError(
                f"{op}: dim {d} is out of range for a tensor of shape {tuple(x.shape)} (expected a dim in "
                f"[{-nd}, {nd - 1}])"), 3))
    return tuple(sorted(d % nd for d in dims)) if x.ndim else None


@autocast_op
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum of all elements, or over ``dim`` (an int or a tuple); integer and bool inputs sum as int64.

    >>> x = ember.tensor([[1, 2], [3, 4]])
    >>> ember.sum(x)
    tensor(10)
    >>> ember.sum(x, dim=0, keepdim=True)
    tensor([[4, 6]])
    """
    if dtype is not None:
        input = cast(input, dtype)
    return apply("sum", input, axis=_axes(input, dim, "sum"), keepdims=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of all elements, or over ``dim`` (floating-point inputs, or give ``dtype``).

    >>> ember.mean(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1)
    tensor([1.5000, 3.5000])
    """
    if dtype is not None:
        input = cast(input, dtype)
    if not dtypes.is_float(input._data.dtype) and input._data.dtype.kind != "c":
        raise mark(with_user_line(RuntimeError(
            f"mean: expected a floating-point input but got {input.dtype.name}; use x.float().mean()"), 2))
    axes = _axes(input, dim, "mean")
    n = input.numel() if axes is None else _count(input, axes)
    return apply("sum", input, axis=axes, keepdims=keepdim) / (n if n else float("nan"))


def _count(x, axes):
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


@autocast_op
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """The product of all elements, or along ``dim``.

    >>> ember.prod(ember.tensor([[1, 2], [3, 4]]), dim=1)
    tensor([ 2, 12])
    """
    if dtype is not None:
        input = cast(input, dtype)
    return apply("prod", input, axis=_axes(input, dim, "prod"), keepdims=keepdim)


def _nonempty(x: Tensor, axes, op: str):
    """PyTorch's IndexError for max/min/argmax-style reductions over a size-0 dim (they have no identity)."""
    if x._data.size:
        return
    for d in range(x.ndim) if axes is None else ((axes,) if isinstance(axes, int) else axes):
        if x.shape[d] == 0:
            raise mark(with_user_line(IndexError(
                f"{op}: expected reduction dim {d} to have non-zero size (input shape {tuple(x.shape)}); the "
                f"{op} of nothing has no value. Check for an empty batch first (if x.numel() > 0), or use a "
                "reduction with an identity such as sum."), 3))


def amax(input, dim=(), keepdim=False):
    """The largest value over ``dim`` (every dim by default); unlike ``max`` it returns no indices.

    >>> ember.amax(ember.tensor([[1, 5], [7, 2]]), dim=0)
    tensor([7, 5])
    """
    axes = _axes(input, dim if dim != () else None, "amax")
    _nonempty(input, axes, "amax")
    return apply("amax", input, axis=axes, keepdims=keepdim)


def amin(input, dim=(), keepdim=False):
    """The smallest value over ``dim`` (every dim by default); unlike ``min`` it returns no indices.

    >>> ember.amin(ember.tensor([[1, 5], [7, 2]]), dim=1)
    tensor([1, 2])
    """
    axes = _axes(input, dim if dim != () else None, "amin")
    _nonempty(input, axes, "amin")
    return apply("amin", input, axis=axes, keepdims=keepdim)


def _extreme(name, input, dim, keepdim, other):
    if isinstance(dim, Tensor) or other is not None:
        from .math import maximum, minimum

        return (maximum if name == "max" else minimum)(input, dim if other is None else other)
    if dim is None:
        _nonempty(input, None, name)
        return apply("amax" if name == "max" else "amin", input, axis=None, keepdims=False)
    _nonempty(input, _axes(input, dim, name), name)
    idx = apply("argmax" if name == "max" else "argmin", input, axis=dim, keepdims=True)
    values = take_along_dim(input, idx, dim)
    if not keepdim:
        values, idx = values.squeeze(dim), idx.squeeze(dim)
    return values_indices(values, idx)


def max(input, dim=None, keepdim=False, *, other=None):
    """``max(x)`` -> the largest value; ``max(x, dim)`` -> (values, indices); ``max(a, b)`` -> maximum.

    >>> x = ember.tensor([[1, 5], [7, 2]])
    >>> ember.max(x)
    tensor(7)
    >>> ember.max(x, dim=1)
    values_indices(values=tensor([5, 7]), indices=tensor([1, 0]))
    >>> ember.max(x, ember.tensor([4, 4]))
    tensor([[4, 5],
            [7, 4]])
    """
    return _extreme("max", input, dim, keepdim, other)


def min(input, dim=None, keepdim=False, *, other=None):
    """``min(x)`` -> the smallest value; ``min(x, dim)`` -> (values, indices); ``min(a, b)`` -> ``minimum``.

    >>> x = ember.tensor([[1, 5], [7, 2]])
    >>> ember.min(x)
    tensor(1)
    >>> ember.min(x, dim=0).indices
    tensor([0, 1])
    """
    return _extreme("min", input, dim, keepdim, other)


def argmax(input, dim=None, keepdim=False):
    """The index of the largest value (in the flattened input, or along ``dim``); the first one on ties.

    >>> ember.argmax(ember.tensor([[1, 5], [7, 2]]))
    tensor(2)
    >>> ember.argmax(ember.tensor([[1, 5], [7, 2]]), dim=1)
    tensor([1, 0])
    """
    _nonempty(input, None if dim is None else _axes(input, dim, "argmax"), "argmax")
    return apply("argmax", input, axis=dim, keepdims=keepdim)


def argmin(input, dim=None, keepdim=False):
    """The index of the smallest value (in the flattened input, or along ``dim``); the first one on ties.

    >>> ember.argmin(ember.tensor([[1, 5], [7, 2]]), dim=0)
    tensor([0, 1])
    """
    _nonempty(input, None if dim is None else _axes(input, dim, "argmin"), "argmin")
    return apply("argmin", input, axis=dim, keepdims=keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance over ``dim``; ``correction`` (default 1, Bessel's) is subtracted from the count
    (``unbiased=False`` means ``correction=0``).

    >>> x = ember.tensor([1.0, 2.0, 3.0, 4.0])
    >>> ember.var(x)
    tensor(1.6667)
    >>> ember.var(x, correction=0)
    tensor(1.2500)
    """
    correction = (1 if unbiased is None or unbiased else 0) if correction is None else correction
    axes = _axes(input, dim, "var")
    n = input.numel() if axes is None else _count(input, axes)
    centered = input - mean(input, dim=axes, keepdim=True)
    if centered._data.dtype.kind == "c":  # |x - mean|^2, a real variance (PyTorch's for complex input)
        centered = apply("abs", centered)
    return sum(centered * centered, dim=axes, keepdim=keepdim) / builtins_max(n - correction, 0)


def builtins_max(a, b):
    return a if a > b else b


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The standard deviation over ``dim``, with ``var``'s ``correction``/``unbiased`` arguments.

    >>> ember.std(ember.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor(1.2910)
    """
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim`` in one call.

    >>> ember.var_mean(ember.tensor([1.0, 2.0, 3.0]))
    (tensor(1.), tensor(2.))
    """
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim`` in one call.

    >>> ember.std_mean(ember.tensor([1.0, 2.0, 3.0]))
    (tensor(1.), tensor(2.))
    """
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


@autocast_op
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector/Frobenius norms: p = 2 ('fro'), 1, inf, -inf, 0, or any real p.

    >>> x = ember.tensor([[3.0, 4.0], [0.0, 0.0]])
    >>> ember.norm(x)
    tensor(5.)
    >>> ember.norm(x, p=1, dim=1)
    tensor([7., 0.])
    """
    if dtype is not None:
        input = cast(input, dtype)
    axes = _axes(input, dim, "norm")
    if input._data.dtype.kind == "c":  # a complex tensor's norm is that of its magnitudes (a real result)
        input = input.abs()
    a = input.abs()
    if p in ("fro", 2, 2.0):
        return sqrt(sum(input * input, dim=axes, keepdim=keepdim))
    if p == float("inf"):
        return apply("amax", a, axis=axes, keepdims=keepdim)
    if p == float("-inf"):
        return apply("amin", a, axis=axes, keepdims=keepdim)
    if p == 0:
        return sum(cast(a != 0, input.dtype), dim=axes, keepdim=keepdim)
    if p == 1:
        return sum(a, dim=axes, keepdim=keepdim)
    return sum(a ** p, dim=axes, keepdim=keepdim) ** (1.0 / p)


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x)))`` over ``dim``, computed stably (no overflow for large inputs).

    >>> ember.logsumexp(ember.tensor([1000.0, 1000.0]), dim=0)
    tensor(1000.6932)
    """
    axes = _axes(input, dim, "logsumexp")
    if not dtypes.is_float(input._data.dtype):  # integers and bools: the default float dtype, as PyTorch
        input = cast(input, dtypes.get_default_dtype())
    if not input._data.size:  # an empty reduction is log(0) = -inf, as in PyTorch (amax would have no value)
        return sum(input, dim=axes, keepdim=keepdim) + float("-inf")
    m = apply("amax", input.detach(), axis=axes, keepdims=True)
    m = apply("where", apply("eq", m.abs(), m._scalar(float("inf"))), m._scalar(0.0), m)  # all -inf rows stay -inf
    out = log(sum(exp(input - m), dim=axes, keepdim=True)) + m
    return out if keepdim else (out.squeeze(axes) if axes is not None else out.reshape(()))


@autocast_op
def cumsum(input, dim, *, dtype=None):
    """Running sums along ``dim``.

    >>> ember.cumsum(ember.tensor([1, 2, 3]), dim=0)
    tensor([1, 3, 6])
    """
    if dtype is not None:
        input = cast(input, dtype)
    _axes(input, dim, "cumsum")
    if input._data.dtype.kind in "bui" and input._data.dtype.itemsize < 8:
        input = cast(input, dtypes.int64)
    return apply("cumsum", input, axis=dim % builtins_max(input.ndim, 1))


@autocast_op
def cumprod(input, dim):
    # exp(cumsum(log)) breaks on zeros/negatives; a running product over slices keeps exact semantics
    """Running products along ``dim``.

    >>> ember.cumprod(ember.tensor([1.0, 2.0, 3.0]), dim=0)
    tensor([1., 2., 6.])
    """
    dim = dim % builtins_max(input.ndim, 1)
    parts, acc = [], None
    for t in input.unbind(dim):
        acc = t if acc is None else acc * t
        parts.append(acc)
    from .shape import stack

    return stack(parts, dim)


def all(input, dim=None, keepdim=False):
    """True if every element (over ``dim``) is nonzero.

    >>> ember.all(ember.tensor([[True, False], [True, True]]), dim=1)
    tensor([False,  True])
    """
    b = input if input._data.dtype.kind == "b" else input != 0
    out = apply("amin", b, axis=_axes(input, dim, "all"), keepdims=keepdim) if b.numel() else \
        cast(apply("sum", b, axis=_axes(input, dim, "all"), keepdims=keepdim) == 0, dtypes.bool_)
    return _uint8_like(input, out)


def _uint8_like(input, out):
    """PyTorch's all/any keep a uint8 input's dtype (its pre-bool masks), and give bool for the rest."""
    return cast(out, dtypes.uint8) if input._data.dtype == dtypes.uint8.np else out


def any(input, dim=None, keepdim=False):
    """True if some element (over ``dim``) is nonzero.

    >>> ember.any(ember.tensor([[0, 0], [0, 3]]), dim=1)
    tensor([False,  True])
    """
    b = input if input._data.dtype.kind == "b" else input != 0
    out = apply("amax", b, axis=_axes(input, dim, "any"), keepdims=keepdim) if b.numel() else \
        cast(apply("sum", b, axis=_axes(input, dim, "any"), keepdims=keepdim) != 0, dtypes.bool_)
    return _uint8_like(input, out)


def count_nonzero(input, dim=None):
    """The number of nonzero elements, in all or along ``dim``.

    >>> ember.count_nonzero(ember.tensor([[0, 1], [2, 3]]), dim=1)
    tensor([1, 2])
    """
    return sum(input != 0, dim=dim)


def take_along_dim(input, indices, dim=None):
    """Values of ``input`` at ``indices`` along ``dim`` (the flattened input when ``dim`` is None), e.g.
    with the output of ``argsort``.

    >>> x = ember.tensor([[3, 1, 2]])
    >>> ember.take_along_dim(x, ember.argsort(x, dim=1), dim=1)
    tensor([[1, 2, 3]])
    """
    if dim is None:
        return apply("gather", input.reshape(-1), indices.reshape(-1), axis=0)
    dim = dim % builtins_max(input.ndim, 1)
    shape = tuple(i if d == dim else builtins_max(i, s) for d, (i, s) in enumerate(zip(indices.shape, input.shape)))
    if tuple(indices.shape) != shape:
        indices = indices.expand(*shape)
    src_shape = tuple(s if d == dim else shape[d] for d, s in enumerate(input.shape))
    if tuple(input.shape) != src_shape:
        input = input.expand(*src_shape)
    return apply("gather", input, indices, axis=dim)


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim``, ascending unless ``descending``.

    >>> ember.sort(ember.tensor([3, 1, 2]), descending=True)
    values_indices(values=tensor([3, 2, 1]), indices=tensor([0, 2, 1]))
    """
    idx = argsort(input, dim, descending)
    return values_indices(take_along_dim(input, idx, dim), idx)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim``.

    >>> ember.argsort(ember.tensor([3, 1, 2]))
    tensor([1, 2, 0])
    """
    _axes(input, dim, "argsort")
    return apply("argsort", input, axis=dim % builtins_max(input.ndim, 1), descending=descending)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest (or with ``largest=False`` smallest) entries along ``dim``.

    >>> ember.topk(ember.tensor([1.0, 4.0, 2.0, 5.0]), 2)
    values_indices(values=tensor([5., 4.]), indices=tensor([3, 1]))
    """
    n = input.shape[dim] if input.ndim else 1
    if not 0 <= k <= n:
        raise mark(with_user_line(RuntimeError(
            f"topk: k ({k}) is out of range for dim {dim} of size {n} (shape {tuple(input.shape)})"), 2))
    idx = argsort(input, dim, descending=largest).narrow(dim, 0, k)
    return values_indices(take_along_dim(input, idx, dim), idx)


def kthvalue(input, k, dim=-1, keepdim=False):
    """``(values, indices)`` of the k-th smallest entry (1-based) along ``dim``.

    >>> ember.kthvalue(ember.tensor([4.0, 1.0, 3.0]), 2)
    values_indices(values=tensor(3.), indices=tensor(2))
    """
    idx = argsort(input, dim).narrow(dim, k - 1, 1)
    vals = take_along_dim(input, idx, dim)
    return values_indices(vals if keepdim else vals.squeeze(dim), idx if keepdim else idx.squeeze(dim))


def median(input, dim=None, keepdim=False):
    """The median of all elements, or ``(values, indices)`` along ``dim``; for an even count the lower of the
    two middle values (as PyTorch, not their mean).

    >>> ember.median(ember.tensor([4.0, 1.0, 3.0, 2.0]))
    tensor(2.)
    """
    if dim is None:
        ordered = sort(input.reshape(-1)).values  # NaNs sort last: PyTorch's median of a tensor with one is NaN
        mid = ordered[(ordered.numel() - 1) // 2]
        return mid if not input.is_floating_point() or not ordered.numel() else \
            apply("where", apply("ne", ordered[-1], ordered[-1]), ordered[-1], mid)
    mid = kthvalue(input, (input.shape[dim] + 1) // 2, dim, keepdim)
    if not input.is_floating_point():
        return mid
    top = max(input, dim, keepdim)  # NaN and its index where a row holds one, as PyTorch's median returns them
    has_nan = apply("ne", top.values, top.values)
    return type(mid)(apply("where", has_nan, top.values, mid.values), apply("where", has_nan, top.indices, mid.indices))
