"""Each primitive's TFLite lowering, in one table (to move onto the op definitions with WP11-ir's per-target
lowering mechanism): ``LOWERINGS[op](ctx, node)`` emits TFLite operators through the builder context;
``UNSUPPORTED[op]`` says why an op has none. A coverage test fails on a registry op in neither.
"""

from __future__ import annotations

import numpy as np

from ...graph import opinfo

# -------------------------------------------------------------------------------------------- elementwise
_UNARY = {
    "neg": "NEG", "exp": "EXP", "log": "LOG", "sin": "SIN", "cos": "COS", "tanh": "TANH", "sigmoid": "LOGISTIC",
    "sqrt": "SQRT", "abs": "ABS", "sign": "SIGN", "floor": "FLOOR", "ceil": "CEIL", "round": "ROUND",
    "relu": "RELU", "logical_not": "LOGICAL_NOT",
}
# builtin name, options kind (None: the op takes no options), whether its inputs share the output's dtype
_BINARY = {
    "add": ("ADD", "Add"), "sub": ("SUB", "Sub"), "mul": ("MUL", "Mul"), "div": ("DIV", "Div"),
    "pow": ("POW", None), "maximum": ("MAXIMUM", None), "minimum": ("MINIMUM", None),
    "floordiv": ("FLOOR_DIV", None), "remainder": ("FLOOR_MOD", None),
    "eq": ("EQUAL", None), "ne": ("NOT_EQUAL", None), "lt": ("LESS", None), "le": ("LESS_EQUAL", None),
    "gt": ("GREATER", None), "ge": ("GREATER_EQUAL", None),
    "logical_and": ("LOGICAL_AND", None), "logical_or": ("LOGICAL_OR", None), "logical_xor": ("NOT_EQUAL", None),
}


def _cast_to(ctx, tensor, value, dtype):
    """``tensor`` (of IR ``value``) as ``dtype``: a CAST when they differ."""
    if value.dtype == dtype:
        return tensor
    out = ctx.temp(value.shape, dtype)
    return ctx.emit("CAST", [tensor], [out], ctx.options("Cast", inDataType=ctx.type_code(value.dtype),
                                                             outDataType=ctx.type_code(dtype)))


def _unary(name):
    def lower(ctx, node):
        ctx.emit(name, ctx.inputs(node), [ctx.output(node)])

    return lower


def _binary(op):
    name, kind = _BINARY[op]

    def lower(ctx, node):
        a, b = node.inputs
        # TFLite kernels take operands of one dtype: compare in the promoted one, compute in the output's
        dtype = opinfo.infer("add", [(a.shape, a.dtype), (b.shape, b.dtype)], {})[1] if op in opinfo.COMPARE \
            else node.outputs[0].dtype
        ins = [_cast_to(ctx, t, v, dtype) for t, v in zip(ctx.inputs(node), node.inputs)]
        ctx.emit(name, ins, [ctx.output(node)], ctx.options(kind) if kind else None)

    return lower


def _trunc(ctx, node):
    (x,), v = ctx.inputs(node), node.inputs[0]
    floor_abs = ctx.unary("FLOOR", ctx.unary("ABS", x, v.shape, v.dtype), v.shape, v.dtype)
    sign = ctx.unary("SIGN", x, v.shape, v.dtype)
    ctx.emit("MUL", [sign, floor_abs], [ctx.output(node)], ctx.options("Mul"))


def _where(ctx, node):
    cond, a, b = ctx.inputs(node)
    dtype = node.outputs[0].dtype
    a, b = (_cast_to(ctx, t, v, dtype) for t, v in zip((a, b), node.inputs[1:]))
    ctx.emit("SELECT_V2", [cond, a, b], [ctx.output(node)])


def _cast(ctx, node):
    (x,), v, out = ctx.inputs(node), node.inputs[0], node.outputs[0]
    if v.dtype == out.dtype:
        ctx.alias(node, x)
        return
    ctx.emit("CAST", [x], [ctx.output(node)], ctx.options("Cast", inDataType=ctx.type_code(v.dtype),
                                                            outDataType=ctx.type_code(out.dtype)))


def _identity(ctx, node):
    ctx.alias(node, ctx.inputs(node)[0])


# -------------------------------------------------------------------------------------------- linear algebra
def _linear(ctx, node):
    ins = ctx.inputs(node)
    bias = ins[2] if len(ins) > 2 else -1
    opts = ctx.options("FullyConnected", keepNumDims=node.inputs[0].ndim > 2)
    ctx.emit("FULLY_CONNECTED", [ins[0], ins[1], bias], [ctx.output(node)], opts)


def _matmul(ctx, node):
    a, b = node.inputs
    ta, tb = ctx.inputs(node)
    weight = ctx.graph.constants.get(b)
    if weight is not None and b.ndim == 2 and a.ndim >= 2:  # x @ W with a constant W: one FULLY_CONNECTED
        wt = ctx.const(np.ascontiguousarray(np.asarray(weight).T), (b.hint or "w") + ".T")
        opts = ctx.options("FullyConnected", keepNumDims=a.ndim > 2)
        ctx.emit("FULLY_CONNECTED", [ta, wt, -1], [ctx.output(node)], opts)
        return
    if a.ndim == 1:
        ta = ctx.emit("EXPAND_DIMS", [ta, ctx.ints([0])], [ctx.temp((1,) + a.shape, a.dtype)])
    if b.ndim == 1:
        tb = ctx.emit("EXPAND_DIMS", [tb, ctx.ints([1])], [ctx.temp(b.shape + (1,), b.dtype)])
    out = node.outputs[0]
    if a.ndim > 1 and b.ndim > 1:
        ctx.emit("BATCH_MATMUL", [ta, tb], [ctx.output(node)], ctx.options("BatchMatMul"))
        return
    full = opinfo.infer("matmul", [((1,) + a.shape if a.ndim == 1 else a.shape, a.dtype),
                                   (b.shape + (1,) if b.ndim == 1 else b.shape, b.dtype)], {})[0]
    mm = ctx.emit("BATCH_MATMUL", [ta, tb], [ctx.temp(full, out.dtype)], ctx.options("BatchMatMul"))
    squeeze = [len(full) - 2] if a.ndim == 1 else []
    squeeze += [len(full) - 1] if b.ndim == 1 else []
    ctx.emit("SQUEEZE", [mm], [ctx.output(node)], ctx.options("Squeeze", squeezeDims=squeeze))


# -------------------------------------------------------------------------------------------- reductions
_REDUCE = {"sum": "SUM", "amax": "REDUCE_MAX", "amin": "REDUCE_MIN", "prod": "REDUCE_PROD"}


def _axes(node):
    axis, nd = node.attrs.get("axis"), node.inputs[0].ndim
    if axis is None:
        return list(range(nd))
    return [a % nd for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]


def _reduce(name):
    def lower(ctx, node):
        (x,) = ctx.inputs(node)
        axes = _axes(node)
        if not axes:  # a reduction over no axes is the identity
            ctx.alias(node, x)
            return
        opts = ctx.options("Reducer", keepDims=bool(node.attrs.get("keepdims", False)))
        ctx.emit(name, [x, ctx.ints(axes)], [ctx.output(node)], opts)

    return lower


def _arg(name, kind):
    def lower(ctx, node):
        (x,), v = ctx.inputs(node), node.inputs[0]
        axis, keep = node.attrs.get("axis"), bool(node.attrs.get("keepdims", False))
        if axis is None:
            x = ctx.emit("RESHAPE", [x, ctx.ints([-1])], [ctx.temp((v.size,), v.dtype)])
            axis, reduced = 0, ()
        else:
            axis %= v.ndim
            reduced = tuple(d for i, d in enumerate(v.shape) if i != axis)
        out_type = ctx.type_code(node.outputs[0].dtype)
        opts = ctx.options(kind, outputType=out_type)
        if not keep:
            ctx.emit(name, [x, ctx.ints([axis])], [ctx.output(node)], opts)
            return
        res = ctx.emit(name, [x, ctx.ints([axis])], [ctx.temp(reduced, node.outputs[0].dtype)], opts)
        ctx.emit("EXPAND_DIMS" if node.attrs.get("axis") is not None else "RESHAPE",
                 [res, ctx.ints([axis] if node.attrs.get("axis") is not None else [1] * v.ndim)],
                 [ctx.output(node)])

    return lower


def _cumsum(ctx, node):
    (x,) = ctx.inputs(node)
    axis = ctx.const(np.asarray(node.attrs["axis"] % node.inputs[0].ndim, np.int32))
    ctx.emit("CUMSUM", [x, axis], [ctx.output(node)], ctx.options("Cumsum"))


# -------------------------------------------------------------------------------------------- nn
def _softmax(ctx, node):
    (x,), v = ctx.inputs(node), node.inputs[0]
    axis = node.attrs.get("axis", -1) % v.ndim
    if axis == v.ndim - 1:
        ctx.emit("SOFTMAX", [x], [ctx.output(node)], ctx.options("Softmax", beta=1.0))
        return
    perm = list(range(v.ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]  # a swap: its own inverse
    shape = tuple(v.shape[p] for p in perm)
    xt = ctx.emit("TRANSPOSE", [x, ctx.ints(perm)], [ctx.temp(shape, v.dtype)])
    st = ctx.unary("SOFTMAX", xt, shape, v.dtype, ctx.options("Softmax", beta=1.0))
    ctx.emit("TRANSPOSE", [st, ctx.ints(perm)], [ctx.output(node)])


def _standardize(ctx, node):
    """Layer norm without its affine part: (x - mean) * rsqrt(mean((x - mean)^2) + eps) over the last dims."""
    (x,), v = ctx.inputs(node), node.inputs[0]
    n = int(node.attrs["ndim"])
    axes = ctx.ints(list(range(v.ndim - n, v.ndim)))
    kept = v.shape[: v.ndim - n] + (1,) * n
    keep = ctx.options("Reducer", keepDims=True)
    mean = ctx.emit("MEAN", [x, axes], [ctx.temp(kept, v.dtype)], keep)
    centred = ctx.emit("SUB", [x, mean], [ctx.temp(v.shape, v.dtype)], ctx.options("Sub"))
    square = ctx.emit("MUL", [centred, centred], [ctx.temp(v.shape, v.dtype)], ctx.options("Mul"))
    var = ctx.emit("MEAN", [square, axes], [ctx.temp(kept, v.dtype)], keep)
    eps = ctx.scalar(node.attrs["eps"], v.dtype)
    inv = ctx.unary("RSQRT", ctx.emit("ADD", [var, eps], [ctx.temp(kept, v.dtype)], ctx.options("Add")),
                    kept, v.dtype)
    ctx.emit("MUL", [centred, inv], [ctx.output(node)], ctx.options("Mul"))


# -------------------------------------------------------------------------------------------- shapes
def _reshape(ctx, node):
    (x,) = ctx.inputs(node)
    shape = [int(d) for d in node.attrs["shape"]]
    out = node.outputs[0]
    if sum(d == -1 for d in shape) == 0 and out.shape.count(None) == 1:
        shape = [-1 if d is None else s for d, s in zip(out.shape, shape)]
    if sum(d == -1 for d in shape) > 1:
        raise ctx.error(f"reshape to {tuple(node.attrs['shape'])} with several unknown sizes")
    ctx.emit("RESHAPE", [x, ctx.ints(shape)], [ctx.output(node)])


def _permute(ctx, node):
    (x,) = ctx.inputs(node)
    ctx.emit("TRANSPOSE", [x, ctx.ints(list(node.attrs["perm"]))], [ctx.output(node)])


def _expand(ctx, node):
    (x,), v, out = ctx.inputs(node), node.inputs[0], node.outputs[0]
    if None not in out.shape:
        ctx.emit("BROADCAST_TO", [x, ctx.ints(list(out.shape))], [ctx.output(node)])
        return
    # a dynamic target: broadcasting against zeros (size 1 where the size is unknown) gives the same tensor
    zeros = np.zeros([1 if d is None else d for d in out.shape], opinfo.np_dtype(v.dtype))
    if v.dtype == "bool":
        ctx.emit("LOGICAL_OR", [x, ctx.const(zeros)], [ctx.output(node)])
    else:
        ctx.emit("ADD", [x, ctx.const(zeros)], [ctx.output(node)], ctx.options("Add"))


def _cat(ctx, node):
    axis = int(node.attrs["axis"]) % node.outputs[0].ndim
    dtype = node.outputs[0].dtype
    ins = [_cast_to(ctx, t, v, dtype) for t, v in zip(ctx.inputs(node), node.inputs)]
    ctx.emit("CONCATENATION", ins, [ctx.output(node)], ctx.options("Concatenation", axis=axis))


def _pad(ctx, node):
    (x,), v = ctx.inputs(node), node.inputs[0]
    pads = ctx.const(np.asarray(node.attrs["pads"], np.int32).reshape(v.ndim, 2))
    value = ctx.scalar(node.attrs.get("value", 0.0), v.dtype)
    ctx.emit("PADV2", [x, pads, value], [ctx.output(node)])


def _getitem(ctx, node):
    """Basic indexing (ints, slices, None, ...) as STRIDED_SLICE (+ EXPAND_DIMS); one index tensor on an
    otherwise untouched tensor as GATHER."""
    index, v = node.attrs["index"], node.inputs[0]
    ins = ctx.inputs(node)
    items = _expand_ellipsis(index, v.ndim)
    tensors = [i for i, e in enumerate(items) if e is not None and e[0] == "tensor"]
    if tensors:
        full = all(e == ("slice", None, None, None) for i, e in enumerate(items) if i not in tensors)
        if len(tensors) != 1 or not full or None in items:
            raise ctx.error(f"advanced index {index} (only one index tensor with full slices elsewhere maps to "
                            "GATHER)")
        axis = tensors[0]
        ctx.emit("GATHER", [ins[0], ins[1 + items[axis][1]]], [ctx.output(node)],
                 ctx.options("Gather", axis=axis))
        return
    _strided_slice(ctx, node, items, ins[0])


def _expand_ellipsis(index, ndim):
    items = list(index)
    used = sum(1 for e in items if e is not None and e[0] != "ellipsis")
    if any(e is not None and e[0] == "ellipsis" for e in items):
        k = next(i for i, e in enumerate(items) if e is not None and e[0] == "ellipsis")
        items[k:k + 1] = [("slice", None, None, None)] * (ndim - used)
    items += [("slice", None, None, None)] * (ndim - sum(1 for e in items if e is not None))
    return items


def _strided_slice(ctx, node, items, x):
    v = node.inputs[0]
    begin, end, strides, bmask, emask, shrink = [], [], [], 0, 0, 0
    new_axes, dim, kept = [], 0, []
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
            if i == -1:
                emask |= bit
        else:
            _, start, stop, step = e
            begin.append(0 if start is None else int(start))
            end.append(0 if stop is None else int(stop))
            strides.append(1 if step is None else int(step))
            bmask |= bit if start is None else 0
            emask |= bit if stop is None else 0
            kept.append(None)
        dim += 1
    opts = ctx.options("StridedSlice", beginMask=bmask, endMask=emask, shrinkAxisMask=shrink)
    sliced_shape = tuple(d for d, k in zip(node.outputs[0].shape, _kept_mask(items)) if k)
    target = ctx.output(node) if not new_axes else ctx.temp(sliced_shape, v.dtype)
    out = ctx.emit("STRIDED_SLICE", [x, ctx.ints(begin), ctx.ints(end), ctx.ints(strides)], [target], opts)
    for k, axis in enumerate(new_axes):
        last = k == len(new_axes) - 1
        shape = _with_new_axes(sliced_shape, new_axes[: k + 1])
        out = ctx.emit("EXPAND_DIMS", [out, ctx.ints([axis])], [ctx.output(node) if last else ctx.temp(shape, v.dtype)])


def _kept_mask(items):
    """For each output dim: False where it comes from a None (a new axis), True otherwise."""
    return [e is not None for e in items if e is None or e[0] != "int"]


def _with_new_axes(shape, axes):
    out = list(shape)
    for a in axes:
        out.insert(a, 1)
    return tuple(out)


def _no_check(ctx, node):
    """Value checks (``assert_all``) have no TFLite form: TFLite's own kernels check what they read (GATHER's
    index range); the check's output is never read, so nothing is emitted."""


# -------------------------------------------------------------------------------------------- the tables
LOWERINGS = {
    **{op: _unary(name) for op, name in _UNARY.items()},
    **{op: _binary(op) for op in _BINARY},
    "trunc": _trunc, "where": _where, "cast": _cast, "copy": _identity, "to_device": _identity,
    "linear": _linear, "matmul": _matmul,
    **{op: _reduce(name) for op, name in _REDUCE.items()},
    "argmax": _arg("ARG_MAX", "ArgMax"), "argmin": _arg("ARG_MIN", "ArgMin"), "cumsum": _cumsum,
    "softmax": _softmax, "standardize": _standardize,
    "reshape": _reshape, "permute": _permute, "expand": _expand, "cat": _cat, "pad": _pad, "getitem": _getitem,
    "assert_all": _no_check,
}

_LAYER = ("maps to a TFLite layer op (CONV_2D, MAX_POOL_2D, UNIDIRECTIONAL_SEQUENCE_LSTM) once it is a "
          "layer-level IR node; the primitive-level form has no TFLite counterpart")
_TRAINING = "a training-time (backward or loss) primitive; export the model in eval mode without its loss"
UNSUPPORTED = {
    "erf": "TFLite has no ERF op (GELU maps to TFLite's GELU once gelu is an IR node)",
    "einsum": "TFLite has no einsum; write it with matmul/permute",
    "argsort": "TFLite has no sort (TOPK_V2 covers top-k only)",
    "gather": "torch.gather (take along an axis) has no TFLite lowering yet (GATHER_ND would do it)",
    "index_put": "item assignment has no TFLite lowering yet (SCATTER_ND would do it)",
    "scatter_add": "scatter_add has no TFLite lowering yet",
    "uniform": "random draws (dropout in training mode): call model.eval() before exporting",
    "normal": "random draws: call model.eval() before exporting",
    "im2col": _LAYER, "pool_select": _LAYER, "pool_argmax": _LAYER, "lstm_seq": _LAYER,
    "col2im": _TRAINING, "pool_scatter": _TRAINING, "lstm_seq_grad": _TRAINING,
    "standardize_grad": _TRAINING, "softmax_cross_entropy": _TRAINING,
    "fused": "a fused kernel of the CPU/GPU executors; export the unfused graph",
    "adam_step": _TRAINING, "softmax_cross_entropy_grad": _TRAINING,
    "randint": "random draws: draw outside the model and pass the values as an input",
    "randperm": "random permutations: draw outside the model and pass the values as an input",
    **{op: f"TFLite has no builtin {op} op (its math set is SIN/COS/EXP/LOG/TANH); the ONNX export has it"
       for op in ("asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh")},
    "atan2": "no TFLite lowering written yet (TFLite's ATAN2 would do it); the ONNX export has it",
    **{op: "TFLite has no matrix inverse, solve, determinant or factorisation op; compute it outside the model"
       for op in ("linalg_inv", "linalg_solve", "linalg_det", "linalg_cholesky", "linalg_eigvalsh", "linalg_eigh",
                  "linalg_svdvals", "linalg_svd", "linalg_qr")},
    # layer-level IR nodes: ember.export traces the decomposed (primitive) graph, so they never reach this table
    **{op: "a layer-level node; the TFLite exporter reads the decomposed graph (its primitives are lowered "
           "above), layer-level TFLite ops are not written yet"
       for op in ("conv", "conv_transpose", "max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool",
                  "batch_norm", "layer_norm", "group_norm", "embedding", "lstm", "gru", "rnn",
                  "scaled_dot_product_attention", "gelu", "log_softmax")},
}
