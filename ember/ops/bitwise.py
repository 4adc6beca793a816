"""Bitwise primitives on integer and bool tensors (``bitwise_and/or/xor/not``, ``bitwise_left/right_shift``):
forward, shape/dtype rule and lowerings side by side. Not differentiable (integers carry no gradient); a
float operand is refused as PyTorch refuses it.
"""
from __future__ import annotations

from . import _onnx, _tflite
from ._core import Unsupported, register, register_lowering, unsupported
from ._rules import elementwise

_ONNX = {"bitwise_and": ("BitwiseAnd", "And"), "bitwise_or": ("BitwiseOr", "Or"),
         "bitwise_xor": ("BitwiseXor", "Xor"), "bitwise_not": ("BitwiseNot", "Not")}
_NP = {"bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
       "bitwise_not": "invert", "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift"}
_KERNEL = {"bitwise_and": "{0} & {1}", "bitwise_or": "{0} | {1}", "bitwise_xor": "{0} ^ {1}",
           "bitwise_not": "~{0}", "bitwise_left_shift": "{0} << {1}", "bitwise_right_shift": "{0} >> {1}"}


def _integer_rule(name):
    def rule(*avals):
        for a in avals:
            if a.dtype.name.startswith(("float", "bfloat", "complex")):
                raise TypeError(f"{name}: only integer and bool tensors have bits to combine, got {a.dtype.name} "
                                f"(shapes {', '.join(str(tuple(v.shape)) for v in avals)}); cast with .long() or "
                                "compare first, e.g. (x > 0)")
        out = elementwise(name, *avals)
        if name.endswith("shift") and out.dtype.name == "bool":
            raise TypeError(f"{name}: shifts need integer tensors, got bool")
        return out
    return rule


def _no_grad(g, out, *inputs):
    return tuple(None for _ in inputs)


def _forward(name, fn):
    def forward(xp, *arrays):
        if name.endswith("shift") and any(a.dtype.kind == "b" for a in arrays):
            raise TypeError("bool shift")  # NumPy would shift bools as int8; the rule says what is wrong
        return getattr(xp, fn)(*arrays)
    return forward


for _name, _fn in _NP.items():
    register(_name, _forward(_name, _fn), vjp=_no_grad,
             infer=_integer_rule(_name), saves=(), kind="elementwise")
    register_lowering(_name, "numba", _KERNEL[_name])
    register_lowering(_name, "cuda", _KERNEL[_name])


def _onnx_bitwise(name):
    integer_op, bool_op = _ONNX[name]

    def lower(ctx, node):
        dt = node.outputs[0].dtype
        ins = _onnx.same_dtype_inputs(ctx, node, dt) if len(node.inputs) > 1 else [ctx.input(node, 0)]
        if dt == "bool":
            ctx.emit(bool_op, ins, [ctx.output(node)])
            return
        if ctx.opset < 18:
            raise Unsupported(f"{name} on integers needs ONNX's {integer_op} (opset 18)",
                              "export with opset_version=18 or later")
        ctx.emit(integer_op, ins, [ctx.output(node)])

    register_lowering(name, "onnx", lower)


for _name in _ONNX:
    _onnx_bitwise(_name)
for _name in ("bitwise_left_shift", "bitwise_right_shift"):
    unsupported(_name, "onnx", "ONNX's BitShift takes unsigned integers only and Ember's shifts are signed; "
                "multiply or floor-divide by a power of two instead")
_tflite.binary("bitwise_xor", "BITWISE_XOR")
_tflite.binary("bitwise_right_shift", "RIGHT_SHIFT")
_tflite.mark(["bitwise_and", "bitwise_or", "bitwise_not", "bitwise_left_shift"],
             "TFLite has no bitwise AND/OR/NOT or left-shift builtin; export to ONNX (opset 18) or the "
             "model.ember format")
