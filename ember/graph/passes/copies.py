"""Removal of needless copies and layout changes.

``copy(x)`` makes a fresh contiguous array. In a pure graph it is needless when ``x`` is already a fresh
array made by a non-view node (elementwise, matmul, reductions...), when ``x`` is itself a copy, or when
every reader of the copy is elementwise (NumPy/CuPy ufuncs read strided views as they are). Copies of graph
inputs that are graph outputs are kept (the caller must not get its own array back).

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import remove_copies
    >>> g = Graph(); x = g.add_input((2, 3), "float32")
    >>> e = g.add_node("exp", [x])
    >>> g.outputs.append(g.add_node("copy", [e]))
    >>> print(remove_copies(g))
    graph(%0:f32[2,3]) {
      %1:f32[2,3] = exp %0
      return %1
    }
"""

from __future__ import annotations

from .. import opinfo
from ..ir import Graph
from .dce import dce


def _fresh(graph: Graph, v) -> bool:
    node = graph.producer(v)
    if node is None or node.op in opinfo.VIEWS or node.op == "fused":
        return False
    if node.op == "cast":  # cast to the same dtype may return its input
        return node.inputs[0].dtype != v.dtype
    return True


def _needless(graph: Graph, node) -> bool:
    x, out = node.inputs[0], node.outputs[0]
    if _fresh(graph, x):
        return True
    prev = graph.producer(x)
    if prev is not None and prev.op == "copy":
        return True
    if out in graph.outputs:
        return False
    users = graph.users(out)
    return bool(users) and all(u.op in opinfo.ELEMENTWISE for u in users)


def remove_copies(graph: Graph) -> Graph:
    """Drop needless ``copy`` nodes, in place; returns the graph."""
    for node in list(graph.nodes):
        if node.op == "copy" and _needless(graph, node):
            graph.replace_all_uses_with(node.outputs[0], node.inputs[0])
    return dce(graph)
