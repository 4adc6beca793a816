"""Elementwise primitives: forward (array code written once with xp) and vjp (Ember ops), side by side."""
from __future__ import annotations

import math

import numpy as _np

from ._core import apply, register
from ._rules import cast_rule, comparison, elementwise


def unbroadcast(g, shape, dtype=None):
    """Sum ``g`` down to ``shape`` (the vjp of NumPy broadcasting) and cast it to ``dtype``."""
    if tuple(g.shape) != tuple(shape):
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
        if axes:
            g = apply("sum", g, axis=axes, keepdims=False)
        if tuple(g.shape) != tuple(shape):
            g = apply("reshape", g, shape=tuple(shape))
    if dtype is not None and g.dtype is not dtype:
        g = apply("cast", g, dtype=dtype.name)
    return g


def _unary(name, fwd, vjp=None, saves=(0,), saves_out=False):
    return register(name, fwd, vjp=vjp, infer=lambda x: elementwise(name, x), saves=saves, saves_out=saves_out,
                    kind="elementwise")


def _binary(name, fwd, vjp=None, saves=(0, 1)):
    return register(name, fwd, vjp=vjp, infer=lambda a, b: elementwise(name, a, b), saves=saves,
                    kind="elementwise")


def _zero_grads(g, out, *inputs):
    return tuple(None if not x.requires_grad else g * 0 for x in inputs)


# -- unary ---------------------------------------------------------------------------------------------------
_unary("neg", lambda xp, x: xp.negative(x), lambda g, out, x: (-g,), saves=())
_unary("exp", lambda xp, x: xp.exp(x), lambda g, out, x: (g * out,), saves=(), saves_out=True)
_unary("log", lambda xp, x: xp.log(x), lambda g, out, x: (g / x,))
_unary("sin", lambda xp, x: xp.sin(x), lambda g, out, x: (g * x.cos(),))
_unary("cos", lambda xp, x: xp.cos(x), lambda g, out, x: (-g * x.sin(),))
_unary("tanh", lambda xp, x: xp.tanh(x), lambda g, out, x: (g * (1 - out * out),), saves=(), saves_out=True)
_unary("sqrt", lambda xp, x: xp.sqrt(x), lambda g, out, x: (g / (out * 2),), saves=(), saves_out=True)
_unary("abs", lambda xp, x: xp.abs(x), lambda g, out, x: (g * x.sign(),))


def _sigmoid(xp, x):
    # 1 / (1 + exp(-x)) overflows for very negative x; split by sign for a stable result
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


_unary("sigmoid", _sigmoid, lambda g, out, x: (g * out * (1 - out),), saves=(), saves_out=True)


def _erf(xp, x):
    from ..backend import erf

    return erf(x)


_unary("erf", _erf, lambda g, out, x: (g * (2.0 / math.sqrt(math.pi)) * (-(x * x)).exp(),))

for _name in ("sign", "floor", "ceil", "round", "trunc"):
    _unary(_name, (lambda fn: lambda xp, x: getattr(xp, fn)(x))("rint" if _name == "round" else _name),
           _zero_grads, saves=())
register("logical_not", lambda xp, x: xp.logical_not(x), infer=comparison("logical_not"), kind="elementwise")
register("cast", lambda xp, x, dtype: x.astype(_np_dtype(dtype), copy=False), infer=cast_rule, kind="elementwise",
         vjp=lambda g, out, x, dtype: (apply("cast", g, dtype=x.dtype.name),))
register("copy", lambda xp, x: xp.array(x, copy=True, order="C"), infer=lambda x: x, kind="elementwise",
         vjp=lambda g, out, x: (g,))


def _np_dtype(name):
    from ..dtypes import from_name

    return from_name(name).np


# -- binary --------------------------------------------------------------------------------------------------
def _add_vjp(g, out, a, b):
    return (unbroadcast(g, a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(g, b.shape, b.dtype) if b.requires_grad else None)


def _sub_vjp(g, out, a, b):
    return (unbroadcast(g, a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(-g, b.shape, b.dtype) if b.requires_grad else None)


def _mul_vjp(g, out, a, b):
    return (unbroadcast(g * b, a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(g * a, b.shape, b.dtype) if b.requires_grad else None)


def _div_vjp(g, out, a, b):
    ga = g / b
    return (unbroadcast(ga, a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(-ga * a / b, b.shape, b.dtype) if b.requires_grad else None)


def _pow_vjp(g, out, a, b):
    ga = gb = None
    if a.requires_grad:
        ga = unbroadcast(g * b * a ** (b - 1), a.shape, a.dtype)
    if b.requires_grad:
        safe = apply("where", a > 0, a, a.detach() * 0 + 1)
        gb = unbroadcast(g * a ** b * safe.log(), b.shape, b.dtype)
    return ga, gb


def _minmax_vjp(pick):
    def vjp(g, out, a, b):
        # ties split the gradient evenly, as PyTorch does
        wa = apply("cast", pick(a, b), dtype=g.dtype.name) + apply("cast", apply("eq", a, b), dtype=g.dtype.name) * 0.5
        return (unbroadcast(g * wa, a.shape, a.dtype) if a.requires_grad else None,
                unbroadcast(g * (1 - wa), b.shape, b.dtype) if b.requires_grad else None)

    return vjp


def _remainder_vjp(g, out, a, b):
    return (unbroadcast(g, a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(-g * apply("floordiv", a, b), b.shape, b.dtype) if b.requires_grad else None)


_binary("add", lambda xp, a, b: xp.add(a, b), _add_vjp, saves=())
_binary("sub", lambda xp, a, b: xp.subtract(a, b), _sub_vjp, saves=())
_binary("mul", lambda xp, a, b: xp.multiply(a, b), _mul_vjp)
_binary("div", lambda xp, a, b: xp.true_divide(a, b), _div_vjp)
_binary("pow", lambda xp, a, b: xp.power(a, b), _pow_vjp)
_binary("maximum", lambda xp, a, b: xp.maximum(a, b), _minmax_vjp(lambda a, b: apply("gt", a, b)))
_binary("minimum", lambda xp, a, b: xp.minimum(a, b), _minmax_vjp(lambda a, b: apply("lt", a, b)))
_binary("floordiv", lambda xp, a, b: xp.floor_divide(a, b), _zero_grads, saves=())
_binary("remainder", lambda xp, a, b: xp.remainder(a, b), _remainder_vjp)
for _name, _fn in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                   ("ge", "greater_equal"), ("logical_and", "logical_and"), ("logical_or", "logical_or"),
                   ("logical_xor", "logical_xor")):
    register(_name, (lambda fn: lambda xp, a, b: getattr(xp, fn)(a, b))(_fn), infer=comparison(_name),
             kind="elementwise")


def _where_vjp(g, out, c, a, b):
    zero = g._scalar(0)
    return (None,
            unbroadcast(apply("where", c, g, zero), a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(apply("where", c, zero, g), b.shape, b.dtype) if b.requires_grad else None)


def _where_rule(c, a, b):
    shape = elementwise("where", c, a, b).shape
    return elementwise("where", a, b).__class__(shape, elementwise("where", a, b).dtype, a.device)


_BITS = {4: "int32", 8: "int64"}


def _where_fwd(xp, c, a, b):
    # np.where branches per element and is ~10x slower than arithmetic on unpredictable masks (ReLU
    # gradients, attention masks); selecting the bit patterns with and/or is branchless and exact
    if xp is not _np or c.dtype != _np.bool_ or a.dtype != b.dtype or a.dtype.kind != "f" or \
            a.dtype.itemsize not in _BITS or max(c.size, a.size, b.size) < 4096:
        return xp.where(c, a, b)
    it = _np.dtype(_BITS[a.dtype.itemsize])
    mask = _np.negative(c, dtype=it)  # all ones where c, zeros elsewhere
    ai, bi = _np.asarray(a).view(it), _np.asarray(b).view(it)
    if b.ndim == 0 and bi == 0:  # where(c, a, +0.0): the common masking case
        out = _np.bitwise_and(ai, mask)
    elif a.ndim == 0 and ai == 0:
        out = _np.bitwise_and(bi, _np.invert(mask))
    else:
        out = _np.bitwise_or(_np.bitwise_and(ai, mask), _np.bitwise_and(bi, _np.invert(mask)))
    return out.view(a.dtype)


register("where", _where_fwd, vjp=_where_vjp, infer=_where_rule, saves=(0,), kind="elementwise")
