"""Layer nodes while tracing: a call of a layer op's eager composite (``ember.ops.composite``) recorded as
one node whose decomposition (``node.meta["body"]``, a Graph) holds the primitives it ran.

The tracer records the composite's primitives as usual; when the call returns, ``collapse`` replaces them by
one node (the layer op, its input Values, its attrs) if the call was a pure function of its inputs: no
in-place writes, no random draws, no graph break, no other traced value read, and outputs made inside.
Otherwise the primitives simply stay (so training-mode batch norm or dropout inside attention are recorded
as primitives). Constants the composite made (an average pool's divisors, a causal mask) move into the
decomposition. If a value made inside is read later from outside (a Python reference kept by the model),
the node is expanded back into its primitives on the spot (``expand``), so a graph is never broken.

Backward passes are never inside a layer node: a call whose inputs require grad under grad mode records an
autograd graph that reads the composite's intermediates, so it stays at primitive level.
"""

from __future__ import annotations

from .._state import STATE
from .ir import Graph, Node, Value


class LayerState:
    """The tracer's bookkeeping for layer nodes."""

    def __init__(self):
        self.hidden: dict = {}  # inner Value -> the outermost layer node hiding it
        self.own: dict = {}  # id(node) -> values it hides directly
        self.consts: dict = {}  # id(node) -> [(Value, tensor, array)] constants moved into its body
        self.inplace = 0  # in-place writes seen (record_inplace), to detect them inside a call


def record_layer(tracer, op, run, inputs, attrs):
    """Run ``run()`` (the composite) under ``tracer`` and collapse what it recorded into one ``op`` node."""
    if tracer.broken or not tracer.layers or (STATE.grad_enabled and any(t.requires_grad for t in inputs)):
        return run()
    ins = [tracer.value_of(t) for t in inputs]
    st = tracer.layer_state
    start, n_captured, n_inplace, n_breaks = len(tracer.graph.nodes), len(tracer.captured), st.inplace, \
        len(tracer.breaks)
    result = run()
    if tracer.broken or st.inplace != n_inplace or len(tracer.breaks) != n_breaks:
        return result
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    _collapse(tracer, op, ins, attrs, outs, start, n_captured)
    return result


def _collapse(tracer, op, ins, attrs, outs, start, n_captured):
    g, st = tracer.graph, tracer.layer_state
    inner = g.nodes[start:]
    if not inner or any(not _pure(n.op) for n in inner):
        return
    tensor = type(outs[0]) if outs else None
    if any(type(t) is not tensor or not tracer.known(t) for t in outs):
        return
    made = {v for n in inner for v in n.outputs}
    out_values = [tracer.env[id(t._data)] for t in outs]
    if len(set(out_values)) != len(out_values) or any(v not in made for v in out_values):
        return
    fresh = list(tracer.captured.items())[n_captured:]
    consts = {v: t for v, t in fresh if _constant(tracer, v, t)}
    allowed = set(ins) | made | set(consts)
    if any(v not in allowed for n in inner for v in n.inputs):
        return  # it read another traced value (a closure) or captured state: not a function of its inputs
    body = Graph([Value(v.shape, v.dtype) for v in ins])
    sub = {}
    for outer, b in zip(ins, body.inputs):
        sub.setdefault(outer, b)
    for n in inner:
        body.insert_node(Node(n.op, [sub.get(v, v) for v in n.inputs], n.attrs, n.outputs, n.meta))
    used = {v for n in inner for v in n.inputs}
    moved = []
    for v, t in consts.items():
        if v in used:
            arr = tracer.captured_arrays.pop(v)
            del tracer.captured[v]
            tracer.env.pop(id(arr), None)
            body.constants[v] = arr
            moved.append((v, t, arr))
    body.outputs = list(out_values)
    for n in inner:
        g._unindex(n)
    del g.nodes[start:]
    meta = dict(inner[0].meta)  # the user's line and module: those of the call
    meta["body"] = body
    node = Node(op.name, ins, attrs, out_values, meta)
    g.insert_node(node)
    mine = made - set(out_values)
    st.own[id(node)] = mine
    st.consts[id(node)] = moved
    for v in mine:
        st.hidden[v] = node
    for n in inner:  # values hidden by nested layer nodes now belong to this one
        for v in st.own.get(id(n), ()):
            st.hidden[v] = node


def _pure(op: str) -> bool:
    from . import opinfo

    # value checks (assert_all, e.g. Embedding's index range) stay inside the layer: its decomposition runs them
    return op == "fused" or opinfo.is_pure(op) or op in opinfo.EFFECTS


def _constant(tracer, v, t) -> bool:
    """Whether a tensor first seen inside the call would be a constant of the graph (not state)."""
    arr = tracer.captured_arrays[v]
    return not (t.requires_grad or id(arr) in tracer.state_ids or id(arr) in tracer.mutated)


def expand(tracer, node) -> None:
    """Put a layer node's primitives back in its place (a value made inside is read from outside)."""
    g, st = tracer.graph, tracer.layer_state
    body = node.meta["body"]
    back = dict(zip(body.inputs, node.inputs))
    for v, t, arr in st.consts.pop(id(node), ()):
        now = tracer.env.get(id(arr))
        if now is None:
            tracer.captured[v], tracer.captured_arrays[v] = t, arr
            tracer._bind(arr, v)
        else:
            back[v] = now  # captured again outside since: read that value
    i = g.nodes.index(node)
    g._unindex(node)
    inner = [Node(n.op, [back.get(v, v) for v in n.inputs], n.attrs, n.outputs, n.meta) for n in body.nodes]
    g.nodes[i:i + 1] = inner
    for n in inner:
        g._index(n)
    for v in st.own.pop(id(node), ()):
        st.hidden.pop(v, None)
    for n, old in zip(inner, body.nodes):  # nested layer nodes are now these new Node objects
        if id(old) in st.own:
            st.own[id(n)], st.consts[id(n)] = st.own.pop(id(old)), st.consts.pop(id(old), [])
            for v in st.own[id(n)]:
                st.hidden[v] = n


def reveal(tracer, v) -> None:
    """Expand the layer nodes hiding ``v`` until it is a value of the top-level graph."""
    st = tracer.layer_state
    while v in st.hidden:
        expand(tracer, st.hidden[v])
