"""What the graph layer knows about ops, read off the op registry (``ember.ops.REGISTRY``): families,
purity, views, executor forms and the one shape/dtype rule per op.

Nothing here is a table of its own: each op states its facts on its definition (``ember/ops/*``; see
``ember.ops.Op``) and the sets below are derived from them (recomputed when the registry grows):

- ``ELEMENTWISE``: elementwise ops the fuser may put in a kernel (not ``copy``); ``COMPARE``: comparisons
- ``REDUCTIONS``: float reductions a fused kernel may end with; ``REDUCE_FN``: {op: xp function}
- ``UFUNC``: {op: xp ufunc} for ops whose forward is exactly that ufunc (executors pass ``out=``)
- ``VIEWS``: ops whose output may share its input's memory; ``RANDOM``: random draws (impure)
- ``LAYERS``: layer-level ops (conv, pools, norms, RNNs, attention...), lowered by ``passes.decompose``
"""

from __future__ import annotations

import numpy as np

GRAPH_ONLY = frozenset({"fused"})
_DERIVED: dict = {}


def _registry() -> dict:
    try:
        from ..ops import REGISTRY
    except ImportError:  # pragma: no cover - only while the core is missing
        return {}
    return REGISTRY


def _derive() -> dict:
    reg = _registry()
    if _DERIVED.get("_n") != len(reg):
        ops = reg.values()
        _DERIVED.clear()
        _DERIVED.update(
            _n=len(reg),
            ELEMENTWISE=frozenset(o.name for o in ops if o.kind == "elementwise" and o.name != "copy"),
            COMPARE=frozenset(o.name for o in ops if o.compare),
            REDUCE_FN={o.name: o.reduce_fn for o in ops if o.reduce_fn},
            REDUCTIONS=frozenset(o.name for o in ops if o.reduce_fn),
            UFUNC={o.name: o.ufunc for o in ops if o.ufunc},
            VIEWS=frozenset(o.name for o in ops if o.aliases),
            RANDOM=frozenset(o.name for o in ops if o.kind == "random"),
            EFFECTS=frozenset(o.name for o in ops if o.kind == "check"),
            LAYERS=frozenset(o.name for o in ops if o.kind == "layer"),
        )
    return _DERIVED


def __getattr__(name):  # the derived sets: opinfo.UFUNC, opinfo.VIEWS, ...
    table = _derive()
    if name in table and name != "_n":
        return table[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def known_ops() -> frozenset:
    """Every op name a graph may hold: the registry's names and graph-only ops (``fused``)."""
    return GRAPH_ONLY | frozenset(_registry())


def is_layer(op: str) -> bool:
    prim = _registry().get(op)
    return prim is not None and prim.kind == "layer"


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
    """False for ops whose result is not a function of their inputs (random draws)."""
    prim = _registry().get(op)
    return prim is None or prim.pure


def infer_outputs(op: str, avals, attrs):
    """[(shape, dtype name), ...] of ``op``'s outputs on ``avals`` [(shape, dtype name), ...] by the op's own
    rule (dims may be None); None when the op has no rule. Raises what the rule raises on bad input."""
    from .. import dtypes
    from ..ops import Aval

    prim = _registry().get(op)
    if prim is None or prim.infer is None:
        return None
    res = prim.infer(*[Aval(tuple(s), dtypes.from_name(d)) for s, d in avals], **attrs)
    res = res if isinstance(res, (tuple, list)) else (res,)
    return [(tuple(a.shape), dtype_name(a.dtype)) for a in res]


def infer(op: str, avals, attrs):
    """(shape, dtype) of the first output of ``op`` (see ``infer_outputs``), or None without a rule."""
    outs = infer_outputs(op, avals, attrs)
    return None if outs is None else outs[0]
