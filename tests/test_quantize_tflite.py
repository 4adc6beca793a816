"""int8 TFLite (``ember.quantization.quantize(..., format="tflite")``): each layer row of the TFLite table is
quantised (static full-integer, calibrated on 4 batches; dynamic range), run in the real LiteRT interpreter on
fresh inputs and compared with Ember's float output in units of the int8 output's scale; the ops that must run
in int8 are checked in the file. (The MNIST CNN on real MNIST, size and accuracy: tests/test_quantize.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn

pytest.importorskip("flatbuffers")
litert = pytest.importorskip("ai_edge_litert.interpreter")
from ai_edge_litert import schema_py_generated as schema  # noqa: E402
from test_export_tflite_layers import ROWS, _inputs, _seeded  # noqa: E402

STEPS = 6  # static int8 error bound, in output-scale units (each quantised op adds up to about half a step)
NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
FLOAT_ONLY = {"group_norm_decomposed": {"DIV", "SQRT"}}  # ops without int8 kernels: float between (DE)QUANTIZE


def _ops(data):
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    codes = [NAMES[oc.builtinCode] for oc in model.operatorCodes]
    return model, [(codes[op.opcodeIndex], op) for op in model.subgraphs[0].operators]


def _run(path, x):
    interp = litert.Interpreter(model_path=str(path))
    (d,) = interp.get_input_details()
    interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    scale, zp = d["quantization"]
    interp.set_tensor(d["index"], x if d["dtype"] != np.int8 else np.clip(np.round(x / scale) + zp, -128, 127)
                      .astype(np.int8))
    interp.invoke()
    out = interp.get_output_details()[0]
    y = interp.get_tensor(out["index"])
    return y if out["dtype"] != np.int8 else (y.astype(np.float32) - out["quantization"][1]) * out["quantization"][0]


def _out_scale(data):
    """The scale of the int8 tensor the final DEQUANTIZE reads."""
    model, ops = _ops(data)
    name, op = ops[-1]
    assert name == "DEQUANTIZE", name
    return float(model.subgraphs[0].tensors[op.inputs[0]].quantization.scale[0])


@pytest.mark.parametrize("name, make, spec, builtins", ROWS, ids=[r[0] for r in ROWS])
def test_static_int8_rows_run_in_litert(name, make, spec, builtins, tmp_path):
    model, rng = _seeded(make), np.random.default_rng(1)
    path = ember.quantization.quantize(model, [_inputs(spec, 16, rng) for _ in range(4)], tmp_path / "m.tflite",
                                       format="tflite")
    data = path.read_bytes()
    x = _inputs(spec, 3, rng)
    with ember.no_grad():
        want = model(ember.tensor(x)).numpy()
    err = np.abs(_run(path, x) - want).max() / _out_scale(data)
    assert err <= STEPS, f"{name}: off by {err:.1f} output steps"
    model_t, ops = _ops(data)
    tensors = model_t.subgraphs[0].tensors
    for op_name, op in ops:  # every op the table lists runs on int8 tensors, except the known float ones
        if op_name in builtins and op_name not in FLOAT_ONLY.get(name, ()):
            assert tensors[op.outputs[0]].type == schema.TensorType.INT8, (name, op_name)
    assert {n for n, _ in ops} >= (builtins - FLOAT_ONLY.get(name, set()))


@pytest.mark.parametrize("name", ["mnist_cnn", "conv2d_depthwise", "batch_norm_1d", "transformer_encoder_layer"])
def test_dynamic_range_rows_run_in_litert(name, tmp_path):
    _, make, spec, _ = next(r for r in ROWS if r[0] == name)
    model, rng = _seeded(make), np.random.default_rng(2)
    path = ember.quantization.quantize(model, [_inputs(spec, 2, rng)], tmp_path / "m.tflite", format="tflite",
                                       mode="dynamic")
    x = _inputs(spec, 3, rng)
    with ember.no_grad():
        want = model(ember.tensor(x)).numpy()
    assert np.abs(_run(path, x) - want).max() <= 0.02 * np.abs(want).max()  # int8 weights: 1-2% off
    model_t, ops = _ops(path.read_bytes())
    weighted = [op for n, op in ops if n in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    assert weighted and all(model_t.subgraphs[0].tensors[op.inputs[1]].type == schema.TensorType.INT8
                            for op in weighted)


def test_int8_io_takes_and_returns_int8(tmp_path):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 3), nn.Softmax(-1)).eval()
    rng = np.random.default_rng(0)
    path = ember.quantization.quantize(model, [rng.normal(size=(16, 6)).astype(np.float32) for _ in range(4)],
                                       tmp_path / "m.tflite", format="tflite", int8_io=True)
    interp = litert.Interpreter(model_path=str(path))
    ins, outs = interp.get_input_details(), interp.get_output_details()
    assert ins[0]["dtype"] == np.int8 and outs[0]["dtype"] == np.int8
    assert outs[0]["quantization"] == (pytest.approx(1 / 256), -128)  # softmax's fixed int8 output
    x = rng.normal(size=(1, 6)).astype(np.float32)
    with ember.no_grad():
        want = model(ember.tensor(x)).numpy()
    assert np.abs(_run(path, x) - want).max() <= 4 / 256


def test_errors_name_the_fix(tmp_path):
    model = nn.Linear(3, 2).eval()
    with pytest.raises(ember.export.ExportError, match="calibration_data is empty"):
        ember.quantization.quantize(model, [], tmp_path / "e.tflite", format="tflite")
    with pytest.raises(ember.export.ExportError, match="format='tflite'"):
        ember.quantization.quantize(model, [ember.randn(2, 3)], tmp_path / "e.bin", format="coreml")


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_keras_export_int8_tflite(mode, tmp_path):
    from ember import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(16, 12)).astype(np.float32) for _ in range(4)]
    path = tmp_path / "k.tflite"
    extra = {"calibration_data": batches} if mode == "static" else {}
    model.export(path, format="tflite", quantization=mode, verbose=False, **extra)
    x = rng.normal(size=(3, 12)).astype(np.float32)
    assert np.abs(_run(path, x) - np.asarray(model.predict(x, verbose=0))).max() <= 4 / 256  # softmax's int8 step
    model_t, ops = _ops(path.read_bytes())
    fc = [op for n, op in ops if n == "FULLY_CONNECTED"]  # the kernels' .T folded: constant int8 weights
    assert len(fc) == 2 and all(model_t.subgraphs[0].tensors[op.inputs[1]].type == schema.TensorType.INT8
                                for op in fc)
    with pytest.raises(ember.export.ExportError, match="calibration_data"):
        model.export(tmp_path / "e.tflite", format="tflite", quantization="static", verbose=False)
