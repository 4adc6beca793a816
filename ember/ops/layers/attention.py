"""Layer op: scaled dot-product attention.

``scaled_dot_product_attention(q, k, v[, mask]; scale, is_causal, need_weights)``: softmax(q * scale @ k^T
[+ mask]) @ v over (..., L, E) operands; a bool mask marks the positions that may attend, a float mask is
added; ``need_weights`` adds the attention weights as a second output (multi-head attention returns them).
Without dropout only (dropout in attention is training, which stays primitives). ONNX has no attention op
before opset 23: it gets MatMul, Softmax and a Where / Add for the mask, with a causal mask made by ``Trilu``.
"""
from __future__ import annotations

from .._core import Aval, register_layer, register_lowering, unsupported
from .._rules import broadcast_shapes, differ


def _sdpa_rule(q, k, v, *mask, scale, is_causal, need_weights=False):
    if differ(q.shape[-1], k.shape[-1]) or differ(k.shape[-2], v.shape[-2]):
        raise RuntimeError(f"scaled_dot_product_attention: query {q.shape}, key {k.shape} and value {v.shape} do "
                           "not fit: query and key need the same last dim, key and value the same length (dim -2)")
    batch = broadcast_shapes("scaled_dot_product_attention", q.shape[:-2], k.shape[:-2], v.shape[:-2])
    out = Aval(batch + (q.shape[-2], v.shape[-1]), q.dtype, q.device)
    if not need_weights:
        return out
    return out, Aval(batch + (q.shape[-2], k.shape[-2]), q.dtype, q.device)


register_layer("scaled_dot_product_attention", _sdpa_rule, n_out=2)


def _causal(ctx, node, scores):
    """``scores`` with -inf above the diagonal (positions j > i), as the eager tril mask."""
    lq, lk = node.inputs[0].shape[-2], node.inputs[1].shape[-2]
    if lq is not None and lk is not None:
        import numpy as np

        keep = ctx.const(np.tril(np.ones((lq, lk), bool)))
    else:  # dynamic lengths: a lower-triangular ones matrix of (Lq, Lk) by Trilu
        q_len, k_len = ctx.dim(node, 0, node.inputs[0].ndim - 2), ctx.dim(node, 1, node.inputs[1].ndim - 2)
        size = ctx.emit("Concat", [q_len, k_len], axis=0)
        ones = ctx.emit("ConstantOfShape", [size], value=ctx.tensor_attr(1, "int64"))
        keep = ctx.emit("Cast", [ctx.emit("Trilu", [ones], upper=0)], to=ctx.dtype("bool"))
    return ctx.emit("Where", [keep, scores, ctx.scalar(float("-inf"), node.inputs[0].dtype)])


@register_lowering("scaled_dot_product_attention", "onnx")
def _sdpa_onnx(ctx, node):
    a, dt = node.attrs, node.inputs[0].dtype
    q, k, v = (ctx.input(node, i) for i in range(3))
    nd = node.inputs[1].ndim
    kt = ctx.emit("Transpose", [k], perm=list(range(nd - 2)) + [nd - 1, nd - 2])
    scores = ctx.emit("MatMul", [ctx.emit("Mul", [q, ctx.scalar(float(a["scale"]), dt)]), kt])
    if a["is_causal"]:
        scores = _causal(ctx, node, scores)
    elif len(node.inputs) > 3:
        mask = node.inputs[3]
        if mask.dtype == "bool":
            scores = ctx.emit("Where", [ctx.input(node, 3), scores, ctx.scalar(float("-inf"), dt)])
        else:
            scores = ctx.emit("Add", [scores, ctx.typed_input(node, 3, dt)])
    weights = ctx.emit("Softmax", [scores], [ctx.output(node, 1)] if a.get("need_weights") else None, axis=-1)
    ctx.emit("MatMul", [weights, v], [ctx.output(node, 0)])

unsupported("scaled_dot_product_attention", "tflite",
            "TFLite has no attention builtin: it is written as its decomposition (BATCH_MATMUL, SOFTMAX)")
