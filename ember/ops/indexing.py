"""Indexing primitives: getitem, index_put, gather, scatter_add.

An index is plain data (so the IR can print, export and save it): a tuple of ``("slice", start, stop, step)``,
``("int", i)``, ``None`` (new axis), ``("ellipsis",)`` and ``("tensor", k)`` for the k-th index tensor input.
"""
from __future__ import annotations

from ..dtypes import int64
from ._core import Aval, apply, register
from ._rules import check_axes
from .elementwise import unbroadcast


def build_key(index, idx_arrays):
    key = []
    for e in index:
        if e is None:
            key.append(None)
        elif e[0] == "slice":
            key.append(slice(e[1], e[2], e[3]))
        elif e[0] == "int":
            key.append(e[1])
        elif e[0] == "ellipsis":
            key.append(Ellipsis)
        else:
            key.append(idx_arrays[e[1]])
    return tuple(key)


def has_tensor(index) -> bool:
    return any(e is not None and e[0] == "tensor" for e in index)


def _zeros_like_shape(g, shape):
    from ..creation import zeros

    return zeros(*shape, dtype=g.dtype, device=g.device)


def _getitem_vjp(g, out, x, *idx, index):
    base = _zeros_like_shape(g, x.shape)
    return (apply("index_put", base, g, *idx, index=index, accumulate=has_tensor(index)),) + (None,) * len(idx)


def _index_put_fwd(xp, x, v, *idx, index, accumulate=False):
    out = x.copy()
    key = build_key(index, idx)
    if accumulate and has_tensor(index):
        xp.add.at(out, key, v)
    elif accumulate:
        out[key] += v
    else:
        out[key] = v
    return out


def _index_put_vjp(g, out, x, v, *idx, index, accumulate=False):
    gx = None
    if x.requires_grad:
        gx = g if accumulate else apply("index_put", g, g.new_zeros(()), *idx, index=index, accumulate=False)
    gv = unbroadcast(apply("getitem", g, *idx, index=index), v.shape, v.dtype) if v.requires_grad else None
    return (gx, gv) + (None,) * len(idx)


def _indexed_shape(x, idx, index, nmask):
    """The shape ``x[index]`` has, from shapes alone (a bool mask is taken to select ``nmask`` elements)."""
    import numpy as np

    key = []
    for k in build_key(index, [np.zeros(a.shape, bool if a.dtype.category == 0 else np.intp) for a in idx]):
        if isinstance(k, np.ndarray) and k.dtype == bool:  # NumPy turns a k-dim mask into k index arrays
            key.extend([np.zeros(nmask, np.intp) for _ in range(k.ndim)] if k.ndim else [np.ones((), bool)])
        else:
            key.append(k)
    return np.broadcast_to(np.zeros((), np.int8), x.shape)[tuple(key)].shape


def _index_rule(name):
    def rule(x, *idx, index, **_):
        if name == "index_put":
            idx = idx[1:]  # index_put(x, values, *index_tensors)
        for a in idx:
            if a.dtype.category == 2:
                raise IndexError(f"{name}: tensors used as indices must be integer or bool, got {a.dtype.name}")
        if name == "index_put":
            return Aval(x.shape, x.dtype, x.device)
        # a bool mask's count is data-dependent: the dims that change with it are unknown (None)
        try:
            try:
                s1, s2 = _indexed_shape(x, idx, index, 1), _indexed_shape(x, idx, index, 2)
            except IndexError:
                s1 = s2 = _indexed_shape(x, idx, index, 0)  # masks over empty dims select nothing
        except (IndexError, ValueError) as e:
            raise IndexError(f"{name}: {e} (tensor shape {x.shape})") from None
        return Aval(tuple(a if a == b else None for a, b in zip(s1, s2)), x.dtype, x.device)

    return rule


def _grid_key(xp, idx, axis):
    key = []
    for d, n in enumerate(idx.shape):
        if d == axis:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _gather_rule(x, idx, axis):
    ax = check_axes("gather", x, axis)[0]
    if idx.dtype is not int64 and idx.dtype.category != 1:
        raise TypeError(f"gather: index must be an integer tensor, got {idx.dtype.name}")
    if idx.ndim != x.ndim:
        raise RuntimeError(f"gather: index {idx.shape} and input {x.shape} must have the same number of dims")
    for d, (a, b) in enumerate(zip(idx.shape, x.shape)):
        if d != ax and a > b:
            raise RuntimeError(f"gather: index size {a} exceeds input size {b} in dim {d} (index {idx.shape}, "
                               f"input {x.shape})")
    return Aval(idx.shape, x.dtype, x.device)


def _gather_fwd(xp, x, idx, axis):
    n = x.shape[axis]
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"gather: index out of range for dim {axis} of size {n} "
                         f"(indices span {int(idx.min())}..{int(idx.max())})")
    region = tuple(slice(0, s) if d != axis else slice(None) for d, s in enumerate(idx.shape))
    return xp.take_along_axis(x[region], idx, axis=axis)


def _gather_vjp(g, out, x, idx, axis):
    return (apply("scatter_add", _zeros_like_shape(g, x.shape), idx, g, axis=axis), None)


def _scatter_add_fwd(xp, x, idx, src, axis):
    out = x.copy()
    region = tuple(slice(0, s) for s in idx.shape)
    xp.add.at(out, _grid_key(xp, idx, axis), src[region])
    return out


def _scatter_add_vjp(g, out, x, idx, src, axis):
    gs = None
    if src.requires_grad:
        gs = apply("gather", g, idx, axis=axis)
        if tuple(gs.shape) != tuple(src.shape):
            gs = apply("pad", gs, pads=tuple((0, s - i) for s, i in zip(src.shape, gs.shape)), value=0.0)
    return (g if x.requires_grad else None, None, gs)


def _getitem_fwd(xp, x, *idx, index):
    return x[build_key(index, idx)]


register("getitem", _getitem_fwd, vjp=_getitem_vjp, infer=_index_rule("getitem"), saves="rest", kind="index")
register("index_put", _index_put_fwd, vjp=_index_put_vjp, infer=_index_rule("index_put"), saves="rest",
         kind="index")
register("gather", _gather_fwd, vjp=_gather_vjp, infer=_gather_rule, saves=(1,), kind="index")
register("scatter_add", _scatter_add_fwd, vjp=_scatter_add_vjp, saves=(1,),
         infer=lambda x, idx, src, axis: _gather_rule(x, idx, axis) and Aval(x.shape, x.dtype, x.device),
         kind="index")
