"""Op-table rows: elementwise math, operators (reflected and in-place), comparisons, logic, casts."""

from __future__ import annotations

import math

import numpy as np

from .spec import FR, NZ, B, F, Fn, I, Lit, P, Row

UN = [(F("a", "b"),), (F(),), (F(0, "a"),)]  # random 2-D, 0-d, empty


def cases_like(spec):
    return [(spec("a", "b"),), (spec(),), (spec(0, "a"),)]


BIN = [(F("a", "b"), F("a", "b")), (F(2, 1, "b"), F("a", 1)), (F(), F("a", "b")), (F(0, "a"), F(1, "a"))]
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def unary(name, ref, spec=F, prims=None, **kw):
    return Row(
        name,
        lambda L, x: getattr(x, name)(),
        ref,
        cases_like(spec),
        prims=(name,) if prims is None else prims,
        **kw,
    )


def _inplace(op):
    def fn(L, x, y):
        z = x * 1  # a non-leaf, so in-place ops are allowed under autograd
        if op == "+":
            z += y
        elif op == "-":
            z -= y
        elif op == "*":
            z *= y
        else:
            z /= y
        return z

    return fn


def _inplace_methods(L, x, y):
    z = x * 1
    z.add_(y).mul_(y).sub_(y, alpha=2).div_(y)
    w = x * 1
    w.add_(y, alpha=0.5)
    return z, w


def _inplace_unary(L, x):
    outs = []
    for m in ("neg_", "exp_", "sigmoid_", "tanh_", "abs_", "relu_"):
        z = x * 1
        getattr(z, m)()
        outs.append(z)
    z = x * 1
    z.clamp_(-0.5, 0.5)
    outs.append(z)
    z = x.abs() + 0.5
    outs.append(z.sqrt_() * 1)
    z = x.abs() + 0.5
    outs.append(z.pow_(2))
    return tuple(outs)


def _inplace_unary_ref(x):
    return (
        -x,
        np.exp(x),
        _sigmoid(x),
        np.tanh(x),
        np.abs(x),
        np.maximum(x, 0),
        np.clip(x, -0.5, 0.5),
        np.sqrt(np.abs(x) + 0.5),
        (np.abs(x) + 0.5) ** 2,
    )


def _ints_as_floats(*shape):
    return Fn(lambda rng, sizes: rng.integers(0, 3, F(*shape).resolve(rng, sizes)).astype(np.float64), False)


def _with_specials(*shape):
    def make(rng, sizes):
        x = F(*shape).make(rng, sizes)
        flat = x.reshape(-1)
        if flat.size >= 3:
            flat[:3] = [np.nan, np.inf, -np.inf]
        return x

    return Fn(make, False)


def _lerp_cases():
    return [(F("a", "b"), F("a", "b"), Lit(0.3)), (F("a", "b"), F("b"), F("a", 1)), (F(), F(), Lit(0.7))]


def _divisible(rng, sizes):
    """(a, b) with a / b away from integers, so floor-division and modulo are smooth at the inputs."""
    shape = F("a", "b").resolve(rng, sizes)
    b = rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)
    q = rng.integers(-3, 3, shape) + rng.uniform(0.15, 0.85, shape)
    return q * b, b


def _pair_specs():
    cache = {}

    def first(rng, sizes):
        cache["ab"] = _divisible(rng, sizes)
        return cache["ab"][0]

    return Fn(first), Fn(lambda rng, sizes: cache["ab"][1])


DIVMOD = [_pair_specs()]

ROWS = [
    # -- unary primitives and composites ------------------------------------------------------------
    Row(
        "neg",
        lambda L, x: (-x, L.neg(x), x.neg()),
        lambda x: (-x, -x, -x),
        UN,
        prims=("neg",),
        covers=("neg", "__neg__"),
    ),
    unary("exp", np.exp),
    unary("log", np.log, P),
    unary("sin", np.sin),
    unary("cos", np.cos),
    unary("tanh", np.tanh),
    unary("sigmoid", _sigmoid),
    unary("sqrt", np.sqrt, P),
    unary("erf", _erf),
    Row("erf_large", lambda L, x: x.erf(), _erf, [(F("a", "b", lo=-6, hi=6),)], prims=("erf",), covers=()),
    Row(
        "abs",
        lambda L, x: (x.abs(), abs(x), L.abs(x)),
        lambda x: (np.abs(x),) * 3,
        cases_like(NZ),
        prims=("abs",),
        covers=("abs", "__abs__"),
    ),
    unary("sign", np.sign, NZ),
    unary("floor", np.floor, FR),
    unary("ceil", np.ceil, FR),
    unary("trunc", np.trunc, FR),
    Row(
        "round",
        lambda L, x: (x.round(), L.round(x, decimals=1)),
        lambda x: (np.round(x), np.round(x, 1)),
        [(FR("a", "b"),), (FR(),)],
        prims=("round",),
        rtol=1e-4,
        atol=1e-4,
    ),
    Row(
        "int_rounding",
        lambda L, x: (x.floor(), x.ceil(), x.round(), x.trunc()),
        lambda x: (x,) * 4,
        [(I("a", "b", lo=-5, hi=5),)],
        grad=False,
        covers=(),
    ),
    unary("tan", np.tan, lambda *s: F(*s, lo=-1.2, hi=1.2), prims=("sin", "cos", "div")),
    unary("rsqrt", lambda x: 1 / np.sqrt(x), P, prims=("sqrt", "div")),
    unary("reciprocal", lambda x: 1 / x, NZ, prims=("div",)),
    unary("log1p", np.log1p, lambda *s: F(*s, lo=-0.5, hi=2)),
    unary("expm1", np.expm1),
    unary("log2", np.log2, P, prims=("log", "div")),
    unary("log10", np.log10, P, prims=("log", "div")),
    unary("square", np.square, prims=("mul",)),
    Row(
        "relu",
        lambda L, x: (x.relu(), L.relu(x)),
        lambda x: (np.maximum(x, 0),) * 2,
        cases_like(NZ),
        prims=("where", "gt"),
    ),
    Row(
        "clamp",
        lambda L, x: (x.clamp(-0.5, 0.5), x.clamp(min=0.2), L.clamp(x, max=-0.1), x.clip(-1, 1)),
        lambda x: (np.clip(x, -0.5, 0.5), np.maximum(x, 0.2), np.minimum(x, -0.1), np.clip(x, -1, 1)),
        UN,
        prims=("where", "lt", "gt"),
        covers=("clamp", "clip"),
    ),
    Row(
        "clamp_tensor",
        lambda L, x, lo, hi: x.clamp(lo, hi),
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        [(F("a", "b"), F("b", lo=-2, hi=-0.5), F("a", 1, lo=0.5, hi=2))],
        prims=("where",),
        covers=(),
    ),
    Row(
        "lerp",
        lambda L, a, b, w: L.lerp(a, b, w),
        lambda a, b, w: a + (b - a) * w,
        _lerp_cases(),
        prims=("add", "sub", "mul"),
    ),
    Row(
        "logical_not",
        lambda L, x: (x.logical_not(), ~x, L.logical_not(x)),
        lambda x: (~x,) * 3,
        [(B("a", "b"),), (B(),)],
        grad=False,
        prims=("logical_not",),
        covers=("logical_not", "__invert__"),
    ),
    Row(
        "isnan_isinf",
        lambda L, x: (x.isnan(), x.isinf(), x.isfinite(), L.isnan(x)),
        lambda x: (np.isnan(x), np.isinf(x), np.isfinite(x), np.isnan(x)),
        [(_with_specials("a", "b"),)],
        prims=("ne", "eq"),
        grad=False,
        covers=("isnan", "isinf", "isfinite"),
    ),
    Row(
        "nan_to_num",
        lambda L, x: (L.nan_to_num(x), x.nan_to_num(nan=1.0, posinf=2.0, neginf=-2.0)),
        lambda x: (
            np.nan_to_num(x.astype(np.float32)).astype(np.float64),
            np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0),
        ),
        [(_with_specials("a", "b"),)],
        grad=False,
    ),
    # -- binary arithmetic: operators, reflected forms, functions --------------------------------------
    Row(
        "add",
        lambda L, a, b: (a + b, L.add(a, b), a.add(b, alpha=2)),
        lambda a, b: (a + b, a + b, a + 2 * b),
        BIN,
        prims=("add",),
        covers=("add", "__add__"),
    ),
    Row(
        "sub",
        lambda L, a, b: (a - b, L.sub(a, b), a.sub(b, alpha=2)),
        lambda a, b: (a - b, a - b, a - 2 * b),
        BIN,
        prims=("sub",),
        covers=("sub", "__sub__"),
    ),
    Row(
        "mul",
        lambda L, a, b: (a * b, L.mul(a, b), a.multiply(b)),
        lambda a, b: (a * b,) * 3,
        BIN,
        prims=("mul",),
        covers=("mul", "__mul__"),
    ),
    Row(
        "div",
        lambda L, a, b: (a / b, L.div(a, b), L.true_divide(a, b)),
        lambda a, b: (a / b,) * 3,
        [
            (F("a", "b"), NZ("a", "b")),
            (F(2, 1, "b"), NZ("a", 1)),
            (F(), NZ("a", "b")),
            (F(0, "a"), NZ(1, "a")),
        ],
        prims=("div",),
        covers=("div", "true_divide", "__truediv__"),
    ),
    Row(
        "div_rounding",
        lambda L, a, b: (L.div(a, b, rounding_mode="floor"), L.div(a, b, rounding_mode="trunc")),
        lambda a, b: (np.floor_divide(a, b), np.trunc(a / b)),
        DIVMOD,
        prims=("floordiv", "trunc"),
        torch_grad=False,
        covers=(),
    ),
    Row(
        "pow",
        lambda L, a, b: (a**b, L.pow(a, b), a.pow(2), a**0.5, a**-1),
        lambda a, b: (a**b, a**b, a**2, a**0.5, a**-1.0),
        [(P("a", "b"), F("a", "b")), (P(2, 1, "b"), F("a", 1)), (P(), F("a", "b")), (P(0, "a"), F(1, "a"))],
        prims=("pow",),
        covers=("pow", "__pow__"),
    ),
    Row(
        "pow_negative_base", lambda L, a: (a**2, a**3), lambda a: (a**2, a**3), UN, prims=("pow",), covers=()
    ),
    Row(
        "floordiv",
        lambda L, a, b: (a // b, L.floor_divide(a, b)),
        lambda a, b: (np.floor_divide(a, b),) * 2,
        DIVMOD,
        prims=("floordiv",),
        torch_grad=False,
        covers=("floor_divide", "__floordiv__"),
    ),
    Row(
        "remainder",
        lambda L, a, b: (a % b, L.remainder(a, b), a.fmod(b)),
        lambda a, b: (np.remainder(a, b), np.remainder(a, b), np.fmod(a, b)),
        DIVMOD,
        prims=("remainder",),
        covers=("remainder", "fmod", "__mod__"),
    ),
    Row(
        "int_arith",
        lambda L, a, b: (a + b, a - b, a * b, a // b, a % b, a / b, a**2, -a),
        lambda a, b: (a + b, a - b, a * b, np.floor_divide(a, b), np.remainder(a, b), a / b, a**2, -a),
        [(I("a", "b", lo=-5, hi=5), I("a", "b", lo=1, hi=4)), (I("a", "b", lo=-5, hi=5), I(lo=-4, hi=-1))],
        grad=False,
        covers=(),
    ),
    Row(
        "reflected",
        lambda L, x: (2.5 + x, 2.5 - x, 2.5 * x, 2.5 / x, 2.5**x, 3 - x),
        lambda x: (2.5 + x, 2.5 - x, 2.5 * x, 2.5 / x, 2.5**x, 3 - x),
        [
            (Fn(lambda rng, sizes: rng.uniform(0.55, 0.95, (3, 4)) + rng.integers(0, 3, (3, 4))),),
            (Fn(lambda rng, sizes: np.asarray(1.3)),),
        ],
        prims=("add", "sub", "mul", "div", "pow"),
        covers=("__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__rpow__"),
    ),
    Row(
        "rfloordiv_rmod",
        lambda L, x: (7.0 // x, 7.0 % x),
        lambda x: (np.floor_divide(7.0, x), np.remainder(7.0, x)),
        [(Fn(lambda rng, sizes: rng.uniform(0.55, 0.95, (3, 4)) + rng.integers(0, 3, (3, 4))),)],
        prims=("floordiv", "remainder"),
        covers=("__rfloordiv__", "__rmod__"),
        torch_grad=False,
    ),
    Row(
        "scalar_operand",
        lambda L, x: (x + 1, x - 2, x * 3, x / 4, x**2, x + True),
        lambda x: (x + 1, x - 2, x * 3, x / 4, x**2, x + 1),
        UN,
        prims=("add", "sub", "mul", "div", "pow"),
        covers=(),
    ),
    Row(
        "iadd",
        _inplace("+"),
        lambda a, b: a + b,
        [(F("a", "b"), F("a", "b")), (F("a", "b"), F("b")), (F("a", "b"), Lit(2.0)), (F(), F())],
        prims=("add",),
        covers=("__iadd__",),
    ),
    Row(
        "isub",
        _inplace("-"),
        lambda a, b: a - b,
        [(F("a", "b"), F("a", "b")), (F("a", "b"), F(1, "b"))],
        prims=("sub",),
        covers=("__isub__",),
    ),
    Row(
        "imul",
        _inplace("*"),
        lambda a, b: a * b,
        [(F("a", "b"), F("a", "b")), (F("a", "b"), F("a", 1))],
        prims=("mul",),
        covers=("__imul__",),
    ),
    Row(
        "idiv",
        _inplace("/"),
        lambda a, b: a / b,
        [(F("a", "b"), NZ("a", "b")), (F("a", "b"), Lit(4.0))],
        prims=("div",),
        covers=("__itruediv__",),
    ),
    Row(
        "inplace_methods",
        _inplace_methods,
        lambda x, y: (((x + y) * y - 2 * y) / y, x + 0.5 * y),
        [(F("a", "b"), NZ("a", "b")), (F("a", "b"), NZ("b"))],
        prims=("add", "mul", "sub", "div"),
        covers=("add_", "sub_", "mul_", "div_"),
    ),
    Row(
        "inplace_unary",
        _inplace_unary,
        _inplace_unary_ref,
        [(NZ("a", "b"),)],
        prims=("neg", "exp", "sigmoid", "tanh", "abs", "maximum", "sqrt", "pow"),
        covers=("neg_", "exp_", "sigmoid_", "tanh_", "abs_", "relu_", "clamp_", "sqrt_", "pow_"),
    ),
    Row(
        "int_iadd",
        _inplace("+"),
        lambda a, b: a + b,
        [(I("a", "b"), I("a", "b")), (I("a", "b"), Lit(2))],
        grad=False,
        covers=(),
    ),
    Row(
        "maximum",
        lambda L, a, b: (L.maximum(a, b), a.maximum(b), L.max(a, b)),
        lambda a, b: (np.maximum(a, b),) * 3,
        BIN,
        prims=("maximum",),
    ),
    Row(
        "minimum",
        lambda L, a, b: (L.minimum(a, b), a.minimum(b), L.min(a, b)),
        lambda a, b: (np.minimum(a, b),) * 3,
        BIN,
        prims=("minimum",),
    ),
    Row(
        "minmax_ties",
        lambda L, a, b: (L.maximum(a, b), L.minimum(a, b)),
        lambda a, b: (np.maximum(a, b), np.minimum(a, b)),
        [(_ints_as_floats("a", "b"), _ints_as_floats("a", "b"))],
        prims=("maximum", "minimum"),
        covers=(),
        grad=False,
    ),
    # -- comparisons and logic ----------------------------------------------------------------------
    *[
        Row(
            op,
            (
                lambda o, s: (
                    lambda L, a, b: (
                        getattr(a, o)(b),
                        getattr(L, o)(a, b),
                        getattr(a, s)(b),
                        getattr(a, o)(1.0),
                    )
                )
            )(op, sym),
            (lambda fn: lambda a, b: (fn(a, b), fn(a, b), fn(a, b), fn(a, 1.0)))(getattr(np, npn)),
            [
                (_ints_as_floats("a", "b"), _ints_as_floats("a", "b")),
                (_ints_as_floats(2, 1, "b"), _ints_as_floats("a", 1)),
                (_ints_as_floats(), _ints_as_floats("a")),
                (I("a", "b"), I("b")),
            ],
            prims=(op,),
            grad=False,
            covers=(op, sym),
        )
        for op, sym, npn in (
            ("eq", "__eq__", "equal"),
            ("ne", "__ne__", "not_equal"),
            ("lt", "__lt__", "less"),
            ("le", "__le__", "less_equal"),
            ("gt", "__gt__", "greater"),
            ("ge", "__ge__", "greater_equal"),
        )
    ],
    *[
        Row(
            op,
            (lambda o, s: lambda L, a, b: (getattr(L, o)(a, b), getattr(a, o)(b), getattr(a, s)(b)))(op, sym),
            (lambda fn: lambda a, b: (fn(a, b),) * 3)(getattr(np, op)),
            [(B("a", "b"), B("a", "b")), (B("a", 1), B("b")), (B(), B("a"))],
            prims=(op,),
            grad=False,
            covers=(op, sym),
        )
        for op, sym in (("logical_and", "__and__"), ("logical_or", "__or__"), ("logical_xor", "__xor__"))
    ],
    Row(
        "logical_float",
        lambda L, a, b: (L.logical_and(a, b), L.logical_or(a, b), L.logical_xor(a, b)),
        lambda a, b: (np.logical_and(a, b), np.logical_or(a, b), np.logical_xor(a, b)),
        [(_ints_as_floats("a", "b"), _ints_as_floats("a", "b"))],
        grad=False,
        covers=(),
    ),
    Row(
        "isclose",
        lambda L, a, b: (L.isclose(a, b), a.isclose(b, rtol=0.1, atol=0.1)),
        lambda a, b: (np.isclose(a, b, 1e-5, 1e-8), np.isclose(a, b, 0.1, 0.1)),
        [(_ints_as_floats("a", "b"), _ints_as_floats("a", "b")), (F("a", "b"), F("a", "b"))],
        grad=False,
    ),
    Row(
        "allclose",
        lambda L, a, b: (L.allclose(a, b), L.allclose(a, a), a.allclose(a + 1e-9)),
        lambda a, b: (np.allclose(a, b), True, True),
        [(F("a", "b"), F("a", "b"))],
        grad=False,
    ),
    Row(
        "equal",
        lambda L, a, b: (L.equal(a, b), L.equal(a, a), L.equal(a, a[:1])),
        lambda a, b: (False, True, False),
        [(F("a", "b"), F("a", "b"))],
        grad=False,
    ),
    Row(
        "where",
        lambda L, c, a, b: (L.where(c, a, b), L.where(c, a, 0.5)),
        lambda c, a, b: (np.where(c, a, b), np.where(c, a, 0.5)),
        [
            (B("a", "b"), F("a", "b"), F("a", "b")),
            (B("a", 1), F("b"), F("a", "b")),
            (B(), F(), F("a")),
            (B(0, "a"), F(1, "a"), F("a")),
        ],
        prims=("where",),
    ),
    Row(
        "where_nonbool",
        lambda L, c, a, b: L.where(c, a, b),
        lambda c, a, b: np.where(c != 0, a, b),
        [(_ints_as_floats("a", "b"), F("a", "b"), F("a", "b"))],
        prims=("where", "ne"),
        covers=(),
        torch=False,
    ),  # torch wants a bool condition
    # -- casts ----------------------------------------------------------------------------------------
    Row(
        "cast",
        lambda L, x: (x.double(), x.to(L.float64), x.to("float64"), x.type(L.float64)),
        lambda x: (x, x, x, x),
        UN,
        prims=("cast",),
        covers=("cast", "to", "double", "type"),
        torch_fn=lambda T, x: (x.double(), x.to(T.float64), x.to(T.float64), x.type(T.float64)),
    ),
    Row(
        "cast_half",
        lambda L, x: (x.half(), x.half().float()),
        lambda x: (x.astype(np.float16),) * 2,
        UN,
        prims=("cast",),
        covers=("half",),
        grad=False,
        rtol=1e-3,
        atol=1e-3,
    ),
    Row(
        "cast_int",
        lambda L, x: (x.long(), x.int(), x.bool(), x.short(), x.byte().long(), x.float(), x.type_as(x)),
        lambda x: (np.trunc(x),) * 2 + (x != 0, np.trunc(x), np.trunc(np.abs(x)), x, x),
        [(Fn(lambda rng, sizes: rng.integers(0, 5, (3, 4)) + rng.uniform(0.1, 0.9, (3, 4)), False),)],
        grad=False,
        prims=("cast",),
        covers=("long", "int", "bool", "short", "byte", "float", "type_as"),
    ),
    *[
        Row(
            op,
            (lambda o, s: lambda L, a, b: (getattr(L, o)(a, b), getattr(a, o)(b), getattr(a, s)(b), getattr(a, s)(3)))(
                op, sym),
            (lambda fn: lambda a, b: (fn(a, b),) * 3 + (fn(a, 3),))(getattr(np, npname)),
            [(I("a", "b", lo=-50, hi=50), I("a", "b", lo=-50, hi=50)), (I("a", 1, lo=0, hi=9), I("b", lo=-9, hi=9))],
            prims=(op,),
            grad=False,
            covers=(op, sym),
        )
        for op, sym, npname in (("bitwise_and", "__and__", "bitwise_and"), ("bitwise_or", "__or__", "bitwise_or"),
                                ("bitwise_xor", "__xor__", "bitwise_xor"))
    ],
    Row(
        "bitwise_shifts",
        lambda L, a, b: (L.bitwise_left_shift(a, b), a >> b, a.bitwise_right_shift(b), a << 2, 1 << b),
        lambda a, b: (np.left_shift(a, b), np.right_shift(a, b), np.right_shift(a, b), np.left_shift(a, 2),
                      np.left_shift(1, b)),
        [(I("a", "b", lo=-50, hi=50), I("a", "b", lo=0, hi=6)), (I("a", 1, lo=-9, hi=9), I("b", lo=0, hi=4))],
        prims=("bitwise_left_shift", "bitwise_right_shift"),
        grad=False,
        covers=("bitwise_left_shift", "bitwise_right_shift", "__lshift__", "__rshift__", "__rlshift__"),
    ),
    Row(
        "bitwise_not",
        lambda L, a: (L.bitwise_not(a), ~a, a.bitwise_not()),
        lambda a: (np.invert(a),) * 3,
        [(I("a", "b", lo=-50, hi=50),)],
        prims=("bitwise_not",),
        grad=False,
        covers=("bitwise_not", "__invert__"),
    ),
]
