"""ONNX export: Ember's graph IR mapped op by op to ONNX (opset 17), parameters as initializers.

Needs the optional ``onnx`` extra (``pip install ember[onnx]``: onnx and onnxruntime). Covers the inference
subset of the primitives (elementwise, matmul/linear, reductions, shape ops, concat, where, cast); any other
op raises ``NotImplementedError`` naming it and the source line that made it.

Example:
    >>> import ember
    >>> from ember import nn
    >>> from ember.export.onnx import export
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    >>> proto = export(model, ember.randn(1, 4), dynamic_batch=True)
    >>> [n.op_type for n in proto.graph.node]
    ['Gemm', 'Relu', 'Gemm']
"""

from __future__ import annotations

import numpy as np

from ..graph import opinfo
from ..graph.ir import Graph

OPSET = 17
_UNARY = {
    "neg": "Neg", "exp": "Exp", "log": "Log", "sin": "Sin", "cos": "Cos", "tanh": "Tanh", "sigmoid": "Sigmoid",
    "sqrt": "Sqrt", "erf": "Erf", "abs": "Abs", "sign": "Sign", "floor": "Floor", "ceil": "Ceil",
    "round": "Round", "relu": "Relu", "logical_not": "Not", "copy": "Identity",
}
_BINARY = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max", "minimum": "Min",
    "eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual",
    "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor", "matmul": "MatMul", "where": "Where",
}
_REDUCE = {"sum": "ReduceSum", "amax": "ReduceMax", "amin": "ReduceMin", "prod": "ReduceProd"}


def _onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "ONNX export needs the optional extra: pip install 'ember[onnx]' (onnx, onnxruntime)"
        ) from exc
    return onnx


class _Builder:
    def __init__(self, graph: Graph):
        self.onnx = _onnx()
        self.h = self.onnx.helper
        self.graph, self.nodes, self.inits, self.names = graph, [], [], {}
        self.count = 0

    def name(self, v) -> str:
        if v not in self.names:
            self.names[v] = f"v{len(self.names)}"
        return self.names[v]

    def fresh(self, hint="t") -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array, hint="c") -> str:
        name = self.fresh(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def add(self, op_type, inputs, outputs, **attrs):
        self.nodes.append(self.h.make_node(op_type, inputs, outputs, **attrs))
        return outputs[0]


def _lower(b: _Builder, node) -> None:
    ins, out = [b.name(v) for v in node.inputs], b.name(node.outputs[0])
    op, a = node.op, node.attrs
    if op in _UNARY:
        b.add(_UNARY[op], ins, [out])
    elif op in _BINARY:
        b.add(_BINARY[op], ins, [out])
    elif op == "ne":
        b.add("Not", [b.add("Equal", ins, [b.fresh()])], [out])
    elif op == "cast":
        to = b.h.np_dtype_to_tensor_dtype(opinfo.np_dtype(opinfo.dtype_name(a["dtype"])))
        b.add("Cast", ins, [out], to=to)
    elif op == "linear":
        _lower_linear(b, node, ins, out)
    elif op in _REDUCE:
        _lower_reduce(b, node, ins, out)
    elif op == "reshape":
        b.add("Reshape", [ins[0], b.const(np.asarray(a["shape"], np.int64), "shape")], [out])
    elif op == "permute":
        b.add("Transpose", ins, [out], perm=list(a["perm"]))
    elif op == "expand":
        shape = [1 if d == -1 else d for d in a["shape"]]  # Expand broadcasts: 1 keeps the input's size
        b.add("Expand", [ins[0], b.const(np.asarray(shape, np.int64), "shape")], [out])
    elif op == "cat":
        b.add("Concat", ins, [out], axis=int(a["axis"]))
    elif op == "softmax":  # opset 13+: one axis, as the primitive
        b.add("Softmax", ins, [out], axis=int(a["axis"]))
    elif op == "standardize":  # LayerNormalization (opset 17) with a unit scale and no bias
        trailing = node.inputs[0].shape[-a["ndim"]:]
        ones = b.const(np.ones(trailing, opinfo.np_dtype(node.inputs[0].dtype)), "unit_scale")
        b.add("LayerNormalization", [ins[0], ones], [out], axis=-int(a["ndim"]), epsilon=float(a["eps"]))
    else:
        where = node.meta.get("source", "?")
        raise NotImplementedError(f"ONNX export: no ONNX mapping for primitive {op!r} (made at {where})")


def _lower_linear(b, node, ins, out):
    x, w, bias = ins
    if node.inputs[0].ndim == 2:
        b.add("Gemm", [x, w, bias], [out], transB=1)
        return
    wt = b.add("Transpose", [w], [b.fresh("wT")], perm=[1, 0])
    b.add("Add", [b.add("MatMul", [x, wt], [b.fresh("mm")]), bias], [out])


def _lower_reduce(b, node, ins, out):
    axis, keep = node.attrs.get("axis"), int(bool(node.attrs.get("keepdims", False)))
    if axis is None:
        axes = list(range(node.inputs[0].ndim))
    else:
        axes = list(axis) if isinstance(axis, (tuple, list)) else [axis]
    if node.op == "sum":  # opset 13+: axes is an input for ReduceSum
        b.add("ReduceSum", [ins[0], b.const(np.asarray(axes, np.int64), "axes")], [out], keepdims=keep)
    else:
        b.add(_REDUCE[node.op], ins, [out], axes=axes, keepdims=keep)


def _value_info(b, v, name):
    dims = ["N" if d is None else d for d in v.shape]
    return b.h.make_tensor_value_info(name, b.h.np_dtype_to_tensor_dtype(opinfo.np_dtype(v.dtype)), dims)


def to_onnx(graph: Graph, n_inputs=None, initializers=None, name="ember_graph"):
    """An ``onnx.ModelProto`` for ``graph``: its first ``n_inputs`` inputs stay inputs (``x0``, ``x1``...), the
    rest become initializers with the arrays in ``initializers`` (one per remaining input)."""
    b = _Builder(graph)
    n_inputs = len(graph.inputs) if n_inputs is None else n_inputs
    inputs = []
    for i, v in enumerate(graph.inputs):
        if i < n_inputs:
            b.names[v] = f"x{i}"
            inputs.append(_value_info(b, v, f"x{i}"))
        else:
            b.names[v] = b.const(np.asarray(initializers[i - n_inputs]), "w")
    for v, arr in graph.constants.items():
        b.names[v] = b.const(np.asarray(arr), "k")
    for node in graph.nodes:
        _lower(b, node)
    outputs = []
    for k, v in enumerate(graph.outputs):
        out = b.add("Identity", [b.name(v)], [f"y{k}"])
        outputs.append(_value_info(b, v, out))
    g = b.h.make_graph(b.nodes, name, inputs, outputs, b.inits)
    model = b.h.make_model(g, opset_imports=[b.h.make_opsetid("", OPSET)], producer_name="ember")
    model.ir_version = min(model.ir_version, 8)
    _drop_identities(model)
    b.onnx.checker.check_model(model)
    return model


def _drop_identities(model) -> None:
    """Point each output Identity's producer straight at the output name."""
    nodes = model.graph.node
    for ident in [n for n in nodes if n.op_type == "Identity" and n.output[0].startswith("y")]:
        src = ident.input[0]
        producers = [n for n in nodes if src in n.output]
        if len(producers) != 1 or sum(src in n.input for n in nodes) != 1:
            continue
        prod = producers[0]
        prod.output[list(prod.output).index(src)] = ident.output[0]
        nodes.remove(ident)


def export(module_or_fn, *example_args, path=None, dynamic_batch=False):
    """Trace ``module_or_fn(*example_args)`` (no grad, as it is: call ``.eval()`` first) and export it; the
    parameters become initializers. ``dynamic_batch`` makes dim 0 of every input symbolic. Saves to
    ``path`` when given; returns the ModelProto."""
    from .. import no_grad
    from ..graph.capture import run_traced
    from ..graph.compile import CompiledFunction
    from ..graph.passes import optimize

    fn = module_or_fn._fn if isinstance(module_or_fn, CompiledFunction) else module_or_fn
    with no_grad():
        cap = run_traced(fn, example_args, {}, mode="strict")
    graph = optimize(cap.graph, fuse=False)
    if dynamic_batch:
        for v in graph.inputs[: cap.n_args]:
            v.shape = (None,) + v.shape[1:]
    arrays = [(obj._data if kind == "tensor" else obj.grad._data) for kind, obj in cap.state]
    model = to_onnx(graph, cap.n_args, arrays)
    if path is not None:
        _onnx().save(model, str(path))
    return model


def export_session(module_or_fn, *example_args):
    """(onnxruntime.InferenceSession, feed dict for ``example_args``): for comparisons and benchmarks."""
    import onnxruntime

    model = export(module_or_fn, *example_args)
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = onnxruntime.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = {f"x{i}": np.asarray(a._data) for i, a in enumerate(example_args)}
    return sess, feed
