"""The reference interpreter: a loop over nodes with an environment dict (autodidax's ``eval_jaxpr``).

Each node runs ``ember.ops.REGISTRY[op].forward(xp, *arrays, **attrs)``, the same array code eager
execution runs, so interpreted results equal eager results.

Example:
    >>> import numpy as np
    >>> from ember.graph import Graph, interpret
    >>> g = Graph(); x = g.add_input((3,), "float32")
    >>> g.outputs.append(g.add_node("mul", [x, x]))
    >>> interpret(g, [np.arange(3, dtype=np.float32)])
    [array([0., 1., 4.], dtype=float32)]
"""

from __future__ import annotations

from . import opinfo
from .ir import Graph, GraphError


def _xp_for(arrays):
    from .. import backend

    for a in arrays:
        return backend.xp_of(a)
    import numpy

    return numpy


def run_node(node, arrays, xp):
    """Evaluate one node on arrays; ``fused`` nodes evaluate their body."""
    if node.op == "fused":
        return interpret(node.attrs["body"], arrays, xp)
    if "body" in node.meta:  # a layer node: its decomposition
        return interpret(node.meta["body"], arrays, xp)
    if opinfo.is_layer(node.op):  # a layer node kept whole (a dynamic sequence length): its run-time kernel
        from .executor import layer_kernel

        return list(layer_kernel(node)(xp, *arrays))
    from ..ops import REGISTRY

    prim = REGISTRY.get(node.op)
    if prim is None:
        raise GraphError(f"no primitive named {node.op!r} in the registry")
    attrs = node.attrs
    if not node.inputs and "device" not in attrs and xp.__name__ != "numpy":
        attrs = dict(attrs, device="cuda")
    return [prim.forward(xp, *arrays, **attrs)]


def interpret(graph: Graph, args, xp=None) -> list:
    """Run ``graph`` on input arrays ``args``; returns the list of output arrays."""
    if len(args) != len(graph.inputs):
        raise TypeError(f"the graph takes {len(graph.inputs)} inputs, got {len(args)}")
    xp = xp or _xp_for(args)
    env = dict(zip(graph.inputs, args))
    env.update(graph.constants)
    asarray = xp.asarray
    for node in graph.nodes:
        outs = run_node(node, [env[v] for v in node.inputs], xp)
        for v, a in zip(node.outputs, outs):
            env[v] = asarray(a)
    return [env[v] for v in graph.outputs]
