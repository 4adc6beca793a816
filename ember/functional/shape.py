"""Shape and layout functions, composites of reshape / permute / expand / getitem / cat / pad."""
from __future__ import annotations

import math as _math

from ..errors import mark, with_user_line
from ..ops import apply


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _infer_minus_one(op, x, shape):
    if shape.count(-1) > 1:
        raise mark(with_user_line(RuntimeError(f"{op}: only one dimension can be inferred (-1) in {shape}"), 4))
    if -1 in shape:
        known = _math.prod(s for s in shape if s != -1)
        if known == 0 or x.numel() % known:
            raise mark(with_user_line(RuntimeError(
                f"{op}: shape {shape} is invalid for input of size {x.numel()} (shape {tuple(x.shape)})"), 4))
        shape = tuple(x.numel() // known if s == -1 else s for s in shape)
    if _math.prod(shape) != x.numel():
        raise mark(with_user_line(RuntimeError(
            f"{op}: shape {shape} is invalid for input of size {x.numel()} (shape {tuple(x.shape)})"), 4))
    return shape


def reshape(input, *shape):
    """The same elements in a new shape (one size may be -1, inferred); a view when possible.

    >>> ember.reshape(ember.arange(6), (2, 3))
    tensor([[0, 1, 2],
            [3, 4, 5]])
    >>> ember.reshape(ember.arange(6), (-1, 2)).shape
    ember.Size([3, 2])
    """
    shape = _infer_minus_one("reshape", input, _shape_arg(shape))
    return input if shape == input._data.shape else apply("reshape", input, shape=shape)


def view(input, *shape):
    """Like reshape, but (as in PyTorch) refuses when the result cannot share memory with the input.

    >>> ember.view(ember.arange(6), 3, 2).shape
    ember.Size([3, 2])
    """
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        from .math import cast

        return cast(input, shape[0])  # view(dtype)
    shape = _infer_minus_one("view", input, _shape_arg(shape))
    if not _viewable(input._data, shape):
        raise mark(with_user_line(RuntimeError(
            f"view: shape {shape} is not compatible with the input's size and stride (shape "
            f"{tuple(input.shape)}, strides {tuple(input._data.strides)}): at least one dimension spans two "
            "contiguous subspaces. Use .reshape(...) instead (it copies when it must)."), 2))
    return input if shape == input._data.shape else apply("reshape", input, shape=shape)


def _viewable(arr, shape) -> bool:
    if arr.flags.c_contiguous or arr.size == 0:
        return True
    try:  # NumPy says whether a no-copy reshape exists
        v = arr.view()
        v.shape = shape
        return True
    except AttributeError:
        return False


def flatten(input, start_dim=0, end_dim=-1):
    """Dims ``start_dim`` .. ``end_dim`` merged into one.

    >>> ember.flatten(ember.ones(2, 3, 4), start_dim=1).shape
    ember.Size([2, 12])
    """
    if input.ndim == 0:
        return reshape(input, 1)
    s, e = start_dim % input.ndim, end_dim % input.ndim
    shape = tuple(input.shape[:s]) + (_math.prod(input.shape[s:e + 1]),) + tuple(input.shape[e + 1:])
    return reshape(input, shape)


def unflatten(input, dim, sizes):
    """Dim ``dim`` split into ``sizes`` (the inverse of ``flatten``).

    >>> ember.unflatten(ember.ones(2, 12), 1, (3, 4)).shape
    ember.Size([2, 3, 4])
    """
    dim = dim % input.ndim
    return reshape(input, tuple(input.shape[:dim]) + tuple(sizes) + tuple(input.shape[dim + 1:]))


def squeeze(input, dim=None):
    """Size-1 dims removed (all of them, or only ``dim``).

    >>> ember.squeeze(ember.ones(1, 3, 1)).shape
    ember.Size([3])
    >>> ember.squeeze(ember.ones(1, 3, 1), 0).shape
    ember.Size([3, 1])
    """
    if dim is None:
        shape = tuple(s for s in input.shape if s != 1)
    else:
        nd = max(input.ndim, 1)
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        for d in dims:
            if not -nd <= d < nd:
                raise mark(with_user_line(IndexError(
                    f"squeeze: dim {d} is out of range for a tensor of shape {tuple(input.shape)} (expected a dim "
                    f"in [{-nd}, {nd - 1}]); check which dim you meant against x.shape (squeeze() with no dim "
                    "removes every size-1 dim)"), 2))
        dims = {d % nd for d in dims}
        shape = tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1))
    return input if shape == input._data.shape else apply("reshape", input, shape=shape)


def unsqueeze(input, dim):
    """A size-1 dim inserted at position ``dim``.

    >>> ember.unsqueeze(ember.tensor([1, 2]), 1)
    tensor([[1],
            [2]])
    """
    nd = input.ndim + 1
    if not -nd <= dim < nd:
        raise mark(with_user_line(IndexError(
            f"unsqueeze: dim {dim} is out of range for a tensor of shape {tuple(input.shape)} (expected a dim in "
            f"[{-nd}, {nd - 1}])"), 2))
    shape = list(input.shape)
    shape.insert(dim % nd, 1)
    return apply("reshape", input, shape=tuple(shape))


def permute(input, *dims):
    """The dims reordered as ``dims`` (a view).

    >>> ember.permute(ember.ones(2, 3, 4), (2, 0, 1)).shape
    ember.Size([4, 2, 3])
    """
    dims = _shape_arg(dims)
    if len(dims) != input.ndim or sorted(d % max(input.ndim, 1) for d in dims) != list(range(input.ndim)):
        raise mark(with_user_line(RuntimeError(
            f"permute: dims {dims} are not a permutation of the {input.ndim} dims of shape {tuple(input.shape)}"), 2))
    perm = tuple(d % input.ndim for d in dims)
    return input if perm == tuple(range(input.ndim)) else apply("permute", input, perm=perm)


def transpose(input, dim0, dim1):
    """Dims ``dim0`` and ``dim1`` swapped (a view); ``swapaxes`` and ``swapdims`` are the same function.

    >>> ember.transpose(ember.ones(2, 3, 4), 0, 2).shape
    ember.Size([4, 3, 2])
    """
    nd = max(input.ndim, 1)
    for d in (dim0, dim1):
        if not -nd <= d < nd:
            raise mark(with_user_line(IndexError(
                f"transpose: dim {d} is out of range for a tensor of shape {tuple(input.shape)}"), 2))
    if input.ndim < 2:
        return input
    perm = list(range(input.ndim))
    perm[dim0 % nd], perm[dim1 % nd] = perm[dim1 % nd], perm[dim0 % nd]
    return apply("permute", input, perm=tuple(perm))


swapaxes = swapdims = transpose


def t(input):
    """The transpose of a tensor of at most 2 dims (0-d and 1-d inputs come back as they are).

    >>> ember.t(ember.tensor([[1, 2, 3]]))
    tensor([[1],
            [2],
            [3]])
    """
    if input.ndim > 2:
        raise mark(with_user_line(RuntimeError(
            f"t() expects a tensor with <= 2 dims, got shape {tuple(input.shape)}; use .mT or .transpose()"), 2))
    return transpose(input, 0, 1) if input.ndim == 2 else input


def movedim(input, source, destination):
    """Dim(s) ``source`` moved to position(s) ``destination``, the others keeping their order.

    >>> ember.movedim(ember.ones(2, 3, 4), 0, -1).shape
    ember.Size([3, 4, 2])
    """
    src = [s % input.ndim for s in ((source,) if isinstance(source, int) else source)]
    dst = [d % input.ndim for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, *order)


def expand(input, *sizes):
    """A broadcast view with size-1 dims stretched to ``sizes`` (-1 keeps a dim); no copy.

    >>> ember.expand(ember.tensor([[1], [2]]), 2, 3)
    tensor([[1, 1, 1],
            [2, 2, 2]])
    """
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise mark(with_user_line(RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be >= the tensor's dims ({input.ndim}, shape "
            f"{tuple(input.shape)})"), 2))
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return input if shape == input._data.shape else apply("expand", input, shape=shape)


def expand_as(input, other):
    """``expand`` to ``other``'s shape.

    >>> ember.expand_as(ember.tensor([1, 2]), ember.ones(3, 2)).shape
    ember.Size([3, 2])
    """
    return expand(input, tuple(other.shape))


def broadcast_to(input, shape):
    """``input`` broadcast to ``shape`` (as ``expand``).

    >>> ember.broadcast_to(ember.tensor([1, 2]), (2, 2))
    tensor([[1, 2],
            [1, 2]])
    """
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors):
    """The tensors broadcast against each other to one common shape.

    >>> a, b = ember.broadcast_tensors(ember.ones(2, 1), ember.ones(3))
    >>> a.shape, b.shape
    (ember.Size([2, 3]), ember.Size([2, 3]))
    """
    from ..ops.shape import broadcast_shapes

    shape = broadcast_shapes("broadcast_tensors", *[tuple(t.shape) for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def repeat(input, *sizes):
    """PyTorch's repeat (NumPy's tile): an expand of an unsqueezed view, then a reshape.

    >>> ember.repeat(ember.tensor([1, 2]), 2, 2)
    tensor([[1, 2, 1, 2],
            [1, 2, 1, 2]])
    """
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise mark(with_user_line(RuntimeError(
            f"repeat: the number of repeats ({len(sizes)}) can't be smaller than the tensor's dims ({input.ndim})"),
            2))
    x = reshape(input, (1,) * (len(sizes) - input.ndim) + tuple(input.shape))
    inter = []
    for s in x.shape:
        inter += [1, s]
    x = reshape(x, tuple(inter))
    target = []
    for r, s in zip(sizes, x.shape[1::2]):
        target += [r, s]
    x = expand(x, tuple(target))
    return reshape(x, tuple(r * s for r, s in zip(sizes, x.shape[1::2])))


def tile(input, dims):
    """``input`` repeated ``dims`` times along each dim (leading 1s are added when ``dims`` is shorter).

    >>> ember.tile(ember.tensor([1, 2]), (2,))
    tensor([1, 2, 1, 2])
    """
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, *dims)


def repeat_interleave(input, repeats, dim=None):
    """Each element repeated ``repeats`` times along ``dim`` (the flattened input when ``dim`` is None).
    Unlike PyTorch, ``repeats`` must be an int (per-element counts are not supported).

    >>> ember.repeat_interleave(ember.tensor([1, 2]), 2)
    tensor([1, 1, 2, 2])
    >>> ember.repeat_interleave(ember.tensor([[1, 2], [3, 4]]), 2, dim=0)
    tensor([[1, 2],
            [1, 2],
            [3, 4],
            [3, 4]])
    """
    if dim is None:
        input, dim = input.reshape(-1), 0
    dim = dim % input.ndim
    x = unsqueeze(input, dim + 1)
    shape = list(x.shape)
    shape[dim + 1] = repeats
    x = expand(x, tuple(shape))
    return flatten(x, dim, dim + 1)


def flip(input, dims):
    """The order of the elements reversed along ``dims``.

    >>> ember.flip(ember.tensor([[1, 2], [3, 4]]), (1,))
    tensor([[2, 1],
            [4, 3]])
    """
    dims = {d % max(input.ndim, 1) for d in ((dims,) if isinstance(dims, int) else dims)}
    return input[tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(input.ndim))]


def fliplr(input):
    """The columns reversed (dim 1).

    >>> ember.fliplr(ember.tensor([[1, 2], [3, 4]]))
    tensor([[2, 1],
            [4, 3]])
    """
    return flip(input, 1)


def flipud(input):
    """The rows reversed (dim 0).

    >>> ember.flipud(ember.tensor([[1, 2], [3, 4]]))
    tensor([[3, 4],
            [1, 2]])
    """
    return flip(input, 0)


def roll(input, shifts, dims=None):
    """Elements shifted by ``shifts`` along ``dims``, wrapping around (the flattened input when ``dims`` is None).

    >>> ember.roll(ember.tensor([1, 2, 3, 4]), 1)
    tensor([4, 1, 2, 3])
    """
    if dims is None:
        return roll(input.reshape(-1), shifts, 0).reshape(tuple(input.shape))
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    out = input
    for s, d in zip(shifts, dims):
        n = out.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            out = cat([narrow(out, d, n - s, s), narrow(out, d, 0, n - s)], d)
    return out


def narrow(input, dim, start, length):
    """``length`` entries of ``dim`` from ``start`` (a view).

    >>> ember.narrow(ember.tensor([[1, 2, 3], [4, 5, 6]]), 1, 1, 2)
    tensor([[2, 3],
            [5, 6]])
    """
    dim = dim % input.ndim
    n = input.shape[dim]
    start = start % n if start < 0 else start
    if start + length > n or length < 0:
        raise mark(with_user_line(IndexError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of dim {dim}"), 2))
    return input[(slice(None),) * dim + (slice(start, start + length),)]


def cat(tensors, dim=0):
    """The tensors joined along an existing dim (``concat``/``concatenate`` are the same function; ``axis`` is
    accepted as the NumPy-style alias of ``dim``, as in torch, by ``ember/_numpy_names.py``).

    >>> ember.cat([ember.tensor([[1, 2]]), ember.tensor([[3, 4]])])
    tensor([[1, 2],
            [3, 4]])
    >>> ember.cat([ember.ones(2, 1), ember.zeros(2, 2)], axis=1).shape
    ember.Size([2, 3])
    """
    tensors = list(tensors)
    if not tensors:
        raise mark(with_user_line(ValueError("cat: expected a non-empty list of tensors"), 2))
    # PyTorch skips 1-D empty tensors of any shape (legacy behaviour people rely on)
    nonempty = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    nd = max(nonempty[0].ndim, 1)
    if not -nd <= dim < nd:
        raise mark(with_user_line(IndexError(
            f"cat: dim {dim} is out of range for tensors of shape {tuple(nonempty[0].shape)}"), 2))
    if len(nonempty) == 1:
        return nonempty[0]
    return apply("cat", *_promoted(nonempty), axis=dim % nd)


def _promoted(tensors):
    """Cast to the common dtype by PyTorch's rules (NumPy's concatenate would promote int64 + float32 to float64)."""
    if len({t._data.dtype for t in tensors}) == 1:
        return tensors
    from .. import dtypes
    from .math import cast

    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = dtypes.promote(dt, t.dtype)
    return [cast(t, dt) for t in tensors]


concat = concatenate = cat


def stack(tensors, dim=0):
    """The tensors (all of one shape) joined along a new dim ``dim``.

    >>> ember.stack([ember.tensor([1, 2]), ember.tensor([3, 4])], dim=1)
    tensor([[1, 3],
            [2, 4]])
    """
    tensors = list(tensors)
    if not tensors:
        raise mark(with_user_line(ValueError("stack: expected a non-empty list of tensors"), 2))
    ref = tuple(tensors[0].shape)
    for i, t in enumerate(tensors[1:], 1):
        if tuple(t.shape) != ref:
            raise mark(with_user_line(RuntimeError(
                f"stack expects each tensor to be equal size, but got {ref} at entry 0 and {tuple(t.shape)} at "
                f"entry {i}"), 2))
    nd = len(ref) + 1
    if not -nd <= dim < nd:
        raise mark(with_user_line(IndexError(f"stack: dim {dim} out of range for {nd}-d result"), 2))
    return apply("cat", *_promoted([unsqueeze(t, dim) for t in tensors]), axis=dim % nd)


def hstack(tensors):
    """The tensors joined column-wise (dim 1; dim 0 for 1-D tensors).

    >>> ember.hstack([ember.tensor([1, 2]), ember.tensor([3])])
    tensor([1, 2, 3])
    """
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """The tensors joined row-wise (1-D tensors become rows).

    >>> ember.vstack([ember.tensor([1, 2]), ember.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    """
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in tensors], 0)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size_or_sections`` entries along ``dim`` (an int: equal pieces, the last may be
    shorter; a list: those sizes).

    >>> ember.split(ember.arange(5), 2)
    (tensor([0, 1]), tensor([2, 3]), tensor([4]))
    >>> ember.split(ember.arange(5), [1, 4])
    (tensor([0]), tensor([1, 2, 3, 4]))
    """
    dim = dim % max(tensor.ndim, 1)
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise mark(with_user_line(ValueError(f"split: split_size must be positive, got {step}"), 2))
        sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise mark(with_user_line(RuntimeError(
                f"split: sections {sizes} sum to {sum(sizes)} but dim {dim} has size {n}"), 2))
    out, start = [], 0
    for s in sizes:
        out.append(narrow(tensor, dim, start, s))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """``chunks`` pieces of (nearly) equal size along ``dim`` (possibly fewer, as in PyTorch).

    >>> ember.chunk(ember.arange(6), 3)
    (tensor([0, 1]), tensor([2, 3]), tensor([4, 5]))
    """
    n = input.shape[dim]
    return split(input, max(-(-n // chunks), 1), dim)


def tensor_split(input, indices_or_sections, dim=0):
    """Pieces along ``dim``: ``n`` pieces whose sizes differ by at most one, or cut at the given indices.

    >>> ember.tensor_split(ember.arange(5), 2)
    (tensor([0, 1, 2]), tensor([3, 4]))
    >>> ember.tensor_split(ember.arange(5), [1, 3])
    (tensor([0]), tensor([1, 2]), tensor([3, 4]))
    """
    n = input.shape[dim]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    else:
        bounds = [0] + list(indices_or_sections) + [n]
        sizes = [b - a for a, b in zip(bounds, bounds[1:])]
    return split(input, sizes, dim)


def unbind(input, dim=0):
    """The slices along ``dim`` as a tuple (that dim removed).

    >>> ember.unbind(ember.tensor([[1, 2], [3, 4]]))
    (tensor([1, 2]), tensor([3, 4]))
    """
    dim = dim % input.ndim
    return tuple(input[(slice(None),) * dim + (i,)] for i in range(input.shape[dim]))


def atleast_1d(x):
    """A 0-d tensor as a 1-element 1-D tensor; others unchanged.

    >>> ember.atleast_1d(ember.tensor(3.0))
    tensor([3.])
    """
    return x.reshape(1) if x.ndim == 0 else x


def atleast_2d(x):
    """A 0-d or 1-D tensor with leading size-1 dims added up to 2 dims; others unchanged.

    >>> ember.atleast_2d(ember.tensor([1, 2])).shape
    ember.Size([1, 2])
    """
    return x.reshape(1, -1) if x.ndim < 2 else x


def contiguous(input):
    """``input`` laid out contiguously (the tensor itself when it already is).

    >>> ember.contiguous(ember.ones(2, 3).t()).is_contiguous()
    True
    """
    return input if input._data.flags.c_contiguous else apply("copy", input)


def clone(input, memory_format=None):
    """A copy of ``input`` with its own storage (differentiable: gradients flow back to ``input``).

    >>> x = ember.tensor([1.0, 2.0])
    >>> y = ember.clone(x)
    >>> y.add_(1.0)
    tensor([2., 3.])
    >>> x
    tensor([1., 2.])
    """
    return apply("copy", input)


def pad(input, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad: ``pad`` lists (left, right) pairs starting from the last dim.

    >>> ember.pad(ember.tensor([[1, 2]]), (1, 2), value=0)
    tensor([[0, 1, 2, 0, 0]])
    >>> ember.pad(ember.tensor([[1.0, 2.0, 3.0]]), (2, 0), mode="reflect")
    tensor([[3., 2., 1., 2., 3.]])
    """
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise mark(with_user_line(ValueError(
            f"pad: padding {tuple(pad)} must have an even length of at most 2 * {input.ndim} (input shape "
            f"{tuple(input.shape)})"), 2))
    pairs = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        pairs[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        return apply("pad", input, pads=tuple(pairs), value=float(value))
    if mode in ("reflect", "replicate", "circular"):
        return _pad_by_indexing(input, pairs, mode)
    raise ValueError(f"pad: unknown mode {mode!r}; use 'constant', 'reflect', 'replicate' or 'circular'")


def _pad_by_indexing(x, pairs, mode):
    from ..creation import arange

    for d, (b, a) in enumerate(pairs):
        if not (b or a):
            continue
        n = x.shape[d]
        idx = arange(-b, n + a)
        if mode == "reflect":
            period = 2 * (n - 1)
            idx = idx.abs() % period
            idx = (idx >= n).long() * (period - 2 * idx) + idx
        elif mode == "replicate":
            idx = idx.clamp(0, n - 1)
        else:
            idx = idx % n
        x = x.index_select(d, idx)
    return x
