"""Inverse-trigonometric and hyperbolic primitives (``asin`` ... ``atanh``, ``atan2``).

Each is a primitive rather than a composite of ``log``/``sqrt``/``exp``: the composites lose precision near
0 (``sinh``, ``asinh``, ``atanh`` of small x) or overflow early (``cosh`` of large x). Vjps are written with
Ember ops, so second derivatives work.
"""
from __future__ import annotations

from ._core import apply
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
