"""Elementwise fusion: chains of elementwise nodes (and a trailing reduction) become one ``fused`` node.

A group grows from a node backwards through inputs that are made by elementwise nodes, have this node as
their only reader, are not graph outputs, and have the node's full output shape (so nothing is recomputed
per broadcast element). Scalar constants read by a group move into its body. A group of one elementwise
node is left alone unless a reduction follows it (or ``singletons=True``, see ``fuse_elementwise``).

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import fuse_elementwise
    >>> g = Graph(); x = g.add_input((4, 8), "float32"); b = g.add_input((8,), "float32")
    >>> y = g.add_node("exp", [g.add_node("add", [x, b])])
    >>> g.outputs.append(g.add_node("sum", [y], {"axis": (1,), "keepdims": False}))
    >>> print(fuse_elementwise(g))
    graph(%0:f32[4,8], %1:f32[8]) {
      %2:f32[4] = fused %0 %1
        body(%0:f32[4,8], %1:f32[8]) {
          %2:f32[4,8] = add %0 %1
          %3:f32[4,8] = exp %2
          %4:f32[4] = sum[axis=(1,), keepdims=False] %3
          return %4
        }
      return %2
    }
"""

from __future__ import annotations

from .. import opinfo
from ..ir import Graph, Node, Value

FUSIBLE = (opinfo.ELEMENTWISE | {"relu"}) - {"copy"}  # relu: a bias add + relu is one pass


def _absorbable(graph: Graph, node: Node, v: Value, group_of: dict) -> bool:
    prod = graph.producer(v)
    if prod is None or prod.op not in FUSIBLE or v in graph.outputs:
        return False
    if v.shape != node.outputs[0].shape or None in v.shape:
        return False
    return all(u is node for u in graph.users(v)) and id(prod) in group_of


def _find_groups(graph: Graph, singletons: bool = False) -> list[list[Node]]:
    """Groups of nodes (topological order inside each), the last node of each group being its root."""
    group_of: dict[int, list[Node]] = {}
    groups: list[list[Node]] = []
    for node in graph.nodes:
        is_ew = node.op in FUSIBLE
        is_red = node.op in opinfo.REDUCTIONS and node.outputs[0].dtype in ("float16", "float32", "float64")
        if not (is_ew or is_red) or len(node.outputs) != 1:
            continue
        merged: list[Node] = []
        for v in dict.fromkeys(node.inputs):
            if is_red and None in v.shape:
                continue
            ok = _absorbable(graph, node, v, group_of) if is_ew else _red_absorbable(graph, node, v, group_of)
            if ok:
                sub = group_of[id(graph.producer(v))]
                if sub in groups:
                    groups.remove(sub)
                    merged.extend(sub)
        merged.sort(key=graph.nodes.index)
        if is_red:
            if merged:
                groups.append(merged + [node])
            continue
        group = merged + [node]
        for n in group:
            group_of[id(n)] = group
        groups.append(group)
    return [g for g in groups if len(g) > 1 or (singletons and g[0].op not in opinfo.UFUNC)]


def _red_absorbable(graph, node, v, group_of) -> bool:
    prod = graph.producer(v)
    return (
        prod is not None
        and prod.op in FUSIBLE
        and v not in graph.outputs
        and all(u is node for u in graph.users(v))
        and id(prod) in group_of
    )


def _make_body(graph: Graph, group: list[Node]) -> tuple[Graph, list[Value]]:
    body = Graph()
    vmap: dict[Value, Value] = {}
    outer_inputs: list[Value] = []
    inside = {v for n in group for v in n.outputs}
    for n in group:
        for v in n.inputs:
            if v in inside or v in vmap:
                continue
            arr = graph.constants.get(v)
            if arr is not None and v.size == 1 and v.ndim == 0:
                vmap[v] = body.add_constant(arr)
            else:
                vmap[v] = body.add_input(v.shape, v.dtype)
                outer_inputs.append(v)
        out = Value(n.outputs[0].shape, n.outputs[0].dtype)
        vmap[n.outputs[0]] = out
        body.insert_node(Node(n.op, [vmap[v] for v in n.inputs], n.attrs, [out], n.meta))
    body.outputs = [vmap[group[-1].outputs[0]]]
    # constants first in the printed body, in the order they are read
    return body, outer_inputs


def fuse_elementwise(graph: Graph, singletons: bool = False) -> Graph:
    """Replace each fusible group by one ``fused`` node holding its body; in place, returns the graph.

    ``singletons=True`` also wraps lone elementwise nodes that are not plain ufuncs (``where``, ``sigmoid``,
    ``erf``, ``cast``...), so an executor can run them as one compiled loop writing into a planned buffer.
    """
    for group in _find_groups(graph, singletons):
        body, outer_inputs = _make_body(graph, group)
        root = group[-1]
        out = root.outputs[0]
        fused = Node("fused", outer_inputs, {"body": body}, [out], {"source": root.meta.get("source")})
        index = graph.nodes.index(root)
        for n in reversed(group):
            graph.nodes.remove(n)
            graph._unindex(n)
        graph.insert_node(fused, index - len(group) + 1)
    live = {v for n in graph.nodes for v in n.inputs} | set(graph.outputs)
    for v in [v for v in graph.constants if v not in live]:
        del graph.constants[v]
    return graph
