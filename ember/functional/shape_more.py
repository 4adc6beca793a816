"""The rest of torch's top-level shape, stacking, indexing and small linear-algebra functions, as composites of
Ember primitives; and the few whose result's shape depends on the values (``unique``, ``bincount``,
``searchsorted``, ``histc``), which read the data (a graph break under ``ember.compile``, as ``nonzero``).

>>> import ember
>>> xs, ys = ember.meshgrid(ember.tensor([1, 2]), ember.tensor([3, 4, 5]), indexing="ij")
>>> xs.shape, ys.tolist()[0]
(ember.Size([2, 3]), [3, 4, 5])
"""
from __future__ import annotations

import itertools
import math as _math

import numpy as np

from .. import dtypes
from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Tensor
from .math import binary, cast, where
from .math_more import _named_pair
from .shape import atleast_2d, cat, flip, movedim, reshape, stack, tensor_split, transpose


def _err(kind, message):
    return mark(with_user_line(kind(message), 3))


def _tensors(args):
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else tuple(args)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors: ``indexing="ij"`` (matrix, PyTorch's default) or ``"xy"``
    (Cartesian: the first two grids are transposed).

    >>> a, b = ember.meshgrid(ember.tensor([1, 2]), ember.tensor([3, 4, 5]), indexing="xy")
    >>> a.shape
    ember.Size([3, 2])
    """
    ts = _tensors(tensors)
    if indexing not in ("ij", "xy"):
        raise _err(ValueError, f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(t.ndim > 1 for t in ts):
        raise _err(RuntimeError, "meshgrid: expected 0-D or 1-D tensors, got shapes "
                                 f"{[tuple(t.shape) for t in ts]}")
    shape = tuple(t.numel() for t in ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        grids.append(t.reshape(view).expand(*shape))
    if indexing == "xy" and len(ts) >= 2:  # Cartesian: the first two dims swap places
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def ravel(input):
    """``input`` flattened to 1-D.

    >>> ember.ravel(ember.tensor([[1, 2], [3, 4]]))
    tensor([1, 2, 3, 4])
    """
    return reshape(input, -1)


def moveaxis(input, source, destination):
    """``movedim``, under NumPy's name.

    >>> ember.moveaxis(ember.zeros(2, 3, 4), 0, -1).shape
    ember.Size([3, 4, 2])
    """
    return movedim(input, source, destination)


def column_stack(tensors):
    """1-D tensors as columns (others as they are), joined along dim 1.

    >>> ember.column_stack([ember.tensor([1, 2]), ember.tensor([3, 4])])
    tensor([[1, 3],
            [2, 4]])
    """
    return cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], 1)


def atleast_3d(x):
    """``x`` with at least three dims (a 2-D ``x`` gets a trailing one, as NumPy and PyTorch).

    >>> ember.atleast_3d(ember.tensor([[1, 2]])).shape
    ember.Size([1, 2, 1])
    """
    if isinstance(x, (list, tuple)):
        return tuple(atleast_3d(t) for t in x)
    if x.ndim >= 3:
        return x
    x2 = atleast_2d(x) if x.ndim < 2 else x
    return x2.unsqueeze(-1) if x.ndim == 2 else x2.unsqueeze(-1) if x.ndim == 1 else x2.reshape(1, 1, 1)


def dstack(tensors):
    """Join along the third dim (after ``atleast_3d``).

    >>> ember.dstack([ember.tensor([1, 2]), ember.tensor([3, 4])]).shape
    ember.Size([1, 2, 2])
    """
    return cat([atleast_3d(t) for t in tensors], 2)


def _split_on(name, input, sections, dim, min_ndim):
    if input.ndim < min_ndim:
        raise _err(RuntimeError, f"{name}: expected a tensor with at least {min_ndim} dims, got shape "
                                 f"{tuple(input.shape)}")
    if isinstance(sections, int) and input.shape[dim] % sections:
        raise _err(RuntimeError, f"{name}: dim {dim} of size {input.shape[dim]} does not split into {sections} "
                                 "equal parts; use tensor_split for uneven parts")
    return tensor_split(input, sections, dim)


def hsplit(input, sections):
    """Split along dim 1 (dim 0 for a 1-D tensor) into equal parts or at indices.

    >>> [t.tolist() for t in ember.hsplit(ember.tensor([[1, 2, 3, 4]]), 2)]
    [[[1, 2]], [[3, 4]]]
    """
    return _split_on("hsplit", input, sections, 0 if input.ndim == 1 else 1, 1)


def vsplit(input, sections):
    """Split along dim 0 (2-D or more).

    >>> len(ember.vsplit(ember.zeros(4, 2), [1, 3]))
    3
    """
    return _split_on("vsplit", input, sections, 0, 2)


def dsplit(input, sections):
    """Split along dim 2 (3-D or more).

    >>> ember.dsplit(ember.zeros(1, 1, 4), 2)[0].shape
    ember.Size([1, 1, 2])
    """
    return _split_on("dsplit", input, sections, 2, 3)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first towards the second).

    >>> ember.rot90(ember.tensor([[1, 2], [3, 4]]))
    tensor([[2, 4],
            [1, 3]])
    """
    d0, d1 = (d % input.ndim for d in dims)
    if len(dims) != 2 or d0 == d1:
        raise _err(RuntimeError, f"rot90: dims must name two different dims, got {tuple(dims)}")
    k %= 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(transpose(input, d0, d1), (d1,))
    return input.clone()


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to (pure shape arithmetic).

    >>> ember.broadcast_shapes((2, 1), (1, 3))
    ember.Size([2, 3])
    """
    from ..ops._rules import broadcast_shapes as _broadcast
    from ..tensor import Size

    out = ()
    for s in shapes:
        out = _broadcast("broadcast_shapes", tuple(out), (s,) if isinstance(s, int) else tuple(s))
    return Size(out)


def _triangle(row, col, offset, lower, dtype, device):
    from ..creation import tensor

    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    kind = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    return tensor(np.stack([rows, cols]).astype(kind.np).reshape(2, -1), device=device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) row and column indices of the lower triangle of a ``row`` x ``col`` matrix.

    >>> ember.tril_indices(3, 3)
    tensor([[0, 1, 1, 2, 2, 2],
            [0, 0, 1, 0, 1, 2]])
    """
    return _triangle(row, col, offset, True, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) row and column indices of the upper triangle.

    >>> ember.triu_indices(2, 3, 1)
    tensor([[0, 0, 1],
            [1, 2, 2]])
    """
    return _triangle(row, col, offset, False, dtype, device)


def take(input, index):
    """Elements of ``input`` read as 1-D, at ``index`` (any shape; negative indices count from the end).

    >>> ember.take(ember.tensor([[4, 3], [5, 7]]), ember.tensor([0, 3]))
    tensor([4, 7])
    """
    return input.reshape(-1)[index]


def index_fill(input, dim, index, value):
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value``.

    >>> ember.index_fill(ember.zeros(2, 3), 1, ember.tensor([0, 2]), 1.0)
    tensor([[1., 0., 1.],
            [1., 0., 1.]])
    """
    from ..creation import arange

    d = dim % max(input.ndim, 1)
    if index.numel() == 0:
        return input.clone()
    listed = binary("eq", index.reshape(-1, 1), arange(input.shape[d], device=input.device).reshape(1, -1))
    mask = apply("amax", listed, axis=(0,), keepdims=False)  # which positions along dim are listed
    shape = [1] * input.ndim
    shape[d] = -1
    fill = value if isinstance(value, Tensor) else input._scalar(value)
    return where(mask.reshape(shape), cast(fill, input.dtype), input)


def masked_scatter(input, mask, source):
    """``input`` with the positions where ``mask`` holds filled, in order, by the elements of ``source``.

    >>> ember.masked_scatter(ember.zeros(4), ember.tensor([True, False, True, False]), ember.tensor([5.0, 6.0]))
    tensor([5., 0., 6., 0.])
    """
    full = mask.expand(*input.shape) if tuple(mask.shape) != tuple(input.shape) else mask
    order = (apply("cumsum", cast(full.reshape(-1), dtypes.int64), axis=0) - 1).clamp(min=0)
    flat = source.reshape(-1)
    if flat.numel() == 0:
        return input.clone()
    picked = flat[order.clamp(max=flat.numel() - 1)].reshape(tuple(input.shape))
    return where(full, cast(picked, input.dtype), input)


def unravel_index(indices, shape):
    """The coordinates of flat ``indices`` in a tensor of ``shape``, one tensor per dim.

    >>> ember.unravel_index(ember.tensor([4, 5]), (2, 3))
    (tensor([1, 1]), tensor([1, 2]))
    """
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    total = _math.prod(dims)
    idx = where(binary("lt", indices, 0), indices + total, indices) if indices._data.dtype.kind == "i" else indices
    coords = []
    for size in reversed(dims):
        coords.append(binary("remainder", idx, size))
        idx = binary("floordiv", idx, size)
    return tuple(reversed(coords))


def diagflat(input, offset=0):
    """A 2-D tensor with the flattened ``input`` on diagonal ``offset``.

    >>> ember.diagflat(ember.tensor([[1, 2]]))
    tensor([[1, 0],
            [0, 2]])
    """
    from .math_extra import diag

    return diag(input.reshape(-1), offset)


def block_diag(*tensors):
    """A block-diagonal matrix from 0-, 1- or 2-D tensors (1-D ones are rows).

    >>> ember.block_diag(ember.tensor([[1, 2]]), ember.tensor([[3], [4]]))
    tensor([[1, 2, 0],
            [0, 0, 3],
            [0, 0, 4]])
    """
    from ..creation import zeros

    blocks = [atleast_2d(t) for t in _tensors(tensors)]
    if not blocks:
        return zeros(1, 0)
    kind = blocks[0].dtype
    for b in blocks[1:]:
        kind = dtypes.promote(kind, b.dtype)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        r, c = b.shape
        parts = [zeros(r, left, dtype=kind, device=b.device), cast(b, kind),
                 zeros(r, width - left - c, dtype=kind, device=b.device)]
        rows.append(cat(parts, 1))
        left += c
    return cat(rows, 0)


def cartesian_prod(*tensors):
    """The Cartesian product of 1-D tensors, one row per combination (1-D for a single tensor).

    >>> ember.cartesian_prod(ember.tensor([1, 2]), ember.tensor([3, 4]))
    tensor([[1, 3],
            [1, 4],
            [2, 3],
            [2, 4]])
    """
    ts = _tensors(tensors)
    if len(ts) == 1:
        return ts[0]
    return stack([g.reshape(-1) for g in meshgrid(*ts, indexing="ij")], 1)


def combinations(input, r=2, with_replacement=False):
    """All length-``r`` combinations of the elements of a 1-D tensor (``itertools.combinations`` order).

    >>> ember.combinations(ember.tensor([1, 2, 3]))
    tensor([[1, 2],
            [1, 3],
            [2, 3]])
    """
    from ..creation import tensor

    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = list(pick(range(input.shape[0]), r))
    if not idx:
        return input[:0].reshape(0, r) if r else input[:0]
    return input[tensor(np.asarray(idx, np.int64), device=input.device)]


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-D ``x``: columns ``x**(N-1), ..., x, 1`` (reversed if ``increasing``).

    >>> ember.vander(ember.tensor([1, 2, 3]), N=3)
    tensor([[1, 1, 1],
            [4, 2, 1],
            [9, 3, 1]])
    """
    from ..creation import arange

    n = x.shape[0] if N is None else N
    powers = arange(n, device=x.device)
    if not increasing:
        powers = flip(powers, (0,))
    if n == 0:
        return x.reshape(-1, 1)[:, :0]
    cols = [x ** 0 if int(p) == 0 else x ** int(p) for p in powers.tolist()]  # small integer powers, exact
    return stack(cols, 1)


# -- results whose shape depends on the values ----------------------------------------------------------------
def _read(x, what):
    if x._data.dtype.kind == "c":  # (NumPy would order complex numbers by real, then imaginary part)
        raise mark(with_user_line(NotImplementedError(
            f"{what}: not implemented for complex tensors (got {x.dtype.name}), as in PyTorch"), 3))
    x._data_access(what)
    from .. import backend

    return backend.xp_of(x._data), x._data


def _wrap(arr):
    return Tensor._wrap(arr)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements (sorted), with the inverse indices and counts when asked.

    >>> ember.unique(ember.tensor([3, 1, 3, 2]), return_counts=True)
    (tensor([1, 2, 3]), tensor([1, 1, 2]))
    """
    xp, data = _read(input, "unique")
    flat = data if dim is None else xp.moveaxis(data, dim, 0).reshape(data.shape[dim], -1)
    got = xp.unique(flat.reshape(-1) if dim is None else flat, return_inverse=True, return_counts=True,
                    axis=None if dim is None else 0)
    values, inverse, counts = got
    if dim is not None:
        rest = tuple(np.delete(np.asarray(data.shape), dim))
        values = xp.moveaxis(values.reshape((values.shape[0],) + rest), 0, dim)
    else:
        inverse = inverse.reshape(data.shape)
    out = [_wrap(values)]
    if return_inverse:
        out.append(_wrap(inverse.reshape(-1).astype(np.int64) if dim is not None else inverse.astype(np.int64)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Each run of equal consecutive elements reduced to one.

    >>> ember.unique_consecutive(ember.tensor([1, 1, 2, 2, 1]))
    tensor([1, 2, 1])
    """
    if dim is not None:
        raise _err(NotImplementedError, "unique_consecutive: dim= is not supported; flatten first or use unique(dim=)")
    xp, data = _read(input, "unique_consecutive")
    flat = data.reshape(-1)
    starts = xp.concatenate([xp.ones(min(flat.size, 1), bool), flat[1:] != flat[:-1]])
    out = [_wrap(flat[starts])]
    if return_inverse:
        out.append(_wrap((xp.cumsum(starts) - 1).reshape(data.shape).astype(np.int64)))
    if return_counts:
        edges = xp.concatenate([xp.nonzero(starts)[0], xp.asarray([flat.size])])
        out.append(_wrap(xp.diff(edges).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """How often each non-negative integer occurs in a 1-D ``input`` (weighted: the sum of ``weights``).

    >>> ember.bincount(ember.tensor([0, 2, 2, 3]))
    tensor([1, 0, 2, 1])
    """
    if input.ndim != 1 or input._data.dtype.kind not in "iu":
        raise _err(RuntimeError, f"bincount: expected a 1-D integer tensor, got {input.dtype.name} of shape "
                                 f"{tuple(input.shape)}")
    xp, data = _read(input, "bincount")
    if data.size and int(data.min()) < 0:
        raise _err(RuntimeError, f"bincount: the input holds a negative value ({int(data.min())}); counts need "
                                 "non-negative integers")
    w = None if weights is None else weights._data
    counts = xp.bincount(data, weights=w, minlength=minlength)
    kind = np.int64 if w is None else (w.dtype if w.dtype.kind == "f" else np.float64)
    return _wrap(counts.astype(kind))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value of ``input`` would be inserted into the (last-dim) sorted ``sorted_sequence``.

    >>> ember.searchsorted(ember.tensor([1, 3, 5, 7]), ember.tensor([3, 6]))
    tensor([1, 3])
    """
    if side is not None:
        if side not in ("left", "right") or (right and side == "left"):
            raise _err(ValueError, f"searchsorted: side must be 'left' or 'right' (and agree with right=), got "
                                   f"{side!r}")
        right = side == "right"
    values = input if isinstance(input, Tensor) else sorted_sequence._scalar(input)
    xp, seq = _read(sorted_sequence, "searchsorted")
    _, vals = _read(values, "searchsorted")
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, axis=-1)
    how = "right" if right else "left"
    if seq.ndim == 1:
        out = xp.searchsorted(seq, vals, side=how)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise _err(RuntimeError, f"searchsorted: the leading dims of sorted_sequence {tuple(seq.shape)} and "
                                     f"input {tuple(vals.shape)} must match")
        rows = seq.reshape(-1, seq.shape[-1])
        out = xp.stack([xp.searchsorted(r, v, side=how) for r, v in zip(rows, vals.reshape(len(rows), -1))])
        out = out.reshape(vals.shape)
    return _wrap(xp.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each element of ``input`` among the sorted 1-D ``boundaries``.

    >>> ember.bucketize(ember.tensor([1, 5, 9]), ember.tensor([2, 6]))
    tensor([0, 1, 2])
    """
    if boundaries.ndim != 1:
        raise _err(RuntimeError, f"bucketize: boundaries must be 1-D, got shape {tuple(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def histc(input, bins=100, min=0, max=0):
    """A histogram of ``bins`` equal bins over [min, max] (the data's own range when both are 0).

    >>> ember.histc(ember.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)
    tensor([0., 2., 1., 0.])
    """
    if not input.is_floating_point():
        raise _err(RuntimeError, f"histc: expected a floating-point input, got {input.dtype.name}")
    _, data = _read(input, "histc")
    lo, hi = float(min), float(max)
    if lo == hi == 0 and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    return histogram(input, bins, range=(lo, hi)).hist


_Histogram = _named_pair("histogram", "hist", "bin_edges")


def histogram(input, bins=100, *, range=None, weight=None, density=False):  # noqa: A002 (PyTorch's name)
    """``(hist, bin_edges)`` of ``input`` over ``bins`` equal bins (or the given edges), as ``torch.histogram``.

    >>> ember.histogram(ember.tensor([1.0, 2.0, 1.0]), bins=4, range=(0.0, 3.0))
    torch.return_types.histogram(
    hist=tensor([0., 2., 1., 0.]),
    bin_edges=tensor([0.0000, 0.7500, 1.5000, 2.2500, 3.0000]))
    """
    if not input.is_floating_point():
        raise _err(RuntimeError, f"histogram: expected a floating-point input, got {input.dtype.name}")
    xp, data = _read(input, "histogram")
    edges = bins._data if isinstance(bins, Tensor) else bins
    w = None if weight is None else weight._data.reshape(-1)
    hist, out_edges = xp.histogram(data.reshape(-1), bins=edges, range=range, weights=w, density=density)
    return _Histogram(_wrap(hist.astype(data.dtype)), _wrap(out_edges.astype(data.dtype)))


def index_copy(input, dim, index, source):
    """A copy of ``input`` with the slices at ``index`` along ``dim`` replaced by those of ``source``.

    >>> ember.index_copy(ember.zeros(3), 0, ember.tensor([2]), ember.tensor([7.0]))
    tensor([0., 0., 7.])
    """
    return input.index_copy(dim, index, source)


def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``input[indices] = values`` (added with ``accumulate``).

    >>> ember.index_put(ember.zeros(3), (ember.tensor([0, 0]),), ember.tensor([1.0, 2.0]), accumulate=True)
    tensor([3., 0., 0.])
    """
    return input.index_put(indices, values, accumulate)


def is_nonzero(input):
    """Whether a one-element tensor is nonzero (an error for any other size).

    >>> ember.is_nonzero(ember.tensor([1.5]))
    True
    """
    return input.is_nonzero()


def narrow_copy(input, dim, start, length):
    """``narrow``, as a new tensor rather than a view.

    >>> ember.narrow_copy(ember.arange(5), 0, 1, 2)
    tensor([1, 2])
    """
    return input.narrow(dim, start, length).clone()


def _torch_range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """``torch.range``: like ``arange`` but with ``end`` included and floats by default (PyTorch deprecates it
    in favour of ``arange``).

    >>> ember.range(1, 4)
    tensor([1., 2., 3., 4.])
    """
    import warnings

    from .. import creation

    if end is None:
        start, end = 0, start
    warnings.warn("ember.range is deprecated as torch.range is; use ember.arange (which excludes end)",
                  UserWarning, stacklevel=2)
    count = int(_math.floor((end - start) / step)) + 1
    kind = dtype if dtype is not None else dtypes.get_default_dtype()
    out = creation.arange(max(count, 0), dtype=kind, device=device) * step + start
    return out.requires_grad_(True) if requires_grad else out
