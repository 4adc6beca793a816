"""Update primitives run in place: an optimizer's ``adam_step`` / ``sgd_step`` node writes straight into the
parameter and state arrays the step was given (issue 16).

In the IR an update primitive is functional: ``%s = sgd_step %p %buf %g`` returns the new states stacked, and
``getitem`` nodes take them apart for the write-back into the parameter and its buffer (the step's
``meta["donate"]``). Run as written that is a copy of every state, the update, and a copy back. When each
state input is read by no later node and each new state is only written back into that same input, nothing
can tell the in-place update apart, so this pass marks the node ``meta["update_in_place"]`` (the executor
calls the primitive's in-place kernel on the inputs, the one-pass loop of ``ops/optim_loops.py`` where it
applies) and each ``getitem`` ``meta["state_of"] = input index`` (its value is that input's array).

Example:
    >>> import numpy as np
    >>> from ember.graph import Graph
    >>> g = Graph(); p = g.add_input((4,), "float32"); grad = g.add_input((4,), "float32")
    >>> s = g.add_node("sgd_step", [p, grad], attrs=dict(lr=0.1, momentum=0.0, dampening=0.0,
    ...                weight_decay=0.0, nesterov=False, maximize=False))
    >>> g.outputs.append(g.add_node("getitem", [s], attrs={"index": (("int", 0),)}))
    >>> g.meta["donate"] = {0: 0}
    >>> mark_updates_in_place(g).nodes[0].meta["update_in_place"]
    True
"""
from __future__ import annotations

from ..ir import Graph
from .memory import _lifetimes


def _int_index(node):
    """The ``i`` of ``getitem(x, index=(("int", i),))``, else None."""
    index = node.attrs.get("index")
    if node.op != "getitem" or not isinstance(index, (tuple, list)) or len(index) != 1:
        return None
    kind, *rest = index[0]
    return rest[0] if kind == "int" and len(rest) == 1 and isinstance(rest[0], int) else None


def _aliases_for(graph: Graph, node, j, end, out_pos, donate) -> dict | None:
    """{id(getitem node): input index} when ``node`` (at index ``j``) may update its states in place."""
    n_states = node.outputs[0].shape[0]
    states = node.inputs[:n_states]
    if len(set(map(id, node.inputs))) != len(node.inputs):  # a state also read as an operand
        return None
    alias, covered = {}, set()
    for user in graph.users(node.outputs[0]):
        i, value = _int_index(user), user.outputs[0]
        pos = out_pos.get(value, [])
        if i is None or len(pos) != 1 or graph.users(value) or donate.get(pos[0]) is None:
            return None
        ii = donate[pos[0]]
        if not 0 <= i < n_states or states[i] is not graph.inputs[ii]:
            return None
        alias[id(user)] = ii
        covered.add(i)
    if covered != set(range(n_states)):
        return None
    # read later (itself or through a view made of it), or returned as it was (``end`` is then past the end)
    if any(end.get(v, -1) > j for v in states):
        return None
    return alias


def mark_updates_in_place(graph: Graph) -> Graph:
    """Mark the update primitives that may write into their state inputs (see the module doc)."""
    from ...ops import REGISTRY

    donate = graph.meta.get("donate") or {}
    if not donate:
        return graph
    out_pos: dict = {}
    for k, v in enumerate(graph.outputs):
        out_pos.setdefault(v, []).append(k)
    _, end = _lifetimes(graph)  # the memory planner's: the last reader of each array, views included
    for j, node in enumerate(graph.nodes):
        op = REGISTRY.get(node.op)
        if op is None or op.update is None or None in node.outputs[0].shape:
            continue
        alias = _aliases_for(graph, node, j, end, out_pos, donate)
        if alias is None:
            continue
        node.meta["update_in_place"] = True
        for user in graph.users(node.outputs[0]):
            user.meta["state_of"] = alias[id(user)]
    return graph
