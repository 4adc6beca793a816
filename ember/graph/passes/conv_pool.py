"""A Winograd convolution, its bias and a 2x2 max pool in one node: ``pool_max_arg(winograd_conv(x, w) +
reshape(b))`` with a 2x2, stride-2, unpadded pool becomes ``winograd_conv_pool(x, w, b)`` (``ops/winograd_pool.py``:
the pool taken in the output transform, no full-size convolution output).

Applies when the convolution and the sum are read only by the next node of the chain (a training graph
after ``swap_relu_max_pool``: relu's gradient mask then reads the pooled tensor, not the full-size one) and
the bias is a 1-D tensor reshaped to (O, 1, 1) or (1, O, 1, 1) of the convolution's dtype. The result is
``pool_max_arg``'s packed value itself, bit for bit, so every reader stays as it is.

Example:
    >>> import ember
    >>> from ember import nn
    >>> step = ember.compile(nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(2)))
    >>> with ember.ops.winograd.forced(True):
    ...     step(ember.randn(2, 8, 14, 14, requires_grad=True)).sum().backward()
"""

from __future__ import annotations

from ...ops.winograd_pool import POOL
from ..ir import Graph, Node


def _only_reader(graph, value, node) -> bool:
    return graph.users(value) == [node] and value not in graph.outputs


def _bias_reshape(graph, value, n_out, dtype):
    """The reshape of a 1-D bias to (O, 1, 1) or (1, O, 1, 1) that makes ``value``, else None."""
    node = graph.producer(value)
    if node is None or node.op != "reshape" or tuple(value.shape) not in ((n_out, 1, 1), (1, n_out, 1, 1)):
        return None
    b = node.inputs[0]
    return node if tuple(b.shape) == (n_out,) and b.dtype == dtype else None


def _match(graph, pool):
    """(conv, add, bias reshape) when ``pool`` reads a Winograd convolution plus its bias, else None."""
    if any(pool.attrs.get(k) != v for k, v in POOL.items()):
        return None
    add = graph.producer(pool.inputs[0])
    if add is None or add.op != "add" or not _only_reader(graph, add.out, pool):
        return None
    for conv_side in (0, 1):
        conv = graph.producer(add.inputs[conv_side])
        if conv is None or conv.op != "winograd_conv" or conv.attrs.get("transposed"):
            continue
        bias = _bias_reshape(graph, add.inputs[1 - conv_side], conv.out.shape[1], conv.out.dtype)
        if bias is not None and add.out.shape == conv.out.shape and _only_reader(graph, conv.out, add):
            return conv, add, bias
    return None


def fuse_conv_pool(graph: Graph) -> Graph:
    """``graph`` with every matching convolution + bias + max pool made one ``winograd_conv_pool`` node (in
    place; returned for chaining)."""
    for pool in [n for n in graph.nodes if n.op == "pool_max_arg"]:
        found = _match(graph, pool)
        if found is None:
            continue
        conv, add, reshape = found
        # the pool node becomes the fused one: its output value (and every reader of it) stays
        graph.nodes[graph.nodes.index(pool)] = Node("winograd_conv_pool", [*conv.inputs[:2], reshape.inputs[0]],
                                                    {"padding": conv.attrs["padding"]}, pool.outputs, pool.meta)
        graph.rebuild_index()
        graph.remove_node(add)
        graph.remove_node(conv)
        if not graph.users(reshape.out) and reshape.out not in graph.outputs:
            graph.remove_node(reshape)
    return graph
