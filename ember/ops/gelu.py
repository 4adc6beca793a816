"""GELU's exact form as two primitives: ``gelu_erf(x) = x * Phi(x)`` and its gradient ``gelu_erf_vjp(g, x, y) =
g * (Phi(x) + x * phi(x))``, Phi and phi the standard normal CDF and density (``nn.GELU()``, ``F.gelu``);
``y`` is the forward's output, from which the float32 loop reads Phi back instead of computing erf again.

As a composite of erf, adds and multiplies the forward made five passes over the tensor and the backward
ten; eagerly each is one (float32: one numba SIMD loop, ``_jit_math.gelu32_loops``; otherwise NumPy /
CuPy passes). The compiled executor runs the same primitive forms (not fused: so eager and compiled give the
same bits). The vjp of ``gelu_erf_vjp`` is written in Ember ops (Phi'' = phi (2 - x^2)), so second
derivatives work. Export keeps the ``gelu`` layer op (ONNX ``Gelu`` or its erf form, TFLite ``GELU``); the
primitive lowers the same way where a layer is decomposed.

>>> import ember
>>> from ember.ops import apply
>>> round(float(apply("gelu_erf", ember.tensor(1.0))), 4)
0.8413
"""
from __future__ import annotations

import math

import numpy as np

from .._jit_math import gelu32_loops
from ..backend import erf
from ._core import apply, register, register_lowering, unsupported
from ._rules import elementwise

ROOT_HALF = 1 / math.sqrt(2.0)
INV_ROOT_2PI = 1 / math.sqrt(2 * math.pi)


def _float_rule(name, *avals):
    for a in avals:
        if not a.dtype.is_floating_point:
            raise TypeError(f"{name}: expected a floating-point tensor, got {a.dtype.name} of shape {a.shape}; "
                            f"convert it with .float()")
    return elementwise(name, *avals)


def _simd(xp, *arrays):
    """The float32 SIMD loops, where they apply (NumPy arrays of float32, numba there)."""
    if xp is np and all(a.dtype == np.float32 for a in arrays):
        return gelu32_loops()
    return None


def _flat(a):
    return np.ascontiguousarray(a).reshape(-1)


def _require_float(name, *arrays):
    """The shape rule's dtype check, eagerly too (``apply`` runs no rules on eager calls)."""
    for a in arrays:
        if a.dtype.kind not in "fV":  # ("V": bfloat16)
            raise TypeError(f"{name}: expected a floating-point tensor, got {a.dtype} of shape {a.shape}; "
                            f"convert it with .float()")


def _gelu_fwd(xp, x):
    _require_float("gelu_erf", x)
    loops = _simd(xp, x)
    if loops is not None:
        out = np.empty(x.shape, np.float32)
        loops[0](_flat(x), out.reshape(-1))
        return out
    w = _wide(xp, x)
    with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as the composite and PyTorch give, without a warning
        return (w * ((1 + erf(w * w.dtype.type(ROOT_HALF))) * w.dtype.type(0.5))).astype(x.dtype, copy=False)


def _wide(xp, a):
    """float16 and bfloat16 compute in float32 and round once, as PyTorch's CPU kernels do (in float16,
    1 + erf(x) cancels: gelu(-3) came out 8% off)."""
    return a.astype(xp.float32) if a.dtype.itemsize < 4 else a


def _gelu_vjp(g, out, x):
    return (apply("gelu_erf_vjp", g, x, out),)


def _gelu_grad_fwd(xp, g, x, y):
    _require_float("gelu_erf_vjp", g, x, y)
    loops = _simd(xp, g, x, y)
    if loops is not None:  # Phi read back from y = x Phi(x): no second erf
        out = np.empty(x.shape, np.float32)
        loops[1](_flat(g), _flat(x), _flat(y), out.reshape(-1))
        return out
    gw, w = _wide(xp, g), _wide(xp, x)
    t = w.dtype.type
    with np.errstate(invalid="ignore", over="ignore"):
        cdf = (1 + erf(w * t(ROOT_HALF))) * t(0.5)
        pdf = xp.exp(w * w * t(-0.5)) * t(INV_ROOT_2PI)
        return (gw * (cdf + w * pdf)).astype(x.dtype, copy=False)


def _gelu_grad_vjp(c, out, g, x, y):
    """d/dg: Phi + x phi, i.e. this op again on ``c``; d/dx: g * phi(x) * (2 - x^2). ``y`` (= gelu(x)) only
    spares the forward an erf: the value does not depend on it apart from x, so it gets no cotangent."""
    gg = apply("gelu_erf_vjp", c, x, y) if g.requires_grad else None
    gx = None
    if x.requires_grad:
        pdf = apply("mul", apply("exp", apply("mul", apply("mul", x, x), x._scalar(-0.5))), x._scalar(INV_ROOT_2PI))
        curve = apply("mul", pdf, apply("sub", x._scalar(2.0), apply("mul", x, x)))
        gx = apply("mul", apply("mul", c, g), curve)
    return gg, gx, None


def _grad_rule(g, x, y):
    if not (g.shape == x.shape == y.shape) or not (g.dtype == x.dtype == y.dtype):
        raise ValueError(f"gelu_erf_vjp: expected the gradient, the input and gelu's output of one shape and "
                         f"dtype, got {g.shape} {g.dtype.name}, {x.shape} {x.dtype.name}, {y.shape} {y.dtype.name}")
    return _float_rule("gelu_erf_vjp", g, x, y)


register("gelu_erf", _gelu_fwd, vjp=_gelu_vjp, infer=lambda x: _float_rule("gelu_erf", x), saves=(0,),
         saves_out=True, kind="elementwise")
register("gelu_erf_vjp", _gelu_grad_fwd, vjp=_gelu_grad_vjp, infer=_grad_rule, saves=(0, 1, 2),
         kind="elementwise")

for _name in ("gelu_erf", "gelu_erf_vjp"):
    for _target in ("numba", "cuda"):  # its own call, the eager forms: compiled equals eager to the bit
        unsupported(_name, _target, "GELU runs as its own one-pass kernel, not fused into its neighbours")
unsupported("gelu_erf_vjp", "onnx", "a gradient: ONNX export writes inference graphs (export in eval mode)")
unsupported("gelu_erf_vjp", "tflite", "a gradient: TFLite export writes inference graphs (export in eval mode)")


@register_lowering("gelu_erf", "onnx")
def _gelu_onnx(ctx, node):
    from .layers.norm import gelu_onnx

    gelu_onnx(ctx, ctx.input(node, 0), node.outputs[0].dtype, "none", ctx.output(node))


@register_lowering("gelu_erf", "tflite")
def _gelu_tflite(ctx, node):
    ctx.emit("GELU", ctx.inputs(node), [ctx.output(node)], ctx.options("Gelu", approximate=False))

