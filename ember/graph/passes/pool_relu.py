"""relu before a max pool, swapped: ``pool(relu(x))`` becomes ``relu(pool(x))`` in a joint (forward +
backward) training graph, so relu and its gradient mask run on the pooled tensor (a quarter of the size
for a 2x2 pool) and the mask is applied to the pool gradient's producer input instead of its output.

Exact, in values and gradients, NaN included: relu is monotone, so ``max(relu(a), relu(b)) ==
relu(max(a, b))``; where the window's maximum is positive both forms pick the same (first) position, and where
it is not, relu's mask zeroes the gradient in both. Applies when the relu output is read only by the pool
(``pool_max_arg``, max pooling's training form) and by relu's own backward mask ``where(gt(r, 0),
pool_scatter_at(g, argmax), 0)``; anything else keeps the graph as it is.

Example:
    >>> import ember
    >>> from ember import nn
    >>> model = ember.compile(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2)))
    >>> model(ember.randn(2, 1, 8, 8)).sum().backward()  # the compiled backward masks the pooled gradient
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph

_FIRST, _SECOND = (("int", 0),), (("int", 1),)


def _is_zero(graph, v) -> bool:
    arr = graph.constants.get(v)
    return isinstance(arr, np.ndarray) and arr.ndim == 0 and arr == 0


def _getitem(graph, packed, index):
    return [u for u in graph.users(packed) if u.op == "getitem" and u.attrs.get("index") == index]


def _mask_chain(graph, gt, pool):
    """(gt, where, scatter) when ``gt`` is relu's backward mask on this pool's gradient, else None."""
    if gt.op != "gt" or not _is_zero(graph, gt.inputs[1]) or len(graph.users(gt.out)) != 1:
        return None
    where = graph.users(gt.out)[0]
    if where.op != "where" or where.inputs[0] is not gt.out or not _is_zero(graph, where.inputs[2]):
        return None
    scatter = graph.producer(where.inputs[1])
    if scatter is None or scatter.op != "pool_scatter_at" or len(graph.users(scatter.out)) != 1:
        return None
    arg = graph.producer(scatter.inputs[1])
    if arg is None or arg.op != "getitem" or arg.inputs[0] is not pool.out or arg.attrs["index"] != _SECOND:
        return None
    return gt, where, scatter


def _match(graph, pool):
    relu = graph.producer(pool.inputs[0])
    if relu is None or relu.op != "relu" or relu.out in graph.outputs or len(_getitem(graph, pool.out, _FIRST)) != 1:
        return None
    chains = [_mask_chain(graph, u, pool) for u in graph.users(relu.out) if u is not pool]
    if not chains or None in chains or graph.users(relu.out).count(pool) != 1:
        return None
    return relu, chains


def swap_relu_max_pool(graph: Graph) -> Graph:
    """The graph with every matching ``pool(relu(x))`` swapped (a clone when anything matches)."""
    if not any(n.op == "pool_max_arg" and _match(graph, n) for n in graph.nodes):
        return graph
    graph = graph.clone()[0]
    for pool in [n for n in graph.nodes if n.op == "pool_max_arg"]:
        found = _match(graph, pool)
        if found is None:
            continue
        relu, chains = found
        graph.set_input(pool, 0, relu.inputs[0])
        first = _getitem(graph, pool.out, _FIRST)[0]
        pooled = relu.out.__class__(first.out.shape, first.out.dtype, first.out.hint)
        old = first.out
        first.outputs[0] = pooled  # the max of x; relu of it takes the old value's place for every reader
        graph.rebuild_index()
        graph.insert_node(relu.__class__("relu", [pooled], {}, [old], dict(relu.meta)),
                          graph.nodes.index(first) + 1)
        for gt, where, scatter in chains:
            at = graph.nodes.index(scatter)
            small_gt = graph.make_node("gt", [old, gt.inputs[1]], {}, meta=dict(gt.meta))
            small_where = graph.make_node("where", [small_gt.out, scatter.inputs[0], where.inputs[2]], {},
                                          meta=dict(where.meta))
            graph.insert_node(small_where, at)
            graph.insert_node(small_gt, at)
            graph.set_input(scatter, 0, small_where.out)
            graph.replace_all_uses_with(where.out, scatter.out)
            graph.remove_node(where)
            graph.remove_node(gt)
        graph.remove_node(relu)
    return graph
