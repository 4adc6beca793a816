"""Constant folding: a pure node whose inputs are all constants is evaluated once at compile time.

Results larger than their largest input and over ``max_elements`` are not folded (``expand`` of a scalar
would otherwise turn into a big stored array).

Example:
    >>> import numpy as np
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import fold_constants
    >>> g = Graph(); x = g.add_input((2,), "float32")
    >>> c = g.add_constant(np.float32(2.0))
    >>> g.outputs.append(g.add_node("mul", [x, g.add_node("exp", [c])]))
    >>> print(fold_constants(g))
    graph(%0:f32[2]) {
      %1:f32[] = const 7.3890557289123535
      %2:f32[2] = mul %0 %1
      return %2
    }
"""

from __future__ import annotations

import numpy as np

from .. import opinfo
from ..interpreter import run_node
from ..ir import Graph


def fold_constants(graph: Graph, max_elements: int = 1 << 16) -> Graph:
    """Replace constant-only pure nodes by constants, in place; returns the graph."""
    folded = []
    for node in graph.nodes:
        if not node.inputs or not opinfo.is_pure(node.op) or node.op == "fused" or len(node.outputs) != 1:
            continue
        if not all(type(graph.constants.get(v)) is np.ndarray for v in node.inputs):  # host constants only
            continue
        out = node.outputs[0]
        biggest = max(int(np.prod(v.shape, dtype=np.int64)) for v in node.inputs)
        if out.size is None or (out.size > max_elements and out.size > biggest):
            continue
        arrays = [graph.constants[v] for v in node.inputs]
        import numpy as xp

        result = np.array(run_node(node, arrays, xp)[0], copy=True)
        const = graph.add_constant(result, out.hint)
        graph.replace_all_uses_with(out, const)
        folded.append(node)
    for node in folded:
        graph.remove_node(node)
    live = {v for n in graph.nodes for v in n.inputs} | set(graph.outputs)
    for v in [v for v in graph.constants if v not in live]:
        del graph.constants[v]
    return graph
