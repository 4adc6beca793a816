"""Reduction primitives: sum, amax, amin, prod, argmax, argmin, cumsum, argsort."""
from __future__ import annotations

from ..dtypes import int64
from . import _onnx, _tflite
from ._core import Aval, apply, register, register_lowering
from ._rules import check_axes, reduce_rule


def _keep(g, x, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts against ``x``."""
    if keepdims or axis is None and g.ndim == 0 and x.ndim == 0:
        return g
    axes = range(x.ndim) if axis is None else axis
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    return apply("reshape", g, shape=shape)


def _sum_fwd(xp, x, axis=None, keepdims=False):
    if x.dtype.kind in "bui" and x.dtype.itemsize < 8:
        return xp.sum(x, axis=axis, keepdims=keepdims, dtype=xp.int64)  # PyTorch sums small ints to int64
    if x.dtype.kind == "V":  # bfloat16: NumPy would accumulate in bfloat16 (1000 ones sum to 256)
        return xp.sum(x, axis=axis, keepdims=keepdims, dtype=xp.float32).astype(x.dtype)
    return xp.sum(x, axis=axis, keepdims=keepdims)


def _in_float32(fn):
    """Run ``fn`` on bfloat16 input in float32 and round the result once, as PyTorch's CPU kernels do."""
    def forward(xp, x, **attrs):
        if x.dtype.kind == "V":
            return fn(xp, x.astype(xp.float32), **attrs).astype(x.dtype)
        return fn(xp, x, **attrs)
    return forward


def _sum_vjp(g, out, x, axis=None, keepdims=False):
    g = _keep(g, x, axis, keepdims)
    if g._data.size == x._data.size:  # nothing to broadcast (e.g. summing a 1-element tensor)
        return (g if g._data.shape == x._data.shape else apply("reshape", g, shape=x._data.shape),)
    return (apply("expand", g, shape=tuple(x.shape)),)


def _extreme_vjp(g, out, x, axis=None, keepdims=False):
    # the gradient is shared evenly among tied extremes (PyTorch's amax/amin rule)
    outk = _keep(out, x, axis, keepdims)
    mask = apply("cast", apply("eq", x, outk), dtype=g.dtype.name)
    count = apply("sum", mask, axis=axis, keepdims=True)
    return (mask * _keep(g, x, axis, keepdims) / count,)


def _prod_vjp(g, out, x, axis=None, keepdims=False):
    # d prod / d x_i = prod of the others; with zeros, only a lone zero gets a nonzero gradient
    gk, outk = _keep(g, x, axis, keepdims), _keep(out, x, axis, keepdims)
    is_zero = apply("eq", x, x.detach() * 0)
    safe = apply("where", is_zero, x * 0 + 1, x)
    n_zero = apply("sum", apply("cast", is_zero, dtype=x.dtype.name), axis=axis, keepdims=True)
    others_if_zero = apply("where", apply("eq", n_zero, n_zero * 0 + 1), apply("prod", safe, axis=axis, keepdims=True),
                           n_zero * 0)
    return (gk * apply("where", is_zero, others_if_zero, outk / safe),)


def _arg_rule(name):
    def rule(x, axis=None, keepdims=False):
        return reduce_rule(name, int64)(x, None if axis is None else (axis,), keepdims)

    return rule


def _arg_fwd(fn):
    def fwd(xp, x, axis=None, keepdims=False):
        if axis is None:
            r = getattr(xp, fn)(x.reshape(-1))
            return r.reshape((1,) * x.ndim) if keepdims else r
        return getattr(xp, fn)(x, axis=axis, keepdims=keepdims)

    return fwd


def _cumsum_vjp(g, out, x, axis):
    rev = tuple(slice(None, None, -1) if i == axis else slice(None) for i in range(x.ndim))
    return (g[rev].cumsum(axis)[rev],)


def _nans_first(xp, x, idx, axis):
    """PyTorch orders NaN above every number: a descending order starts with the NaNs (NumPy's sort of -x left
    them last), each row rotated by its count of NaNs, keeping their order."""
    count = xp.isnan(x).sum(axis=axis, keepdims=True)
    if not count.any():
        return idx
    n = x.shape[axis]
    place = [1] * x.ndim
    place[axis] = n
    return xp.take_along_axis(idx, (xp.arange(n).reshape(place) - count) % n, axis=axis)


def _argsort_fwd(xp, x, axis=-1, descending=False, stable=True):
    if descending:  # stable descending order: sort the negated keys (ints) / reversed ranks
        if x.dtype.kind == "b":
            x = x.astype(xp.int8)
        idx = xp.argsort(-x if x.dtype.kind in "fi" else x.max() - x, axis=axis, kind="stable")
        if x.dtype.kind == "f":
            idx = _nans_first(xp, x, idx, axis)
    else:
        idx = xp.argsort(x, axis=axis, kind="stable")
    return idx.astype(xp.int64, copy=False)


def _sum_rule(x, axis=None, keepdims=False):
    out = reduce_rule("sum")(x, axis, keepdims)
    if x.dtype.category < 2:  # bools and integers sum to int64, as in _sum_fwd (and PyTorch)
        out.dtype = int64
    return out


def _prod_rule(x, axis=None, keepdims=False):
    out = reduce_rule("prod")(x, axis, keepdims)
    if x.dtype.category < 2:  # NumPy multiplies small ints in int64 too
        out.dtype = int64
    return out


# reduce_fn: the float forward is ``xp.<fn>(x, axis=, keepdims=)`` (executors pass ``out=``)
register("sum", _sum_fwd, vjp=_sum_vjp, infer=_sum_rule, kind="reduce", reduce_fn="sum", complex_ok=True)
register("amax", lambda xp, x, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
         vjp=_extreme_vjp, infer=reduce_rule("amax"), saves=(0,), saves_out=True, kind="reduce", reduce_fn="max")
register("amin", lambda xp, x, axis=None, keepdims=False: xp.min(x, axis=axis, keepdims=keepdims),
         vjp=_extreme_vjp, infer=reduce_rule("amin"), saves=(0,), saves_out=True, kind="reduce", reduce_fn="min")
def _prod_fwd(xp, x, axis=None, keepdims=False):
    wide = xp.int64 if x.dtype.kind in "bui" and x.dtype.itemsize < 8 else None  # NumPy takes uint8 to uint64
    return xp.prod(x, axis=axis, keepdims=keepdims, dtype=wide)


register("prod", _in_float32(_prod_fwd),
         vjp=_prod_vjp, infer=_prod_rule, saves=(0,), saves_out=True, kind="reduce", reduce_fn="prod")
register("argmax", _arg_fwd("argmax"), infer=_arg_rule("argmax"), kind="reduce")
register("argmin", _arg_fwd("argmin"), infer=_arg_rule("argmin"), kind="reduce")


def _cumsum_rule(x, axis):
    check_axes("cumsum", x, axis)
    return Aval(x.shape, int64 if x.dtype.category < 2 else x.dtype, x.device)  # NumPy accumulates ints in int64


register("cumsum", _in_float32(lambda xp, x, axis: xp.cumsum(x, axis=axis)), vjp=_cumsum_vjp, infer=_cumsum_rule)
register("argsort", _argsort_fwd,
         infer=lambda x, axis=-1, descending=False, stable=True:
         Aval(x.shape, int64, x.device) if check_axes("argsort", x, axis) else None)


# -- ONNX ------------------------------------------------------------------------------------------------------
def _reduce_onnx(op_type):
    def lower(ctx, node):
        a = node.attrs
        # sums of bools/small ints are int64 (as the primitive): cast first
        x = ctx.typed_input(node, 0, node.outputs[0].dtype)
        if node.inputs[0].ndim == 0:
            ctx.emit("Identity", [x], [ctx.output(node)])
            return
        axes = _onnx.axes_of(node, a.get("axis"))
        _onnx.reduce(ctx, op_type, x, axes, a.get("keepdims", False), ctx.output(node))

    return lower


for _name, _type in (("sum", "ReduceSum"), ("amax", "ReduceMax"), ("amin", "ReduceMin"), ("prod", "ReduceProd")):
    register_lowering(_name, "onnx", _reduce_onnx(_type))


def _arg_onnx(op_type):
    def lower(ctx, node):
        x, axis, keep = ctx.input(node, 0), node.attrs.get("axis"), int(bool(node.attrs.get("keepdims", False)))
        if axis is None:  # over the flattened tensor
            flat = ctx.emit("Reshape", [x, ctx.ints([-1])])
            r = ctx.emit(op_type, [flat], axis=0, keepdims=0)
            shape = [1] * node.inputs[0].ndim if keep else []
            ctx.emit("Reshape", [r, ctx.ints(shape)], [ctx.output(node)])
            return
        ctx.emit(op_type, [x], [ctx.output(node)], axis=int(axis), keepdims=keep)

    return lower


register_lowering("argmax", "onnx", _arg_onnx("ArgMax"))
register_lowering("argmin", "onnx", _arg_onnx("ArgMin"))


@register_lowering("cumsum", "onnx")
def _cumsum_onnx(ctx, node):
    x = ctx.typed_input(node, 0, node.outputs[0].dtype)
    ctx.emit("CumSum", [x, ctx.scalar(node.attrs["axis"], "int64")], [ctx.output(node)])


@register_lowering("argsort", "onnx")
def _argsort_onnx(ctx, node):
    # TopK over the whole axis; equal values keep their index order (ONNX's tie rule), as the stable sort
    a, x = node.attrs, node.inputs[0]
    axis = a.get("axis", -1) % max(x.ndim, 1)
    k = ctx.dim(node, 0, axis)
    _, idx = ctx.emit("TopK", [ctx.input(node, 0), k], 2, axis=axis, largest=int(bool(a.get("descending"))),
                      sorted=1)
    ctx.emit("Identity", [idx], [ctx.output(node)])


# TFLite
def _tflite_axes(node):
    axis, nd = node.attrs.get("axis"), node.inputs[0].ndim
    if axis is None:
        return list(range(nd))
    return [a % nd for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]


def _tflite_reduce(builtin):
    def lower(ctx, node):
        (x,) = ctx.inputs(node)
        axes = _tflite_axes(node)
        if not axes:  # a reduction over no axes is the identity
            ctx.alias(node, x)
            return
        opts = ctx.options("Reducer", keepDims=bool(node.attrs.get("keepdims", False)))
        ctx.emit(builtin, [x, ctx.ints(axes)], [ctx.output(node)], opts)

    return lower


def _tflite_arg(builtin, kind):
    def lower(ctx, node):
        (x,), v = ctx.inputs(node), node.inputs[0]
        axis, keep = node.attrs.get("axis"), bool(node.attrs.get("keepdims", False))
        if axis is None:
            x = ctx.emit("RESHAPE", [x, ctx.ints([-1])], [ctx.temp((v.size,), v.dtype)])
            axis, reduced = 0, ()
        else:
            axis %= v.ndim
            reduced = tuple(d for i, d in enumerate(v.shape) if i != axis)
        opts = ctx.options(kind, outputType=ctx.type_code(node.outputs[0].dtype))
        if not keep:
            ctx.emit(builtin, [x, ctx.ints([axis])], [ctx.output(node)], opts)
            return
        res = ctx.emit(builtin, [x, ctx.ints([axis])], [ctx.temp(reduced, node.outputs[0].dtype)], opts)
        given = node.attrs.get("axis") is not None
        ctx.emit("EXPAND_DIMS" if given else "RESHAPE", [res, ctx.ints([axis] if given else [1] * v.ndim)],
                 [ctx.output(node)])

    return lower


for _name, _builtin in (("sum", "SUM"), ("amax", "REDUCE_MAX"), ("amin", "REDUCE_MIN"), ("prod", "REDUCE_PROD")):
    register_lowering(_name, "tflite", _tflite_reduce(_builtin))
register_lowering("argmax", "tflite", _tflite_arg("ARG_MAX", "ArgMax"))
register_lowering("argmin", "tflite", _tflite_arg("ARG_MIN", "ArgMin"))
_tflite.mark(["argsort"], "TFLite has no sort (TOPK_V2 covers top-k only)")


@register_lowering("cumsum", "tflite")
def _cumsum_tflite(ctx, node):
    import numpy as np

    axis = ctx.const(np.asarray(node.attrs["axis"] % node.inputs[0].ndim, np.int32))
    ctx.emit("CUMSUM", [ctx.inputs(node)[0], axis], [ctx.output(node)], ctx.options("Cumsum"))
