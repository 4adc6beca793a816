"""Primitives on the representation of numbers: ``gcd`` of integers, ``nextafter`` (the next float towards a
target) and ``frexp``'s two halves (``frexp_mantissa`` in [0.5, 1), ``frexp_exponent`` as int32). Only the
mantissa is differentiable: it is ``x * 2**-e`` with ``e`` piecewise constant.

>>> import ember
>>> from ember.ops import apply
>>> apply("gcd", ember.tensor([12, -18]), ember.tensor([8, 12])).tolist()
[4, 6]
>>> apply("frexp_exponent", ember.tensor([8.0, 0.75])).tolist()
[4, 0]
"""
from __future__ import annotations

import numpy as np

from ..dtypes import int32
from ._core import Aval, apply, register, register_lowering, unsupported
from ._rules import elementwise


def _integers_only(name):
    def rule(*avals):
        for a in avals:
            if a.dtype.category != 1:
                raise TypeError(f"{name}: needs integer tensors, got {a.dtype.name} (shapes "
                                f"{', '.join(str(tuple(v.shape)) for v in avals)}); cast with .long()")
        return elementwise(name, *avals)
    return rule


def _floats_only(name, out_dtype=None):
    def rule(*avals):
        for a in avals:
            if a.dtype.category != 2:
                raise TypeError(f"{name}: needs floating-point tensors, got {a.dtype.name}; cast with .float()")
        out = elementwise(name, *avals)
        return Aval(out.shape, out_dtype or out.dtype, out.device)
    return rule


def _no_grad(g, out, *inputs):
    return tuple(None for _ in inputs)


def _mantissa_vjp(g, out, x):
    # d(m)/dx = 2**-e = m / x exactly (a power of two); 1 at 0, inf and NaN, as PyTorch's grad / exp2(e)
    regular = apply("logical_and", apply("ne", x, x._scalar(0.0)), apply("lt", apply("abs", x), x._scalar(np.inf)))
    scale = apply("where", regular, out / apply("where", regular, x, x._scalar(1.0)), x._scalar(1.0))
    return (g * scale,)


register("gcd", lambda xp, a, b: xp.gcd(a, b), vjp=_no_grad, infer=_integers_only("gcd"), kind="elementwise")
register("nextafter", lambda xp, a, b: xp.nextafter(a, b), vjp=_no_grad, infer=_floats_only("nextafter"),
         kind="elementwise")
register("frexp_mantissa", lambda xp, x: xp.frexp(x)[0], vjp=_mantissa_vjp, infer=_floats_only("frexp"),
         saves=(0,), saves_out=True, kind="elementwise")
register("frexp_exponent", lambda xp, x: xp.frexp(x)[1].astype(np.int32, copy=False), vjp=_no_grad,
         infer=_floats_only("frexp", int32), kind="elementwise")

register_lowering("gcd", "numba", "np.gcd({0}, {1})")
register_lowering("nextafter", "numba", "np.nextafter({0}, {1})")
for _name in ("frexp_mantissa", "frexp_exponent"):
    unsupported(_name, "numba", "numba has no frexp: the node runs as its own NumPy call")
for _name in ("gcd", "nextafter", "frexp_mantissa", "frexp_exponent"):
    # (CUDA's nextafter has float overloads only in C++; a silent double round trip would be wrong)
    unsupported(_name, "cuda", "no CUDA kernel form yet: the node runs as its own CuPy call")
    unsupported(_name, "onnx", "ONNX has no operator for it (no gcd, nextafter or frexp); compute it before "
                "export or use the model.ember format")
    unsupported(_name, "tflite", "TFLite has no operator for it (no gcd, nextafter or frexp); compute it before "
                "export or use the model.ember format")
