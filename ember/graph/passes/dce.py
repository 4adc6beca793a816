"""Dead-code elimination: drop nodes (and constants) nothing reads, keeping random draws (they are impure).

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import dce
    >>> g = Graph(); x = g.add_input((3,), "float32")
    >>> _ = g.add_node("exp", [x]); g.outputs.append(g.add_node("neg", [x]))
    >>> print(dce(g))
    graph(%0:f32[3]) {
      %1:f32[3] = neg %0
      return %1
    }
"""

from __future__ import annotations

from .. import opinfo
from ..ir import Graph


def dce(graph: Graph) -> Graph:
    """Remove unused pure nodes and unused constants, in place; returns the graph."""
    live = set(graph.outputs)
    keep = []
    for node in reversed(graph.nodes):
        if any(v in live for v in node.outputs) or not opinfo.is_pure(node.op):
            keep.append(node)
            live.update(node.inputs)
    if len(keep) != len(graph.nodes):
        graph.nodes = keep[::-1]
        graph.rebuild_index()
    for v in [v for v in graph.constants if v not in live]:
        del graph.constants[v]
    return graph
