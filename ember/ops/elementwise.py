"""Elementwise primitives: forward (array code written once with xp) and vjp (Ember ops), side by side."""
from __future__ import annotations

import math

import numpy as _np

from ..dtypes import COMPLEX_SEEN, to_real
from . import _onnx, _spread, _tflite, select_loops
from ._core import CHECK_ATTR, Aval, apply, register, register_lowering, unsupported
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
        g = grad_as(g, dtype)
    return g


def grad_as(g, dtype):
    """The gradient ``g`` in an input's ``dtype``: a real input of a complex result takes the real part
    (PyTorch's convention: the gradient of a real loss with respect to x + iy is dL/dx + i dL/dy)."""
    if g._data.dtype.kind == "c" and not dtype.is_complex:
        g = apply("real", g)
        if g.dtype is dtype:
            return g
    return apply("cast", g, dtype=dtype.name)


def _spreading(ufunc, fwd):
    """The forward of an op that is a plain ufunc: large NumPy calls spread over the cores in blocks of the
    first axis (``_spread.ufunc_call``: the same bits)."""
    if ufunc is None:
        return fwd
    fn = getattr(_np, ufunc)
    return lambda xp, *arrays: _spread.ufunc_call(xp, fn, *arrays) if xp is _np else fwd(xp, *arrays)


def _unary(name, fwd, vjp=None, saves=(0,), saves_out=False, **facts):
    fwd = _spreading(facts.get("ufunc"), fwd)
    return register(name, fwd, vjp=vjp, infer=lambda x: elementwise(name, x), saves=saves, saves_out=saves_out,
                    kind="elementwise", **facts)


def _binary(name, fwd, vjp=None, saves=(0, 1), **facts):
    fwd = _spreading(facts.get("ufunc"), fwd)
    return register(name, fwd, vjp=vjp, infer=lambda a, b: elementwise(name, a, b), saves=saves,
                    kind="elementwise", **facts)


def _zero_grads(g, out, *inputs):
    return tuple(None if not x.requires_grad else g * 0 for x in inputs)


# -- unary ---------------------------------------------------------------------------------------------------
_unary("neg", lambda xp, x: xp.negative(x), lambda g, out, x: (-g,), saves=(), ufunc="negative", complex_ok=True)
_unary("exp", lambda xp, x: xp.exp(x), lambda g, out, x: (g * out,), saves=(), saves_out=True, ufunc="exp")
_unary("log", lambda xp, x: xp.log(x), lambda g, out, x: (g / x,), ufunc="log")
_unary("sin", lambda xp, x: xp.sin(x), lambda g, out, x: (g * x.cos(),), ufunc="sin")
_unary("cos", lambda xp, x: xp.cos(x), lambda g, out, x: (-g * x.sin(),), ufunc="cos")
_unary("tanh", lambda xp, x: xp.tanh(x), lambda g, out, x: (g * (1 - out * out),), saves=(), saves_out=True,
       ufunc="tanh")
_unary("sqrt", lambda xp, x: xp.sqrt(x), lambda g, out, x: (g / (out * 2),), saves=(), saves_out=True,
       ufunc="sqrt")


def _abs_vjp(g, out, x):
    if x._data.dtype.kind != "c":
        return (g * x.sign(),)
    m = apply("abs", x)  # complex: g * x / |x| (PyTorch's convention: d|z|/dx + i d|z|/dy), 0 at z = 0
    return (g * (x / apply("where", apply("eq", m, m._scalar(0)), m._scalar(1), m)),)


register("abs", _spreading("abs", lambda xp, x: xp.abs(x)), vjp=_abs_vjp, saves=(0,), kind="elementwise",
         ufunc="abs", complex_ok=True, infer=lambda x: Aval(elementwise("abs", x).shape, to_real(x.dtype), x.device))
# log1p and expm1 are primitives, not log(1 + x) and exp(x) - 1: those lose every digit of a tiny x
# (float32 log(1 + 1e-10) is 0; torch.log1p gives 1e-10)
_unary("log1p", lambda xp, x: xp.log1p(x), lambda g, out, x: (g / (x + 1),), ufunc="log1p")
_unary("expm1", lambda xp, x: xp.expm1(x), lambda g, out, x: (g * (out + 1),), saves=(), saves_out=True,
       ufunc="expm1")


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
    _fn = "rint" if _name == "round" else _name
    _unary(_name, (lambda fn: lambda xp, x: getattr(xp, fn)(x))(_fn), _zero_grads, saves=(), ufunc=_fn)
register("logical_not", lambda xp, x: xp.logical_not(x), infer=comparison("logical_not"), kind="elementwise")


def _cast_fwd(xp, x, dtype):
    to = _np_dtype(dtype)
    if x.dtype.kind == "c" and to.kind not in "cb":
        err = TypeError(f"cast: converting {x.dtype} to {dtype} would drop the imaginary part (the function "
                        "converting it takes real numbers only); take .real or .abs() first, or convert with "
                        "x.to(dtype), which takes the real part with PyTorch's warning")
        setattr(err, CHECK_ATTR, True)
        raise err
    if to.kind == "c":
        COMPLEX_SEEN[0] = True
    return x.astype(to, copy=False)


register("cast", _cast_fwd, infer=cast_rule, kind="elementwise", complex_ok=True,
         vjp=lambda g, out, x, dtype: (grad_as(g, x.dtype),))
register("copy", lambda xp, x: xp.array(x, copy=True, order="C"), infer=lambda x: x, kind="elementwise",
         vjp=lambda g, out, x: (g,), complex_ok=True)


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


def _conj(x):
    """conj(x) for a complex x (the vjps of holomorphic ops multiply by the conjugate derivative), else x."""
    return apply("conj", x) if x._data.dtype.kind == "c" else x


def _mul_vjp(g, out, a, b):
    return (unbroadcast(g * _conj(b), a.shape, a.dtype) if a.requires_grad else None,
            unbroadcast(g * _conj(a), b.shape, b.dtype) if b.requires_grad else None)


def _div_vjp(g, out, a, b):
    ga = g / _conj(b)
    gb = None
    if b.requires_grad:
        gb = -ga * _conj(a / b) if "c" in (a._data.dtype.kind, b._data.dtype.kind) else -ga * a / b
        gb = unbroadcast(gb, b.shape, b.dtype)
    return (unbroadcast(ga, a.shape, a.dtype) if a.requires_grad else None, gb)


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


_binary("add", lambda xp, a, b: xp.add(a, b), _add_vjp, saves=(), ufunc="add", complex_ok=True)
_binary("sub", lambda xp, a, b: xp.subtract(a, b), _sub_vjp, saves=(), ufunc="subtract", complex_ok=True)
_binary("mul", lambda xp, a, b: xp.multiply(a, b), _mul_vjp, ufunc="multiply", complex_ok=True)
_binary("div", lambda xp, a, b: xp.true_divide(a, b), _div_vjp, ufunc="true_divide", complex_ok=True)
_binary("pow", lambda xp, a, b: xp.power(a, b), _pow_vjp, ufunc="power")
_binary("maximum", lambda xp, a, b: xp.maximum(a, b), _minmax_vjp(lambda a, b: apply("gt", a, b)),
        ufunc="maximum")
_binary("minimum", lambda xp, a, b: xp.minimum(a, b), _minmax_vjp(lambda a, b: apply("lt", a, b)),
        ufunc="minimum")
_binary("floordiv", lambda xp, a, b: xp.floor_divide(a, b), _zero_grads, saves=())
_binary("remainder", lambda xp, a, b: xp.remainder(a, b), _remainder_vjp)
for _name, _fn in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                   ("ge", "greater_equal"), ("logical_and", "logical_and"), ("logical_or", "logical_or"),
                   ("logical_xor", "logical_xor")):
    _uf = None if _name.startswith("logical") else _fn
    register(_name, _spreading(_uf, (lambda fn: lambda xp, a, b: getattr(xp, fn)(a, b))(_fn)),
             infer=comparison(_name), kind="elementwise", compare=True, ufunc=_uf, complex_ok=_name in ("eq", "ne"))


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
    out = select_loops.where(c, a, b)  # one numba pass where it applies (same shapes or 0-d operands)
    if out is not None:
        return out
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


register("where", _where_fwd, vjp=_where_vjp, infer=_where_rule, saves=(0,), kind="elementwise", complex_ok=True)


# -- lowerings ------------------------------------------------------------------------------------------------
# Fused-kernel forms: a scalar expression over the operands {0}, {1}, ... for numba ("numba", Python syntax) and
# CUDA C ("cuda"); a callable ``form(kctx, node, args)`` where the form depends on a dtype (see graph/kernels.py).
def _numba_exp(kctx, node, args):
    # a branch-free float32 exp where the loop vectorizes (contiguous operands), libm's elsewhere
    return f"_exp32({args[0]})" if kctx.simd and node.outputs[0].dtype == "float32" else f"np.exp({args[0]})"


def _numba_erf(kctx, node, args):
    # branch-free, so the loop vectorizes: ~7x faster than math.erf
    return f"_erf32({args[0]})" if node.outputs[0].dtype == "float32" else f"math.erf({args[0]})"


def _numba_cast(kctx, node, args):
    dt = node.attrs["dtype"]
    return f"({args[0]} != 0)" if dt == "bool" else f"np.{dt}({args[0]})"


def _cuda_cast(kctx, node, args):
    return f"(({kctx.c_type(node.attrs['dtype'])})({args[0]}))"


_KERNEL_FORMS = {
    "neg": ("-{0}", "-{0}"), "exp": (_numba_exp, "exp({0})"), "log": ("np.log({0})", "log({0})"),
    "log1p": ("np.log1p({0})", "log1p({0})"), "expm1": ("np.expm1({0})", "expm1({0})"),
    "sin": ("np.sin({0})", "sin({0})"), "cos": ("np.cos({0})", "cos({0})"), "tanh": ("np.tanh({0})", "tanh({0})"),
    "sqrt": ("np.sqrt({0})", "sqrt({0})"), "abs": ("abs({0})", "abs({0})"),
    "sign": ("np.sign({0})", "(({0} > 0) - ({0} < 0))"), "floor": ("np.floor({0})", "floor({0})"),
    "ceil": ("np.ceil({0})", "ceil({0})"), "round": ("np.rint({0})", "rint({0})"),
    "trunc": ("np.trunc({0})", "trunc({0})"), "erf": (_numba_erf, "erf({0})"),
    "logical_not": ("not {0}", "!{0}"),
    "sigmoid": ("_sigmoid({0})", "({0} >= 0 ? 1 / (1 + exp(-{0})) : exp({0}) / (1 + exp({0})))"),
    "add": ("{0} + {1}", "{0} + {1}"), "sub": ("{0} - {1}", "{0} - {1}"), "mul": ("{0} * {1}", "{0} * {1}"),
    "div": ("{0} / {1}", "{0} / {1}"), "pow": ("{0} ** {1}", "pow({0}, {1})"),
    "maximum": ("np.maximum({0}, {1})", "({0} != {0} || {0} > {1} ? {0} : {1})"),
    "minimum": ("np.minimum({0}, {1})", "({0} != {0} || {0} < {1} ? {0} : {1})"),
    "floordiv": ("np.floor_divide({0}, {1})", None), "remainder": ("np.remainder({0}, {1})", None),
    "eq": ("{0} == {1}", "{0} == {1}"), "ne": ("{0} != {1}", "{0} != {1}"), "lt": ("{0} < {1}", "{0} < {1}"),
    "le": ("{0} <= {1}", "{0} <= {1}"), "gt": ("{0} > {1}", "{0} > {1}"), "ge": ("{0} >= {1}", "{0} >= {1}"),
    "logical_and": ("bool({0}) and bool({1})", "{0} && {1}"),
    "logical_or": ("bool({0}) or bool({1})", "{0} || {1}"),
    "logical_xor": ("bool({0}) != bool({1})", "(!{0}) != (!{1})"),
    "where": ("{1} if {0} else {2}", "({0} ? {1} : {2})"), "cast": (_numba_cast, _cuda_cast),
}
for _name, (_py, _cu) in _KERNEL_FORMS.items():
    register_lowering(_name, "numba", _py)
    if _cu is None:
        unsupported(_name, "cuda", "no CUDA kernel form yet: the node runs as its own CuPy call")
    else:
        register_lowering(_name, "cuda", _cu)
unsupported("copy", "numba", "a copy is a memory operation, not arithmetic: it is never fused")
unsupported("copy", "cuda", "a copy is a memory operation, not arithmetic: it is never fused")

# ONNX: one node each where ONNX has the op; arithmetic inputs are cast to the output dtype (ONNX wants one type)
for _name, _type in (("neg", "Neg"), ("exp", "Exp"), ("log", "Log"), ("sin", "Sin"), ("cos", "Cos"),
                     ("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("sqrt", "Sqrt"), ("erf", "Erf"), ("abs", "Abs"),
                     ("sign", "Sign"), ("floor", "Floor"), ("ceil", "Ceil"), ("round", "Round"),
                     ("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"), ("pow", "Pow"),
                     ("maximum", "Max"), ("minimum", "Min")):
    _onnx.simple(_name, _type)
_onnx.simple("copy", "Identity", cast=False)
_onnx.simple("logical_not", "Not", cast=False)
for _name, _type in (("eq", "Equal"), ("lt", "Less"), ("le", "LessOrEqual"), ("gt", "Greater"),
                     ("ge", "GreaterOrEqual")):
    _onnx.compare(_name, _type)
_onnx.compare("ne", "Equal", negate=True)
for _name, _type in (("logical_and", "And"), ("logical_or", "Or"), ("logical_xor", "Xor")):
    _onnx.compare(_name, _type, logical=True)


@register_lowering("log1p", "onnx")
def _log1p_onnx(ctx, node):  # ONNX has no Log1p: log(1 + x), exact to float32 rounding away from tiny x
    x, dt = ctx.input(node, 0), node.outputs[0].dtype
    ctx.emit("Log", [ctx.emit("Add", [x, ctx.scalar(1, dt)])], [ctx.output(node)])


@register_lowering("expm1", "onnx")
def _expm1_onnx(ctx, node):  # nor Expm1: exp(x) - 1
    x, dt = ctx.input(node, 0), node.outputs[0].dtype
    ctx.emit("Sub", [ctx.emit("Exp", [x]), ctx.scalar(1, dt)], [ctx.output(node)])


@register_lowering("trunc", "onnx")
def _trunc_onnx(ctx, node):  # no Trunc op: x - fmod(x, 1) keeps the sign, as trunc does
    x = ctx.input(node, 0)
    if node.outputs[0].dtype.startswith(("int", "uint", "bool")):
        ctx.emit("Identity", [x], [ctx.output(node)])
        return
    frac = ctx.emit("Mod", [x, ctx.scalar(1, node.outputs[0].dtype)], fmod=1)
    ctx.emit("Sub", [x, frac], [ctx.output(node)])


def _is_int(dtype):
    return dtype.startswith(("int", "uint"))


@register_lowering("floordiv", "onnx")
def _floordiv_onnx(ctx, node):
    a, b = _onnx.same_dtype_inputs(ctx, node)
    if _is_int(node.outputs[0].dtype):  # ONNX Div truncates; a - mod(a, b) (Python's sign rule) divides exactly
        exact = ctx.emit("Sub", [a, ctx.emit("Mod", [a, b], fmod=0)])
        ctx.emit("Div", [exact, b], [ctx.output(node)])
    else:
        ctx.emit("Floor", [ctx.emit("Div", [a, b])], [ctx.output(node)])


@register_lowering("remainder", "onnx")
def _remainder_onnx(ctx, node):
    a, b = _onnx.same_dtype_inputs(ctx, node)
    if _is_int(node.outputs[0].dtype):
        ctx.emit("Mod", [a, b], [ctx.output(node)], fmod=0)  # the sign of the divisor, as Python's %
    else:  # Mod needs fmod=1 for floats (C's sign rule): a - b * floor(a / b) instead
        q = ctx.emit("Floor", [ctx.emit("Div", [a, b])])
        ctx.emit("Sub", [a, ctx.emit("Mul", [b, q])], [ctx.output(node)])


@register_lowering("where", "onnx")
def _where_onnx(ctx, node):
    dt = node.outputs[0].dtype
    ctx.emit("Where", [ctx.typed_input(node, 0, "bool"), ctx.typed_input(node, 1, dt), ctx.typed_input(node, 2, dt)],
             [ctx.output(node)])


@register_lowering("cast", "onnx")
def _cast_onnx(ctx, node):
    ctx.emit("Cast", [ctx.input(node, 0)], [ctx.output(node)], to=ctx.dtype(node.attrs["dtype"]))


# TFLite: one builtin each where TFLite has the op (see ops/_tflite.py for the builder calls)
for _name, _builtin in (("neg", "NEG"), ("exp", "EXP"), ("log", "LOG"), ("sin", "SIN"), ("cos", "COS"),
                        ("tanh", "TANH"), ("sigmoid", "LOGISTIC"), ("sqrt", "SQRT"), ("abs", "ABS"),
                        ("sign", "SIGN"), ("floor", "FLOOR"), ("ceil", "CEIL"), ("round", "ROUND"),
                        ("logical_not", "LOGICAL_NOT")):
    _tflite.unary(_name, _builtin)
for _name, _builtin, _opts in (("add", "ADD", "Add"), ("sub", "SUB", "Sub"), ("mul", "MUL", "Mul"),
                               ("div", "DIV", "Div"), ("pow", "POW", None), ("maximum", "MAXIMUM", None),
                               ("minimum", "MINIMUM", None), ("floordiv", "FLOOR_DIV", None),
                               ("remainder", "FLOOR_MOD", None)):
    _tflite.binary(_name, _builtin, _opts)
for _name, _builtin in (("eq", "EQUAL"), ("ne", "NOT_EQUAL"), ("lt", "LESS"), ("le", "LESS_EQUAL"),
                        ("gt", "GREATER"), ("ge", "GREATER_EQUAL"), ("logical_and", "LOGICAL_AND"),
                        ("logical_or", "LOGICAL_OR"), ("logical_xor", "NOT_EQUAL")):
    _tflite.binary(_name, _builtin, compare=True)
register_lowering("copy", "tflite", _tflite.identity)
unsupported("erf", "tflite", "TFLite has no ERF op; nn.GELU / F.gelu export as TFLite's GELU (a layer node)")


@register_lowering("log1p", "tflite")
def _log1p_tflite(ctx, node):  # no LOG1P builtin: LOG(ADD(x, 1))
    (x,), v = ctx.inputs(node), node.inputs[0]
    shifted = ctx.emit("ADD", [x, ctx.scalar(1, v.dtype)], [ctx.temp(v.shape, v.dtype)], ctx.options("Add"))
    ctx.emit("LOG", [shifted], [ctx.output(node)])


@register_lowering("expm1", "tflite")
def _expm1_tflite(ctx, node):  # no EXPM1 builtin: SUB(EXP(x), 1)
    (x,), v = ctx.inputs(node), node.inputs[0]
    ctx.emit("SUB", [ctx.unary("EXP", x, v.shape, v.dtype), ctx.scalar(1, v.dtype)], [ctx.output(node)],
             ctx.options("Sub"))


@register_lowering("trunc", "tflite")
def _trunc_tflite(ctx, node):  # sign(x) * floor(|x|)
    (x,), v = ctx.inputs(node), node.inputs[0]
    floor_abs = ctx.unary("FLOOR", ctx.unary("ABS", x, v.shape, v.dtype), v.shape, v.dtype)
    sign = ctx.unary("SIGN", x, v.shape, v.dtype)
    ctx.emit("MUL", [sign, floor_abs], [ctx.output(node)], ctx.options("Mul"))


@register_lowering("where", "tflite")
def _where_tflite(ctx, node):
    cond, a, b = ctx.inputs(node)
    dtype = node.outputs[0].dtype
    a, b = (_tflite.cast_to(ctx, t, v, dtype) for t, v in zip((a, b), node.inputs[1:]))
    ctx.emit("SELECT_V2", [cond, a, b], [ctx.output(node)])


@register_lowering("cast", "tflite")
def _cast_tflite(ctx, node):
    (x,), v, out = ctx.inputs(node), node.inputs[0], node.outputs[0]
    if v.dtype == out.dtype:
        ctx.alias(node, x)
        return
    ctx.emit("CAST", [x], [ctx.output(node)], ctx.options("Cast", inDataType=ctx.type_code(v.dtype),
                                                            outDataType=ctx.type_code(out.dtype)))
