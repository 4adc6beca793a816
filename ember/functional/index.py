"""Indexing: PyTorch keys to the plain-data index of the getitem/index_put primitives, gather/scatter."""
from __future__ import annotations

import numpy as np

from ..errors import mark, with_user_line
from ..ops import apply
from ..tensor import Tensor


def normalize_key(x: Tensor, key):
    """(index spec, index tensors) for a Python/PyTorch indexing key."""
    if not isinstance(key, tuple):
        key = (key,)
    spec, tensors = [], []
    for k in key:
        if k is None:
            spec.append(None)
        elif k is Ellipsis:
            spec.append(("ellipsis",))
        elif isinstance(k, slice):
            spec.append(("slice", _int_or_none(k.start), _int_or_none(k.stop), _int_or_none(k.step)))
        elif isinstance(k, Tensor):
            if k._data.ndim == 0 and k._data.dtype.kind in "iu":
                spec.append(("int", int(k)))
                continue
            spec.append(("tensor", len(tensors)))
            tensors.append(k)
        elif isinstance(k, (bool, np.bool_)):
            spec.append(("tensor", len(tensors)))
            tensors.append(Tensor._wrap(_xp_of(x).asarray(bool(k))))
        elif isinstance(k, (int, np.integer)):
            spec.append(("int", int(k)))
        elif isinstance(k, (list, np.ndarray, range)):
            arr = np.asarray(k)
            if arr.dtype.kind not in "iub":
                raise mark(with_user_line(IndexError(
                    f"tensors used as indices must be long, int or bool; got {arr.dtype} from {type(k).__name__}"),
                    4))
            arr = arr.astype(np.int64) if arr.dtype.kind in "iu" else arr
            from .. import backend

            spec.append(("tensor", len(tensors)))
            tensors.append(Tensor._wrap(backend.to_device(arr, x.device)))
        else:
            raise mark(with_user_line(IndexError(
                f"indexing a tensor with {type(k).__name__} is not supported; use ints, slices, None, ..., or "
                "integer/bool tensors"), 4))
    _check_ints(x, spec)
    return tuple(spec), tensors


def _int_or_none(v):
    return None if v is None else int(v)


def _xp_of(x):
    from .. import backend

    return backend.xp_of(x._data)


def _check_ints(x, spec):
    dim = 0
    for e in spec:
        if e is None:
            continue
        if e[0] == "ellipsis":
            rest = sum(1 for f in spec if f is not None and f[0] != "ellipsis")
            dim = x.ndim - rest + spec.index(e) - sum(1 for f in spec[:spec.index(e)] if f is None)
            dim = max(dim, 0)
            continue
        if e[0] == "int":
            if dim >= x.ndim:
                raise mark(with_user_line(IndexError(
                    f"too many indices for a tensor of dimension {x.ndim} (shape {tuple(x.shape)})"), 5))
            n = x.shape[dim]
            if not -n <= e[1] < n:
                raise mark(with_user_line(IndexError(
                    f"index {e[1]} is out of bounds for dimension {dim} with size {n} (tensor shape "
                    f"{tuple(x.shape)})"), 5))
        dim += 1
    if dim > x.ndim:
        raise mark(with_user_line(IndexError(
            f"too many indices for a tensor of dimension {x.ndim} (shape {tuple(x.shape)})"), 5))


def getitem(x: Tensor, key) -> Tensor:
    spec, tensors = normalize_key(x, key)
    for t in tensors:
        if t._data.dtype.kind == "b":  # the result's shape depends on the mask's values (a graph break)
            t._data_access("mask")
    out = apply("getitem", x, *tensors, index=spec)
    if not tensors:  # basic indexing returns a view: share the version counter, as PyTorch does
        out._vc = x._version_counter()
    return out


def setitem(x: Tensor, key, value) -> None:
    """``x[key] = value``: the write goes through ``Tensor._setitem`` (autograd, version, tracer)."""
    spec, tensors = normalize_key(x, key)
    if isinstance(value, Tensor):
        v = value
    elif isinstance(value, (int, float, bool, complex)):
        v = x._scalar(value)
    else:
        v = Tensor._wrap(_xp_of(x).asarray(value, dtype=x._data.dtype))
    x._setitem(spec, tensors, v)


def gather(input, dim, index):
    """Values of ``input`` picked along ``dim`` by ``index`` (``out[i][j] = input[i][index[i][j]]`` for dim 1).

    >>> ember.gather(ember.tensor([[1, 2], [3, 4]]), 1, ember.tensor([[1, 0], [0, 0]]))
    tensor([[2, 1],
            [3, 3]])
    """
    if index._data.dtype.kind not in "iu":
        raise mark(with_user_line(RuntimeError(
            f"gather: index must be an integer (int64) tensor, got {index.dtype.name}; use index.long()"), 2))
    return apply("gather", input, index, axis=dim % max(input.ndim, 1))


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with ``src``'s values added at the positions ``index`` names along ``dim``
    (repeated positions accumulate).

    >>> ember.scatter_add(ember.zeros(3), 0, ember.tensor([0, 2, 0]), ember.tensor([1.0, 2.0, 3.0]))
    tensor([4., 0., 2.])
    """
    return apply("scatter_add", input, index, src, axis=dim % max(input.ndim, 1))


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """Out-of-place torch.scatter: positions named by ``index`` take values from ``src`` (or ``value``);
    ``reduce="add"`` / ``"multiply"`` fold them in instead (repeated positions accumulate).

    >>> ember.scatter(ember.zeros(2, 3), 1, ember.tensor([[2], [0]]), value=1.0)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    if src is None:
        src = input._scalar(value).expand(*index.shape)
    elif not isinstance(src, Tensor):
        src = input._scalar(src).expand(*index.shape)
    if reduce is None:
        return _scatter_assign(input, dim % max(input.ndim, 1), index, src)
    if reduce not in ("add", "multiply"):
        raise mark(with_user_line(RuntimeError(
            f"scatter: reduce must be 'add' or 'multiply', got {reduce!r} (scatter_reduce has sum, prod, mean, "
            "amax and amin)"), 2))
    if src.dtype is not input.dtype:
        src = src.to(input.dtype)
    if reduce == "add":
        return scatter_add(input, dim, index, src)
    from .scatter import scatter_reduce

    return scatter_reduce(input, dim, index, src, "prod")


def _scatter_assign(input, dim, index, src):
    """``out[..., index[i, j, ...], ...] = src[i, j, ...]`` along ``dim`` as one indexed assignment: a position
    named twice takes one of its values (the last), as PyTorch writes one, never their sum."""
    from ..creation import arange

    if index.numel() == 0:
        return input.clone()
    key = []
    for d in range(index.ndim):
        if d == dim:
            key.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = index.shape[d]
            key.append(arange(index.shape[d], device=index.device).reshape(shape))
    part = src[tuple(slice(0, n) for n in index.shape)] if tuple(src.shape) != tuple(index.shape) else src
    return input.index_put(tuple(key), part.to(input.dtype) if part.dtype != input.dtype else part)


def index_select(input, dim, index):
    """The entries of ``input`` along ``dim`` at the integer positions in the 1-D ``index``.

    >>> ember.index_select(ember.tensor([[1, 2], [3, 4], [5, 6]]), 0, ember.tensor([2, 0]))
    tensor([[5, 6],
            [1, 2]])
    """
    dim = dim % max(input.ndim, 1)
    if index.ndim > 1:
        raise mark(with_user_line(IndexError(
            f"index_select: index must be 1-D (or 0-D), got shape {tuple(index.shape)}"), 2))
    key = (slice(None),) * dim + (index.reshape(-1),)
    return getitem(input, key)


def index_add(input, dim, index, source, alpha=1):
    """A copy of ``input`` with ``alpha * source`` added at the positions ``index`` names along ``dim``.

    >>> ember.index_add(ember.zeros(3, 2), 0, ember.tensor([0, 2]), ember.ones(2, 2))
    tensor([[1., 1.],
            [0., 0.],
            [1., 1.]])
    """
    dim = dim % max(input.ndim, 1)
    spec, tensors = normalize_key(input, (slice(None),) * dim + (index,))
    return apply("index_put", input, source * alpha if alpha != 1 else source, *tensors, index=spec, accumulate=True)


def masked_fill(input, mask, value):
    """A copy of ``input`` with ``value`` where the (broadcast) bool ``mask`` is True.

    >>> ember.masked_fill(ember.tensor([1.0, 2.0, 3.0]), ember.tensor([True, False, True]), -1.0)
    tensor([-1.,  2., -1.])
    """
    from .math import where

    if mask._data.dtype.kind != "b":
        raise mark(with_user_line(RuntimeError(
            f"masked_fill: mask must be a bool tensor, got {mask.dtype.name}; use mask.bool() or mask > 0"), 2))
    v = value if isinstance(value, Tensor) else input._scalar(value)
    return where(mask, v.to(input.dtype) if v.dtype is not input.dtype else v, input)


def masked_select(input, mask):
    """The elements of ``input`` where the bool ``mask`` is True, as a 1-D tensor.

    >>> ember.masked_select(ember.tensor([[1, 2], [3, 4]]), ember.tensor([[True, False], [False, True]]))
    tensor([1, 4])
    """
    from .shape import broadcast_tensors

    x, m = broadcast_tensors(input, mask)
    return getitem(x, m)


def nonzero(input, as_tuple=False):
    """The indices of nonzero elements as an (n, ndim) int64 tensor, or a tuple of 1-D tensors with ``as_tuple``.

    >>> ember.nonzero(ember.tensor([[0, 1], [2, 0]]))
    tensor([[0, 1],
            [1, 0]])
    >>> ember.nonzero(ember.tensor([0, 3, 4]), as_tuple=True)
    (tensor([1, 2]),)
    """
    from .. import backend

    input._data_access("nonzero")  # the result's shape depends on the values (a graph break)
    xp = backend.xp_of(input._data)
    idx = xp.nonzero(input._data)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in idx)
    return Tensor._wrap(xp.stack(idx, axis=1).astype(np.int64) if idx else xp.zeros((0, 0), np.int64))


def argwhere(input):
    """The indices of nonzero elements as an (n, ndim) tensor (as ``nonzero``).

    >>> ember.argwhere(ember.tensor([0.0, 1.5, 2.0]))
    tensor([[1],
            [2]])
    """
    return nonzero(input)


def _tri_mask(x, diagonal, lower):
    from ..creation import arange

    rows = arange(x.shape[-2], device=x.device).reshape(-1, 1)
    cols = arange(x.shape[-1], device=x.device).reshape(1, -1)
    return (cols - rows <= diagonal) if lower else (cols - rows >= diagonal)


def tril(input, diagonal=0):
    """The lower triangle (``j <= i + diagonal``) of the last two dims; the rest is zero.

    >>> ember.tril(ember.ones(3, 3))
    tensor([[1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 1.]])
    """
    from .math import where

    return where(_tri_mask(input, diagonal, True), input, _zero_of(input))


def triu(input, diagonal=0):
    """The upper triangle (``j >= i + diagonal``) of the last two dims; the rest is zero.

    >>> ember.triu(ember.ones(3, 3), diagonal=1)
    tensor([[0., 1., 1.],
            [0., 0., 1.],
            [0., 0., 0.]])
    """
    from .math import where

    return where(_tri_mask(input, diagonal, False), input, _zero_of(input))


def _zero_of(x):
    """A 0-d zero of x's own dtype (a Python 0 would turn bool tensors into int64)."""
    return x._scalar(False if x._data.dtype.kind == "b" else 0)


