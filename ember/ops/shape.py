"""Shape primitives: reshape, permute, expand, cat, pad."""
from __future__ import annotations

import math

from ..dtypes import promote
from . import _onnx, _tflite
from ._core import Aval, Unsupported, apply, register, register_lowering
from ._rules import broadcast_shapes, check_axes, differ, dprod, dsum
from .elementwise import grad_as, unbroadcast


def _reshape_rule(x, shape):
    shape = tuple(shape)
    total = dprod(x.shape)
    if -1 not in shape:
        if total is not None and math.prod(shape) != total:
            raise RuntimeError(f"reshape: shape {shape} is invalid for a tensor of shape {x.shape} "
                               f"({total} elements vs {math.prod(shape)})")
        return Aval(shape, x.dtype, x.device)
    rest = math.prod(d for d in shape if d != -1)
    if total is not None:
        if rest == 0 or total % rest:
            raise RuntimeError(f"reshape: shape {shape} is invalid for a tensor of shape {x.shape} ({total} "
                               f"elements are not a multiple of {rest})")
        return Aval(tuple(total // rest if d == -1 else d for d in shape), x.dtype, x.device)
    return Aval(tuple(None if d == -1 else d for d in shape), x.dtype, x.device)  # the -1 dim is unknown too


def _permute_rule(x, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise RuntimeError(f"permute: dims {tuple(perm)} are not a permutation of the {x.ndim} dims of a tensor "
                           f"of shape {x.shape}")
    return Aval(tuple(x.shape[p] for p in perm), x.dtype, x.device)


def _expand_rule(x, shape):
    if len(shape) < x.ndim:
        raise RuntimeError(f"expand: the target shape {tuple(shape)} has fewer dims than the tensor's {x.shape}")
    lead = len(shape) - x.ndim
    out = tuple(x.shape[i - lead] if d == -1 and i >= lead else d for i, d in enumerate(shape))
    for k in range(1, x.ndim + 1):
        if shape[-k] != -1 and x.shape[-k] != 1 and differ(x.shape[-k], shape[-k]):
            raise RuntimeError(f"expand: the size of dim {-k} ({x.shape[-k]}) must match the target size "
                               f"{shape[-k]} in {tuple(shape)} (only size-1 dims can be expanded)")
    return Aval(out, x.dtype, x.device)


def _cat_rule(*xs, axis):
    if not xs:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    ref = xs[0]
    ax = check_axes("cat", ref, axis)[0]
    dt = ref.dtype
    for i, x in enumerate(xs[1:], 1):
        if x.device != ref.device:
            raise RuntimeError(f"cat: tensor 0 is on {ref.device} but tensor {i} is on {x.device}")
        if x.ndim != ref.ndim or any(differ(a, b) for d, (a, b) in enumerate(zip(x.shape, ref.shape)) if d != ax):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {ax}: tensor 0 has shape "
                               f"{ref.shape} but tensor {i} has shape {x.shape}")
        dt = promote(dt, x.dtype)
    shape = list(ref.shape)
    shape[ax] = dsum(x.shape[ax] for x in xs)
    return Aval(shape, dt, ref.device)


def _cat_vjp(g, out, *xs, axis):
    grads, start = [], 0
    for x in xs:
        n = x.shape[axis]
        if x.requires_grad:
            key = (slice(None),) * axis + (slice(start, start + n),)
            grads.append(grad_as(g[key], x.dtype) if g.dtype is not x.dtype else g[key])
        else:
            grads.append(None)
        start += n
    return tuple(grads)


def _pad_vjp(g, out, x, pads, value=0.0):
    # the inverse padding: crop what was padded, zero-fill what was cropped (negative pads)
    return (apply("pad", g, pads=tuple((-b, -a) for b, a in pads), value=0.0),)


def _pad_rule(x, pads, value=0.0):
    if len(pads) != x.ndim:
        raise ValueError(f"pad: got padding for {len(pads)} dims but the tensor of shape {x.shape} has {x.ndim}")
    shape = tuple(None if s is None else s + b + a for s, (b, a) in zip(x.shape, pads))
    if any(s is not None and s < 0 for s in shape):
        raise ValueError(f"pad: padding {pads} makes a negative size for shape {x.shape}")
    return Aval(shape, x.dtype, x.device)


def _pad_fwd(xp, x, pads, value=0.0):
    if any(b < 0 or a < 0 for b, a in pads):  # negative padding crops
        key = tuple(slice(-b if b < 0 else 0, (s + a) if a < 0 else s) for (b, a), s in zip(pads, x.shape))
        x = x[key]
        pads = tuple((max(b, 0), max(a, 0)) for b, a in pads)
    return xp.pad(x, pads, mode="constant", constant_values=value)


register("reshape", lambda xp, x, shape: xp.reshape(x, shape), vjp=lambda g, out, x, shape: (
    apply("reshape", g, shape=tuple(x.shape)),), infer=_reshape_rule, view=True, kind="shape", complex_ok=True)
register("permute", lambda xp, x, perm: xp.transpose(x, perm),
         vjp=lambda g, out, x, perm: (apply("permute", g, perm=tuple(sorted(range(len(perm)), key=perm.__getitem__))),),
         infer=_permute_rule, view=True, kind="shape", complex_ok=True)
def _expand_fwd(xp, x, shape):
    """broadcast_to, with -1 keeping the input's size (torch's expand; the export generalizer writes it)."""
    if -1 in shape:
        lead = len(shape) - x.ndim
        shape = tuple(x.shape[i - lead] if d == -1 else d for i, d in enumerate(shape))
    return xp.broadcast_to(x, shape)


register("expand", _expand_fwd,
         vjp=lambda g, out, x, shape: (unbroadcast(g, x.shape),), infer=_expand_rule, view=True, kind="shape",
         complex_ok=True)
register("cat", lambda xp, *xs, axis: xp.concatenate(xs, axis=axis), vjp=_cat_vjp, infer=_cat_rule, kind="shape",
         complex_ok=True)
register("pad", _pad_fwd, vjp=_pad_vjp, infer=_pad_rule, kind="shape", complex_ok=True)

__all__ = ["broadcast_shapes"]


def _to_device_fwd(xp, x, device):
    from .. import backend

    return backend.to_device(x, backend.device(device))


register("to_device", _to_device_fwd, vjp=lambda g, out, x, device: (apply("to_device", g, device=str(x.device)),),
         infer=lambda x, device: Aval(x.shape, x.dtype, device), kind="shape", complex_ok=True)


# -- ONNX ------------------------------------------------------------------------------------------------------
@register_lowering("reshape", "onnx")
def _reshape_onnx(ctx, node):
    shape = [int(d) for d in node.attrs["shape"]]
    extra = {"allowzero": 1} if 0 in shape and -1 not in shape else {}  # a literal 0 is a size, not "copy"
    ctx.emit("Reshape", [ctx.input(node, 0), ctx.ints(shape)], [ctx.output(node)], **extra)


@register_lowering("permute", "onnx")
def _permute_onnx(ctx, node):
    ctx.emit("Transpose", [ctx.input(node, 0)], [ctx.output(node)], perm=[int(p) for p in node.attrs["perm"]])


@register_lowering("expand", "onnx")
def _expand_onnx(ctx, node):
    shape = [1 if d == -1 else int(d) for d in node.attrs["shape"]]  # Expand broadcasts: 1 keeps the input's size
    ctx.emit("Expand", [ctx.input(node, 0), ctx.ints(shape)], [ctx.output(node)])


@register_lowering("cat", "onnx")
def _cat_onnx(ctx, node):
    ctx.emit("Concat", _onnx.same_dtype_inputs(ctx, node), [ctx.output(node)], axis=int(node.attrs["axis"]))


@register_lowering("pad", "onnx")
def _pad_onnx(ctx, node):
    pads, x = node.attrs["pads"], ctx.input(node, 0)
    if any(b < 0 or a < 0 for b, a in pads):  # negative padding crops: a Slice first
        axes = [i for i, (b, a) in enumerate(pads) if b < 0 or a < 0]
        starts = [max(-pads[i][0], 0) for i in axes]
        ends = [pads[i][1] if pads[i][1] < 0 else _onnx.INT64_MAX for i in axes]
        x = ctx.emit("Slice", [x, ctx.ints(starts), ctx.ints(ends), ctx.ints(axes)])
        pads = tuple((max(b, 0), max(a, 0)) for b, a in pads)
    flat = [b for b, _ in pads] + [a for _, a in pads]
    value = ctx.scalar(node.attrs.get("value", 0.0), node.outputs[0].dtype)
    ctx.emit("Pad", [x, ctx.ints(flat), value], [ctx.output(node)], mode="constant")


register_lowering("to_device", "onnx", lambda ctx, node: ctx.emit("Identity", [ctx.input(node, 0)],
                                                                   [ctx.output(node)]))


# TFLite
@register_lowering("reshape", "tflite")
def _reshape_tflite(ctx, node):
    (x,) = ctx.inputs(node)
    shape = [int(d) for d in node.attrs["shape"]]
    out = node.outputs[0]
    if sum(d == -1 for d in shape) == 0 and out.shape.count(None) == 1:
        shape = [-1 if d is None else s for d, s in zip(out.shape, shape)]
    if sum(d == -1 for d in shape) > 1:
        raise Unsupported(f"reshape to {tuple(node.attrs['shape'])} with several unknown sizes",
                          "export with fewer dynamic dims")
    ctx.emit("RESHAPE", [x, ctx.ints(shape)], [ctx.output(node)])


@register_lowering("permute", "tflite")
def _permute_tflite(ctx, node):
    ctx.emit("TRANSPOSE", [ctx.inputs(node)[0], ctx.ints(list(node.attrs["perm"]))], [ctx.output(node)])


@register_lowering("expand", "tflite")
def _expand_tflite(ctx, node):
    import numpy as np

    from ..dtypes import from_name

    (x,), v, out = ctx.inputs(node), node.inputs[0], node.outputs[0]
    if None not in out.shape:
        ctx.emit("BROADCAST_TO", [x, ctx.ints(list(out.shape))], [ctx.output(node)])
        return
    # a dynamic target: broadcasting against zeros (size 1 where the size is unknown) gives the same tensor
    zeros = ctx.const(np.zeros([1 if d is None else d for d in out.shape], from_name(v.dtype).np))
    if v.dtype == "bool":
        ctx.emit("LOGICAL_OR", [x, zeros], [ctx.output(node)])
    else:
        ctx.emit("ADD", [x, zeros], [ctx.output(node)], ctx.options("Add"))


@register_lowering("cat", "tflite")
def _cat_tflite(ctx, node):
    axis = int(node.attrs["axis"]) % node.outputs[0].ndim
    dtype = node.outputs[0].dtype
    ins = [_tflite.cast_to(ctx, t, v, dtype) for t, v in zip(ctx.inputs(node), node.inputs)]
    ctx.emit("CONCATENATION", ins, [ctx.output(node)], ctx.options("Concatenation", axis=axis))


@register_lowering("pad", "tflite")
def _pad_tflite(ctx, node):
    import numpy as np

    (x,), v = ctx.inputs(node), node.inputs[0]
    pads = ctx.const(np.asarray(node.attrs["pads"], np.int32).reshape(v.ndim, 2))
    value = ctx.scalar(node.attrs.get("value", 0.0), v.dtype)
    ctx.emit("PADV2", [x, pads, value], [ctx.output(node)])


register_lowering("to_device", "tflite", _tflite.identity)
