"""int8 TFLite: post-training quantisation of a float32 ``.tflite`` file written by ``ember.export.tflite``
(``ember.quantization.quantize(..., format="tflite")``), following TFLite's int8 quantisation spec.

- ``static_int8(data, batches)``: full-integer. Every float activation's range is calibrated by running the float
  file in the LiteRT interpreter on the calibration batches (all intermediate tensors kept); activations become
  per-tensor asymmetric int8 (range widened to hold 0), CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weights
  per-output-channel symmetric int8 ([-127, 127], zero point 0) with int32 biases (scale = input scale x weight
  scale), other float constants per-tensor int8. Ops with fixed output parameters get them (SOFTMAX and LOGISTIC:
  1/256, -128; TANH: 1/128, 0; LOG_SOFTMAX: 16/256, 127); pools, reshapes, transposes, pads, gathers, slices and
  concatenations keep their input's parameters (concatenated inputs are requantised to the output's). An op
  without an int8 kernel (DIV, EXP, SQRT, CAST...) stays float32 between DEQUANTIZE and QUANTIZE. The file takes
  and returns float32 (QUANTIZE / DEQUANTIZE at the boundary), or int8 with ``int8_io=True`` (the interpreter's
  ``get_input_details()[i]["quantization"]`` gives (scale, zero point)).
- ``dynamic_int8(data)``: dynamic range. CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weights become int8 per
  output channel; activations stay float32 (LiteRT's hybrid kernels quantise them on the fly).

Unused float constants are dropped, so the file shrinks by about 4x on a weight-dominated model.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...errors import mark
from ..program import ExportError
from .builder import schema

# op -> (data input, filter input, bias input, the filter's output-channel axis)
WEIGHTED = {"CONV_2D": (0, 1, 2, 0), "DEPTHWISE_CONV_2D": (0, 1, 2, 3), "FULLY_CONNECTED": (0, 1, 2, 0),
            "TRANSPOSE_CONV": (2, 1, 3, 0)}
FIXED = {"SOFTMAX": (1 / 256, -128), "LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0), "LOG_SOFTMAX": (16 / 256, 127)}
SAME = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "TRANSPOSE", "SQUEEZE", "EXPAND_DIMS", "PAD", "PADV2",
        "GATHER", "SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V", "CONCATENATION", "BROADCAST_TO", "TILE", "PACK",
        "UNPACK", "REDUCE_MAX", "REDUCE_MIN", "MAXIMUM", "MINIMUM"}
FREE = {"ADD", "SUB", "MUL", "MEAN", "SUM", "RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH", "GELU", "RSQRT",
        "BATCH_MATMUL", "SQUARED_DIFFERENCE", "ABS", "NEG", "PRELU"}
INT8_OPS = set(WEIGHTED) | set(FIXED) | SAME | FREE  # ops the int8 file runs in int8 (the docs' table)


def _qparams(s, scale, zero_point, axis=0):
    q = s.QuantizationParametersT()
    q.scale = [float(v) for v in np.atleast_1d(scale)]
    q.zeroPoint = [int(v) for v in np.atleast_1d(zero_point)]
    q.quantizedDimension = int(axis)
    return q


def _affine(lo, hi):
    """Per-tensor asymmetric int8 (scale, zero point) for the range [lo, hi] (widened to hold 0)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = max((hi - lo) / 255.0, 1e-8)
    return scale, int(np.clip(np.round(-128 - lo / scale), -128, 127))


def _symmetric(w, axis):
    """Per-channel symmetric int8 of weights ``w`` along ``axis``: (int8 array, scales)."""
    other = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=other) if w.size else np.zeros(w.shape[axis])
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    return np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8), scale


def _text(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name or "")


class _Rewriter:
    """Rewrites one float ``ModelT`` (one subgraph) in place."""

    def __init__(self, data: bytes):
        self.s = schema()
        self.model = self.s.ModelT.InitFromPackedBuf(data, 0)
        self.sub = self.model.subgraphs[0]
        self.names = {v: k for k, v in vars(self.s.BuiltinOperator).items() if not k.startswith("_")}
        self.ops: list = []  # the rewritten operator list
        for op in self.sub.operators:  # the object API reads index vectors as read-only arrays
            op.inputs, op.outputs = [int(t) for t in op.inputs], [int(t) for t in op.outputs]
        self.sub.inputs, self.sub.outputs = [int(t) for t in self.sub.inputs], [int(t) for t in self.sub.outputs]

    # -------------------------------------------------------------------- tensors
    def op_name(self, op) -> str:
        return self.names[self.model.operatorCodes[op.opcodeIndex].builtinCode]

    def is_float(self, t) -> bool:
        return t >= 0 and self.sub.tensors[t].type == self.s.TensorType.FLOAT32

    def const_array(self, t):
        """The array of constant tensor ``t``, or None when ``t`` is computed."""
        tensor = self.sub.tensors[t]
        buf = self.model.buffers[tensor.buffer].data if tensor.buffer else None
        if buf is None or len(buf) == 0:
            return None
        dtype = {self.s.TensorType.FLOAT32: np.float32, self.s.TensorType.INT32: np.int32}.get(tensor.type)
        return None if dtype is None else np.frombuffer(np.asarray(buf, np.uint8).tobytes(), dtype).reshape(
            tensor.shape)

    def add_tensor(self, like: int, dtype: str, quant=None, data=None, name_suffix="") -> int:
        src = self.sub.tensors[like]
        t = self.s.TensorT()
        t.shape = list(src.shape) if data is None else list(data.shape)
        t.shapeSignature = None if data is not None or src.shapeSignature is None else list(src.shapeSignature)
        t.type = getattr(self.s.TensorType, dtype)
        t.name = _text(src.name) + name_suffix
        t.quantization = quant
        if data is not None:
            buf = self.s.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.model.buffers.append(buf)
            t.buffer = len(self.model.buffers) - 1
        self.sub.tensors.append(t)
        return len(self.sub.tensors) - 1

    def opcode(self, name: str) -> int:
        code = getattr(self.s.BuiltinOperator, name)
        for i, oc in enumerate(self.model.operatorCodes):
            if oc.builtinCode == code:
                return i
        oc = self.s.OperatorCodeT()
        oc.builtinCode, oc.version = code, 1
        oc.deprecatedBuiltinCode = min(code, self.s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
        self.model.operatorCodes.append(oc)
        return len(self.model.operatorCodes) - 1

    def emit(self, name: str, inputs, outputs, options_type=0, options=None) -> None:
        op = self.s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = self.opcode(name), list(inputs), list(outputs)
        op.builtinOptionsType, op.builtinOptions = options_type, options
        self.ops.append(op)

    def finish(self) -> bytes:
        import flatbuffers

        self.sub.operators = self.ops
        self._drop_unused()
        builder = flatbuffers.Builder(1024)
        builder.Finish(self.model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    def _drop_unused(self) -> None:
        """Remove the tensors no operator or signature uses, then the buffers no tensor uses (the float
        weights that were replaced by int8 ones)."""
        sub = self.sub
        used = sorted({t for op in sub.operators for t in list(op.inputs) + list(op.outputs) if t >= 0}
                      | set(sub.inputs) | set(sub.outputs))
        remap = {old: new for new, old in enumerate(used)}
        sub.tensors = [sub.tensors[t] for t in used]
        for op in sub.operators:
            op.inputs = [remap[t] if t >= 0 else t for t in op.inputs]
            op.outputs = [remap[t] for t in op.outputs]
        sub.inputs, sub.outputs = [remap[t] for t in sub.inputs], [remap[t] for t in sub.outputs]
        for sig in self.model.signatureDefs or []:
            for m in list(sig.inputs) + list(sig.outputs):
                m.tensorIndex = remap[m.tensorIndex]
        bufs = sorted({t.buffer for t in sub.tensors if t.buffer})
        bremap = {old: new + 1 for new, old in enumerate(bufs)}
        self.model.buffers = [self.model.buffers[0]] + [self.model.buffers[b] for b in bufs]
        for t in sub.tensors:
            t.buffer = bremap.get(t.buffer, 0)


class _Static(_Rewriter):
    """Full-integer rewrite (see the module docstring); ``ranges``: float tensor -> (min, max) seen."""

    def __init__(self, data, ranges, int8_io):
        super().__init__(data)
        self.ranges = ranges
        self.q: dict = {}  # float tensor -> its int8 tensor
        self.has_float: set = set()  # float tensors whose float value exists in the rewritten graph
        self.cache: dict = {}  # quantised weights and biases, by the float tensor (and input scale)
        for t in self.sub.inputs:
            if not self.is_float(t):
                continue
            if int8_io:
                self.q[t] = self.add_tensor(t, "INT8", self.calibrated(t))
            else:
                self.has_float.add(t)
        self.int8_io = int8_io

    def calibrated(self, t):
        lo, hi = self.ranges.get(t, (0.0, 0.0))
        return _qparams(self.s, *_affine(lo, hi))

    def params(self, t):
        q = self.sub.tensors[t].quantization
        return q.scale[0], q.zeroPoint[0]

    def int8_of(self, t, quant=None) -> int:
        """The int8 version of float tensor ``t`` (a QUANTIZE of its float value when it has none yet)."""
        if t not in self.q:
            self.q[t] = self.add_tensor(t, "INT8", quant or self.calibrated(t), name_suffix="_int8")
            self.emit("QUANTIZE", [t], [self.q[t]])
        return self.q[t]

    def float_of(self, t) -> int:
        if t not in self.has_float:
            self.emit("DEQUANTIZE", [self.q[t]], [t])
            self.has_float.add(t)
        return t

    def const_int8(self, t, quant=None) -> int:
        """Float constant ``t`` as int8: with ``quant``'s parameters, else per-tensor over its own range."""
        arr = self.const_array(t).astype(np.float32)
        scale, zp = (quant.scale[0], quant.zeroPoint[0]) if quant is not None else _affine(arr.min(initial=0),
                                                                                             arr.max(initial=0))
        data = np.clip(np.round(np.clip(arr.astype(np.float64) / scale, -1e9, 1e9)) + zp, -128, 127).astype(np.int8)
        return self.add_tensor(t, "INT8", _qparams(self.s, scale, zp), data, "_int8")

    def quantizable(self, op, name) -> bool:
        floats_out = [t for t in op.outputs if self.is_float(t)]
        if name not in INT8_OPS or not floats_out or len(floats_out) != len(op.outputs):
            return False
        if name in WEIGHTED:
            _, w, b, _ = WEIGHTED[name]
            return self.const_array(op.inputs[w]) is not None and (
                len(op.inputs) <= b or op.inputs[b] < 0 or self.const_array(op.inputs[b]) is not None)
        return True

    def rewrite(self) -> bytes:
        for op in self.sub.operators:
            name = self.op_name(op)
            if self.quantizable(op, name):
                self.int8_op(op, name)
            else:
                op.inputs = [self.float_of(t) if t in self.q or t in self.has_float else t for t in op.inputs]
                self.ops.append(op)
                self.has_float.update(t for t in op.outputs if self.is_float(t))
        outs = []
        for t in self.sub.outputs:
            if not self.is_float(t):
                outs.append(t)
            elif self.int8_io:
                outs.append(self.int8_of(t))
            else:
                outs.append(self.float_of(t))
        self._retarget(self.sub.inputs, [self.q.get(t, t) if self.int8_io else t for t in self.sub.inputs], outs)
        return self.finish()

    def _retarget(self, old_ins, ins, outs):
        for sig in self.model.signatureDefs or []:
            for m in sig.inputs:
                m.tensorIndex = ins[list(old_ins).index(m.tensorIndex)]
            for m in sig.outputs:
                m.tensorIndex = outs[list(self.sub.outputs).index(m.tensorIndex)]
        for old, new in zip(list(old_ins) + list(self.sub.outputs), ins + outs):
            if old != new:
                self.sub.tensors[new].name = self.sub.tensors[old].name
                self.sub.tensors[old].name = _text(self.sub.tensors[old].name) + "_float"
        self.sub.inputs, self.sub.outputs = ins, outs

    def int8_op(self, op, name) -> None:
        data = [WEIGHTED[name][0]] if name in WEIGHTED else [i for i, t in enumerate(op.inputs) if self.is_float(t)]
        computed = [i for i in data if self.const_array(op.inputs[i]) is None]
        for i in computed:
            op.inputs[i] = self.int8_of(op.inputs[i])
        first = op.inputs[computed[0]] if computed else None
        joins = name in SAME and len(data) > 1 and name not in ("PADV2", "GATHER")  # CONCATENATION, MAXIMUM...
        for i in data:  # constants: in the data input's parameters for SAME ops, else over their own range
            if i not in computed:
                same = name in SAME and first is not None and not joins
                op.inputs[i] = self.const_int8(op.inputs[i], self.sub.tensors[first].quantization if same else None)
                first = op.inputs[i] if first is None else first
        if name in WEIGHTED:
            self.weights(op, name)
        for k, t in enumerate(op.outputs):
            if name in FIXED:
                quant = _qparams(self.s, *FIXED[name])
            elif name in SAME and not joins and first is not None:
                quant = _qparams(self.s, *self.params(first))
            else:
                quant = self.calibrated(t)
            op.outputs[k] = self.q[t] = self.add_tensor(t, "INT8", quant, name_suffix="_int8")
        if joins:  # their int8 kernels need one scale: requantise the inputs to the output's
            want = self.params(op.outputs[0])
            for i in data:
                if self.params(op.inputs[i]) != want:
                    requant = self.add_tensor(op.inputs[i], "INT8", _qparams(self.s, *want), name_suffix="_rq")
                    self.emit("QUANTIZE", [op.inputs[i]], [requant])
                    op.inputs[i] = requant
        if name == "PADV2":
            _pad_to_zero(self, op)
        self.ops.append(op)

    def weights(self, op, name) -> None:
        d, k, j, axis = WEIGHTED[name]
        in_scale = self.params(op.inputs[d])[0]
        key = ("w", op.inputs[k])  # weights shared by several ops (an unrolled RNN's steps) are written once
        if key not in self.cache:
            wq, ws = _symmetric(self.const_array(op.inputs[k]).astype(np.float32), axis)
            self.cache[key] = (self.add_tensor(op.inputs[k], "INT8", _qparams(
                self.s, ws, np.zeros(len(ws), np.int64), axis), wq, "_int8"), ws)
        op.inputs[k], ws = self.cache[key]
        if len(op.inputs) > j and op.inputs[j] >= 0:
            key = ("b", op.inputs[j], in_scale)
            if key not in self.cache:
                b = self.const_array(op.inputs[j]).astype(np.float64)
                bs = in_scale * ws.astype(np.float64)
                bq = np.clip(np.round(b / bs), -2**31 + 1, 2**31 - 1).astype(np.int32)
                self.cache[key] = self.add_tensor(op.inputs[j], "INT32", _qparams(
                    self.s, bs, np.zeros(len(bs), np.int64)), bq, "_int32")
            op.inputs[j] = self.cache[key]


_FUSES_RELU = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D", "FULLY_CONNECTED": "FullyConnected",
               "ADD": "Add"}


def fuse_relu(data: bytes) -> bytes:
    """Fold each RELU into the CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / ADD before it (through the
    TRANSPOSE / RESHAPE ops of the NCHW layout between them) as its fused activation: int8 kernels clamp for
    free, the activation's calibrated range starts at 0, and XNNPACK (which has no int8 RELU) takes the op."""
    rw = _Rewriter(data)
    ops = rw.sub.operators
    producer = {t: op for op in ops for t in op.outputs}
    uses: dict = {}
    for op in ops:
        for t in op.inputs:
            uses[t] = uses.get(t, 0) + 1
    dropped, rename = set(), {}
    for relu in ops:
        if rw.op_name(relu) != "RELU" or relu.outputs[0] in rw.sub.outputs:
            continue
        p = producer.get(relu.inputs[0])
        while p is not None and rw.op_name(p) in ("TRANSPOSE", "RESHAPE") and uses.get(p.outputs[0]) == 1:
            p = producer.get(p.inputs[0])
        if (p is None or rw.op_name(p) not in _FUSES_RELU or uses.get(p.outputs[0]) != 1
                or p.outputs[0] in rw.sub.outputs or uses.get(relu.inputs[0]) != 1):
            continue
        if p.builtinOptions is None:
            p.builtinOptionsType = getattr(rw.s.BuiltinOptions, _FUSES_RELU[rw.op_name(p)] + "Options")
            p.builtinOptions = getattr(rw.s, _FUSES_RELU[rw.op_name(p)] + "OptionsT")()
        if p.builtinOptions.fusedActivationFunction != rw.s.ActivationFunctionType.NONE:
            continue
        p.builtinOptions.fusedActivationFunction = rw.s.ActivationFunctionType.RELU
        dropped.add(id(relu))
        rename[relu.outputs[0]] = relu.inputs[0]
    for op in ops:
        op.inputs = [rename.get(t, t) for t in op.inputs]
    rw.ops = [op for op in ops if id(op) not in dropped]
    return rw.finish()


def fold_constants(data: bytes) -> bytes:
    """Replace each TRANSPOSE of a constant (a Keras kernel's ``.T`` before FULLY_CONNECTED) by the transposed
    constant, so the weight is a constant the quantiser sees."""
    rw = _Rewriter(data)
    for op in rw.sub.operators:
        out = op.outputs[0]
        if rw.op_name(op) == "TRANSPOSE" and out not in rw.sub.outputs and rw.is_float(op.inputs[0]):
            arr, perm = rw.const_array(op.inputs[0]), rw.const_array(op.inputs[1])
            if arr is not None and perm is not None:
                buf = rw.s.BufferT()
                buf.data = np.frombuffer(np.ascontiguousarray(arr.transpose(perm)).tobytes(), np.uint8)
                rw.model.buffers.append(buf)
                rw.sub.tensors[out].buffer = len(rw.model.buffers) - 1
                rw.sub.tensors[out].shapeSignature = None
                continue
        rw.ops.append(op)
    return rw.finish()


def _pad_to_zero(rw, op) -> None:
    """PADV2 with a value that is the int8 zero point -> PAD (its int8 pad value; XNNPACK takes PAD only)."""
    value = rw.sub.tensors[op.inputs[2]]
    arr = rw.model.buffers[value.buffer].data if value.buffer else None
    if arr is not None and value.quantization is not None and \
            int(np.asarray(arr, np.uint8).view(np.int8)[0]) == value.quantization.zeroPoint[0]:
        op.opcodeIndex, op.inputs = rw.opcode("PAD"), op.inputs[:2]
        op.builtinOptionsType, op.builtinOptions = rw.s.BuiltinOptions.PadOptions, rw.s.PadOptionsT()


def calibrate(data: bytes, batches) -> dict:
    """Run the float file on each batch (a tuple of arrays, one per input) in LiteRT with every intermediate
    tensor kept; returns {tensor index: (min, max)} over the float tensors."""
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():  # it warns that keeping every tensor costs memory: calibration needs them
        warnings.simplefilter("ignore", UserWarning)
        interp = Interpreter(model_content=data, experimental_preserve_all_tensors=True)
    details = interp.get_input_details()
    if len(details) != len(batches[0]):
        raise mark(ExportError(f"ember.quantization.quantize: the model takes {len(details)} input(s) but a "
                               f"calibration item has {len(batches[0])}"))
    ranges: dict = {}
    for batch in batches:
        for d, x in zip(details, batch):
            interp.resize_tensor_input(d["index"], list(x.shape))
        interp.allocate_tensors()
        for d, x in zip(details, batch):
            interp.set_tensor(d["index"], x.astype(d["dtype"]))
        interp.invoke()
        for d in interp.get_tensor_details():
            if d["dtype"] != np.float32:
                continue
            try:
                arr = interp.get_tensor(d["index"])
            except ValueError:  # a tensor without data (an unused input of an op)
                continue
            if arr.size == 0:
                continue
            lo, hi = float(arr.min()), float(arr.max())
            old = ranges.get(d["index"])
            ranges[d["index"]] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return ranges


def static_int8(data: bytes, batches, int8_io: bool = False) -> bytes:
    """The full-integer int8 version of float TFLite file ``data``, calibrated on ``batches``."""
    data = fuse_relu(fold_constants(data))
    return _Static(data, calibrate(data, batches), int8_io).rewrite()


def dynamic_int8(data: bytes) -> bytes:
    """The dynamic-range version of float TFLite file ``data``: int8 weights, float activations."""
    rw, done = _Rewriter(fuse_relu(fold_constants(data))), {}
    for op in rw.sub.operators:
        name = rw.op_name(op)
        if name in WEIGHTED and name != "TRANSPOSE_CONV" and rw.const_array(op.inputs[1]) is not None:
            if op.inputs[1] not in done:  # shared weights (an unrolled RNN's steps) are written once
                wq, ws = _symmetric(rw.const_array(op.inputs[1]).astype(np.float32), WEIGHTED[name][3])
                done[op.inputs[1]] = rw.add_tensor(op.inputs[1], "INT8", _qparams(
                    rw.s, ws, np.zeros(len(ws), np.int64), WEIGHTED[name][3]), wq, "_int8")
            op.inputs[1] = done[op.inputs[1]]
            if name == "FULLY_CONNECTED":
                op.builtinOptions.asymmetricQuantizeInputs = True
        rw.ops.append(op)
    return rw.finish()
