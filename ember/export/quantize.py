"""Post-training int8 quantisation of an exported model (``ember.quantization.quantize``): the model is
exported to ONNX and quantised by ``onnxruntime.quantization`` (optional extra ``onnx``).

- ``mode="static"`` (PyTorch's post-training static quantisation, TFLite's ``representative_dataset``): weights
  int8 per output channel, activations int8 with scales calibrated on ``calibration_data`` (a few batches of
  real inputs), written as QDQ (QuantizeLinear/DequantizeLinear pairs onnxruntime fuses into int8 kernels).
- ``mode="dynamic"``: int8 weights, activation scales computed at run time (no calibration data needed).

``format="tflite"`` writes int8 TFLite instead (``ember.export.tfl.quantize``, run by LiteRT): "static" is
full-integer int8 (int8 activations calibrated on ``calibration_data``, per-channel int8 weights, int32 biases;
float32 inputs and outputs through QUANTIZE / DEQUANTIZE, or int8 ones with ``int8_io=True``), "dynamic" is
dynamic-range (int8 weights, float32 activations; no calibration data needed).

Example:
    >>> import os, tempfile, ember
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    >>> batches = [ember.randn(16, 8) for _ in range(4)]
    >>> path = os.path.join(tempfile.mkdtemp(), "model.int8.onnx")
    >>> _ = ember.quantization.quantize(model, batches, path)
    >>> import onnxruntime
    >>> sess = onnxruntime.InferenceSession(path)
    >>> sess.run(None, {"input": batches[0].numpy()})[0].shape
    (16, 4)
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .._atomic import write_atomic
from ..errors import mark
from .program import ExportError


def _as_array(x):
    return np.ascontiguousarray(x.numpy() if hasattr(x, "numpy") else np.asarray(x))


def _batches(calibration_data):
    """Each calibration item as a tuple of arrays (one per model input)."""
    out = []
    for item in calibration_data:
        items = item if isinstance(item, (tuple, list)) else (item,)
        out.append(tuple(_as_array(x) for x in items))
    if not out:
        raise mark(ExportError("ember.quantization.quantize: calibration_data is empty; pass a few batches of "
                               "real inputs (e.g. [x for x, _ in itertools.islice(loader, 10)])"))
    return out


def quantize(model, calibration_data, path, *, mode="static", format="onnx", per_channel=True,
             input_names=None, output_names=None, opset_version=17, int8_io=False):
    """Quantise ``model`` (an nn.Module in eval mode) to int8 and write it to ``path``; returns ``path``.

    ``calibration_data``: an iterable of input batches (a tensor or array, or a tuple of them for a model with
    several inputs); the first one is the export's example and dim 0 is dynamic (the batch). ``mode``: "static"
    (calibrated activations, QDQ) or "dynamic". ``per_channel``: per-output-channel weight scales (ONNX; TFLite
    weights are always per channel, as its spec asks). ``format``: "onnx" or "tflite". ``int8_io`` (TFLite
    static): int8 inputs and outputs instead of float32 ones. ``output_names``: the TFLite signature's.
    """
    if format not in ("onnx", "tflite"):
        raise mark(ExportError(f"ember.quantization.quantize: format={format!r} has no int8 writer; use "
                               "format='onnx' (onnxruntime) or format='tflite' (LiteRT)"))
    if mode not in ("static", "dynamic"):
        raise mark(ValueError(f"ember.quantization.quantize: mode must be 'static' or 'dynamic', got {mode!r}"))
    if format == "tflite":
        return _quantize_tflite(model, calibration_data, path, mode, input_names, output_names, int8_io)
    try:
        from onnxruntime import quantization as ortq
    except ImportError as exc:
        raise mark(ImportError("int8 quantisation needs the optional extra: pip install 'ember[onnx]' "
                               "(onnx, onnxruntime)")) from exc
    from .. import tensor as to_tensor
    from ..onnx import export as onnx_export

    batches = _batches(calibration_data) if mode == "static" or calibration_data is not None else None
    names = list(input_names or (["input"] if len(batches[0]) == 1 else
                                 [f"input_{i}" for i in range(len(batches[0]))]))
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        float_path, pre_path = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "pre.onnx")
        onnx_export(model, tuple(to_tensor(x) for x in batches[0]), float_path, input_names=names,
                    dynamic_axes={n: {0: "batch"} for n in names}, opset_version=opset_version)
        ortq.quant_pre_process(float_path, pre_path, skip_symbolic_shape=True)
        out_tmp = os.path.join(tmp, "int8.onnx")
        if mode == "static":
            ortq.quantize_static(pre_path, out_tmp, _Reader(names, batches), quant_format=ortq.QuantFormat.QDQ,
                                 per_channel=per_channel, activation_type=ortq.QuantType.QInt8,
                                 weight_type=ortq.QuantType.QInt8,
                                 calibrate_method=ortq.CalibrationMethod.MinMax)
        else:
            ortq.quantize_dynamic(pre_path, out_tmp, per_channel=per_channel, weight_type=ortq.QuantType.QInt8)
        os.replace(out_tmp, os.fspath(path))  # atomic: a crash leaves the previous file
    return path


def _quantize_tflite(model, calibration_data, path, mode, input_names, output_names, int8_io):
    from .tfl import export_tflite
    from .tfl.quantize import dynamic_int8, static_int8

    if mode == "dynamic" and calibration_data is None:
        raise mark(ExportError("ember.quantization.quantize(format='tflite', mode='dynamic'): pass one example "
                               "batch as calibration_data (it fixes the input shapes)"))
    from .. import tensor as to_tensor

    batches = _batches(calibration_data)
    example = tuple(to_tensor(x) for x in batches[0])
    data = export_tflite(model, example, dynamic_batch=True, input_names=input_names, output_names=output_names)
    data = static_int8(data, batches, int8_io) if mode == "static" else dynamic_int8(data)
    write_atomic(os.fspath(path), data, ".tflite")
    return path


class _Reader:
    """onnxruntime's CalibrationDataReader protocol: ``get_next()`` -> {input name: array} or None."""

    def __init__(self, names, batches):
        self._it = iter([dict(zip(names, b)) for b in batches])

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # not needed for MinMax calibration
        pass
