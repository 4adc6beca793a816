"""Inverse-trigonometric and hyperbolic primitives (``asin`` ... ``atanh``, ``atan2``).

Each is a primitive rather than a composite of ``log``/``sqrt``/``exp``: the composites lose precision near
0 (``sinh``, ``asinh``, ``atanh`` of small x) or overflow early (``cosh`` of large x). Vjps are written with
Ember ops, so second derivatives work.
"""
from __future__ import annotations

import math

from . import _onnx, _tflite
from ._core import apply, register_lowering
from .elementwise import _binary, _unary, unbroadcast


def _sqrt(x):
    return apply("sqrt", x)


def _one_minus_sq(x):
    return 1 - x * x


_unary("asin", lambda xp, x: xp.arcsin(x), lambda g, out, x: (g / _sqrt(_one_minus_sq(x)),))
_unary("acos", lambda xp, x: xp.arccos(x), lambda g, out, x: (-g / _sqrt(_one_minus_sq(x)),))
_unary("atan", lambda xp, x: xp.arctan(x), lambda g, out, x: (g / (x * x + 1),))
_unary("sinh", lambda xp, x: xp.sinh(x), lambda g, out, x: (g * apply("cosh", x),))
_unary("cosh", lambda xp, x: xp.cosh(x), lambda g, out, x: (g * apply("sinh", x),))
_unary("asinh", lambda xp, x: xp.arcsinh(x), lambda g, out, x: (g / _sqrt(x * x + 1),))
_unary("acosh", lambda xp, x: xp.arccosh(x), lambda g, out, x: (g / _sqrt(x * x - 1),))
_unary("atanh", lambda xp, x: xp.arctanh(x), lambda g, out, x: (g / _one_minus_sq(x),))


def _atan2_vjp(g, out, a, b):
    r2 = a * a + b * b
    return (unbroadcast(g * b / r2, a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(-g * a / r2, b.shape, b.dtype) if b.requires_grad else None)


_binary("atan2", lambda xp, a, b: xp.arctan2(a, b), _atan2_vjp)


# -- lowerings: kernel forms for the fused executors and one ONNX node each (atan2: a composite, ONNX has none)
_FORMS = {"asin": ("arcsin", "asin", "Asin"), "acos": ("arccos", "acos", "Acos"), "atan": ("arctan", "atan", "Atan"),
          "sinh": ("sinh", "sinh", "Sinh"), "cosh": ("cosh", "cosh", "Cosh"), "asinh": ("arcsinh", "asinh", "Asinh"),
          "acosh": ("arccosh", "acosh", "Acosh"), "atanh": ("arctanh", "atanh", "Atanh")}
for _name, (_np_fn, _c_fn, _onnx_type) in _FORMS.items():
    register_lowering(_name, "numba", f"np.{_np_fn}({{0}})")
    register_lowering(_name, "cuda", f"{_c_fn}({{0}})")
    _onnx.simple(_name, _onnx_type)
register_lowering("atan2", "numba", "np.arctan2({0}, {1})")
register_lowering("atan2", "cuda", "atan2({0}, {1})")


@register_lowering("atan2", "onnx")
def _atan2_onnx(ctx, node):
    """atan(a / b), moved by +-pi into the right quadrant where b < 0, and +-pi/2 (sign of a) where b == 0."""
    a, b = _onnx.same_dtype_inputs(ctx, node)
    dt = node.outputs[0].dtype
    zero = ctx.scalar(0, dt)
    base = ctx.emit("Atan", [ctx.emit("Div", [a, b])])
    a_neg = ctx.emit("Less", [a, zero])
    pi = ctx.emit("Where", [a_neg, ctx.scalar(-math.pi, dt), ctx.scalar(math.pi, dt)])
    shifted = ctx.emit("Where", [ctx.emit("Less", [b, zero]), ctx.emit("Add", [base, pi]), base])
    half = ctx.emit("Where", [a_neg, ctx.scalar(-math.pi / 2, dt), ctx.scalar(math.pi / 2, dt)])
    on_axis = ctx.emit("Where", [ctx.emit("Equal", [a, zero]), zero, half])
    ctx.emit("Where", [ctx.emit("Equal", [b, zero]), on_axis, shifted], [ctx.output(node)])


_tflite.mark(("asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"),
             "TFLite has no builtin for it (its math set is SIN/COS/EXP/LOG/TANH); the ONNX export has it")
_tflite.mark(["atan2"], "no TFLite lowering written yet (TFLite's ATAN2 would do it); the ONNX export has it")
