"""What the graph layer knows about primitives by name: families, purity, views, and shape/dtype rules.

The names are exactly those of ``ember.ops.REGISTRY`` (see docs/internals.md). The rules here work on
``(shape, dtype)`` pairs whose dims may be ``None`` (dynamic); a rule returns ``None`` when it cannot tell,
and the verifier then falls back to the registry's own ``infer`` (when every dim is known) or skips the check.
"""

from __future__ import annotations

import numpy as np

UNARY = frozenset(
    "neg exp log sin cos tanh sigmoid sqrt erf abs sign floor ceil round trunc logical_not".split()
)
BINARY = frozenset(
    (
        "add sub mul div pow maximum minimum floordiv remainder eq ne lt le gt ge "
        "logical_and logical_or logical_xor"
    ).split()
)
COMPARE = frozenset("eq ne lt le gt ge logical_and logical_or logical_xor".split())
ELEMENTWISE = UNARY | BINARY | {"where", "cast"}
REDUCTIONS = frozenset("sum amax amin prod".split())
SHAPE_OPS = frozenset("reshape permute expand cat pad".split())
RANDOM = frozenset({"uniform", "normal", "randint", "randperm"})
EFFECTS = frozenset({"assert_all"})  # value checks that raise: kept in place like random draws
VIEWS = frozenset({"reshape", "permute", "expand", "getitem"})
PRIMITIVES = frozenset(
    ELEMENTWISE
    | REDUCTIONS
    | SHAPE_OPS
    | RANDOM
    | {
        "copy",
        "argmax",
        "argmin",
        "cumsum",
        "argsort",
        "getitem",
        "index_put",
        "gather",
        "scatter_add",
        "matmul",
        "einsum",
        "im2col",
        "col2im",
    }
)
GRAPH_ONLY = frozenset({"fused"})

_SHORT = {
    "float16": "f16",
    "float32": "f32",
    "float64": "f64",
    "bfloat16": "bf16",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "bool": "bool",
}


def known_ops() -> frozenset:
    """Every op name a graph may hold: the registry's names (when the core is loaded), the documented
    primitives, and graph-only ops (``fused``)."""
    try:
        from ..ops import REGISTRY
    except ImportError:  # pragma: no cover - only while the core is missing
        REGISTRY = {}
    return PRIMITIVES | GRAPH_ONLY | frozenset(REGISTRY)


def dtype_name(dtype) -> str:
    """Normalise an Ember DType, a NumPy dtype/type or a name to the IR's dtype string, e.g. ``"float32"``."""
    if isinstance(dtype, str):
        name = dtype
    elif hasattr(dtype, "name") and hasattr(dtype, "is_floating_point"):  # ember.DType
        name = dtype.name
    else:
        name = np.dtype(dtype).name
    if name == "bool_":
        name = "bool"
    if name not in _SHORT:
        raise TypeError(f"unsupported dtype {dtype!r} in a graph; expected one of {', '.join(_SHORT)}")
    return name


def short_dtype(name: str) -> str:
    return _SHORT[name]


def np_dtype(name: str):
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def is_pure(op: str) -> bool:
    """False for ops whose result is not a function of their inputs (random draws) or that act besides
    computing it (checks that raise): passes neither drop, merge, fold nor reorder them."""
    return op not in RANDOM and op not in EFFECTS


# --------------------------------------------------------------------------------------- shape rules
def broadcast(*shapes):
    """NumPy broadcasting over shapes whose dims may be None; raises ValueError on a mismatch."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        dims = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0}
        dims.discard(1)
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ValueError(f"shapes {', '.join(str(list(s)) for s in shapes)} do not broadcast")
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out)


def _promote(*dtypes):
    if any(d is None for d in dtypes):
        return None
    return dtype_name(np.result_type(*[np_dtype(d) for d in dtypes]))


def _reduce_shape(shape, axis, keepdims):
    nd = len(shape)
    axes = (
        range(nd)
        if axis is None
        else [a % nd if nd else a for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
    )
    axes = set(axes)
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reshape(shape, new):
    new = tuple(int(d) for d in new)
    if -1 not in new:
        return new
    known = [d for d in shape]
    if None in known:
        return tuple(None if d == -1 else d for d in new)
    total = int(np.prod(known, dtype=np.int64))
    rest = int(np.prod([d for d in new if d != -1], dtype=np.int64))
    return tuple(total // rest if d == -1 and rest else d for d in new)


def _matmul(a, b):
    if not a or not b:
        raise ValueError("matmul: both operands need at least one dimension")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    k1, k2 = a2[-1], b2[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ValueError(f"matmul: inner dimensions differ: {list(a)} @ {list(b)}")
    out = broadcast(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _cat(shapes, axis):
    base = list(shapes[0])
    axis = axis % len(base)
    sizes = [s[axis] for s in shapes]
    base[axis] = None if None in sizes else sum(sizes)
    return tuple(base)


def infer(op: str, avals, attrs):
    """(shape, dtype) of the one output of ``op`` on ``avals`` [(shape, dtype), ...], or None if unknown."""
    shapes = [tuple(a[0]) for a in avals]
    dts = [a[1] for a in avals]
    if op in UNARY:
        return shapes[0], ("bool" if op == "logical_not" else dts[0])
    if op in BINARY:
        return broadcast(*shapes), ("bool" if op in COMPARE else _promote(*dts))
    rule = _RULES.get(op)
    return None if rule is None else rule(shapes, dts, attrs)


def _floaty(dt):
    return dt if dt in ("float16", "float32", "float64", "bfloat16") else None


_RULES = {
    "where": lambda s, d, a: (broadcast(*s), _promote(d[1], d[2])),
    "cast": lambda s, d, a: (s[0], dtype_name(a["dtype"])),
    "copy": lambda s, d, a: (s[0], d[0]),
    "sum": lambda s, d, a: (_reduce_shape(s[0], a.get("axis"), a.get("keepdims", False)), _floaty(d[0])),
    "prod": lambda s, d, a: (_reduce_shape(s[0], a.get("axis"), a.get("keepdims", False)), _floaty(d[0])),
    "amax": lambda s, d, a: (_reduce_shape(s[0], a.get("axis"), a.get("keepdims", False)), d[0]),
    "amin": lambda s, d, a: (_reduce_shape(s[0], a.get("axis"), a.get("keepdims", False)), d[0]),
    "argmax": lambda s, d, a: (_reduce_shape(s[0], a.get("axis"), a.get("keepdims", False)), "int64"),
    "argmin": lambda s, d, a: (_reduce_shape(s[0], a.get("axis"), a.get("keepdims", False)), "int64"),
    "cumsum": lambda s, d, a: (s[0], _floaty(d[0])),
    "argsort": lambda s, d, a: (s[0], "int64"),
    "reshape": lambda s, d, a: (_reshape(s[0], a["shape"]), d[0]),
    "permute": lambda s, d, a: (tuple(s[0][p] for p in a["perm"]), d[0]),
    "expand": lambda s, d, a: (
        tuple(s[0][i - len(a["shape"]) + len(s[0])] if n == -1 else n for i, n in enumerate(a["shape"])),
        d[0],
    ),
    "cat": lambda s, d, a: (_cat(s, a["axis"]), _promote(*d)),
    "pad": lambda s, d, a: (
        tuple(None if n is None else n + lo + hi for n, (lo, hi) in zip(s[0], a["pads"])),
        d[0],
    ),
    "matmul": lambda s, d, a: (_matmul(s[0], s[1]), _promote(d[0], d[1])),
    "gather": lambda s, d, a: (s[1], d[0]),
    "scatter_add": lambda s, d, a: (s[0], d[0]),
    "index_put": lambda s, d, a: (s[0], d[0]),
    "uniform": lambda s, d, a: (tuple(a["shape"]), dtype_name(a["dtype"])),
    "normal": lambda s, d, a: (tuple(a["shape"]), dtype_name(a["dtype"])),
    "randint": lambda s, d, a: (tuple(a["shape"]), dtype_name(a["dtype"])),
    "randperm": lambda s, d, a: ((a["n"],), dtype_name(a["dtype"])),
    "assert_all": lambda s, d, a: ((), "bool"),
}


# Ops whose registry forward is exactly ``xp.<ufunc>(*inputs)``: executors may call the ufunc with ``out=``.
UFUNC = {
    "neg": "negative",
    "exp": "exp",
    "log": "log",
    "sin": "sin",
    "cos": "cos",
    "tanh": "tanh",
    "sqrt": "sqrt",
    "abs": "abs",
    "sign": "sign",
    "floor": "floor",
    "ceil": "ceil",
    "round": "rint",
    "trunc": "trunc",
    "add": "add",
    "sub": "subtract",
    "mul": "multiply",
    "div": "true_divide",
    "pow": "power",
    "maximum": "maximum",
    "minimum": "minimum",
    "eq": "equal",
    "ne": "not_equal",
    "lt": "less",
    "le": "less_equal",
    "gt": "greater",
    "ge": "greater_equal",
}
# Float reductions whose forward is ``xp.<fn>(x, axis=, keepdims=)``.
REDUCE_FN = {"sum": "sum", "amax": "max", "amin": "min", "prod": "prod"}
