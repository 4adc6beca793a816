"""The TFLite builder context: tensors, buffers, operator codes and operators of one subgraph, written with
the TFLite schema's object API (``ai_edge_litert.schema_py_generated``) and ``flatbuffers``.

Lowerings (written beside each op, ``register_lowering(op, "tflite", fn)``) see only this context:
``ctx.inputs(node)`` / ``ctx.output(node)`` give tensor indices, ``ctx.emit("ADD", [a, b], [out], options)`` appends
an operator, ``ctx.const`` / ``ctx.ints`` add constant tensors, ``ctx.temp`` an intermediate, ``ctx.alias`` makes an
output another tensor (no operator). Dynamic dims are 1 in ``shape`` and -1 in ``shape_signature``; the interpreter
re-derives every shape after ``resize_tensor_input``.
"""

from __future__ import annotations

import numpy as np

from ...errors import mark
from ..program import ExportError

_MIN_VERSION = {"BROADCAST_TO": 2}  # kernels registered from a version above 1
_TYPES = {
    "float32": "FLOAT32", "float16": "FLOAT16", "float64": "FLOAT64", "int32": "INT32", "int64": "INT64",
    "int16": "INT16", "int8": "INT8", "uint8": "UINT8", "bool": "BOOL", "bfloat16": "BFLOAT16",
}


def schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as exc:
        raise mark(ImportError(
            "TFLite export needs the optional extra: pip install 'ember[tflite]' (ai-edge-litert, flatbuffers)"
        )) from exc
    return schema_py_generated


class TFLiteContext:
    """One subgraph under construction (see the module docstring)."""

    def __init__(self, graph):
        self.s = schema()
        self.graph = graph
        self.tensors: list = []
        self.buffers: list = [self.s.BufferT()]  # buffer 0: the empty buffer of every non-constant tensor
        self.opcodes: dict = {}
        self.operators: list = []
        self.index: dict = {}  # IR Value -> tensor index
        self.node = None  # the node being lowered (for error messages)
        self.bodies: list = []  # the layer decompositions being lowered (innermost last)

    # ------------------------------------------------------------------------------------------ tensors
    def type_code(self, dtype: str) -> int:
        return getattr(self.s.TensorType, _TYPES[dtype])

    def new_tensor(self, shape, dtype: str, name=None, data=None) -> int:
        t = self.s.TensorT()
        t.shape = [1 if d is None else int(d) for d in shape]
        if any(d is None for d in shape):
            t.shapeSignature = [-1 if d is None else int(d) for d in shape]
        t.type = self.type_code(dtype)
        t.name = name or f"t{len(self.tensors)}"
        if data is not None:
            buf = self.s.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, array, name=None, dtype=None) -> int:
        arr = np.asarray(array, dtype=dtype)
        dt = "bool" if arr.dtype == np.bool_ else arr.dtype.name
        if dt not in _TYPES:
            raise self.error(f"a constant of dtype {dt} has no TFLite type")
        return self.new_tensor(arr.shape, dt, name, arr)

    def ints(self, values, dtype="int32") -> int:
        """A 1-D int32 constant (axes, shapes, permutations, paddings as TFLite reads them)."""
        return self.const(np.asarray(values, dtype=dtype), dtype=dtype)

    def scalar(self, value, dtype: str) -> int:
        return self.const(np.asarray(value, dtype=dtype))

    def temp(self, shape, dtype: str) -> int:
        return self.new_tensor(shape, dtype)

    def tensor_of(self, v) -> int:
        if v not in self.index:
            arr = self.graph.constants.get(v)
            if arr is None:
                raise self.error(f"value {v!r} is used before it is computed")
            self.index[v] = self.const(np.asarray(arr), v.hint)
        return self.index[v]

    def value(self, node, i: int):
        """The array of input ``i`` when it is a constant (weights), else None."""
        v = node.inputs[i]
        for body in reversed(self.bodies):
            if v in body.constants:
                return np.asarray(body.constants[v])
        arr = self.graph.constants.get(v)
        return None if arr is None else np.asarray(arr)

    def inputs(self, node) -> list[int]:
        return [self.tensor_of(v) for v in node.inputs]

    def output(self, node, k: int = 0) -> int:
        v = node.outputs[k]
        if v not in self.index:
            self.index[v] = self.new_tensor(v.shape, v.dtype, v.hint)
        return self.index[v]

    def alias(self, node, tensor: int) -> None:
        """Make the node's output the given tensor (an identity needs no operator)."""
        self.index[node.outputs[0]] = tensor

    def shape_of(self, tensor: int) -> list:
        t = self.tensors[tensor]
        sig = t.shapeSignature
        return [None if sig is not None and sig[i] == -1 else d for i, d in enumerate(t.shape)]

    def dtype_of(self, tensor: int) -> str:
        code = self.tensors[tensor].type
        return next(k for k, v in _TYPES.items() if getattr(self.s.TensorType, v) == code)

    # ------------------------------------------------------------------------------------------ operators
    def opcode(self, name: str) -> int:
        if name not in self.opcodes:
            code = getattr(self.s.BuiltinOperator, name)
            oc = self.s.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, self.s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
            oc.version = _MIN_VERSION.get(name, 1)
            self.opcodes[name] = (len(self.opcodes), oc)
        return self.opcodes[name][0]

    def emit(self, name: str, inputs, outputs, options=None) -> int:
        """Append operator ``name`` (a ``BuiltinOperator`` name); ``options``: an ``...OptionsT`` object.
        Returns the first output tensor."""
        op = self.s.OperatorT()
        op.opcodeIndex = self.opcode(name)
        op.inputs = [int(i) for i in inputs]
        op.outputs = [int(i) for i in outputs]
        if options is not None:
            kind = type(options).__name__[:-1]  # "AddOptionsT" -> "AddOptions"
            op.builtinOptionsType = getattr(self.s.BuiltinOptions, kind)
            op.builtinOptions = options
        self.operators.append(op)
        return op.outputs[0]

    def options(self, kind: str, **fields):
        """``ctx.options("Reducer", keepDims=True)`` -> a ``ReducerOptionsT`` with those fields."""
        opts = getattr(self.s, f"{kind}OptionsT")()
        for key, value in fields.items():
            if not hasattr(opts, key):
                raise AttributeError(f"{kind}OptionsT has no field {key!r}")
            setattr(opts, key, value)
        return opts

    def unary(self, name: str, x: int, shape, dtype: str, options=None) -> int:
        """Emit a one-output operator into a fresh intermediate tensor; returns it."""
        return self.emit(name, [x], [self.temp(shape, dtype)], options)

    def copy(self, tensor: int) -> int:
        """A new tensor equal to ``tensor`` (for graph outputs that are inputs, constants or repeated)."""
        dtype = self.dtype_of(tensor)
        out = self.temp(self.shape_of(tensor), dtype)
        if dtype == "bool":
            return self.emit("LOGICAL_OR", [tensor, self.scalar(False, "bool")], [out])
        return self.emit("ADD", [tensor, self.scalar(0, dtype)], [out], self.options("Add"))

    # ------------------------------------------------------------------------------------------ dispatch
    def lower(self, node) -> None:
        """Lower one node: its op's TFLite lowering, or (a layer op without one, or one that raises
        ``Unsupported`` before emitting anything) the primitives of its decomposition."""
        from ...ops import REGISTRY, Unsupported

        prim = REGISTRY.get(node.op)
        fn = prim.lowering("tflite") if prim is not None else None
        self.node = node
        if fn is not None:
            mark_ops = len(self.operators)
            try:
                fn(self, node)
                return
            except Unsupported as exc:
                if node.meta.get("body") is None or len(self.operators) != mark_ops:
                    raise self.error(exc.reason + (f"; {exc.suggest}" if exc.suggest else "")) from None
        elif node.meta.get("body") is None:
            said = prim.unsupported.get("tflite") if prim is not None else None
            raise self.error(said or "no TFLite lowering is written for it")
        self.lower_body(node)

    def lower_body(self, node) -> None:
        """Lower a layer node as its decomposition (the primitives it was traced as)."""
        body = node.meta["body"]
        for v, outer in zip(body.inputs, node.inputs):
            self.index[v] = self.tensor_of(outer)
        for v, arr in body.constants.items():
            self.index[v] = self.const(np.asarray(arr), v.hint)
        self.bodies.append(body)
        try:
            for inner in body.nodes:
                self.lower(inner)
        finally:
            self.bodies.pop()
        for v, outer in zip(body.outputs, node.outputs):
            self.index[outer] = self.tensor_of(v)
        self.node = node

    # ------------------------------------------------------------------------------------------ errors
    def error(self, reason: str) -> ExportError:
        node = self.node
        if node is None:
            return mark(ExportError(f"ember.export.tflite: {reason}"))
        where = []
        if node.meta.get("module"):
            where.append(f"layer {node.meta['module']}")
        if node.meta.get("source"):
            where.append(f"made at {node.meta['source']}")
        return mark(ExportError(
            f"ember.export.tflite: op {node.op!r}" + (f" ({', '.join(where)})" if where else "")
            + f" cannot be written as TFLite: {reason}. The 'ember' format (ember.export.save) runs every "
            "op; ONNX covers more layers (docs/onnx.md)."
        ))

    # ------------------------------------------------------------------------------------------ finish
    def finish(self, input_names, output_names, description="ember") -> bytes:
        import flatbuffers

        s = self.s
        ins = [self.index[v] for v in self.graph.inputs]
        outs, seen = [], set(ins)
        for v in self.graph.outputs:
            t = self.index[v] if v in self.index else self.tensor_of(v)
            if t in seen or self.tensors[t].buffer != 0:
                t = self.copy(t)
            seen.add(t)
            outs.append(t)
        for t, name in zip(ins, input_names):
            self.tensors[t].name = name
        for t, name in zip(outs, output_names):
            self.tensors[t].name = name
        sub = s.SubGraphT()
        sub.tensors, sub.inputs, sub.outputs, sub.operators = self.tensors, ins, outs, self.operators
        sub.name = "main"
        sig = s.SignatureDefT()
        sig.signatureKey, sig.subgraphIndex = "serving_default", 0
        sig.inputs = [_tensor_map(s, n, t) for n, t in zip(input_names, ins)]
        sig.outputs = [_tensor_map(s, n, t) for n, t in zip(output_names, outs)]
        model = s.ModelT()
        model.version = 3
        model.description = description
        model.operatorCodes = [oc for _, oc in sorted(self.opcodes.values(), key=lambda p: p[0])]
        model.subgraphs, model.buffers, model.signatureDefs = [sub], self.buffers, [sig]
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _tensor_map(s, name, index):
    m = s.TensorMapT()
    m.name, m.tensorIndex = name, index
    return m
