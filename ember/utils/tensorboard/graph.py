"""A model's traced IR as a TensorBoard ``GraphDef``: one NodeDef per IR node, named under the scope of the
module (or Keras layer) whose forward produced it, so the Graphs tab draws each module as a box to open.

Example:
    >>> import ember
    >>> from ember import nn
    >>> from ember.utils.tensorboard.graph import model_graph_def
    >>> gd = model_graph_def(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), ember.ones(2, 4))
    >>> sorted({n.name.rsplit("/", 1)[0] for n in gd.node})
    ['Sequential/Linear[0]', 'Sequential/ReLU[1]', 'input', 'output']
"""

from __future__ import annotations

import numpy as np
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef


def _scope_names(model) -> dict:
    """id(module) -> its scope path: Keras layers by their ``name``, PyTorch modules as ``Class[attr]``."""
    def label(mod, attr):
        if hasattr(mod, "_inbound_nodes") and isinstance(getattr(mod, "name", None), str):
            return mod.name  # a Keras layer
        return type(mod).__name__ + (f"[{attr}]" if attr is not None else "")

    scopes = {id(model): label(model, None)}
    for qual, _ in model.named_modules():
        if qual:
            parent = scopes[id(model)]
            owner = model
            for part in qual.split("."):
                owner = owner._modules[part]
                parent = scopes.setdefault(id(owner), parent + "/" + label(owner, part))
    return scopes


def _trace_with_scopes(model, inputs):
    """Trace ``model(*inputs)``; returns (Capture, [scope of each IR node])."""
    import ember
    from ember._state import STATE
    from ember.graph.capture import run_traced

    scopes = _scope_names(model)
    stack, marks, handles = [], [], []

    def mark():
        marks.append((len(STATE.tracer.graph.nodes), stack[-1] if stack else scopes[id(model)]))

    def pre(mod, args):
        stack.append(scopes.get(id(mod), type(mod).__name__))
        mark()

    def post(mod, args, out):
        stack.pop()
        mark()

    for _, mod in model.named_modules():
        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    try:
        with ember.no_grad():
            cap = run_traced(lambda *xs: model(*xs), tuple(inputs), {})
    finally:
        for h in handles:
            h.remove()
    if cap.graph is None:
        raise ValueError(f"add_graph: the model's forward could not be traced into one graph: {cap.breaks[0]} "
                         "(a graph break: Python needed a tensor's value)")
    node_scopes, k = [], 0
    for i in range(len(cap.graph.nodes)):
        while k + 1 < len(marks) and marks[k + 1][0] <= i:
            k += 1
        node_scopes.append(marks[k][1] if marks and marks[k][0] <= i else scopes[id(model)])
    return cap, node_scopes


def _shape_attr(values) -> AttrValue:
    shapes = [TensorShapeProto(dim=[TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in v.shape])
              for v in values]
    return AttrValue(list=AttrValue.ListValue(shape=shapes))


def _node(name, op, inputs, outputs, **strings) -> NodeDef:
    attrs = {"_output_shapes": _shape_attr(outputs)}
    attrs.update({k: AttrValue(s=str(v).encode()) for k, v in strings.items() if v not in (None, "")})
    return NodeDef(name=name, op=op, input=inputs, attr=attrs)


def _as_inputs(example):
    import ember

    items = list(example) if isinstance(example, (list, tuple)) else [example]
    return [x if isinstance(x, ember.Tensor) else ember.tensor(np.asarray(x)) for x in items]


def model_graph_def(model, example_input) -> GraphDef:
    """Trace ``model(example_input)`` (a tensor or a list/tuple of them) into a GraphDef with module scopes."""
    inputs = _as_inputs(example_input)
    cap, node_scopes = _trace_with_scopes(model, inputs)
    g = cap.graph
    scopes = _scope_names(model)
    owner_scope = {}
    for _, mod in model.named_modules():
        for pname, p in list(mod._parameters.items()) + list(mod._buffers.items()):
            if p is not None:
                owner_scope.setdefault(id(p), f"{scopes[id(mod)]}/{pname}")
    names, nodes = {}, []
    for i, v in enumerate(g.inputs[: cap.n_args]):
        names[v] = f"input/input.{i}"
        nodes.append(_node(names[v], "IO Node", [], [v], dtype=v.dtype))
    for j, (v, (kind, obj)) in enumerate(zip(g.inputs[cap.n_args:], cap.state)):
        base = owner_scope.get(id(obj), f"state/state.{j}")
        names[v] = base + (".grad" if kind != "tensor" else "")
        nodes.append(_node(names[v], "Parameter", [], [v], dtype=v.dtype))
    users = {}
    for i, n in enumerate(g.nodes):
        for v in n.inputs:
            users.setdefault(v, i)
    for j, (v, arr) in enumerate(g.constants.items()):
        scope = node_scopes[users[v]] if v in users else "constants"
        names[v] = f"{scope}/constant.{j}"
        nodes.append(_node(names[v], "Constant", [], [v], dtype=v.dtype, value=_short(arr)))
    for i, (n, scope) in enumerate(zip(g.nodes, node_scopes)):
        name = f"{scope}/{n.op}.{i}"
        attrs = {k: a for k, a in n.attrs.items() if k != "body"}
        nodes.append(_node(name, n.op, [names[v] for v in n.inputs], n.outputs,
                           attrs=", ".join(f"{k}={a!r}" for k, a in attrs.items()),
                           source=n.meta.get("source"), dtype=n.outputs[0].dtype))
        for v in n.outputs:
            names[v] = name
    for i, v in enumerate(g.outputs):
        nodes.append(_node(f"output/output.{i}", "IO Node", [names[v]], [v], dtype=v.dtype))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


def _short(arr) -> str:
    a = np.asarray(arr)
    return str(a.item()) if a.size == 1 else f"array{tuple(a.shape)} {a.dtype}"
