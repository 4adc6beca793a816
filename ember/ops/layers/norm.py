"""Layer ops: normalisations, embedding and elementwise layers the formats have as one op.

- ``batch_norm(x, running_mean, running_var[, weight][, bias]; eps, affine)`` (inference form only; training
  batch norm updates state, so it stays primitives): ONNX ``BatchNormalization``.
- ``layer_norm(x[, weight][, bias]; ndim, eps, affine)``: ONNX ``LayerNormalization`` (opset 17).
- ``group_norm(x[, weight][, bias]; num_groups, eps, affine)``: ONNX ``GroupNormalization`` from opset 21
  (per-channel scale; opsets 18-20 define it per group), its decomposition in ONNX ops before.
- ``embedding(indices, weight; padding_idx)``: ONNX ``Gather``.
- ``gelu(x; approximate)``: ONNX ``Gelu`` from opset 20, its erf / tanh form before.
- ``log_softmax(x; axis)``: ONNX ``LogSoftmax``.

``affine`` = (has weight, has bias) says which optional inputs follow ``x`` (and the stats).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _onnx
from .._core import Aval, Unsupported, register_layer, register_lowering, unsupported
from .._rules import differ


def _same(x, *_, **__):
    return Aval(x.shape, x.dtype, x.device)


def _affine_inputs(ctx, node, first, affine, shape, dtype):
    """(scale, bias) names: the node's optional inputs, or constant ones/zeros of ``shape``."""
    names, k = [], first
    for present, fill in zip(affine, (np.ones, np.zeros)):
        if present:
            names.append(ctx.input(node, k))
            k += 1
        else:
            if None in shape:
                from .._core import Unsupported

                raise Unsupported("a normalisation without weight or bias over a dynamic dim",
                                  "keep the normalized dims static")
            names.append(ctx.const(fill(shape, ctx.np_dtype(dtype))))
    return names


# -- batch_norm ------------------------------------------------------------------------------------------------
def _batch_norm_rule(x, mean, var, *affine, eps, affine_flags=None):
    if x.ndim < 2 or differ(x.shape[1], mean.shape[0] if mean.ndim else None):
        raise RuntimeError(f"batch_norm: running_mean {mean.shape} does not match the channels of input {x.shape}")
    return Aval(x.shape, x.dtype, x.device)


register_layer("batch_norm", lambda x, mean, var, *rest, eps, affine: _batch_norm_rule(x, mean, var, eps=eps))


@register_lowering("batch_norm", "onnx")
def _batch_norm_onnx(ctx, node):
    c = node.inputs[1].shape
    scale, bias = _affine_inputs(ctx, node, 3, node.attrs["affine"], c, node.inputs[0].dtype)
    ctx.emit("BatchNormalization", [ctx.input(node, 0), scale, bias, ctx.input(node, 1), ctx.input(node, 2)],
             [ctx.output(node)], epsilon=float(node.attrs["eps"]))


# -- layer_norm ------------------------------------------------------------------------------------------------
register_layer("layer_norm", _same)


@register_lowering("layer_norm", "onnx")
def _layer_norm_onnx(ctx, node):
    x, k = node.inputs[0], int(node.attrs["ndim"])
    scale, bias = _affine_inputs(ctx, node, 1, node.attrs["affine"], x.shape[x.ndim - k:], x.dtype)
    ctx.emit("LayerNormalization", [ctx.input(node, 0), scale, bias], [ctx.output(node)], axis=-k,
             epsilon=float(node.attrs["eps"]))


# -- group_norm ------------------------------------------------------------------------------------------------
def _group_norm_rule(x, *affine, num_groups, eps, affine_flags=None):
    if x.ndim < 2 or (x.shape[1] is not None and x.shape[1] % num_groups):
        raise RuntimeError(f"group_norm: expected an input (N, C, ...) with C divisible by num_groups={num_groups}, "
                           f"got shape {x.shape}")
    return Aval(x.shape, x.dtype, x.device)


register_layer("group_norm", lambda x, *rest, num_groups, eps, affine: _group_norm_rule(x, num_groups=num_groups,
                                                                                         eps=eps))


@register_lowering("group_norm", "onnx")
def _group_norm_onnx(ctx, node):
    x, a = node.inputs[0], node.attrs
    c = x.shape[1]
    scale, bias = _affine_inputs(ctx, node, 1, a["affine"], (c,), x.dtype)
    if ctx.opset >= 21:
        ctx.emit("GroupNormalization", [ctx.input(node, 0), scale, bias], [ctx.output(node)],
                 num_groups=int(a["num_groups"]), epsilon=float(a["eps"]))
        return
    # (N, G, -1): mean and biased variance per group, then the per-channel affine map
    xg = ctx.emit("Reshape", [ctx.input(node, 0), ctx.ints([0, int(a["num_groups"]), -1])])
    mean = _onnx.reduce(ctx, "ReduceMean", xg, [2], True)
    d = ctx.emit("Sub", [xg, mean])
    var = _onnx.reduce(ctx, "ReduceMean", ctx.emit("Mul", [d, d]), [2], True)
    std = ctx.emit("Sqrt", [ctx.emit("Add", [var, ctx.scalar(float(a["eps"]), x.dtype)])])
    y = ctx.emit("Reshape", [ctx.emit("Div", [d, std]), ctx.emit("Shape", [ctx.input(node, 0)])])
    per_channel = ctx.ints([-1] + [1] * (x.ndim - 2))
    y = ctx.emit("Mul", [y, ctx.emit("Reshape", [scale, per_channel])])
    ctx.emit("Add", [y, ctx.emit("Reshape", [bias, per_channel])], [ctx.output(node)])


# -- embedding -------------------------------------------------------------------------------------------------
def _embedding_rule(indices, weight, padding_idx=None):
    if indices.dtype.category != 1:
        raise TypeError(f"embedding: indices must be an integer tensor, got {indices.dtype.name}")
    return Aval(tuple(indices.shape) + tuple(weight.shape[1:]), weight.dtype, weight.device)


register_layer("embedding", _embedding_rule)


@register_lowering("embedding", "onnx")
def _embedding_onnx(ctx, node):  # padding_idx only stops the gradient: the lookup is a plain Gather
    ctx.emit("Gather", [ctx.input(node, 1), ctx.input(node, 0)], [ctx.output(node)], axis=0)


# -- gelu, log_softmax -----------------------------------------------------------------------------------------
register_layer("gelu", _same)


@register_lowering("gelu", "onnx")
def _gelu_onnx(ctx, node):
    gelu_onnx(ctx, ctx.input(node, 0), node.outputs[0].dtype, node.attrs.get("approximate", "none"),
              ctx.output(node))


def gelu_onnx(ctx, x, dt, approx, out):
    """ONNX ``Gelu`` from opset 20, its erf / tanh form before (the layer op and the ``gelu_erf`` primitive)."""
    if ctx.opset >= 20:
        ctx.emit("Gelu", [x], [out], approximate=approx)
        return
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = ctx.emit("Mul", [ctx.emit("Mul", [x, x]), x])
        inner = ctx.emit("Add", [x, ctx.emit("Mul", [cube, ctx.scalar(0.044715, dt)])])
        core = ctx.emit("Tanh", [ctx.emit("Mul", [inner, ctx.scalar(math.sqrt(2.0 / math.pi), dt)])])
    else:  # 0.5 x (1 + erf(x / sqrt(2))), as the eager composite
        core = ctx.emit("Erf", [ctx.emit("Mul", [x, ctx.scalar(1 / math.sqrt(2.0), dt)])])
    half = ctx.emit("Mul", [x, ctx.scalar(0.5, dt)])
    ctx.emit("Mul", [half, ctx.emit("Add", [core, ctx.scalar(1.0, dt)])], [out])


register_layer("log_softmax", _same)


@register_lowering("log_softmax", "onnx")
def _log_softmax_onnx(ctx, node):
    ctx.emit("LogSoftmax", [ctx.input(node, 0)], [ctx.output(node)], axis=int(node.attrs["axis"]))

# TFLite
unsupported("group_norm", "tflite", "TFLite has no group norm: it is written as its decomposition's primitives")


def _per_channel(arr, ndim):
    return np.asarray(arr).reshape((-1,) + (1,) * (ndim - 2))


@register_lowering("batch_norm", "tflite")
def _batch_norm_tflite(ctx, node):  # folded into one MUL and one ADD per channel
    x, v, a = ctx.inputs(node)[0], node.inputs[0], node.attrs
    stats = [ctx.value(node, i) for i in range(1, len(node.inputs))]
    if any(s is None for s in stats):
        raise Unsupported("batch norm statistics that are not constants", "export in eval mode")
    mean, var, rest = stats[0], stats[1], stats[2:]
    weight = rest.pop(0) if a["affine"][0] else np.ones_like(mean)
    bias = rest.pop(0) if a["affine"][1] else np.zeros_like(mean)
    scale = weight / np.sqrt(var + a["eps"])
    shift = bias - mean * scale
    dt = np.dtype(v.dtype)
    y = ctx.emit("MUL", [x, ctx.const(_per_channel(scale, v.ndim).astype(dt))], [ctx.temp(v.shape, v.dtype)],
                 ctx.options("Mul"))
    ctx.emit("ADD", [y, ctx.const(_per_channel(shift, v.ndim).astype(dt))], [ctx.output(node)], ctx.options("Add"))


@register_lowering("layer_norm", "tflite")
def _layer_norm_tflite(ctx, node):
    from ..nn import standardize_tflite

    v, a = node.inputs[0], node.attrs
    ins, k = ctx.inputs(node), 1
    y = standardize_tflite(ctx, ins[0], v, int(a["ndim"]), a["eps"],
                           ctx.output(node) if not any(a["affine"]) else ctx.temp(v.shape, v.dtype))
    for present, builtin, kind in zip(a["affine"], ("MUL", "ADD"), ("Mul", "Add")):
        if present:
            k += 1
            last = k == 1 + sum(bool(p) for p in a["affine"])
            y = ctx.emit(builtin, [y, ins[k - 1]], [ctx.output(node) if last else ctx.temp(v.shape, v.dtype)],
                         ctx.options(kind))


@register_lowering("embedding", "tflite")
def _embedding_tflite(ctx, node):  # padding_idx only stops the gradient: the lookup is a plain GATHER
    idx, weight = ctx.inputs(node)
    ctx.emit("GATHER", [weight, idx], [ctx.output(node)], ctx.options("Gather", axis=0))


@register_lowering("gelu", "tflite")
def _gelu_tflite(ctx, node):
    approx = node.attrs.get("approximate", "none") == "tanh"
    ctx.emit("GELU", ctx.inputs(node), [ctx.output(node)], ctx.options("Gelu", approximate=approx))


@register_lowering("log_softmax", "tflite")
def _log_softmax_tflite(ctx, node):
    from ..nn import softmax_tflite

    softmax_tflite(ctx, ctx.inputs(node)[0], node.inputs[0], node.attrs["axis"], ctx.output(node), log=True)
