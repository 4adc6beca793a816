"""TFLite export of layer nodes (optional extra ``tflite``): conv, pools, norms, embedding, gelu, log_softmax
written as TFLite builtins (CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, MEAN, GATHER, GELU...), layers without a
builtin as their decomposition; each row runs in the real LiteRT interpreter at two batch sizes and is compared
with Ember's eager output; the builtins a row must use are checked in the file."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn

pytest.importorskip("flatbuffers")
litert = pytest.importorskip("ai_edge_litert.interpreter")

RTOL, ATOL = 1e-4, 1e-5


def _seeded(make):
    ember.manual_seed(0)
    model = make()
    for m in model.modules():  # non-trivial running statistics, so folding batch norm is tested
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with ember.no_grad():
                m.running_mean.copy_(ember.randn(*m.running_mean.shape) * 0.3)
                m.running_var.copy_(ember.rand(*m.running_var.shape) + 0.5)
    return model.eval()


def mnist_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 6 * 6, 10))


# name, model maker, per-example input shape (float inputs) or ("int", shape, high), builtins the file must use
ROWS = [
    ("mnist_cnn", mnist_cnn, (1, 28, 28), {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"}),
    ("conv1d_same", lambda: nn.Sequential(nn.Conv1d(3, 5, 3, padding="same"), nn.Tanh()), (3, 11), {"CONV_2D"}),
    ("conv2d_grouped_strided", lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (4, 9, 9),
     {"SPLIT", "CONV_2D", "CONCATENATION"}),
    ("conv2d_depthwise", lambda: nn.Conv2d(3, 6, 3, groups=3, bias=False), (3, 7, 7), {"DEPTHWISE_CONV_2D"}),
    ("conv2d_dilated_padded", lambda: nn.Conv2d(2, 3, 3, dilation=2, padding=(2, 1)), (2, 9, 8), {"CONV_2D"}),
    ("pools", lambda: nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(2)), (3, 10, 10),
     {"MAX_POOL_2D", "AVERAGE_POOL_2D"}),
    ("pools_1d", lambda: nn.Sequential(nn.MaxPool1d(2), nn.AvgPool1d(3, stride=1, padding=1)), (2, 12),
     {"MAX_POOL_2D", "AVERAGE_POOL_2D"}),
    ("adaptive_avg_global", lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
     (2, 8, 8), {"MEAN"}),
    ("adaptive_avg_bins", lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 4, 6), {"AVERAGE_POOL_2D"}),
    ("batch_norm_2d", lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), (2, 6, 6),
     {"CONV_2D", "MUL", "ADD"}),
    ("batch_norm_1d", lambda: nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)), (5,), {"MUL", "ADD"}),
    ("layer_norm_gelu", lambda: nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU()), (3, 6),
     {"GELU", "RSQRT"}),
    ("gelu_tanh_log_softmax", lambda: nn.Sequential(nn.GELU(approximate="tanh"), nn.LogSoftmax(-1)), (7,),
     {"GELU", "LOG_SOFTMAX"}),
    ("embedding_linear", lambda: nn.Sequential(nn.Embedding(20, 6, padding_idx=0), nn.Flatten(), nn.Linear(24, 3)),
     ("int", (4,), 20), {"GATHER"}),
    ("group_norm_decomposed", lambda: nn.GroupNorm(2, 4), (4, 3, 3), {"SUM", "SQRT"}),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (3, 5, 6),
     {"TRANSPOSE_CONV", "STRIDED_SLICE"}),
    ("conv_transpose1d", lambda: nn.ConvTranspose1d(2, 3, 4, stride=3, padding=2, output_padding=2), (2, 7),
     {"TRANSPOSE_CONV"}),
    ("transformer_encoder_layer", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
     (5, 8), {"BATCH_MATMUL", "SOFTMAX"}),
]


def _inputs(spec, batch, rng):
    if spec[0] == "int":
        return rng.integers(0, spec[2], (batch,) + spec[1]).astype(np.int64)
    return rng.uniform(-1, 1, (batch,) + spec).astype(np.float32)


def run_litert(data: bytes, x):
    interp = litert.Interpreter(model_content=data)
    (d,) = interp.get_input_details()
    interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(d["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]), builtins_in(data)


def builtins_in(data: bytes) -> set:
    """The builtin operator names the file uses (read from the flatbuffer: the interpreter reports delegated
    ops as DELEGATE)."""
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(data, 0)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    return {names[oc.builtinCode] for oc in model.operatorCodes}


@pytest.mark.parametrize("name, make, spec, builtins", ROWS, ids=[r[0] for r in ROWS])
def test_layer_models_run_in_litert(name, make, spec, builtins, tmp_path):
    model = _seeded(make)
    rng = np.random.default_rng(0)
    data = ember.export.tflite(model, (ember.tensor(_inputs(spec, 2, rng)),), tmp_path / "m.tflite",
                               dynamic_batch=True)
    for batch in (1, 3):
        x = _inputs(spec, batch, rng)
        got, ops = run_litert(data, x)
        with ember.no_grad():
            want = model(ember.tensor(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    assert builtins <= ops, f"{name}: expected builtins {sorted(builtins - ops)} among {sorted(ops)}"


def test_conv_is_one_builtin_not_primitives(tmp_path):
    _, ops = run_litert(ember.export.tflite(_seeded(mnist_cnn), (ember.randn(1, 1, 28, 28),)),
                        np.zeros((1, 1, 28, 28), np.float32))
    assert ops <= {"CONV_2D", "MAX_POOL_2D", "TRANSPOSE", "RESHAPE", "FULLY_CONNECTED", "RELU", "PADV2"}, ops


def test_grouped_conv_transpose_says_what_works():
    with pytest.raises(ember.export.ExportError, match="ConvTranspose2d.*groups=2.*groups=1"):
        ember.export.tflite(nn.ConvTranspose2d(4, 4, 3, groups=2).eval(), (ember.randn(1, 4, 5, 5),))
