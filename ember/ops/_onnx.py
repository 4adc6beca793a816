"""Shared helpers for the ONNX lowerings written beside each op (no onnx import: they only call the
builder ``ctx`` that ``ember/export/onnx.py`` passes in; see docs/internals.md, "Lowerings").

``ctx`` offers: ``input(node, i)`` / ``output(node, j)`` (value names), ``emit(op_type, inputs, outputs=None,
**attrs)`` (returns the first output name; ``outputs`` an int makes fresh names and returns a list),
``const(array)``, ``ints(values)`` (an int64 1-D initializer), ``scalar(value, dtype)``, ``cast(name, src,
dst)``, ``typed_input(node, i, dtype)``, ``value(node, i)`` (the array of a constant input or None),
``opset``, ``fresh(hint)`` and ``lower_body(node)`` (a layer op's decomposition).
"""
from __future__ import annotations

from ._core import register_lowering

INT64_MAX = 2 ** 63 - 1


def same_dtype_inputs(ctx, node, dtype=None):
    """Every input as ``dtype`` (default: the output's), as ONNX arithmetic wants one type."""
    dt = dtype or node.outputs[0].dtype
    return [ctx.typed_input(node, i, dt) for i in range(len(node.inputs))]


def promoted_dtype(node):
    """The dtype NumPy computes a comparison in (the inputs' promotion)."""
    import numpy as np

    from ..dtypes import from_name, from_np

    return from_np(np.result_type(*[from_name(v.dtype).np for v in node.inputs])).name


def simple(name, op_type, cast=True, **attrs):
    """Register ``name`` -> one ONNX node ``op_type`` (inputs cast to the output dtype when ``cast``)."""

    def lower(ctx, node):
        ins = same_dtype_inputs(ctx, node) if cast else [ctx.input(node, i) for i in range(len(node.inputs))]
        ctx.emit(op_type, ins, [ctx.output(node)], **attrs)

    register_lowering(name, "onnx", lower)


def compare(name, op_type, negate=False, logical=False):
    """A comparison / logical op: inputs in their promoted dtype (bool for logical ops), output bool."""

    def lower(ctx, node):
        dt = "bool" if logical else promoted_dtype(node)
        ins = same_dtype_inputs(ctx, node, dt)
        if negate:
            ctx.emit("Not", [ctx.emit(op_type, ins)], [ctx.output(node)])
        else:
            ctx.emit(op_type, ins, [ctx.output(node)])

    register_lowering(name, "onnx", lower)


def axes_of(node, axis):
    nd = node.inputs[0].ndim
    if axis is None:
        return list(range(nd))
    axes = list(axis) if isinstance(axis, (tuple, list)) else [axis]
    return [a % max(nd, 1) for a in axes]


def reduce(ctx, op_type, x, axes, keepdims, out=None):
    """ReduceX over ``axes``: an input from opset 18 (ReduceSum from 13), an attribute before."""
    outs = [out] if out else None
    if op_type == "ReduceSum" or ctx.opset >= 18:
        return ctx.emit(op_type, [x, ctx.ints(axes)], outs, keepdims=int(keepdims))
    return ctx.emit(op_type, [x], outs, axes=list(axes), keepdims=int(keepdims))


def unsqueeze(ctx, x, axes):
    return ctx.emit("Unsqueeze", [x, ctx.ints(axes)])


def squeeze(ctx, x, axes):
    return ctx.emit("Squeeze", [x, ctx.ints(axes)])
