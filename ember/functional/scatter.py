"""Scatters with a reduction (``scatter_reduce``, ``index_reduce``) and the out-of-place writes PyTorch
names ``*_scatter`` (``diagonal_scatter``, ``select_scatter``, ``slice_scatter``), with PyTorch's semantics.

``scatter_reduce`` is one primitive (``ember/ops/scatter_reduce.py``); the rest are composites of it and of
``index_put``, so they differentiate in both inputs and trace as the ops they are built from.

>>> import ember
>>> ember.scatter_reduce(ember.zeros(3), 0, ember.tensor([0, 0, 2]), ember.tensor([1.0, 2.0, 3.0]), "amax",
...                      include_self=False)
tensor([2., 0., 3.])
"""
from __future__ import annotations

from ..errors import mark, with_user_line
from ..ops import apply
from ..ops.scatter_reduce import check_operands
from .index import normalize_key

_INDEX_REDUCES = ("prod", "mean", "amax", "amin")


def _err(kind, message):
    return mark(with_user_line(kind(message), 3))


def _dim(name, input, dim):
    n = max(input.ndim, 1)
    if not -n <= dim < n:
        raise _err(IndexError, f"{name}: dim {dim} is out of range for a tensor of dimension {input.ndim} "
                               f"(expected a dim in [{-n}, {n - 1}])")
    return dim % n


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """A copy of ``input`` with ``src``'s values folded in at the positions ``index`` names along ``dim``
    (``out[i][index[i][j]] = reduce(out[i][index[i][j]], src[i][j])`` for dim 1), ``reduce`` one of "sum",
    "prod", "mean", "amax", "amin". ``include_self=False``: the old values of the positions written to are
    left out. Gradients as PyTorch's (tied extremes share theirs evenly).

    >>> x = ember.tensor([1.0, 2.0, 3.0])
    >>> x.scatter_reduce(0, ember.tensor([0, 0, 2]), ember.tensor([4.0, 6.0, 5.0]), "mean")
    tensor([3.6667, 2.0000, 4.0000])
    """
    axis = _dim("scatter_reduce", input, dim)
    try:
        check_operands("scatter_reduce", input, index, src, axis, reduce)
    except RuntimeError as e:
        raise _err(RuntimeError, str(e)) from None
    return apply("scatter_reduce", input, index, src, axis=axis, reduce=reduce, include_self=bool(include_self))


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """A copy of ``input`` with the slices of ``source`` along ``dim`` folded into the slices ``index`` names
    (``out[index[i]] = reduce(out[index[i]], source[i])`` for dim 0), ``reduce`` one of "prod", "mean",
    "amax", "amin"; ``include_self`` as in ``scatter_reduce``.

    >>> ember.index_reduce(ember.ones(3, 2), 0, ember.tensor([0, 0]), ember.tensor([[2.0, 3.0], [4.0, 5.0]]),
    ...                    "prod")
    tensor([[ 8., 15.],
            [ 1.,  1.],
            [ 1.,  1.]])
    """
    axis = _dim("index_reduce", input, dim)
    if reduce not in _INDEX_REDUCES:
        raise _err(RuntimeError, f"index_reduce: reduce must be one of {', '.join(map(repr, _INDEX_REDUCES))}, "
                                 f"got {reduce!r} (index_add does the sum)")
    if index.ndim > 1 or index._data.dtype.kind not in "iu":
        raise _err(IndexError, f"index_reduce: index must be a 1-D int64 (or int32) tensor, got shape "
                               f"{tuple(index.shape)} and dtype {index.dtype.name}")
    n = index.numel()
    if source.ndim != input.ndim or (source.ndim and source.shape[axis] != n) or any(
            a != b for d, (a, b) in enumerate(zip(source.shape, input.shape)) if d != axis):
        raise _err(RuntimeError, f"index_reduce: source {tuple(source.shape)} must match the input "
                                 f"{tuple(input.shape)} apart from dim {axis}, where it must have the index's "
                                 f"{n} entries")
    place = [1] * max(input.ndim, 1)
    place[axis] = n
    spread = index.reshape(place[:input.ndim] or ()).expand(*source.shape)  # one index per source element
    try:
        return scatter_reduce(input, axis, spread, source, reduce, include_self=include_self)
    except IndexError as e:  # an index out of range, found by the forward: said in this function's name
        raise mark(IndexError(str(e).replace("scatter_reduce:", "index_reduce:", 1))) from None


def _write(name, input, src, key):
    """``input`` with ``src`` written at ``key`` (out of place, differentiable in both); ``src``'s shape must be
    that of ``input[key]``, as PyTorch requires."""
    spec, tensors = normalize_key(input, key)
    want = tuple(input[key].shape)
    if tuple(src.shape) != want:
        raise _err(RuntimeError, f"{name}: src has shape {tuple(src.shape)}, but the part of the input "
                                 f"{tuple(input.shape)} it replaces has shape {want}")
    if src.dtype is not input.dtype:
        src = apply("cast", src, dtype=input.dtype.name)
    return apply("index_put", input, src, *tensors, index=spec, accumulate=False)


def select_scatter(input, src, dim, index):
    """A copy of ``input`` whose slice ``index`` along ``dim`` is ``src`` (``input.select(dim, index)``'s shape).

    >>> ember.select_scatter(ember.zeros(2, 2), ember.ones(2), 0, 0)
    tensor([[1., 1.],
            [0., 0.]])
    """
    axis = _dim("select_scatter", input, dim)
    n = input.shape[axis]
    if not -n <= index < n:
        raise _err(IndexError, f"select_scatter: index {index} is out of range for dimension {axis} of size {n}")
    return _write("select_scatter", input, src, (slice(None),) * axis + (int(index),))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of ``input`` with ``src`` written over ``input[..., start:end:step, ...]`` (along ``dim``).

    >>> ember.slice_scatter(ember.zeros(4), ember.ones(2), start=1, end=4, step=2)
    tensor([0., 1., 0., 1.])
    """
    axis = _dim("slice_scatter", input, dim)
    if step is not None and step <= 0:
        raise _err(RuntimeError, f"slice_scatter: step must be positive, got {step}")
    return _write("slice_scatter", input, src, (slice(None),) * axis + (slice(start, end, step),))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of ``input`` whose diagonal ``offset`` (of the planes spanned by ``dim1`` and ``dim2``) is ``src``,
    shaped as ``input.diagonal(offset, dim1, dim2)`` (the diagonal as the last dim).

    >>> ember.diagonal_scatter(ember.zeros(2, 3), ember.tensor([1.0, 2.0]), 1)
    tensor([[0., 1., 0.],
            [0., 0., 2.]])
    """
    from ..creation import arange

    if input.ndim < 2:
        raise _err(RuntimeError, f"diagonal_scatter: the input must have at least 2 dims, got {tuple(input.shape)}")
    d1, d2 = _dim("diagonal_scatter", input, dim1), _dim("diagonal_scatter", input, dim2)
    if d1 == d2:
        raise _err(RuntimeError, f"diagonal_scatter: dim1 and dim2 name the same dim {d1}")
    want = tuple(input.diagonal(offset, d1, d2).shape)
    if tuple(src.shape) != want:
        raise _err(RuntimeError, f"diagonal_scatter: src has shape {tuple(src.shape)}, but the diagonal "
                                 f"{offset} of the input {tuple(input.shape)} has shape {want}")
    rest = [d for d in range(input.ndim) if d not in (d1, d2)]
    moved = input.permute(*rest, d1, d2)  # the plane last: its index tensors are then adjacent and last
    k = arange(want[-1], device=input.device)
    rows, cols = (k, k + offset) if offset >= 0 else (k - offset, k)
    out = _write("diagonal_scatter", moved, src, (Ellipsis, rows, cols))
    back = [0] * input.ndim
    for place, d in enumerate(rest + [d1, d2]):
        back[d] = place
    return out.permute(*back)
