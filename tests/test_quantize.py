"""int8 quantisation (``ember.quantization.quantize``, ONNX via onnxruntime.quantization): on the MNIST CNN
trained briefly on real MNIST, the static int8 file is >= 3.5x smaller and within 1 point of float accuracy in
onnxruntime, and so is the full-integer int8 TFLite file in LiteRT; dynamic mode and the clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ember
from ember import nn

pytest.importorskip("onnxruntime.quantization")
from bench.bench_quantize import (  # noqa: E402
    find_mnist,
    float_and_int8,
    litert_accuracy,
    load_mnist,
    onnx_accuracy,
    tflite_float_and_int8,
    train,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = find_mnist([os.environ.get("EMBER_MNIST", ""), os.path.join(ROOT, "..", "shared", "data", "mnist"),
                    "/work/shared/data/mnist"])


@pytest.mark.skipif(MNIST is None, reason="real MNIST not found (../shared/data/mnist)")
def test_int8_mnist_cnn_is_smaller_and_as_accurate(tmp_path):
    (xt, yt), (xv, yv) = load_mnist(MNIST)
    model = train(xt[:1600], yt[:1600])
    f32, i8 = float_and_int8(model, xt, str(tmp_path))
    acc_f32, acc_i8 = onnx_accuracy(f32, xv, yv), onnx_accuracy(i8, xv, yv)
    assert acc_f32 > 0.75, acc_f32  # it learned (25 steps of Adam on 1,600 images)
    assert abs(acc_f32 - acc_i8) <= 0.01, (acc_f32, acc_i8)
    assert os.path.getsize(f32) >= 3.5 * os.path.getsize(i8), (os.path.getsize(f32), os.path.getsize(i8))
    try:  # the same model as full-integer int8 TFLite, run by LiteRT
        f32, i8 = tflite_float_and_int8(model, xt, str(tmp_path))
    except ImportError:
        return
    acc_f32, acc_i8 = litert_accuracy(f32, xv, yv), litert_accuracy(i8, xv, yv)
    assert abs(acc_f32 - acc_i8) <= 0.01, ("tflite", acc_f32, acc_i8)
    assert os.path.getsize(f32) >= 3.5 * os.path.getsize(i8), ("tflite", os.path.getsize(f32), os.path.getsize(i8))


def test_dynamic_mode_and_errors(tmp_path):
    import onnxruntime

    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()
    x = ember.randn(8, 16)
    path = ember.quantization.quantize(model, [x], tmp_path / "m.onnx", mode="dynamic")
    got = onnxruntime.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    with ember.no_grad():
        want = model(x).numpy()
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()  # int8 weights: close, not equal
    with pytest.raises(ember.export.ExportError, match="calibration_data is empty"):
        ember.quantization.quantize(model, [], tmp_path / "e.onnx")
    with pytest.raises(ember.export.ExportError, match="format='onnx'"):
        ember.quantization.quantize(model, [x], tmp_path / "t.bin", format="coreml")
