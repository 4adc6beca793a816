"""``ember.quantization``: post-training int8 quantisation (``quantize(model, calibration_data, path)``), written
as int8 ONNX run by onnxruntime. See ``ember.export.quantize`` and docs/deploy.md.
"""
from .export.quantize import quantize  # noqa: F401

__all__ = ["quantize"]
