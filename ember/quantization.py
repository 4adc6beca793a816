"""``ember.quantization``: post-training int8 quantisation (``quantize(model, calibration_data, path)``), written
as int8 ONNX run by onnxruntime (``format="onnx"``) or int8 TFLite run by LiteRT (``format="tflite"``); static
(calibrated) or dynamic. See ``ember.export.quantize`` and docs/deploy.md.
"""
from .export.quantize import quantize  # noqa: F401

__all__ = ["quantize"]
