"""Indexing primitives: getitem, index_put, gather, scatter_add.

An index is plain data (so the IR can print, export and save it): a tuple of ``("slice", start, stop, step)``,
``("int", i)``, ``None`` (new axis), ``("ellipsis",)`` and ``("tensor", k)`` for the k-th index tensor input.
"""
from __future__ import annotations

import numpy as np

from ..dtypes import int64
from . import _onnx, _tflite, row_loops
from ._core import Aval, Unsupported, apply, register, register_lowering, unsupported
from ._rules import broadcast_shapes, check_axes, differ
from .elementwise import unbroadcast

zeros = None  # installed by ember/_wiring.py (pieces of higher layers)


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
    return zeros(*shape, dtype=g.dtype, device=g.device)


def _getitem_vjp(g, out, x, *idx, index):
    base = _zeros_like_shape(g, x.shape)
    return (apply("index_put", base, g, *idx, index=index, accumulate=has_tensor(index)),) + (None,) * len(idx)


def _index_put_fwd(xp, x, v, *idx, index, accumulate=False):
    out = x.copy()
    if v.dtype.kind == "c" and x.dtype.kind != "c":  # PyTorch's rule: a real tensor takes the real part
        v = v.real
    key = build_key(index, idx)
    if accumulate and has_tensor(index):
        if not _rows_added(xp, x, out, v, idx, index):
            xp.add.at(out, key, v)
    elif accumulate:
        out[key] += v
    else:
        out[key] = v
    return out


def _rows_added(xp, x, out, v, idx, index) -> bool:
    """An embedding's backward (rows of ``v`` summed into a 2-D float ``out`` at one integer index tensor) as
    one compiled pass (``row_loops.rows_add``); False where it does not apply (``np.add.at`` runs instead,
    also to raise its error for an index out of range)."""
    if not (xp is np and index == (("tensor", 0),) and out.ndim == 2 and out.dtype.char in "fd"
            and v.dtype == out.dtype and idx[0].dtype.kind in "iu" and v.shape == idx[0].shape + out.shape[1:]):
        return False
    loop = row_loops.rows_add()
    if loop is None:
        return False
    flat_v = np.ascontiguousarray(v).reshape(idx[0].size, out.shape[1])
    if loop(out, flat_v, np.ascontiguousarray(idx[0]).reshape(-1)) == 0:
        return True
    out[...] = x  # an index out of range: back to the start, for np.add.at to raise its IndexError
    return False


def _index_put_vjp(g, out, x, v, *idx, index, accumulate=False):
    gx = None
    if x.requires_grad:
        gx = g if accumulate else apply("index_put", g, g.new_zeros(()), *idx, index=index, accumulate=False)
    gv = unbroadcast(apply("getitem", g, *idx, index=index), v.shape, v.dtype) if v.requires_grad else None
    return (gx, gv) + (None,) * len(idx)


def _slice_len(n, start, stop, step):
    if n is None:
        return None
    return len(range(*slice(start, stop, step).indices(n)))


def _expand_ellipsis(ndim, index, idx):
    """The index with its ellipsis (or the implicit trailing one) replaced by full slices."""
    used = sum(0 if e is None or e[0] == "ellipsis" else
               (idx[e[1]].ndim if e[0] == "tensor" and idx[e[1]].dtype.category == 0 else 1) for e in index)
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but {used} were indexed")
    full = ("slice", None, None, None)
    out, seen = [], False
    for e in index:
        if e is not None and e[0] == "ellipsis" and not seen:
            out.extend([full] * (ndim - used))
            seen = True
        elif e is None or e[0] != "ellipsis":
            out.append(e)
    return out + ([] if seen else [full] * (ndim - used))


def index_result_shape(shape, index, idx):
    """The shape ``x[index]`` has (NumPy's rules), from shapes alone; dims that depend on data (the count of
    a bool mask) or on an unknown size are None. ``idx`` are the avals of the index tensors."""
    entries = _expand_ellipsis(len(shape), index, idx)
    advanced = any(e is not None and e[0] == "tensor" for e in entries)
    out, adv_shapes, adv_at, d, gap = [], [], [], 0, False
    for e in entries:
        if e is None:
            out.append(1)
            gap = gap or bool(adv_at)
            continue
        kind = e[0]
        if kind == "slice":
            out.append(_slice_len(shape[d], *e[1:]))
            gap = gap or bool(adv_at)
            d += 1
            continue
        if kind == "int":
            n = shape[d]
            if n is not None and not -n <= e[1] < n:
                raise IndexError(f"index {e[1]} is out of bounds for axis {d} with size {n}")
            d += 1
            if not advanced:
                continue
            ishape = ()
        else:
            a = idx[e[1]]
            if a.dtype.category == 0 and a.ndim:  # a bool mask: its dims are replaced by one of unknown count
                for k, m in enumerate(a.shape):
                    if differ(m, shape[d + k]):
                        raise IndexError(f"boolean index did not match indexed array along axis {d + k}; size of "
                                         f"axis is {shape[d + k]} but size of corresponding boolean axis is {m}")
                ishape, d = (None,), d + a.ndim
            else:
                ishape, d = tuple(a.shape) if a.dtype.category else (None,), d + (1 if a.dtype.category else 0)
        if adv_at and gap:
            adv_at.append(None)  # advanced indices separated by a slice: NumPy puts their dims first
        adv_at.append(len(out))
        adv_shapes.append(ishape)
    if not advanced:
        return tuple(out)
    try:
        bshape = broadcast_shapes("index", *adv_shapes)
    except ValueError:
        shown = " ".join(str(s) for s in adv_shapes)
        raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together with shapes {shown}") \
            from None
    at = 0 if None in adv_at else adv_at[0]
    return tuple(out[:at]) + bshape + tuple(out[at:])


def _index_rule(name):
    def rule(x, *idx, index, **_):
        if name == "index_put":
            idx = idx[1:]  # index_put(x, values, *index_tensors)
        for a in idx:
            if a.dtype.category == 2:
                raise IndexError(f"{name}: tensors used as indices must be integer or bool, got {a.dtype.name}")
        try:
            shape = index_result_shape(x.shape, index, idx)
        except IndexError as e:
            raise IndexError(f"{name}: {e} (tensor shape {x.shape})") from None
        return Aval(x.shape if name == "index_put" else shape, x.dtype, x.device)

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
        if d != ax and a is not None and b is not None and a > b:
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


# getitem's result is a view for basic indexing (the memory planner's ``aliases``); eager version counters are
# not shared with it (advanced indexing copies)
register("getitem", _getitem_fwd, vjp=_getitem_vjp, infer=_index_rule("getitem"), saves="rest", kind="index",
         aliases=True, complex_ok=True)
register("index_put", _index_put_fwd, vjp=_index_put_vjp, infer=_index_rule("index_put"), saves="rest",
         kind="index", complex_ok=True)
register("gather", _gather_fwd, vjp=_gather_vjp, infer=_gather_rule, saves=(1,), kind="index", complex_ok=True)
register("scatter_add", _scatter_add_fwd, vjp=_scatter_add_vjp, saves=(1,),
         infer=lambda x, idx, src, axis: _gather_rule(x, idx, axis) and Aval(x.shape, x.dtype, x.device),
         kind="index", complex_ok=True)


# -- ONNX ------------------------------------------------------------------------------------------------------
def _avals(node):
    from ..dtypes import from_name

    return [Aval(v.shape, from_name(v.dtype)) for v in node.inputs[1:]]


def _slice_bounds(start, stop, step):
    step = 1 if step is None else step
    if step > 0:
        return (0 if start is None else start), (_onnx.INT64_MAX if stop is None else stop), step
    return (_onnx.INT64_MAX if start is None else start), (-_onnx.INT64_MAX - 1 if stop is None else stop), step


def _basic_slices(ctx, x, entries, avals, ints_too):
    """One Slice for every sliced (and, when ``ints_too``, int-indexed) input dim; returns (name, int dims)."""
    axes, starts, ends, steps, int_dims, d = [], [], [], [], [], 0
    for e in entries:
        if e is None:
            continue
        if e[0] == "tensor":  # a bool mask spans its ndim dims
            a = avals[e[1]]
            d += a.ndim if a.dtype.category == 0 else 1
            continue
        if e[0] == "slice" and e[1:] not in ((None, None, None), (None, None, 1)):
            b, a, s = _slice_bounds(*e[1:])
            axes.append(d), starts.append(b), ends.append(a), steps.append(s)
        elif e[0] == "int" and ints_too:
            axes.append(d), starts.append(e[1]), ends.append(e[1] + 1 if e[1] != -1 else _onnx.INT64_MAX)
            steps.append(1), int_dims.append(d)
        d += 1
    if axes:
        x = ctx.emit("Slice", [x, ctx.ints(starts), ctx.ints(ends), ctx.ints(axes), ctx.ints(steps)])
    return x, int_dims


def _advanced_rows(ctx, node, entries, avals):
    """Entries with each k-dim bool mask replaced by k int64 index rows (NonZero) and ints by scalar indices."""
    out = []
    for e in entries:
        if e is not None and e[0] == "tensor":
            a, name = avals[e[1]], ctx.input(node, 1 + e[1])
            if a.dtype.category == 0:
                if a.ndim == 0:
                    raise _onnx_unsupported("a 0-d bool index")
                rows = ctx.emit("NonZero", [name])
                for k in range(a.ndim):
                    out.append(("row", _onnx.squeeze(ctx, ctx.emit("Gather", [rows, ctx.ints([k])], axis=0), [0])))
                continue
            out.append(("row", ctx.cast(name, a.dtype.name, "int64")))
        elif e is not None and e[0] == "int":
            out.append(("row", ctx.scalar(e[1], "int64")))
        else:
            out.append(e)
    return out


def _onnx_unsupported(what):
    from ._core import Unsupported

    return Unsupported(f"{what} has no ONNX form here", "index with integer tensors or slices instead")


@register_lowering("getitem", "onnx")
def _getitem_onnx(ctx, node):
    x, avals = node.inputs[0], _avals(node)
    entries = _expand_ellipsis(x.ndim, node.attrs["index"], avals)
    advanced = any(e is not None and e[0] == "tensor" for e in entries)
    if not advanced:
        y, int_dims = _basic_slices(ctx, ctx.input(node, 0), entries, avals, ints_too=True)
        if int_dims:
            y = _onnx.squeeze(ctx, y, int_dims)
        new_axes, pos = [], 0
        for e in entries:
            if e is None:
                new_axes.append(pos)
            if e is None or e[0] == "slice":
                pos += 1
        if new_axes:
            y = _onnx.unsqueeze(ctx, y, new_axes)
        ctx.emit("Identity", [y], [ctx.output(node)])
        return
    if any(e is None for e in entries):
        raise _onnx_unsupported("new axes (None) mixed with tensor indices")
    y, _ = _basic_slices(ctx, ctx.input(node, 0), entries, avals, ints_too=False)
    rows = _advanced_rows(ctx, node, entries, avals)
    adv = [d for d, e in enumerate(rows) if e[0] == "row"]
    if len(adv) == 1:  # one index tensor: a Gather puts its dims where the indexed dim was, as NumPy does
        ctx.emit("Gather", [y, rows[adv[0]][1]], [ctx.output(node)], axis=adv[0])
        return
    _gather_nd(ctx, node, y, rows, adv)


def _gather_nd(ctx, node, y, rows, adv):
    """Several index tensors: move their dims to the front, broadcast the indices, GatherND, move back."""
    nd = len(rows)
    rest = [d for d in range(nd) if d not in adv]
    if adv != list(range(len(adv))):
        y = ctx.emit("Transpose", [y], perm=adv + rest)
    idx = [rows[d][1] for d in adv]
    zero = ctx.emit("Mul", [idx[0], ctx.scalar(0, "int64")])
    for other in idx[1:]:
        zero = ctx.emit("Add", [zero, ctx.emit("Mul", [other, ctx.scalar(0, "int64")])])
    cols = [_onnx.unsqueeze(ctx, ctx.emit("Add", [i, zero]), [-1]) for i in idx]
    gathered = ctx.emit("GatherND", [y, ctx.emit("Concat", cols, axis=-1)])
    nb = node.outputs[0].ndim - len(rest)
    adjacent = adv == list(range(adv[0], adv[0] + len(adv)))
    at = adv[0] if adjacent else 0  # NumPy: adjacent index dims stay in place, separated ones go first
    if at:
        perm = list(range(nb, nb + at)) + list(range(nb)) + list(range(nb + at, nb + len(rest)))
        gathered = ctx.emit("Transpose", [gathered], perm=perm)
    ctx.emit("Identity", [gathered], [ctx.output(node)])


@register_lowering("gather", "onnx")
def _gather_onnx(ctx, node):
    ctx.emit("GatherElements", [ctx.input(node, 0), ctx.input(node, 1)], [ctx.output(node)],
             axis=int(node.attrs["axis"]))


@register_lowering("scatter_add", "onnx")
def _scatter_add_onnx(ctx, node):
    from ._core import Unsupported

    if ctx.opset < 16:
        raise Unsupported("scatter_add needs ScatterElements with reduction='add'", "export with opset_version=16 "
                          "or later")
    x, idx, src = (ctx.input(node, i) for i in range(3))
    if node.inputs[1].shape != node.inputs[2].shape:  # the part of src that idx covers
        r = node.inputs[1].ndim
        src = ctx.emit("Slice", [src, ctx.ints([0] * r), ctx.emit("Shape", [idx]), ctx.ints(list(range(r)))])
    ctx.emit("ScatterElements", [x, idx, src], [ctx.output(node)], axis=int(node.attrs["axis"]), reduction="add")


unsupported("index_put", "onnx", "item assignment (x[key] = v) writes into a tensor; ONNX graphs have no "
            "in-place writes: build the result with ember.where / masked_fill / cat instead")


# TFLite: basic indexing as STRIDED_SLICE (+ EXPAND_DIMS); one index tensor with full slices elsewhere: GATHER
@register_lowering("getitem", "tflite")
def _getitem_tflite(ctx, node):
    index, v = node.attrs["index"], node.inputs[0]
    ins = ctx.inputs(node)
    items = _tflite_full_index(index, v.ndim)
    tensors = [i for i, e in enumerate(items) if e is not None and e[0] == "tensor"]
    if tensors:
        full = all(e == ("slice", None, None, None) for i, e in enumerate(items) if i not in tensors)
        if len(tensors) != 1 or not full or None in items:
            raise Unsupported(f"advanced index {index} (only one index tensor with full slices elsewhere maps "
                              "to GATHER)", "index one axis at a time, or export to ONNX")
        axis = tensors[0]
        ctx.emit("GATHER", [ins[0], ins[1 + items[axis][1]]], [ctx.output(node)], ctx.options("Gather", axis=axis))
        return
    _tflite_strided_slice(ctx, node, items, ins[0])


def _tflite_full_index(index, ndim):
    items = list(index)
    used = sum(1 for e in items if e is not None and e[0] != "ellipsis")
    if any(e is not None and e[0] == "ellipsis" for e in items):
        k = next(i for i, e in enumerate(items) if e is not None and e[0] == "ellipsis")
        items[k:k + 1] = [("slice", None, None, None)] * (ndim - used)
    items += [("slice", None, None, None)] * (ndim - sum(1 for e in items if e is not None))
    return items


def _tflite_strided_slice(ctx, node, items, x):
    v = node.inputs[0]
    begin, end, strides, bmask, emask, shrink, new_axes, kept = [], [], [], 0, 0, 0, [], []
    for e in items:
        if e is None:
            new_axes.append(len(kept))
            kept.append(1)
            continue
        bit = 1 << len(begin)
        if e[0] == "int":
            i = int(e[1])
            begin.append(i), end.append(i + 1 if i != -1 else 0), strides.append(1)
            shrink |= bit
            emask |= bit if i == -1 else 0
        else:
            _, start, stop, step = e
            begin.append(0 if start is None else int(start))
            end.append(0 if stop is None else int(stop))
            strides.append(1 if step is None else int(step))
            bmask |= bit if start is None else 0
            emask |= bit if stop is None else 0
            kept.append(None)
    opts = ctx.options("StridedSlice", beginMask=bmask, endMask=emask, shrinkAxisMask=shrink)
    mask = [e is not None for e in items if e is None or e[0] != "int"]  # False: a new axis
    sliced_shape = tuple(d for d, k in zip(node.outputs[0].shape, mask) if k)
    target = ctx.output(node) if not new_axes else ctx.temp(sliced_shape, v.dtype)
    out = ctx.emit("STRIDED_SLICE", [x, ctx.ints(begin), ctx.ints(end), ctx.ints(strides)], [target], opts)
    shape = list(sliced_shape)
    for k, axis in enumerate(new_axes):
        shape.insert(axis, 1)
        last = k == len(new_axes) - 1
        out = ctx.emit("EXPAND_DIMS", [out, ctx.ints([axis])],
                       [ctx.output(node) if last else ctx.temp(tuple(shape), v.dtype)])


_tflite.mark(["gather"], "torch.gather (take along an axis) has no TFLite lowering yet (GATHER_ND would do it)")
_tflite.mark(["index_put"], "item assignment has no TFLite lowering yet (SCATTER_ND would do it)")
_tflite.mark(["scatter_add"], "scatter_add has no TFLite lowering yet; the ONNX export has it")
