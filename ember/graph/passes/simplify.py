"""Algebraic simplification: identities that remove a node or merge two.

Rules (each only when the result keeps the node's shape and dtype):
``x*1 -> x``, ``x+0 -> x``, ``x-0 -> x``, ``x/1 -> x``, ``x**1 -> x``, ``neg(neg(x)) -> x``,
``permute(permute(x, p), q) -> permute(x, p∘q)``, identity permutes, ``reshape(reshape(x)) -> reshape(x)``,
reshape/expand to the same shape, ``cast`` to the value's own dtype, ``getitem`` of what an ``index_put`` wrote at
the same integer index, and a sum of slice writes into zeros
that tile one axis (the backward of splitting a tensor, e.g. attention's q/k/v) -> one ``cat``.

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
        if keep is not None and _same_type(keep, out):
            return keep
        return _slices_to_cat(graph, node) if node.op == "add" else None
    if node.op in ("reshape", "expand") and _same_type(x, out):
        return x
    if node.op == "cast" and x.dtype == out.dtype:
        return x
    if node.op == "getitem" and prev is not None and prev.op == "index_put" and len(prev.inputs) == 2:
        # reading back exactly what was written (the backward of taking one part of a packed result)
        if not prev.attrs.get("accumulate") and prev.attrs["index"] == node.attrs.get("index"):
            if all(e[0] == "int" for e in node.attrs["index"]) and _same_type(prev.inputs[1], out):
                return prev.inputs[1]
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


def _slice_write(graph, node):
    """(axis, start, stop, value) when ``node`` writes ``value`` into a zero tensor along one axis, else None."""
    if node is None or node.op != "index_put" or node.attrs.get("accumulate"):
        return None
    base, value = node.inputs[0], node.inputs[1]
    if len(node.inputs) != 2 or not _const_equals(graph, base, 0) or value.dtype != base.dtype:
        return None
    cut = None
    for axis, entry in enumerate(node.attrs["index"]):
        if entry[0] != "slice" or entry[3] not in (None, 1):
            return None
        if entry[1:3] == (None, None):
            continue
        if cut is not None or base.shape[axis] is None:
            return None
        n = base.shape[axis]
        start, stop, _ = slice(entry[1], entry[2]).indices(n)
        cut = (axis, start, stop)
    if cut is None or value.shape != base.shape[: cut[0]] + (cut[2] - cut[1],) + base.shape[cut[0] + 1:]:
        return None
    return cut + (value,)


def _slices_to_cat(graph, root):
    """``add`` of slice writes into zeros that tile one axis -> ``cat`` of the written values."""
    out = root.outputs[0]
    leaves, stack = [], [root]
    while stack:  # walk through adds that feed only this sum; every term must have the sum's shape
        node = stack.pop()
        for v in node.inputs:
            prod = graph.producer(v)
            if v.shape != out.shape:
                leaves.append(None)
            elif prod is not None and prod.op == "add" and len(graph.users(v)) == 1:
                stack.append(prod)
            else:
                leaves.append(_slice_write(graph, prod))
    if len(leaves) < 2 or None in leaves or len({leaf[0] for leaf in leaves}) != 1:
        return None
    leaves.sort(key=lambda leaf: leaf[1])
    axis = leaves[0][0]
    bounds = [0] + [b for leaf in leaves for b in leaf[1:3]] + [out.shape[axis]]
    if any(bounds[i] != bounds[i + 1] for i in range(0, len(bounds), 2)):  # gaps or overlaps
        return None
    return graph.add_node("cat", [leaf[3] for leaf in leaves], {"axis": axis}, index=graph.nodes.index(root))


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
