"""``keras.ops.numpy`` creation, shape, joining, splitting and indexing ops.

>>> from ember.keras import ops
>>> ops.convert_to_numpy(ops.tril(ops.ones((3, 3)))).tolist()
[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember import functional as F

from ._common import Tensor, axes_of, edtype, fail, floatx, standardize_dtype, t, tf, to_numpy, wrap, xp_of


def _dt(dtype, default=None):
    return standardize_dtype(dtype) if dtype is not None else (default or floatx())


# -- creation ---------------------------------------------------------------------------------------------------
def array(x, dtype=None):
    return t(x, dtype)


def copy(x):
    return F.clone(t(x))


def zeros(shape, dtype=None):
    return t(np.zeros(shape, _dt(dtype)))


def ones(shape, dtype=None):
    return t(np.ones(shape, _dt(dtype)))


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if isinstance(fill_value, Tensor):
        value = fill_value.to(edtype(dtype)) if dtype is not None else fill_value
        return F.broadcast_to(value, shape) * 1
    return t(np.full(shape, fill_value, _dt(dtype)))


def _like(x, dtype):
    x = t(x)
    return tuple(x.shape), standardize_dtype(dtype) if dtype is not None else x.dtype.name


def zeros_like(x, dtype=None):
    shape_, dt = _like(x, dtype)
    return zeros(shape_, dt)


def ones_like(x, dtype=None):
    shape_, dt = _like(x, dtype)
    return ones(shape_, dt)


empty_like = zeros_like


def full_like(x, fill_value, dtype=None):
    shape_, dt = _like(x, dtype)
    return full(shape_, fill_value, dt)


def arange(start, stop=None, step=None, dtype=None):
    step = 1 if step is None else step
    if dtype is None:
        floaty = builtins.any(isinstance(v, float) for v in (start, stop, step))
        dtype = floatx() if floaty else "int32"
    return t(np.arange(start, stop, step, dtype=standardize_dtype(dtype)))


def eye(N, M=None, k=0, dtype=None):
    return t(np.eye(N, M, k, dtype=_dt(dtype)))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    return t(np.tri(N, M, k, dtype=_dt(dtype)))


def _spaced(start, stop, num, endpoint, axis, fn):
    """``fn(fractions)`` for num fractions in [0, 1], with tensor ``start`` / ``stop`` broadcast (differentiable)."""
    step_count = builtins.max(num - 1 if endpoint else num, 1)
    frac = np.arange(num, dtype=np.float64) / step_count
    start, stop = tf(start), tf(stop)
    shape_ = np.broadcast_shapes(tuple(start.shape), tuple(stop.shape))
    frac_t = wrap(xp_of(start).asarray(frac.reshape((num,) + (1,) * len(shape_)).astype(start.dtype.name)), start)
    out = fn(start, stop, frac_t)
    return F.movedim(out, 0, axis) if axis != 0 else out


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    out = _spaced(start, stop, num, endpoint, axis, lambda a, b, f: a + (b - a) * f)
    if dtype is not None:
        out = out.to(edtype(dtype))
    if retstep:
        return out, (tf(stop) - tf(start)) / builtins.max(num - 1 if endpoint else num, 1)
    return out


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    out = float(base) ** linspace(start, stop, num, endpoint, axis=axis)
    return out.to(edtype(dtype)) if dtype is not None else out


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    out = _spaced(start, stop, num, endpoint, axis,
                  lambda a, b, f: F.sign(a) * F.exp(F.log(F.abs(a)) + (F.log(F.abs(b)) - F.log(F.abs(a))) * f))
    return out.to(edtype(dtype)) if dtype is not None else out


def meshgrid(*x, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise fail("meshgrid", f"indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [t(v).reshape(-1) for v in x]
    shape_ = tuple(int(v.shape[0]) for v in xs)
    grids = [F.broadcast_to(v.reshape(tuple(-1 if i == j else 1 for j in builtins.range(len(xs)))), shape_)
             for i, v in enumerate(xs)]
    if indexing == "xy" and len(xs) >= 2:  # Cartesian: the first two axes swapped
        grids = [g.swapaxes(0, 1) for g in grids]
    return grids


def diag(x, k=0):
    x = t(x)
    if x.ndim not in (1, 2):
        raise fail("diag", f"expects a 1-D or 2-D input, got shape {tuple(x.shape)}")
    return F.diag(x, k)


def diagflat(x, k=0):
    return F.diag(t(x).reshape(-1), k)


def diagonal(x, offset=0, axis1=0, axis2=1):
    return ember.linalg.diagonal(t(x), offset=offset, dim1=axis1, dim2=axis2)


def tril(x, k=0):
    return F.tril(t(x), k)


def triu(x, k=0):
    return F.triu(t(x), k)


def vander(x, N=None, increasing=False):
    x = t(x)
    n = int(x.shape[0]) if N is None else N
    powers = builtins.range(n) if increasing else builtins.range(n - 1, -1, -1)
    return F.stack([x**p for p in powers], 1)


def _window(fn):
    def op(x):
        return t(fn(int(x)).astype(floatx()))

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = f"The ``{fn.__name__}`` window of length ``x`` (a constant)."
    return op


bartlett, blackman, hamming, hanning = (_window(f) for f in (np.bartlett, np.blackman, np.hamming, np.hanning))


def kaiser(x, beta):
    return t(np.kaiser(int(x), float(beta)).astype(floatx()))


# -- shape ------------------------------------------------------------------------------------------------------
def shape(x):
    return tuple(t(x).shape)


def ndim(x):
    return t(x).ndim


def size(x):
    return builtins.int(np.prod(t(x).shape))


def reshape(x, newshape):
    newshape = (newshape,) if isinstance(newshape, int) else newshape
    return t(x).reshape(tuple(-1 if d is None else d for d in newshape))


def ravel(x):
    return t(x).reshape(-1)


def view(x, dtype=None):
    x = t(x)
    if dtype is None:
        return x
    return wrap(x._data.view(np.dtype(standardize_dtype(dtype))), x)


def transpose(x, axes=None):
    x = t(x)
    return x.permute(*(reversed(builtins.range(x.ndim)) if axes is None else axes))


def swapaxes(x, axis1, axis2):
    return F.swapaxes(t(x), axis1, axis2)


def moveaxis(x, source, destination):
    return F.movedim(t(x), source, destination)


def expand_dims(x, axis):
    x = t(x)
    for a in sorted(a % (x.ndim + len(_axis_list(axis))) for a in _axis_list(axis)):
        x = F.unsqueeze(x, a)
    return x


def _axis_list(axis):
    return [axis] if isinstance(axis, int) else list(axis)


def squeeze(x, axis=None):
    x = t(x)
    if axis is None:
        return F.squeeze(x)
    for a in sorted((a % x.ndim for a in _axis_list(axis)), reverse=True):
        if x.shape[a] != 1:
            raise fail("squeeze", f"cannot squeeze axis {a} of size {x.shape[a]} (shape {tuple(x.shape)})")
        x = F.squeeze(x, a)
    return x


def broadcast_to(x, shape):
    return F.broadcast_to(t(x), tuple(shape))


def flip(x, axis=None):
    x = t(x)
    return F.flip(x, axes_of(x, axis))


def fliplr(x):
    return F.flip(t(x), (1,))


def flipud(x):
    return F.flip(t(x), (0,))


def rot90(array, k=1, axes=(0, 1)):
    x = t(array)
    a, b = axes
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return F.flip(x, (a, b))
    if k == 1:
        return F.flip(x, (b,)).swapaxes(a, b)
    return F.flip(x.swapaxes(a, b), (b,))


def roll(x, shift, axis=None):
    x = t(x)
    if axis is None:
        return F.roll(x.reshape(-1), shift, 0).reshape(tuple(x.shape))
    return F.roll(x, shift, axis)


def tile(x, repeats):
    repeats = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    return F.tile(t(x), repeats)


def repeat(x, repeats, axis=None):
    x = t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    if not isinstance(repeats, int):
        repeats = t(repeats, "int64")
    return F.repeat_interleave(x, repeats, axis)


# -- joining and splitting --------------------------------------------------------------------------------------
def _same_dtype(xs):
    xs = [t(x) for x in xs]
    dts = {x.dtype for x in xs}
    if len(dts) > 1:
        common = xs[0]
        for x in xs[1:]:
            common = (common.reshape(-1)[:1] + x.reshape(-1)[:1]) if common.dtype.name != "bool" else x
        xs = [x.to(common.dtype) for x in xs]
    return xs


def concatenate(xs, axis=0):
    xs = _same_dtype(xs)
    if axis is None:
        return F.cat([x.reshape(-1) for x in xs], 0)
    return F.cat(xs, axis)


def append(x1, x2, axis=None):
    return concatenate([x1, x2], axis)


def stack(x, axis=0):
    return F.stack(_same_dtype(x), axis)


def hstack(xs):
    xs = _same_dtype(xs)
    return F.cat(xs, 0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    return F.cat([x.reshape(1, -1) if x.ndim == 1 else x for x in _same_dtype(xs)], 0)


def dstack(xs):
    xs = [x.reshape(1, -1, 1) if x.ndim == 1 else x.unsqueeze(-1) if x.ndim == 2 else x for x in _same_dtype(xs)]
    return F.cat(xs, 2)


def split(x, indices_or_sections, axis=0):
    x = t(x)
    if isinstance(indices_or_sections, int) and x.shape[axis] % indices_or_sections:
        raise fail("split", f"axis {axis} of size {x.shape[axis]} does not split into {indices_or_sections} "
                            "equal parts (use array_split for unequal parts)")
    return list(F.tensor_split(x, indices_or_sections, axis))


def array_split(x, indices_or_sections, axis=0):
    return list(F.tensor_split(t(x), indices_or_sections, axis))


def hsplit(x, indices_or_sections):
    x = t(x)
    return split(x, indices_or_sections, 0 if x.ndim == 1 else 1)


def vsplit(x, indices_or_sections):
    return split(x, indices_or_sections, 0)


def dsplit(x, indices_or_sections):
    return split(x, indices_or_sections, 2)


# -- indexing ---------------------------------------------------------------------------------------------------
def get_item(x, key):
    if isinstance(key, Tensor) and key.dtype.name != "bool":
        key = key.to(edtype("int64"))
    return t(x)[key]


def take(x, indices, axis=None):
    x, idx = t(x), t(indices, "int64")
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis %= x.ndim
    n = x.shape[axis]
    idx = F.where(idx < 0, idx + n, idx)
    out = F.index_select(x, axis, idx.reshape(-1))
    return out.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))


def take_along_axis(x, indices, axis=None):
    x, idx = t(x), t(indices, "int64")
    if axis is None:
        return F.take_along_dim(x.reshape(-1), idx.reshape(-1), 0)
    shape_ = list(np.broadcast_shapes(tuple(x.shape[:axis % x.ndim]) + (1,) + tuple(x.shape[axis % x.ndim + 1:]),
                                      tuple(idx.shape[:axis % x.ndim]) + (1,) + tuple(idx.shape[axis % x.ndim + 1:])))
    xs, ids = list(shape_), list(shape_)
    xs[axis % x.ndim], ids[axis % x.ndim] = x.shape[axis], idx.shape[axis]
    return F.take_along_dim(F.broadcast_to(x, tuple(xs)), F.broadcast_to(idx, tuple(ids)), axis)


def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise fail("select", f"condlist and choicelist differ in length ({len(condlist)} vs {len(choicelist)})")
    choices = [t(c) for c in choicelist]
    out = F.broadcast_to(t(default, choices[0].dtype.name if choices else None), tuple(choices[0].shape)) \
        if choices else t(default)
    for cond, choice in zip(reversed(condlist), reversed(choices)):
        out = F.where(t(cond), choice, out)
    return out


def nonzero(x):
    return tuple(i.to(edtype("int32")) for i in F.nonzero(t(x), as_tuple=True))


def unravel_index(indices, shape):
    idx = t(indices)
    out = np.unravel_index(to_numpy(idx), tuple(shape))
    return tuple(t(np.asarray(o, dtype=idx.dtype.name)) for o in out)


def pad(x, pad_width, mode="constant", constant_values=None):
    x = t(x)
    modes = {"constant": "constant", "reflect": "reflect", "symmetric": "symmetric", "edge": "replicate",
             "wrap": "circular"}
    if mode not in modes:
        raise fail("pad", f"unknown mode {mode!r}; expected one of {sorted(modes)}")
    if constant_values is not None and mode != "constant":
        raise fail("pad", f"constant_values only applies to mode='constant', got mode={mode!r}")
    width = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                            np.full((1, 2), pad_width), (x.ndim, 2))
    if mode == "symmetric":
        return _pad_symmetric(x, width)
    flat = []
    for before, after in reversed(width.tolist()):
        flat += [before, after]
    return F.pad(x, flat, modes[mode], 0 if constant_values is None else constant_values)


def _pad_symmetric(x, width):
    """Edge-including mirror padding: flipped slices concatenated on each side."""
    for axis, (before, after) in enumerate(width.tolist()):
        parts = []
        if before:
            parts.append(F.flip(F.narrow(x, axis, 0, before), (axis,)))
        parts.append(x)
        if after:
            parts.append(F.flip(F.narrow(x, axis, x.shape[axis] - after, after), (axis,)))
        x = F.cat(parts, axis) if len(parts) > 1 else x
    return x
