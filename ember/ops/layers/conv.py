"""Layer ops: convolutions and pools (N-d: 1-D, 2-D, 3-D by the rank of the input).

Attrs (plain data, one entry per spatial dim):

- ``conv(x, w[, b]; stride, padding, dilation, groups)``: ``padding`` = ((before, after), ...) ('same' is
  already resolved into it). Eager: im2col + matmul (``nn.functional.conv``). ONNX: ``Conv``.
- ``conv_transpose(x, w[, b]; stride, padding, output_padding, dilation, groups)``: ``padding`` ints (as
  PyTorch). Eager: matmul + col2im. ONNX: ``ConvTranspose``.
- ``max_pool(x; kernel, stride, padding, dilation, ceil_mode)``, ``avg_pool(x; kernel, stride, padding,
  ceil_mode, count_include_pad, divisor_override)``: ``padding`` ints. ONNX: ``MaxPool`` / ``AveragePool``.
- ``adaptive_avg_pool(x; output_size)``, ``adaptive_max_pool(x; output_size)``: ONNX ``GlobalAveragePool`` /
  ``GlobalMaxPool`` for size 1, ``AveragePool`` / ``MaxPool`` when the bins are equal, else the
  decomposition (matmuls with constant bin matrices: static spatial sizes).
"""
from __future__ import annotations

from .._core import Aval, Unsupported, register_layer, register_lowering, unsupported
from .._rules import differ
from ..conv import out_size


def _check_rank(op, x, nd):
    if x.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected a {nd + 2}-D input (N, C, {nd} spatial dims), got shape {x.shape}")


def pool_out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooled size along one dim (None when ``size`` is unknown)."""
    if size is None:
        return None
    span = size + 2 * p - d * (k - 1) - 1
    if span < 0:
        return 0
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= size + p:  # the last window must start inside the input or left pad
        o -= 1
    return o


# -- conv ------------------------------------------------------------------------------------------------------
def _conv_rule(x, w, *b, stride, padding, dilation, groups):
    nd = w.ndim - 2
    _check_rank("conv", x, nd)
    if differ(x.shape[1], None if w.shape[1] is None else w.shape[1] * groups):
        raise RuntimeError(f"conv: input of shape {x.shape} has {x.shape[1]} channels but the weight {w.shape} "
                           f"with groups={groups} expects {w.shape[1] * groups}")
    outs = tuple(out_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], w.shape[2:], stride, padding,
                                                                     dilation))
    if any(o is not None and o < 1 for o in outs):
        raise RuntimeError(f"conv: the input {x.shape} is smaller than the kernel {w.shape[2:]}")
    return Aval((x.shape[0], w.shape[0]) + outs, x.dtype, x.device)


register_layer("conv", _conv_rule)


@register_lowering("conv", "onnx")
def _conv_onnx(ctx, node):
    a = node.attrs
    pads = [p[0] for p in a["padding"]] + [p[1] for p in a["padding"]]
    ctx.emit("Conv", [ctx.input(node, i) for i in range(len(node.inputs))], [ctx.output(node)],
             kernel_shape=list(node.inputs[1].shape[2:]), strides=list(a["stride"]), pads=pads,
             dilations=list(a["dilation"]), group=int(a["groups"]))


# -- conv_transpose --------------------------------------------------------------------------------------------
def _conv_transpose_rule(x, w, *b, stride, padding, output_padding, dilation, groups):
    nd = w.ndim - 2
    _check_rank("conv_transpose", x, nd)
    if differ(x.shape[1], w.shape[0]):
        raise RuntimeError(f"conv_transpose: input of shape {x.shape} has {x.shape[1]} channels but the weight "
                           f"{w.shape} expects {w.shape[0]}")
    size = tuple(None if s is None else (s - 1) * st - 2 * p + d * (k - 1) + o + 1
                 for s, st, p, d, k, o in zip(x.shape[2:], stride, padding, dilation, w.shape[2:], output_padding))
    return Aval((x.shape[0], w.shape[1] * groups) + size, x.dtype, x.device)


register_layer("conv_transpose", _conv_transpose_rule)


@register_lowering("conv_transpose", "onnx")
def _conv_transpose_onnx(ctx, node):
    a = node.attrs
    ctx.emit("ConvTranspose", [ctx.input(node, i) for i in range(len(node.inputs))], [ctx.output(node)],
             kernel_shape=list(node.inputs[1].shape[2:]), strides=list(a["stride"]),
             pads=list(a["padding"]) * 2, output_padding=list(a["output_padding"]), dilations=list(a["dilation"]),
             group=int(a["groups"]))


# -- pools -----------------------------------------------------------------------------------------------------
def _pool_rule(op):
    def rule(x, kernel, stride, padding, ceil_mode=False, dilation=None, **_):
        nd = len(kernel)
        _check_rank(op, x, nd)
        dil = dilation or (1,) * nd
        outs = tuple(pool_out_size(s, k, st, p, d, ceil_mode)
                     for s, k, st, p, d in zip(x.shape[2:], kernel, stride, padding, dil))
        return Aval(tuple(x.shape[:2]) + outs, x.dtype, x.device)

    return rule


register_layer("max_pool", _pool_rule("max_pool"))
register_layer("avg_pool", _pool_rule("avg_pool"))


@register_lowering("max_pool", "onnx")
def _max_pool_onnx(ctx, node):
    a = node.attrs
    ctx.emit("MaxPool", [ctx.input(node, 0)], [ctx.output(node)], kernel_shape=list(a["kernel"]),
             strides=list(a["stride"]), pads=list(a["padding"]) * 2, dilations=list(a["dilation"]),
             ceil_mode=int(bool(a["ceil_mode"])))


@register_lowering("avg_pool", "onnx")
def _avg_pool_onnx(ctx, node):
    a = node.attrs
    if a.get("divisor_override"):
        raise Unsupported("ONNX AveragePool has no divisor_override", "leave divisor_override=None (or scale "
                          "the pooled sum yourself)")
    ctx.emit("AveragePool", [ctx.input(node, 0)], [ctx.output(node)], kernel_shape=list(a["kernel"]),
             strides=list(a["stride"]), pads=list(a["padding"]) * 2, ceil_mode=int(bool(a["ceil_mode"])),
             count_include_pad=int(bool(a["count_include_pad"])))


def _adaptive_rule(op):
    def rule(x, output_size):
        nd = len(output_size)
        _check_rank(op, x, nd)
        return Aval(tuple(x.shape[:2]) + tuple(output_size), x.dtype, x.device)

    return rule


register_layer("adaptive_avg_pool", _adaptive_rule("adaptive_avg_pool"))
register_layer("adaptive_max_pool", _adaptive_rule("adaptive_max_pool"))


def _adaptive_onnx(global_op, window_op):
    def lower(ctx, node):
        spatial, outs = node.inputs[0].shape[2:], node.attrs["output_size"]
        if all(o == 1 for o in outs):
            ctx.emit(global_op, [ctx.input(node, 0)], [ctx.output(node)])
        elif None not in spatial and all(s % o == 0 for s, o in zip(spatial, outs)):  # equal bins: a plain pool
            kernel = [s // o for s, o in zip(spatial, outs)]
            ctx.emit(window_op, [ctx.input(node, 0)], [ctx.output(node)], kernel_shape=kernel, strides=kernel)
        else:
            ctx.lower_body(node)

    return lower


register_lowering("adaptive_avg_pool", "onnx", _adaptive_onnx("GlobalAveragePool", "AveragePool"))
register_lowering("adaptive_max_pool", "onnx", _adaptive_onnx("GlobalMaxPool", "MaxPool"))

# TFLite
_DECOMPOSED = "written as its decomposition's primitives (no TFLite builtin lowering for it yet)"
for _name in ("conv", "conv_transpose", "max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool"):
    unsupported(_name, "tflite", _DECOMPOSED)
