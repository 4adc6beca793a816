"""Fused nn primitives that pay for themselves in the benchmarks (each is tested against its composite).

- ``relu(x)``: max(x, 0) with PyTorch's gradient (0 at x == 0); its vjp is one ``where`` instead of the
  several ops of ``maximum``'s tie-splitting rule.
- ``softmax_cross_entropy(logits, target; ignore_index, label_smoothing, reduction)``: log-softmax + NLL over
  class indices for (N,
                     C) logits in one forward, gradient ``softmax - target_distribution``. Its vjp is written
  with Ember ops (so grads of grads and traced backward passes work); when no graph is being recorded or
  traced the same formula runs directly on the arrays.
- ``linear(x, w, b)``: x @ w.T + b in one dispatch (one matmul + in-place add); vjp = two matmuls and a sum.
- ``softmax(x; axis)``: exp(x - max) / sum along one axis. The composite took 5 nodes forward and 5 backward
  (attention's softmax: 1.7 + 1.2 ms per block on the transformer benchmark); the primitive is one node
  forward, which the compiled CPU executor runs as one row loop, and its vjp ``y * (g - sum(g * y))`` fuses
  into two kernels.
- ``standardize(x; ndim, eps)``: (x - mean) / sqrt(var + eps) over the trailing ``ndim`` axes (biased
  variance): layer norm without its affine part. One node forward instead of seven (the compiled CPU
  executor runs it as one row loop); the vjp recomputes the row statistics from ``x`` and fuses into a few
  kernels.
"""
from __future__ import annotations

import math

import numpy as np

try:  # the ufunc behind np.clip (np.clip itself is a Python function, which _spread cannot split)
    from numpy._core.umath import clip as _np_clip
except ImportError:  # NumPy 1.x
    from numpy.core.umath import clip as _np_clip

from ..dtypes import int64
from . import _onnx, _spread, _tflite, loss_rows, row_loops
from ._core import Aval, Unsupported, apply, register, register_lowering, unsupported
from ._rules import differ, elementwise
from .elementwise import _conj
from .linalg import _matmul_rule, gemm

arange = softmax = cast = None  # installed by ember/_wiring.py (pieces of higher layers)


# -- relu ----------------------------------------------------------------------------------------------------
def _relu_vjp(g, out, x):
    zero = g._scalar(0.0)
    return (apply("where", apply("gt", out, out._scalar(0)), g, zero),)


def relu_array(xp, x, out=None):
    """relu of an array, PyTorch's rule x < 0 ? 0 : x (NaN and -0.0 pass through), written into ``out`` when
    given; shared by the primitive, the inference convolution's epilogue, the RNN's relu cell and the compiled
    executor's relu node. Floats run as clip(x, 0, inf): NumPy's clip is one SIMD loop, while maximum with a
    0-d operand takes a scalar loop (10 vs 25 us for 64K float32 values) and turns -0.0 into 0.0."""
    if x.dtype.kind != "f":
        return _spread.ufunc_call(xp, xp.maximum, x, x.dtype.type(0)) if out is None else \
            xp.maximum(x, x.dtype.type(0), out=out)
    lo, hi = x.dtype.type(0), x.dtype.type(np.inf)
    if xp is not np:
        return xp.clip(x, lo, hi, out=out)
    return _spread.ufunc_call(xp, _np_clip, x, lo, hi) if out is None else _np_clip(x, lo, hi, out=out)


register("relu", relu_array, vjp=_relu_vjp, infer=lambda x: elementwise("relu", x), saves=(), saves_out=True,
         kind="elementwise")


# -- softmax cross-entropy -----------------------------------------------------------------------------------
def _ce_rule(x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    if x.ndim != 2 or t.ndim != 1 or differ(t.shape[0], x.shape[0]):
        raise ValueError(f"softmax_cross_entropy: expected logits (N, C) and class indices (N,), got "
                         f"{x.shape} and {t.shape}")
    if t.dtype.category != 1:
        raise TypeError(f"softmax_cross_entropy: class indices must be integers, got {t.dtype.name}")
    return Aval((x.shape[0],) if reduction == "none" else (), x.dtype, x.device)


def _ce_parts(xp, x, t, ignore_index):
    """(log-probabilities, valid mask, clipped targets) as arrays."""
    z = x - x.max(axis=1, keepdims=True)
    logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))
    valid = t != ignore_index
    c = x.shape[1]
    if not bool(valid.all()):
        tc = xp.where(valid, t, 0)
    else:
        tc = t
    if tc.size and (int(tc.min()) < 0 or int(tc.max()) >= c):
        bad = int(tc.min()) if int(tc.min()) < 0 else int(tc.max())
        raise IndexError(f"cross_entropy: target {bad} is out of bounds for {c} classes (targets must lie "
                         f"in [0, {c - 1}] or equal ignore_index {ignore_index})")
    return logp, valid, tc


def _ce_fwd(xp, x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    if xp is np and x.size and loss_rows.applies((x,), t, label_smoothing):  # the compiled executor's loop too
        return loss_rows.cross_entropy(ignore_index, reduction)(x, t)
    logp, valid, tc = _ce_parts(xp, x, t, ignore_index)
    n = x.shape[0]
    loss = -logp[xp.arange(n), tc]
    if label_smoothing:
        loss = (1 - label_smoothing) * loss - label_smoothing * logp.mean(axis=1)
    loss = xp.where(valid, loss, 0).astype(x.dtype, copy=False)
    if reduction == "none":
        return loss
    total = loss.sum(dtype=x.dtype)
    if reduction == "sum":
        return xp.asarray(total)
    return xp.asarray(total / valid.sum().astype(x.dtype))  # an array divide: no host scalar of a CuPy count


def _ce_vjp(g, out, x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    return apply("softmax_cross_entropy_grad", g, x, t, ignore_index=ignore_index,
                 label_smoothing=label_smoothing, reduction=reduction), None


# softmax_cross_entropy's input gradient as a primitive of its own: one array pass eagerly and one node in a
# compiled graph; (softmax(x) - target) * scale, scale = valid * g (/ number of valid rows for 'mean').
def _ce_grad_rule(g, x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    _ce_rule(x, t, ignore_index, label_smoothing, reduction)
    return Aval(x.shape, x.dtype, x.device)


def _ce_grad_fwd(xp, ga, xa, ta, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    if xp is np and xa.size and loss_rows.applies((ga, xa), ta, label_smoothing):
        return loss_rows.cross_entropy_grad(ignore_index, reduction)(ga, xa, ta)
    z = xa - xa.max(axis=1, keepdims=True)
    e = xp.exp(z)
    grad = e / e.sum(axis=1, keepdims=True)
    valid = ta != ignore_index
    n, c = xa.shape
    tc = xp.where(valid, ta, 0)
    if label_smoothing:
        grad -= label_smoothing / c
        grad[xp.arange(n), tc] -= 1 - label_smoothing
    else:
        grad[xp.arange(n), tc] -= 1
    scale = valid.astype(xa.dtype)
    # ignored rows get 0, whatever g is: PyTorch's gradient is 0 also when 'mean' counts no row (0 / 0)
    scale = xp.where(valid, ga / scale.sum() if reduction == "mean" else ga, 0).astype(xa.dtype, copy=False)
    grad *= scale[:, None]
    # flush float32/64 subnormals (|v| < the smallest normal number) to zero: they change no sum the gradient
    # feeds by a visible amount, and OpenBLAS runs the next GEMMs on them 10-50x slower (the compiled row loop
    # in ops/loss_rows.py flushes the same values)
    xp.copyto(grad, 0, where=xp.abs(grad) < xp.finfo(grad.dtype).tiny)
    return grad


def _ce_grad_parts(x, t, ignore_index, label_smoothing):
    """(softmax(x), the smoothed one-hot target, valid rows as floats), as Ember ops."""
    c = x.shape[1]
    onehot = cast(apply("eq", arange(c, device=x.device).reshape(1, c), t.reshape(-1, 1)), x.dtype)
    target = onehot * (1 - label_smoothing) + label_smoothing / c if label_smoothing else onehot
    valid = cast(apply("ne", t, t._scalar(ignore_index)), x.dtype)
    return softmax(x, 1), target, valid


def _ce_grad_vjp(cot, out, g, x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    """out = (p - target) * s[:, None], p = softmax(x), s = valid * g (/ sum(valid) for 'mean'): the x
    cotangent goes through softmax's Jacobian, the g cotangent sums cot * (p - target) * ds/dg."""
    p, target, valid = _ce_grad_parts(x, t, ignore_index, label_smoothing)
    # ds/dg, per row (no row counted: 0, not 0 / 0, as the forward)
    per_g = valid / valid.sum().clamp(min=1) if reduction == "mean" else valid
    gg = gx = None
    if x.requires_grad:
        u = cot * (per_g * g).reshape(-1, 1)
        gx = p * (u - (u * p).sum(1, keepdim=True))
    if g.requires_grad:
        rows = (cot * (p - target)).sum(1) * per_g
        gg = rows if reduction == "none" else rows.sum()
    return gg, gx, None


register("softmax_cross_entropy", _ce_fwd, vjp=_ce_vjp, infer=_ce_rule, saves=(0, 1), kind="other")
register("softmax_cross_entropy_grad", _ce_grad_fwd, vjp=_ce_grad_vjp, infer=_ce_grad_rule, saves=(0, 1, 2),
         kind="other")
loss_rows.register_cpu_loops()
unsupported("softmax_cross_entropy_grad", "onnx", "a gradient of the loss: ONNX export writes inference graphs "
            "(export the model in eval mode, without its loss's backward)")


# -- softmax -------------------------------------------------------------------------------------------------
def _softmax_rule(x, axis):
    if not x.dtype.is_floating_point:
        raise TypeError(f"softmax: expected a floating-point tensor, got {x.dtype.name}; convert it with "
                        f".float() or pass dtype=")
    if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise IndexError(f"softmax: dim {axis} is out of range for a tensor of shape {x.shape}")
    return Aval(x.shape, x.dtype, x.device)


def _softmax_fwd(xp, x, axis):
    if x.ndim == 0:
        return xp.ones_like(x)
    if xp is np and x.size and row_loops.softmax_applies(x.dtype, x.ndim, axis) and (loop := row_loops.softmax()):
        return loop(x)  # one pass per row (the compiled executor's loop too: the same bits)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _softmax_vjp(g, out, x, axis):
    gy = apply("mul", g, out)
    total = apply("sum", gy, axis=(axis,), keepdims=True) if out.ndim else gy
    return (apply("mul", out, apply("sub", g, total)),)


register("softmax", _softmax_fwd, vjp=_softmax_vjp, infer=_softmax_rule, saves=(), saves_out=True)


# -- standardize (layer norm's core) ------------------------------------------------------------------------
def _standardize_rule(x, ndim, eps):
    if not x.dtype.is_floating_point:
        raise TypeError(f"layer_norm: expected a floating-point tensor, got {x.dtype.name}")
    if not 0 < ndim <= x.ndim:
        raise ValueError(f"layer_norm: cannot normalise the last {ndim} dims of a tensor of shape {x.shape}")
    return Aval(x.shape, x.dtype, x.device)


def _trailing(ndim_total, ndim):
    return tuple(range(ndim_total - ndim, ndim_total))


def _standardize_fwd(xp, x, ndim, eps):
    if xp is np and x.size and x.dtype.char in "fd" and (loop := row_loops.standardize(ndim, eps)):
        return loop(x)
    return standardize_over(xp, x, _trailing(x.ndim, ndim), math.prod(x.shape[x.ndim - ndim:]), eps)


def standardize_over(xp, x, axes, n, eps):
    """(x - mean) / sqrt(var + eps) over ``axes`` (``n`` elements each) as ``xp`` passes: layer norm's
    trailing axes, batch norm's all-but-channel ones (``batch_stats``' form without its loops)."""
    d = x - x.sum(axis=axes, keepdims=True) / x.dtype.type(n)
    var = (d * d).sum(axis=axes, keepdims=True) / x.dtype.type(n)
    d /= xp.sqrt(var + x.dtype.type(eps))
    return d


def _row_mean(t, axes, n):
    return apply("div", apply("sum", t, axis=axes, keepdims=True), t._scalar(n))


def _row_scale(x, axes, n, eps):
    """(x - mean, 1 / sqrt(var + eps)) over ``axes``, as Ember ops."""
    d = apply("sub", x, _row_mean(x, axes, n))
    return d, apply("div", x._scalar(1.0), apply("sqrt", apply("add", _row_mean(apply("mul", d, d), axes, n),
                                                                  x._scalar(eps))))


def _standardize_vjp(g, out, x, ndim, eps):
    return (apply("standardize_grad", g, x, out, ndim=ndim, eps=eps),)


register("standardize", _standardize_fwd, vjp=_standardize_vjp, infer=_standardize_rule, saves=(0,),
         saves_out=True)


# standardize's gradient as a primitive of its own, so the compiled executor runs it as one row loop too
# (five kernels over the tensor before: 0.87 ms per layer norm on the transformer benchmark):
# dx = rstd * (g - mean(g) - y * mean(g * y)), y = standardize(x), rstd = 1 / sqrt(var(x) + eps).
def _standardize_grad_rule(g, x, y, ndim, eps):
    if not (g.shape == x.shape == y.shape) or not (g.dtype == x.dtype == y.dtype):
        raise ValueError(f"standardize_grad: expected three tensors of one shape and dtype, got {g.shape} "
                         f"{g.dtype.name}, {x.shape} {x.dtype.name}, {y.shape} {y.dtype.name}")
    return _standardize_rule(x, ndim, eps)


def _standardize_grad_fwd(xp, g, x, y, ndim, eps):
    if (xp is np and x.size and x.dtype.char in "fd" and g.dtype == x.dtype == y.dtype
            and (loop := row_loops.standardize_grad(ndim, eps))):
        return loop(g, x, y)
    return standardize_grad_over(xp, g, x, y, _trailing(x.ndim, ndim), math.prod(x.shape[x.ndim - ndim:]), eps)


def standardize_grad_over(xp, g, x, y, axes, n, eps):
    """``standardize_over``'s gradient: rstd * (g - mean(g) - y * mean(g * y)) over ``axes``."""
    n = x.dtype.type(n)
    d = x - x.sum(axis=axes, keepdims=True) / n
    rstd = 1 / xp.sqrt((d * d).sum(axis=axes, keepdims=True) / n + x.dtype.type(eps))
    centred = g - g.sum(axis=axes, keepdims=True) / n - y * ((g * y).sum(axis=axes, keepdims=True) / n)
    return centred * rstd


def _standardize_grad_vjp(c, out, g, x, y, ndim, eps, axes=None, n=None):
    """F = rstd(x) * h(g, y), h = g - mean(g) - y * mean(g * y); each input's cotangent (g, x, y
    independent): h is linear in g and symmetric, so dg = h's map applied to c * rstd; dy from the y terms;
    dx only through rstd: d rstd / dx = -rstd^3 (x - mean) / n. Over the trailing ``ndim`` axes, or the given
    ``axes`` of ``n`` elements (batch norm's, ``batch_stats``)."""
    if axes is None:
        axes = _trailing(x.ndim, ndim)
        n = math.prod(x.shape[x.ndim - ndim:])
    d, rstd = _row_scale(x, axes, n, eps)
    u = apply("mul", c, rstd)
    mean_uy = _row_mean(apply("mul", u, y), axes, n)
    mean_gy = _row_mean(apply("mul", g, y), axes, n)
    dg = apply("sub", apply("sub", u, _row_mean(u, axes, n)), apply("mul", y, mean_uy))
    dy = apply("neg", apply("add", apply("mul", u, mean_gy), apply("mul", g, mean_uy)))
    h = apply("sub", apply("sub", g, _row_mean(g, axes, n)), apply("mul", y, mean_gy))
    rstd3 = apply("mul", apply("mul", rstd, rstd), rstd)
    dx = apply("neg", apply("mul", apply("mul", _row_mean(apply("mul", c, h), axes, n), rstd3), d))
    return dg, dx, dy


register("standardize_grad", _standardize_grad_fwd, vjp=_standardize_grad_vjp, infer=_standardize_grad_rule,
         saves=(0, 1, 2))


# -- linear --------------------------------------------------------------------------------------------------
def _linear_rule(x, w, b):
    out = _matmul_rule(x, Aval(w.shape[::-1], w.dtype, w.device))
    if b.ndim != 1 or differ(b.shape[0], w.shape[0]):
        raise RuntimeError(f"linear: bias of shape {b.shape} does not match the {w.shape[0]} output "
                           f"features of weight {w.shape}; it must have shape ({w.shape[0]},)")
    return out


def _linear_fwd(xp, x, w, b):
    if x.dtype != w.dtype or b.dtype != w.dtype:
        raise TypeError("dtype mismatch")
    out = gemm(xp, x, w.T)
    out += b
    return out


def _linear_vjp(g, out, x, w, b):
    gx = gw = gb = None
    want_x, want_w = x.requires_grad, w.requires_grad
    x, w = _conj(x), _conj(w)  # complex operands: the conjugate (autograd's convention; the identity if real)
    if want_x:
        gx = apply("matmul", g, w)
    if x.ndim == 1:  # one sample (a per-step loop): the weight's gradient is an outer product, the bias's is g
        if want_w:
            gw = apply("mul", apply("reshape", g, shape=(g.shape[0], 1)), x)
        return gx, gw, (g if b.requires_grad else None)
    if want_w or b.requires_grad:
        # primitive attrs hold concrete shapes (no -1), so the IR's shape rules can check them
        g2 = g if g.ndim == 2 else apply("reshape", g, shape=(g.numel() // max(g.shape[-1], 1), g.shape[-1]))
        if want_w:
            x2 = x if x.ndim == 2 else apply("reshape", x, shape=(x.numel() // max(x.shape[-1], 1),
                                                                  x.shape[-1]))
            gw = apply("matmul", apply("permute", g2, perm=(1, 0)), x2)
        if b.requires_grad:
            gb = apply("sum", g2, axis=(0,), keepdims=False)
    return gx, gw, gb


register("linear", _linear_fwd, vjp=_linear_vjp, infer=_linear_rule, saves=(0, 1), kind="matmul", complex_ok=True)
_ = int64


# -- lowerings ---------------------------------------------------------------------------------------------------
# relu's kernel forms, x < 0 ? 0 : x as relu_array: a typed zero keeps the dtype; NaN and -0.0 pass through
register_lowering("relu", "numba",
                  lambda kctx, node, args: f"(np.{node.outputs[0].dtype}(0) if {args[0]} < 0 else {args[0]})")
register_lowering("relu", "cuda", "({0} < 0 ? 0 : {0})")
_onnx.simple("relu", "Relu")


@register_lowering("softmax", "onnx")
def _softmax_onnx(ctx, node):  # opset 13+: one axis, as the primitive
    ctx.emit("Softmax", [ctx.input(node, 0)], [ctx.output(node)], axis=int(node.attrs["axis"]))


@register_lowering("standardize", "onnx")
def _standardize_onnx(ctx, node):  # LayerNormalization (opset 17) with a unit scale and no bias
    x, k = node.inputs[0], int(node.attrs["ndim"])
    trailing = x.shape[x.ndim - k:]
    if None in trailing:
        raise Unsupported("layer normalization over a dynamic dim", "keep the normalized dims static")
    ones = ctx.const(np.ones(trailing, ctx.np_dtype(x.dtype)))
    ctx.emit("LayerNormalization", [ctx.input(node, 0), ones], [ctx.output(node)], axis=-k,
             epsilon=float(node.attrs["eps"]))


@register_lowering("linear", "onnx")
def _linear_onnx(ctx, node):
    x, w, b = (ctx.input(node, i) for i in range(3))
    if node.inputs[0].ndim == 2:
        ctx.emit("Gemm", [x, w, b], [ctx.output(node)], transB=1)
        return
    w_arr = ctx.value(node, 1)  # a parameter (initializer): transposed once at export
    wt = ctx.const(np.ascontiguousarray(w_arr.T)) if w_arr is not None else ctx.emit("Transpose", [w], perm=[1, 0])
    ctx.emit("Add", [ctx.emit("MatMul", [x, wt]), b], [ctx.output(node)])


@register_lowering("softmax_cross_entropy", "onnx")
def _ce_onnx(ctx, node):
    a = node.attrs
    if a.get("label_smoothing"):
        raise Unsupported("ONNX's SoftmaxCrossEntropyLoss has no label smoothing", "label_smoothing=0.0")
    ctx.emit("SoftmaxCrossEntropyLoss", [ctx.input(node, 0), ctx.input(node, 1)], [ctx.output(node)],
             reduction=a.get("reduction", "mean"), ignore_index=int(a.get("ignore_index", -100)))


unsupported("standardize_grad", "onnx", "a gradient (layer norm's backward); ONNX export covers inference graphs")


# TFLite
_tflite.unary("relu", "RELU")
_tflite.mark(["softmax_cross_entropy", "softmax_cross_entropy_grad", "standardize_grad"], _tflite.TRAINING)


@register_lowering("linear", "tflite")
def _linear_tflite(ctx, node):
    ins = ctx.inputs(node)
    bias = ins[2] if len(ins) > 2 else -1
    opts = ctx.options("FullyConnected", keepNumDims=node.inputs[0].ndim != 2)  # 1-D: (out,), not (1, out)
    ctx.emit("FULLY_CONNECTED", [ins[0], ins[1], bias], [ctx.output(node)], opts)


def softmax_tflite(ctx, x, v, axis, out, log=False):
    """SOFTMAX / LOG_SOFTMAX over ``axis`` of tensor ``x`` (IR value ``v``) into tensor ``out`` (TFLite's kernels
    work on the last axis: other axes are swapped there and back)."""
    builtin, opts = ("LOG_SOFTMAX", None) if log else ("SOFTMAX", ctx.options("Softmax", beta=1.0))
    axis %= v.ndim
    if axis == v.ndim - 1:
        return ctx.emit(builtin, [x], [out], opts)
    perm = list(range(v.ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]  # a swap: its own inverse
    shape = tuple(v.shape[p] for p in perm)
    xt = ctx.emit("TRANSPOSE", [x, ctx.ints(perm)], [ctx.temp(shape, v.dtype)])
    st = ctx.unary(builtin, xt, shape, v.dtype, opts)
    return ctx.emit("TRANSPOSE", [st, ctx.ints(perm)], [out])


@register_lowering("softmax", "tflite")
def _softmax_tflite(ctx, node):
    softmax_tflite(ctx, ctx.inputs(node)[0], node.inputs[0], node.attrs.get("axis", -1), ctx.output(node))


def standardize_tflite(ctx, x, v, n, eps, out):
    """(x - mean) * rsqrt(var + eps) over the last ``n`` dims of tensor ``x`` (IR value ``v``) into ``out``."""
    axes = ctx.ints(list(range(v.ndim - n, v.ndim)))
    kept = v.shape[: v.ndim - n] + (1,) * n
    keep = ctx.options("Reducer", keepDims=True)
    mean = ctx.emit("MEAN", [x, axes], [ctx.temp(kept, v.dtype)], keep)
    centred = ctx.emit("SUB", [x, mean], [ctx.temp(v.shape, v.dtype)], ctx.options("Sub"))
    square = ctx.emit("MUL", [centred, centred], [ctx.temp(v.shape, v.dtype)], ctx.options("Mul"))
    var = ctx.emit("MEAN", [square, axes], [ctx.temp(kept, v.dtype)], keep)
    shifted = ctx.emit("ADD", [var, ctx.scalar(eps, v.dtype)], [ctx.temp(kept, v.dtype)], ctx.options("Add"))
    inv = ctx.unary("RSQRT", shifted, kept, v.dtype)
    return ctx.emit("MUL", [centred, inv], [out], ctx.options("Mul"))


@register_lowering("standardize", "tflite")
def _standardize_tflite(ctx, node):
    standardize_tflite(ctx, ctx.inputs(node)[0], node.inputs[0], int(node.attrs["ndim"]), node.attrs["eps"],
                       ctx.output(node))
