"""``scatter_reduce``: ``src``'s values folded into a copy of ``x`` at the positions ``index`` names along
``axis`` with one of PyTorch's reductions ("sum", "prod", "mean", "amax", "amin"); ``include_self=False``
leaves the old values of the positions written to out of the fold. One primitive: its forward, its
gradients (written in Ember ops, so they differentiate again), its shape/dtype rule and its lowerings.

>>> import ember
>>> from ember.ops import apply
>>> apply("scatter_reduce", ember.tensor([1.0, 2.0]), ember.tensor([0, 0, 1]), ember.tensor([5.0, 3.0, 1.0]),
...       axis=0, reduce="amax", include_self=True).tolist()
[5.0, 2.0]
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ._core import CHECK_ATTR, Aval, Unsupported, apply, register, register_lowering, unsupported
from ._rules import check_axes

REDUCES = ("sum", "prod", "mean", "amax", "amin")
_UFUNC = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def check_operands(name, x, idx, src, axis, reduce):
    """Shape/dtype checks shared by the rule and the eager front door (``x``, ``idx``, ``src``: tensors or
    avals); raises with the function's name, the shapes and dtypes, and what would work."""
    if reduce not in REDUCES:
        raise RuntimeError(f"{name}: reduce must be one of {', '.join(map(repr, REDUCES))}, got {reduce!r}")
    if idx.dtype.name not in ("int64", "int32"):
        raise RuntimeError(f"{name}: index must be an int64 (or int32) tensor, got {idx.dtype.name}; use "
                           "index.long()")
    if src.dtype is not x.dtype:
        raise RuntimeError(f"{name}: src's dtype {src.dtype.name} must equal the input's {x.dtype.name}; convert "
                           f"one with .to(...)")
    if reduce == "mean" and x.dtype.name == "bool":
        raise RuntimeError(f"{name}: reduce='mean' is not defined for bool tensors")
    if not idx.ndim == src.ndim == x.ndim:
        raise RuntimeError(f"{name}: index {tuple(idx.shape)}, src {tuple(src.shape)} and input {tuple(x.shape)} "
                           "must have the same number of dimensions")
    for d, (i, s, n) in enumerate(zip(idx.shape, src.shape, x.shape)):
        if None in (i, s, n):
            continue
        if i > s or (d != axis and i > n):
            raise RuntimeError(f"{name}: index {tuple(idx.shape)} must be no larger than src {tuple(src.shape)} "
                               f"in every dimension and no larger than the input {tuple(x.shape)} apart from "
                               f"dimension {axis} (dimension {d} is {i})")


def _rule(x, idx, src, axis, reduce, include_self):
    ax = check_axes("scatter_reduce", x, axis)[0] if x.ndim else 0
    check_operands("scatter_reduce", x, idx, src, ax, reduce)
    return Aval(x.shape, x.dtype, x.device)


def _grid_key(xp, idx, axis):
    """The fancy-index key putting ``idx`` along ``axis`` and each other dim's position elsewhere."""
    key = []
    for d, n in enumerate(idx.shape):
        shape = [1] * idx.ndim
        shape[d] = n
        key.append(idx if d == axis else xp.arange(n).reshape(shape))
    return tuple(key)


def _identity(dtype, reduce):
    """The value a position starts from when ``include_self=False``: the reduction's neutral element."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = reduce == "amin"  # amin starts from the largest value, amax from the smallest
    if dtype.kind == "b":
        return big
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.max if big else info.min
    return np.inf if big else -np.inf


def _forward(xp, x, idx, src, axis, reduce, include_self):
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        err = IndexError(f"scatter_reduce: index {bad} is out of bounds for dimension {axis} with size {n} "
                         f"(index shape {tuple(idx.shape)}, input shape {tuple(x.shape)})")
        setattr(err, CHECK_ATTR, True)  # the message says it all: passed on as it is, with the user's line
        raise err
    out = x.copy()
    if x.ndim == 0:  # a 0-d input: index and src are 0-d too, one value aimed at the one position
        out, idx, src = out.reshape(1), idx.reshape(1), src.reshape(1)
    key = _grid_key(xp, idx, axis)
    part = src[tuple(slice(0, s) for s in idx.shape)]
    if not include_self:
        out[key] = _identity(x.dtype, reduce)
    backend.ufunc_at(xp, _UFUNC[reduce], out, key, part)
    if reduce == "mean":
        count = xp.full(out.shape, 1 if include_self else 0, dtype=np.int64)
        xp.add.at(count, key, 1)
        count = xp.maximum(count, 1)  # a position nothing reached keeps its value
        out = out // count if out.dtype.kind in "iu" else (out / count).astype(out.dtype, copy=False)
    return out.reshape(x.shape)


# -- gradients: PyTorch's rules, in Ember ops ---------------------------------------------------------------
def _vjp(g, out, x, idx, src, axis, reduce, include_self):
    k = _Kit(g, x, idx, src, axis)
    gx, gs = _GRADS[reduce](k, g, out, x, k.src, reduce, include_self)
    if gx is not None and not include_self:
        gx = k.where(k.hit(), 0.0, gx)  # the old values of the positions written to were left out
    return (gx if x.requires_grad else None, None, k.pad(gs) if src.requires_grad else None)


class _Kit:
    """The gathers, scatters and masks the gradient rules share."""

    def __init__(self, g, x, idx, src, axis):
        self.g, self.x, self.idx, self.axis = g, x, idx, axis
        self.full_src = src
        region = tuple(slice(0, n) for n in idx.shape)
        self.src = src if tuple(src.shape) == tuple(idx.shape) else src[region]

    def gather(self, t):
        return apply("gather", t, self.idx, axis=self.axis)

    def scatter_add(self, base, vals):
        return apply("scatter_add", base, self.idx, vals, axis=self.axis)

    def where(self, cond, a, b):
        b = b if hasattr(b, "_data") else self.g._scalar(b)
        a = a if hasattr(a, "_data") else self.g._scalar(a)
        return apply("where", cond, a, b)

    def hit(self):
        """Where at least one value of ``src`` lands."""
        n = self.scatter_add(self.g.new_zeros(tuple(self.x.shape)), self.g.new_ones(tuple(self.idx.shape)))
        return apply("gt", n, self.g._scalar(0.0))

    def pad(self, gs):
        if gs is None or tuple(gs.shape) == tuple(self.full_src.shape):
            return gs
        return apply("pad", gs, pads=tuple((0, s - i) for s, i in zip(self.full_src.shape, gs.shape)), value=0.0)


def _sum_grads(k, g, out, x, src, reduce, include_self):
    return g, k.gather(g)


def _mean_grads(k, g, out, x, src, reduce, include_self):
    start = g.new_ones(tuple(x.shape)) if include_self else g.new_zeros(tuple(x.shape))
    count = k.scatter_add(start, g.new_ones(tuple(k.idx.shape)))
    share = g / apply("maximum", count, g._scalar(1.0))
    return share, k.gather(share)


def _extreme_grads(k, g, out, x, src, reduce, include_self):
    """The gradient is shared evenly among the values equal to the result (ties split it), as PyTorch."""
    self_is = apply("cast", apply("eq", x, out), dtype=g.dtype.name)
    if not include_self:
        self_is = k.where(k.hit(), 0.0, self_is)  # left out of the fold: never the result
    src_is = apply("cast", apply("eq", src, k.gather(out)), dtype=g.dtype.name)
    count = k.scatter_add(self_is, src_is)
    share = g / apply("maximum", count, g._scalar(1.0))  # 0 only at a NaN result: no value takes it
    return self_is * share, src_is * k.gather(share)


def _prod_grads(k, g, out, x, src, reduce, include_self):
    """d(prod)/d(v) is the product of the others: ``out / v`` where ``v != 0``; where ``v`` is the only zero
    among a position's factors, the product recomputed with ``v`` replaced by 1 (else 0)."""
    def fold(base, vals):
        return apply("scatter_reduce", base, k.idx, vals, axis=k.axis, reduce="prod", include_self=include_self)

    zero_x = apply("eq", x, x._scalar(0))
    safe_x = k.where(zero_x, 1.0, x)
    gx = g * fold(safe_x, src) / safe_x if include_self else g
    zero_s = apply("eq", src, src._scalar(0))
    zeros_here = k.gather(k.scatter_add(g.new_zeros(tuple(x.shape)), apply("cast", zero_s, dtype=g.dtype.name)))
    lone = apply("logical_and", zero_s, apply("eq", zeros_here, g._scalar(1.0)))
    others = k.gather(g * fold(x, k.where(lone, 1.0, src)))
    gs = k.where(lone, others, k.gather(g * out) / k.where(zero_s, 1.0, src))
    return gx, gs


_GRADS = {"sum": _sum_grads, "mean": _mean_grads, "prod": _prod_grads, "amax": _extreme_grads,
          "amin": _extreme_grads}

register("scatter_reduce", _forward, vjp=_vjp, infer=_rule, saves=(0, 1, 2), saves_out=True, kind="index")


# -- lowerings -------------------------------------------------------------------------------------------------
_ONNX = {"sum": ("add", 16), "prod": ("mul", 16), "amax": ("max", 18), "amin": ("min", 18)}


@register_lowering("scatter_reduce", "onnx")
def _scatter_reduce_onnx(ctx, node):
    reduce, axis = node.attrs["reduce"], int(node.attrs["axis"])
    if reduce == "mean" or not node.attrs["include_self"]:
        raise Unsupported(f"scatter_reduce with reduce={reduce!r}, include_self={node.attrs['include_self']} has "
                          "no ONNX ScatterElements form (it folds in the old values and has no mean)",
                          "use include_self=True with sum, prod, amax or amin, or the model.ember format")
    onnx_name, opset = _ONNX[reduce]
    if ctx.opset < opset:
        raise Unsupported(f"scatter_reduce {reduce!r} needs ScatterElements with reduction={onnx_name!r} "
                          f"(opset {opset})", f"export with opset_version={opset} or later")
    x, idx, src = (ctx.input(node, i) for i in range(3))
    if node.inputs[1].shape != node.inputs[2].shape:  # the part of src that idx covers
        r = node.inputs[1].ndim
        src = ctx.emit("Slice", [src, ctx.ints([0] * r), ctx.emit("Shape", [idx]), ctx.ints(list(range(r)))])
    ctx.emit("ScatterElements", [x, idx, src], [ctx.output(node)], axis=axis, reduction=onnx_name)


unsupported("scatter_reduce", "tflite", "TFLite has no scatter with a reduction (SCATTER_ND writes, it does not "
            "fold); export to ONNX (opset 16/18) or the model.ember format")
