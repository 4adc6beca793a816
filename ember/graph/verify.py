"""The graph verifier: SSA, definition before use, known ops, an in-sync users map, shapes and dtypes.

Example:
    >>> from ember.graph import Graph, verify
    >>> g = Graph(); x = g.add_input((3,), "float32")
    >>> g.outputs.append(g.add_node("exp", [x]))
    >>> verify(g) is g
    True
"""

from __future__ import annotations

from collections import Counter

from . import opinfo
from .ir import Graph, GraphError


def _where(node, index) -> str:
    src = node.meta.get("source")
    return f"node {index} ({node.op}" + (f", from {src}" if src else "") + ")"


def verify(graph: Graph) -> Graph:
    """Check ``graph``; raise GraphError naming the first bad node, else return the graph unchanged."""
    known = opinfo.known_ops()
    defined = set()
    for v in list(graph.inputs) + list(graph.constants):
        if v in defined:
            raise GraphError(f"value {v!r} is defined twice among the inputs/constants")
        defined.add(v)
    for i, node in enumerate(graph.nodes):
        if node.op not in known:
            raise GraphError(f"{_where(node, i)}: unknown op {node.op!r} (not in the primitive registry)")
        for v in node.inputs:
            if v not in defined:
                raise GraphError(f"{_where(node, i)}: reads {v!r} before it is defined")
        for v in node.outputs:
            if v in defined:
                raise GraphError(f"{_where(node, i)}: redefines {v!r} (the graph must be SSA)")
            defined.add(v)
        _check_types(graph, node, i)
    for v in graph.outputs:
        if v not in defined:
            raise GraphError(f"graph output {v!r} is never defined")
    _check_users(graph)
    return graph


def _check_users(graph: Graph) -> None:
    expected = Counter()
    for node in graph.nodes:
        for v in node.inputs:
            expected[(v, id(node))] += 1
    actual = Counter()
    for v, users in graph._users.items():
        for node in users:
            actual[(v, id(node))] += 1
    if +expected != +actual:
        raise GraphError(
            "the users map is out of sync with the nodes (edit graphs through Graph's methods, "
            "or call graph.rebuild_index())"
        )
    present = {id(node) for node in graph.nodes}  # a set: ``node in graph.nodes`` per value was quadratic
    for v, node in graph._producer.items():
        if v not in node.outputs or id(node) not in present:
            raise GraphError(f"the producer map names a removed node for {v!r}")


def _dims_agree(a, b) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _check_types(graph: Graph, node, index) -> None:
    if node.op == "fused":
        _check_fused(node, index)
        return
    try:
        avals = opinfo.infer_outputs(node.op, [(v.shape, v.dtype) for v in node.inputs], node.attrs)
    except (ValueError, KeyError, IndexError, TypeError, RuntimeError) as exc:
        raise GraphError(f"{_where(node, index)}: {exc}") from None
    if avals is None:
        return
    if node.meta.get("pool") is not None:  # a max pooling folded into the node's kernel (executor.fold_pool)
        avals = opinfo.infer_outputs("max_pool", avals[:1], node.meta["pool"]) or avals
    if len(avals) != len(node.outputs):
        raise GraphError(f"{_where(node, index)}: {node.op} has {len(avals)} output(s), the node "
                         f"{len(node.outputs)}")
    for out, (shape, dtype) in zip(node.outputs, avals):
        if not _dims_agree(shape, out.shape):
            raise GraphError(
                f"{_where(node, index)}: output shape {list(out.shape)} but the inputs give {list(shape)}"
            )
        if dtype != out.dtype:
            raise GraphError(f"{_where(node, index)}: output dtype {out.dtype} but the inputs give {dtype}")
    body = node.meta.get("body")
    if body is not None:  # a layer node's decomposition: a graph of its own with the node's signature
        _check_body(node, index, body)


def _check_body(node, index, body) -> None:
    verify(body)
    if len(body.inputs) != len(node.inputs) or len(body.outputs) != len(node.outputs):
        raise GraphError(f"{_where(node, index)}: the decomposition's signature does not match the node's")


def _check_fused(node, index) -> None:
    body = node.attrs.get("body")
    if not isinstance(body, Graph):
        raise GraphError(f"{_where(node, index)}: a fused node needs attrs['body'], a Graph")
    verify(body)
    if len(body.inputs) != len(node.inputs) or len(body.outputs) != len(node.outputs):
        raise GraphError(f"{_where(node, index)}: the body's signature does not match the node's")
    for outer, inner in zip(list(node.inputs) + list(node.outputs), list(body.inputs) + list(body.outputs)):
        if not _dims_agree(outer.shape, inner.shape) or outer.dtype != inner.dtype:
            raise GraphError(
                f"{_where(node, index)}: {outer.type_str()} outside vs {inner.type_str()} in the body"
            )
