"""Algebraic simplification: identities that remove a node or merge two.

Rules (each only when the result keeps the node's shape and dtype):
``x*1 -> x``, ``x+0 -> x``, ``x-0 -> x``, ``x/1 -> x``, ``x**1 -> x``, ``neg(neg(x)) -> x``,
``permute(permute(x, p), q) -> permute(x, p∘q)``, identity permutes, ``reshape(reshape(x)) -> reshape(x)``,
reshape/expand to the same shape, and ``cast`` to the value's own dtype.

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import simplify
    >>> g = Graph(); x = g.add_input((2, 3), "float32")
    >>> t = g.add_node("permute", [x], {"perm": (1, 0)})
    >>> g.outputs.append(g.add_node("permute", [t], {"perm": (1, 0)}))
    >>> print(simplify(g))
    graph(%0:f32[2,3]) {
      return %0
    }
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph

_IDENTITY = {"mul": 1, "div": 1, "pow": 1, "add": 0, "sub": 0}
_COMMUTES = {"mul", "add"}


def _const_equals(graph, v, value) -> bool:
    arr = graph.constants.get(v)
    return isinstance(arr, np.ndarray) and arr.size > 0 and bool(np.all(arr == value))


def _same_type(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and None not in a.shape


def _identity_operand(graph, node):
    """For x (op) identity -> the x operand, else None."""
    ident = _IDENTITY.get(node.op)
    if ident is None or len(node.inputs) != 2:
        return None
    a, b = node.inputs
    if _const_equals(graph, b, ident):
        return a
    if node.op in _COMMUTES and _const_equals(graph, a, ident):
        return b
    return None


def _rewrite(graph: Graph, node):
    """Return a Value that replaces the node's output, or None when no rule applies."""
    out = node.outputs[0]
    x = node.inputs[0] if node.inputs else None
    prev = graph.producer(x) if x is not None else None
    if node.op in _IDENTITY:
        keep = _identity_operand(graph, node)
        return keep if keep is not None and _same_type(keep, out) else None
    if node.op in ("reshape", "expand") and _same_type(x, out):
        return x
    if node.op == "cast" and x.dtype == out.dtype:
        return x
    if node.op == "neg" and prev is not None and prev.op == "neg":
        return prev.inputs[0]
    if node.op == "permute":
        perm = tuple(node.attrs["perm"])
        if perm == tuple(range(len(perm))):
            return x
        if prev is not None and prev.op == "permute":
            inner = tuple(prev.attrs["perm"])
            composed = tuple(inner[p] for p in perm)
            if composed == tuple(range(len(composed))):
                return prev.inputs[0]
            node.attrs["perm"] = composed
            graph.set_input(node, 0, prev.inputs[0])
    if node.op == "reshape" and prev is not None and prev.op == "reshape":
        src = prev.inputs[0]
        if _same_type(src, out):
            return src
        graph.set_input(node, 0, src)
    return None


def simplify(graph: Graph) -> Graph:
    """Apply the rules above until nothing changes, then drop dead nodes; in place, returns the graph."""
    from .dce import dce

    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if len(node.outputs) != 1 or node.op == "fused":
                continue
            before = (node.inputs[0] if node.inputs else None, dict(node.attrs))
            new = _rewrite(graph, node)
            if new is not None and graph.replace_all_uses_with(node.outputs[0], new):
                changed = True
            elif before != (node.inputs[0] if node.inputs else None, dict(node.attrs)):
                changed = True
        dce(graph)
    return graph
