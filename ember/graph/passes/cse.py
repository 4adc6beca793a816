"""Common-subexpression elimination: two pure nodes with the same op, inputs and attrs become one.

Equal constants (same dtype, shape and bytes, small) are merged first, so ``x * 2`` written twice is shared.

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import cse
    >>> g = Graph(); x = g.add_input((3,), "float32")
    >>> a = g.add_node("exp", [x]); b = g.add_node("exp", [x])
    >>> g.outputs.append(g.add_node("add", [a, b]))
    >>> print(cse(g))
    graph(%0:f32[3]) {
      %1:f32[3] = exp %0
      %2:f32[3] = add %1 %1
      return %2
    }
"""

from __future__ import annotations

import numpy as np

from .. import opinfo
from ..ir import Graph

_MAX_CONST_BYTES = 1 << 16


def freeze(obj):
    """A hashable form of plain-data attrs (lists -> tuples, dicts -> sorted item tuples)."""
    if isinstance(obj, dict):
        return tuple(sorted((k, freeze(v)) for k, v in obj.items() if k != "body"))
    if isinstance(obj, (list, tuple)):
        return tuple(freeze(x) for x in obj)
    if isinstance(obj, Graph):
        return id(obj)
    return obj


def _merge_constants(graph: Graph) -> None:
    seen = {}
    for v, arr in list(graph.constants.items()):
        if not isinstance(arr, np.ndarray) or arr.nbytes > _MAX_CONST_BYTES:
            continue
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key in seen:
            graph.replace_all_uses_with(v, seen[key])
        else:
            seen[key] = v


def cse(graph: Graph) -> Graph:
    """Merge duplicate pure nodes and equal constants, in place; returns the graph."""
    _merge_constants(graph)
    seen, dups = {}, []
    for node in graph.nodes:
        if not opinfo.is_pure(node.op) or node.op == "fused" or len(node.outputs) != 1:
            continue
        key = (node.op, tuple(id(v) for v in node.inputs), freeze(node.attrs))
        first = seen.get(key)
        if first is None:
            seen[key] = node
        else:
            graph.replace_all_uses_with(node.outputs[0], first.outputs[0])
            dups.append(node)
    for node in dups:
        graph.remove_node(node)
    live = {v for n in graph.nodes for v in n.inputs} | set(graph.outputs)
    for v in [v for v in graph.constants if v not in live]:
        del graph.constants[v]
    return graph
