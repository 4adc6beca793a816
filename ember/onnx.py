"""``ember.onnx``: torch.onnx's names. ``ember.onnx.export(model, args, f, input_names=, output_names=,
dynamic_axes=, opset_version=)`` writes an ONNX model (optional ``onnx`` extra); see ``ember.export.onnx``.

Example:
    >>> import io, ember
    >>> from ember import nn
    >>> proto = ember.onnx.export(nn.Linear(3, 2), ember.randn(1, 3), io.BytesIO())
    >>> proto.graph.node[0].op_type
    'Gemm'
"""
from .export.onnx import OnnxExportError, TrainingMode, UnsupportedOperatorError, export  # noqa: F401

__all__ = ["export", "TrainingMode", "UnsupportedOperatorError", "OnnxExportError"]
