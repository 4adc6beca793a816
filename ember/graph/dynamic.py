"""Dynamic dimensions: turning a graph traced at one size into one valid for any size of some input dims.

``generalize(new, old, dims)`` takes two traces of the same function at different sizes (``new`` and
``old``) and the input dims that differ; it returns a copy of ``new`` whose dims are ``None`` wherever they
follow from those inputs, or None when the two traces are not the same program (different ops or attrs,
a size baked into an attr that cannot be written as ``-1``, a size-dependent constant).
"""

from __future__ import annotations

import numpy as np

from . import opinfo
from .ir import Graph


def _index(graph: Graph) -> dict:
    return {v: i for i, v in enumerate(graph.values())}


def same_program(new: Graph, old: Graph) -> tuple[bool, dict]:
    """Whether the graphs match node for node (ops, wiring, constants); returns (ok, reshape fixes)."""
    if (
        len(new.nodes) != len(old.nodes)
        or len(new.inputs) != len(old.inputs)
        or len(new.constants) != len(old.constants)
        or len(new.outputs) != len(old.outputs)
    ):
        return False, {}
    for (va, a), (vb, b) in zip(new.constants.items(), old.constants.items()):
        if va.shape != vb.shape or va.dtype != vb.dtype or not np.array_equal(np.asarray(a), np.asarray(b)):
            return False, {}
    ia, ib = _index(new), _index(old)
    fixes = {}
    for k, (na, nb) in enumerate(zip(new.nodes, old.nodes)):
        if na.op != nb.op or [ia[v] for v in na.inputs] != [ib[v] for v in nb.inputs]:
            return False, {}
        if na.attrs != nb.attrs:
            fix = _reshape_fix(na, nb)
            if fix is None:
                return False, {}
            fixes[k] = fix
    if [ia[v] for v in new.outputs] != [ib[v] for v in old.outputs]:
        return False, {}
    return True, fixes


def _reshape_fix(na, nb):
    """For reshapes whose target differs in exactly one entry, the target with -1 there."""
    if na.op != "reshape" or set(na.attrs) != {"shape"}:
        return None
    sa, sb = tuple(na.attrs["shape"]), tuple(nb.attrs["shape"])
    diff = [i for i, (x, y) in enumerate(zip(sa, sb)) if x != y]
    if len(sa) != len(sb) or len(diff) != 1 or -1 in sa:
        return None
    return tuple(-1 if i == diff[0] else d for i, d in enumerate(sa))


def generalize(new: Graph, old: Graph, dims: dict) -> Graph | None:
    """``dims``: {input index: set of axes} that vary. Returns the generalized copy of ``new`` or None."""
    ok, fixes = same_program(new, old)
    if not ok:
        return None
    g = new.clone()[0]
    for i, axes in dims.items():
        v = g.inputs[i]
        v.shape = tuple(None if a in axes else d for a, d in enumerate(v.shape))
    for k, node in enumerate(g.nodes):
        if k in fixes:
            node.attrs["shape"] = fixes[k]
        if node.op == "fused" or len(node.outputs) != 1:
            return None
        aval = opinfo.infer(node.op, [(v.shape, v.dtype) for v in node.inputs], node.attrs)
        if aval is None:
            aval = probe_infer(node)
        if aval is None:
            if any(None in v.shape for v in node.inputs):
                return None  # no rule to carry the dynamic dim through this op
            continue
        out = node.outputs[0]
        if len(aval[0]) != len(out.shape):
            return None
        out.shape = tuple(aval[0])
    # every dim that differs between the two traces must have become dynamic
    for vn, vo, vg in zip(new.values(), old.values(), g.values()):
        if len(vn.shape) != len(vo.shape) or any(
            a != b and c is not None for a, b, c in zip(vn.shape, vo.shape, vg.shape)
        ):
            return None
    return g


_PROBES = (7, 13)


def probe_infer(node):
    """(shape, dtype) through the registry's own shape rule for an op the graph layer has no dynamic rule
    for: dynamic dims are given two probe sizes, and the output dims that change with them are dynamic.
    None when the rule rejects a probe or the output rank changes."""
    from .ir import GraphError, Value, _registry_infer

    if not any(None in v.shape for v in node.inputs):
        return None
    outs = []
    for probe in _PROBES:
        ins = [Value(tuple(probe if d is None else d for d in v.shape), v.dtype) for v in node.inputs]
        try:
            outs.append(_registry_infer(node.op, ins, node.attrs))
        except (GraphError, ValueError, RuntimeError, TypeError, IndexError):
            return None
    (a, dt), (b, _) = outs
    if len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b)), dt
