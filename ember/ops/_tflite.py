"""Shared helpers for the TFLite lowerings written beside each op (no TFLite import: they only call the
builder ``ctx`` that ``ember/export/tfl/builder.py`` passes in; see docs/internals.md, "Lowerings").

``ctx`` offers: ``inputs(node)`` (tensor indices), ``output(node, k)``, ``emit(BUILTIN, inputs, outputs,
options)`` (returns the first output), ``options(kind, **fields)``, ``const(array)``, ``ints(values)`` (int32
1-D), ``scalar(value, dtype)``, ``temp(shape, dtype)``, ``unary(BUILTIN, x, shape, dtype)``, ``alias(node,
tensor)``, ``type_code(dtype)``, ``value(node, i)`` (a constant input's array or None), ``lower_body(node)`` (a
layer op's decomposition) and ``graph``.
"""
from __future__ import annotations

from ._core import register_lowering, unsupported

TRAINING = "a training-time (backward or loss) primitive; export the model in eval mode without its loss"


def cast_to(ctx, tensor, value, dtype):
    """``tensor`` (of IR ``value``) as ``dtype``: a CAST when they differ."""
    if value.dtype == dtype:
        return tensor
    out = ctx.temp(value.shape, dtype)
    return ctx.emit("CAST", [tensor], [out], ctx.options("Cast", inDataType=ctx.type_code(value.dtype),
                                                             outDataType=ctx.type_code(dtype)))


def unary(name, builtin):
    """Register ``name`` -> one TFLite operator ``builtin`` on its one input."""

    def lower(ctx, node):
        ctx.emit(builtin, ctx.inputs(node), [ctx.output(node)])

    register_lowering(name, "tflite", lower)


def binary(name, builtin, options=None, compare=False):
    """A two-input op; TFLite kernels take operands of one dtype: compare in the promoted dtype, compute in
    the output's."""

    def lower(ctx, node):
        from ._onnx import promoted_dtype

        dtype = promoted_dtype(node) if compare else node.outputs[0].dtype
        ins = [cast_to(ctx, t, v, dtype) for t, v in zip(ctx.inputs(node), node.inputs)]
        ctx.emit(builtin, ins, [ctx.output(node)], ctx.options(options) if options else None)

    register_lowering(name, "tflite", lower)


def identity(ctx, node):
    ctx.alias(node, ctx.inputs(node)[0])


def mark(names, reason):
    """``unsupported(name, "tflite", reason)`` for each name."""
    for name in names:
        unsupported(name, "tflite", reason)
