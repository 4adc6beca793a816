"""Layer ops: convolutions and pools (N-d: 1-D, 2-D, 3-D by the rank of the input).

Attrs (plain data, one entry per spatial dim):

- ``conv(x, w[, b]; stride, padding, dilation, groups)``: ``padding`` = ((before, after), ...) ('same' is
  already resolved into it). Eager: im2col + matmul, Winograd, shift-sum or channels-last columns by shape
  (``nn.functional.conv``). ONNX: ``Conv``.
- ``conv_transpose(x, w[, b]; stride, padding, output_padding, dilation, groups)``: ``padding`` ints (as
  PyTorch). Eager: matmul + col2im (channels-last where it applies, ``ops/conv_forms.py``). ONNX:
  ``ConvTranspose``.
- ``max_pool(x; kernel, stride, padding, dilation, ceil_mode)``, ``avg_pool(x; kernel, stride, padding,
  ceil_mode, count_include_pad, divisor_override)``: ``padding`` ints. ONNX: ``MaxPool`` / ``AveragePool``.
- ``adaptive_avg_pool(x; output_size)``, ``adaptive_max_pool(x; output_size)``: ONNX ``GlobalAveragePool`` /
  ``GlobalMaxPool`` for size 1, ``AveragePool`` / ``MaxPool`` when the bins are equal, else the
  decomposition (matmuls with constant bin matrices: static spatial sizes).
"""
from __future__ import annotations

from .._core import Aval, Unsupported, register_layer, register_lowering
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

# TFLite: NCHW -> NHWC around each op (1-D layers as height-1 2-D ones); explicit padding as PADV2 + VALID


def _nhwc(ctx, node, pad=None, pad_value=0.0):
    """The node's input as an NHWC tensor (zero/``pad_value`` padded when ``pad`` = ((t, b), (l, r))); returns
    (tensor, NHWC shape)."""
    import numpy as np

    x, v = ctx.inputs(node)[0], node.inputs[0]
    if v.ndim == 4:
        n, c, h, w = v.shape
        x = ctx.emit("TRANSPOSE", [x, ctx.ints([0, 2, 3, 1])], [ctx.temp((n, h, w, c), v.dtype)])
    else:
        n, c, w = v.shape
        h = 1
        x = ctx.emit("TRANSPOSE", [x, ctx.ints([0, 2, 1])], [ctx.temp((n, w, c), v.dtype)])
        x = ctx.emit("RESHAPE", [x, ctx.ints([-1, 1, w, c])], [ctx.temp((n, 1, w, c), v.dtype)])
    shape = (n, h, w, c)
    if pad is not None and any(p for pair in pad for p in pair):
        (t, b), (lf, r) = pad
        shape = (n, h + t + b, w + lf + r, c)
        pads = ctx.const(np.asarray([[0, 0], [t, b], [lf, r], [0, 0]], np.int32))
        x = ctx.emit("PADV2", [x, pads, ctx.scalar(pad_value, v.dtype)], [ctx.temp(shape, v.dtype)])
    return x, shape


def _nchw(ctx, node, y):
    """The NHWC result tensor ``y`` written as the node's (N, C, ...) output."""
    out = node.outputs[0]
    if out.ndim == 4:
        ctx.emit("TRANSPOSE", [y, ctx.ints([0, 3, 1, 2])], [ctx.output(node)])
        return
    n, c, w = out.shape
    flat = ctx.emit("RESHAPE", [y, ctx.ints([-1, w, c])], [ctx.temp((n, w, c), out.dtype)])
    ctx.emit("TRANSPOSE", [flat, ctx.ints([0, 2, 1])], [ctx.output(node)])


def _hw(node, values, neutral):
    return tuple(values) if node.inputs[0].ndim == 4 else (neutral, values[0])


def _out_nhwc(node):
    o = node.outputs[0]
    return (o.shape[0],) + (o.shape[2:] if o.ndim == 4 else (1,) + o.shape[2:]) + (o.shape[1],)


@register_lowering("conv", "tflite")
def _conv_tflite(ctx, node):
    import numpy as np

    a, v = node.attrs, node.inputs[0]
    w = ctx.value(node, 1)
    if v.ndim not in (3, 4) or w is None:
        raise Unsupported("only 1-D/2-D convolutions with constant weights map to CONV_2D",
                          "export with the weights as parameters, or to ONNX")
    if v.ndim == 3:
        w = w[:, :, None, :]
    bias = ctx.value(node, 2) if len(node.inputs) > 2 else np.zeros(w.shape[0], w.dtype)
    if bias is None:
        raise Unsupported("a bias that is not a constant", "export with the bias as a parameter")
    pad = _hw(node, [tuple(p) for p in a["padding"]], (0, 0))
    (sh, sw), (dh, dw) = _hw(node, a["stride"], 1), _hw(node, a["dilation"], 1)
    x, _ = _nhwc(ctx, node, pad)
    out_shape, g, cin = _out_nhwc(node), int(a["groups"]), v.shape[1]
    opts = dict(padding=ctx.s.Padding.VALID, strideH=sh, strideW=sw, dilationHFactor=dh, dilationWFactor=dw)
    if g == 1:
        y = ctx.emit("CONV_2D", [x, ctx.const(w.transpose(0, 2, 3, 1).copy()), ctx.const(bias)],
                     [ctx.temp(out_shape, v.dtype)], ctx.options("Conv2D", **opts))
    elif g == cin and w.shape[1] == 1:  # depthwise: output channel c * multiplier + m, as PyTorch's groups
        filt = w[:, 0].transpose(1, 2, 0)[None].copy()
        y = ctx.emit("DEPTHWISE_CONV_2D", [x, ctx.const(filt), ctx.const(bias)], [ctx.temp(out_shape, v.dtype)],
                     ctx.options("DepthwiseConv2D", depthMultiplier=w.shape[0] // cin, **opts))
    else:  # other groups: SPLIT the channels, one CONV_2D per group, CONCATENATION
        parts_in = [ctx.temp(_nhwc_shape_split(ctx, x, g), v.dtype) for _ in range(g)]
        ctx.emit("SPLIT", [ctx.scalar(3, "int32"), x], parts_in, ctx.options("Split", numSplits=g))
        per = w.shape[0] // g
        parts = []
        for k, xi in enumerate(parts_in):
            wk = w[k * per:(k + 1) * per].transpose(0, 2, 3, 1).copy()
            parts.append(ctx.emit("CONV_2D", [xi, ctx.const(wk), ctx.const(bias[k * per:(k + 1) * per].copy())],
                                  [ctx.temp(out_shape[:3] + (per,), v.dtype)], ctx.options("Conv2D", **opts)))
        y = ctx.emit("CONCATENATION", parts, [ctx.temp(out_shape, v.dtype)], ctx.options("Concatenation", axis=3))
    _nchw(ctx, node, y)


@register_lowering("conv_transpose", "tflite")
def _conv_transpose_tflite(ctx, node):
    """TRANSPOSE_CONV (VALID, unpadded: the full (H - 1) * stride + kernel output, plus the output_padding rows
    past it) then a STRIDED_SLICE that crops ``padding``; its output-shape input is computed from the input's
    batch (SHAPE), so a dynamic batch works."""
    import numpy as np

    a, v = node.attrs, node.inputs[0]
    w = ctx.value(node, 1)
    if v.ndim not in (3, 4) or w is None:
        raise Unsupported("only 1-D/2-D transposed convolutions with constant weights map to TRANSPOSE_CONV",
                          "export to ONNX (ConvTranspose)")
    if int(a["groups"]) != 1 or any(d != 1 for d in a["dilation"]):  # an error, not the decomposition (col2im)
        raise ctx.error(f"TRANSPOSE_CONV has no groups or dilation (groups={a['groups']}, dilation="
                        f"{tuple(a['dilation'])}); use groups=1 and dilation=1, or export to ONNX (ConvTranspose)")
    if v.ndim == 3:
        w = w[:, :, None, :]
    cout = w.shape[1]
    bias = ctx.value(node, 2) if len(node.inputs) > 2 else np.zeros(cout, w.dtype)
    if bias is None:
        raise Unsupported("a bias that is not a constant", "export with the bias as a parameter")
    (sh, sw), (ph, pw), (oh, ow) = (_hw(node, a[k], n) for k, n in (("stride", 1), ("padding", 0),
                                                                     ("output_padding", 0)))
    x, (n, h, wd, _) = _nhwc(ctx, node)
    kh, kw = w.shape[2:]
    full = ((h - 1) * sh + kh + max(0, oh - ph), (wd - 1) * sw + kw + max(0, ow - pw))
    batch = ctx.emit("SLICE", [ctx.emit("SHAPE", [x], [ctx.temp((4,), "int32")], ctx.options("Shape",
                                        outType=ctx.type_code("int32"))), ctx.ints([0]), ctx.ints([1])],
                     [ctx.temp((1,), "int32")])
    shape = ctx.emit("CONCATENATION", [batch, ctx.ints([full[0], full[1], cout])], [ctx.temp((4,), "int32")],
                     ctx.options("Concatenation", axis=0))
    y = ctx.emit("TRANSPOSE_CONV", [shape, ctx.const(w.transpose(1, 2, 3, 0).copy()), x, ctx.const(bias)],
                 [ctx.temp((n,) + full + (cout,), v.dtype)],
                 ctx.options("TransposeConv", padding=ctx.s.Padding.VALID, strideH=sh, strideW=sw))
    out = _out_nhwc(node)
    y = ctx.emit("STRIDED_SLICE", [y, ctx.ints([0, ph, pw, 0]), ctx.ints([0, ph + out[1], pw + out[2], cout]),
                                   ctx.ints([1, 1, 1, 1])], [ctx.temp(out, v.dtype)],
                 ctx.options("StridedSlice", beginMask=1, endMask=1))
    _nchw(ctx, node, y)


def _nhwc_shape_split(ctx, x, g):
    n, h, w, c = ctx.shape_of(x)
    return (n, h, w, c // g)


def _pool_tflite(builtin, pad_value):
    def lower(ctx, node):
        a, v = node.attrs, node.inputs[0]
        if v.ndim not in (3, 4) or any(d != 1 for d in a.get("dilation") or ()):
            raise Unsupported("only undilated 1-D/2-D pools map to a TFLite pool", "export to ONNX")
        if builtin == "AVERAGE_POOL_2D" and (a.get("divisor_override") or (not a["count_include_pad"]
                                                                           and any(a["padding"]))):
            raise Unsupported("divisor_override / count_include_pad=False with padding",
                              "pad explicitly, or export to ONNX")
        (kh, kw), (sh, sw) = _hw(node, a["kernel"], 1), _hw(node, a["stride"], 1)
        ph, pw = _hw(node, a["padding"], 0)
        out_shape = _out_nhwc(node)
        x, shape = _nhwc(ctx, node, ((ph, ph), (pw, pw)), pad_value)
        extra = [(shape[1 + i] - k) // s + 1 for i, (k, s) in enumerate(((kh, sh), (kw, sw)))]
        if a.get("ceil_mode") and any(e != o for e, o in zip(extra, out_shape[1:3]) if o is not None):
            raise Unsupported("ceil_mode=True where it adds a window", "use ceil_mode=False, or export to ONNX")
        opts = ctx.options("Pool2D", padding=ctx.s.Padding.VALID, strideH=sh, strideW=sw, filterHeight=kh,
                           filterWidth=kw)
        _nchw(ctx, node, ctx.emit(builtin, [x], [ctx.temp(out_shape, v.dtype)], opts))

    return lower


register_lowering("max_pool", "tflite", _pool_tflite("MAX_POOL_2D", -3.4028234663852886e38))
register_lowering("avg_pool", "tflite", _pool_tflite("AVERAGE_POOL_2D", 0.0))


def _adaptive_tflite(reduce_builtin, pool):
    def lower(ctx, node):
        v, outs = node.inputs[0], node.attrs["output_size"]
        axes = list(range(2, v.ndim))
        if all(o == 1 for o in outs):  # global pooling: one reduction over the spatial dims (NCHW as it is)
            ctx.emit(reduce_builtin, [ctx.inputs(node)[0], ctx.ints(axes)], [ctx.output(node)],
                     ctx.options("Reducer", keepDims=True))
            return
        spatial = v.shape[2:]
        if pool is None or v.ndim not in (3, 4) or None in spatial or any(s % o for s, o in zip(spatial, outs)):
            raise Unsupported("adaptive pooling into unequal bins", "its decomposition is written instead")
        kernel = [s // o for s, o in zip(spatial, outs)]
        node_like = type("N", (), {})()
        node_like.inputs, node_like.outputs = node.inputs, node.outputs
        node_like.attrs = {"kernel": kernel, "stride": kernel, "padding": [0] * len(kernel), "ceil_mode": False,
                           "count_include_pad": True}
        pool(ctx, node_like)

    return lower


register_lowering("adaptive_avg_pool", "tflite", _adaptive_tflite("MEAN", _pool_tflite("AVERAGE_POOL_2D", 0.0)))
register_lowering("adaptive_max_pool", "tflite", _adaptive_tflite("REDUCE_MAX", _pool_tflite("MAX_POOL_2D", 0.0)))
