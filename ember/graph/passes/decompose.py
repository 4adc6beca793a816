"""Decomposition: every layer node (conv, pools, norms, embedding, RNNs, attention...) replaced by the
primitives of its decomposition (``node.meta["body"]``, recorded when it was traced), recursively. The CPU/GPU
executors run primitives only: ``ember.compile`` decomposes right after tracing, so a compiled graph is the
same primitive graph whether or not it was traced with layer nodes. The one exception is a layer node stored
without a decomposition (an exported LSTM/GRU/RNN with a dynamic sequence length, whose unrolled body could not
be): it stays, and the executors run its op's run-time kernel (``"executor"`` lowering).

Example:
    >>> import ember
    >>> from ember import nn
    >>> from ember.graph import trace
    >>> from ember.graph.passes import decompose
    >>> conv = nn.Conv2d(1, 2, 3)
    >>> with ember.no_grad():
    ...     g = trace(conv, ember.ones(1, 1, 5, 5))
    >>> [n.op for n in g.nodes]
    ['conv']
    >>> [n.op for n in decompose(g).nodes]
    ['im2col', 'reshape', 'matmul', 'reshape', 'permute', 'reshape', 'add']
"""

from __future__ import annotations

from ..ir import Graph, GraphError, Node, Value


def decompose(graph: Graph) -> Graph:
    """Inline the decomposition of every layer node of ``graph`` (in place); returns the graph."""
    if not any("body" in n.meta for n in graph.nodes):
        return graph
    nodes: list[Node] = []
    for node in graph.nodes:
        if "body" in node.meta:
            nodes.extend(_inline(graph, node))
        else:
            nodes.append(node)
    graph.nodes = nodes
    graph.rebuild_index()
    return graph


def _inline(graph: Graph, node: Node) -> list[Node]:
    body = node.meta["body"]
    if body is None:
        raise GraphError(f"layer node {node.op} has no decomposition to run (made at "
                         f"{node.meta.get('source', '?')})")
    vmap: dict[Value, Value] = dict(zip(body.inputs, node.inputs))
    vmap.update(zip(body.outputs, node.outputs))
    for v, arr in body.constants.items():
        vmap[v] = graph.add_constant(arr, v.hint)
    out: list[Node] = []
    for inner in body.nodes:
        outs = [vmap.setdefault(v, Value(v.shape, v.dtype, v.hint)) for v in inner.outputs]
        meta = {k: val for k, val in inner.meta.items() if k != "body"}
        meta.setdefault("layer", node.op)
        new = Node(inner.op, [vmap[v] for v in inner.inputs], dict(inner.attrs), outs, meta)
        if "body" in inner.meta:
            new.meta["body"] = inner.meta["body"]
            out.extend(_inline(graph, new))
        else:
            out.append(new)
    return out
