"""ONNX export, one row per nn layer / tensor operation (issue 11): each row is exported with a dynamic batch
axis, checked with ``onnx.checker.check_model(full_check=True)``, run in onnxruntime at two batch sizes other
than the traced one, and compared with Ember's output to 1e-5 (float32). ``ops`` names ONNX ops the export
must use (the layer maps to its ONNX op, not to a decomposition)."""

import io

import numpy as np
import pytest

import ember
from ember import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

BATCHES = (3, 1)  # run sizes; the export traces at 2 (and 3/4 to find the dynamic dims)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def roundtrip(model, make, ops=(), opset=None, batch_axis=None, max_nodes=None, tol=1e-5, static=False):  # noqa: PLR0913
    """Export ``model(*make(2))`` with every input's batch axis dynamic (``static``: none); compare
    onnxruntime with Ember at two other batch sizes (``static``: at 2)."""
    example = make(2)
    names = [f"in{i}" for i in range(len(example))]
    axes = batch_axis or [0] * len(example)
    dynamic = {} if static else {n: {a: "batch"} for n, a in zip(names, axes) if a is not None}
    buf = io.BytesIO()
    proto = ember.onnx.export(model, example, buf, input_names=names, dynamic_axes=dynamic, opset_version=opset)
    onnx.checker.check_model(proto, full_check=True)
    types = [n.op_type for n in proto.graph.node]
    assert set(ops) <= set(types), f"expected {ops} among {types}"
    if max_nodes is not None:
        assert len(types) <= max_nodes, types
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    for b in (2,) if static else BATCHES:
        inputs = make(b)
        with ember.no_grad():
            want = _flat(model(*inputs))
        got = sess.run(None, {n: np.asarray(t._data) for n, t in zip(names, inputs)})
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.numpy(), rtol=tol, atol=tol)
    return proto


def x_(*shape):
    return lambda b: (ember.randn(b, *shape),)


def _eval(m):
    ember.manual_seed(0)
    return m.eval()


def _bn(m):
    with ember.no_grad():  # statistics and affine parameters that are not the identity
        m.running_mean.copy_(ember.randn(m.num_features) * 0.3)
        m.running_var.copy_(ember.rand(m.num_features) + 0.5)
        m.weight.copy_(ember.randn(m.num_features))
        m.bias.copy_(ember.randn(m.num_features))
    return m.eval()


class Fn(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.fn, self.mods = fn, nn.ModuleList(mods)

    def forward(self, *xs):
        return self.fn(self, *xs)


LAYERS = [
    ("linear", lambda: nn.Linear(6, 4), x_(6), ["Gemm"]),
    ("linear_3d_no_bias", lambda: nn.Linear(6, 4, bias=False), x_(5, 6), ["MatMul"]),
    ("bilinear", lambda: nn.Bilinear(3, 4, 5), lambda b: (ember.randn(b, 3), ember.randn(b, 4)), []),
    ("conv1d_stride_pad", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), x_(3, 11), ["Conv"]),
    ("conv1d_same_dilated", lambda: nn.Conv1d(3, 4, 4, padding="same", dilation=2), x_(3, 10), ["Conv"]),
    ("conv2d_groups", lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2), x_(4, 9, 9),
     ["Conv"]),
    ("conv2d_same_even", lambda: nn.Conv2d(2, 3, (4, 3), padding="same"), x_(2, 7, 8), ["Conv"]),
    ("conv2d_dilated", lambda: nn.Conv2d(2, 3, 3, dilation=2, padding=(1, 2)), x_(2, 9, 9), ["Conv"]),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), x_(3, 5, 5),
     ["ConvTranspose"]),
    ("conv_transpose2d_groups", lambda: nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2), x_(4, 3, 3),
     ["ConvTranspose"]),
    ("max_pool1d", lambda: nn.MaxPool1d(3, stride=2, padding=1), x_(3, 10), ["MaxPool"]),
    ("max_pool2d", lambda: nn.MaxPool2d(2), x_(3, 8, 8), ["MaxPool"]),
    ("max_pool2d_ceil_dilated", lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True),
     x_(2, 8, 8), ["MaxPool"]),
    ("avg_pool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1), x_(2, 9, 9), ["AveragePool"]),
    ("avg_pool2d_ceil", lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), x_(2, 8, 8), ["AveragePool"]),
    ("avg_pool2d_exclude_pad", lambda: nn.AvgPool2d(2, padding=1, count_include_pad=False), x_(2, 7, 7),
     ["AveragePool"]),
    ("adaptive_avg_pool2d_global", lambda: nn.AdaptiveAvgPool2d(1), x_(3, 5, 6), ["GlobalAveragePool"]),
    ("adaptive_avg_pool2d_even", lambda: nn.AdaptiveAvgPool2d(3), x_(3, 6, 9), ["AveragePool"]),
    ("adaptive_avg_pool2d_uneven", lambda: nn.AdaptiveAvgPool2d((2, 3)), x_(3, 5, 7), ["MatMul"]),
    ("adaptive_max_pool2d", lambda: nn.AdaptiveMaxPool2d(2), x_(3, 6, 6), ["MaxPool"]),
    ("batch_norm1d", lambda: _bn(nn.BatchNorm1d(5)), x_(5), ["BatchNormalization"]),
    ("batch_norm1d_seq", lambda: _bn(nn.BatchNorm1d(5)), x_(5, 7), ["BatchNormalization"]),
    ("batch_norm2d", lambda: _bn(nn.BatchNorm2d(3)), x_(3, 4, 4), ["BatchNormalization"]),
    ("layer_norm", lambda: nn.LayerNorm((4, 6)), x_(3, 4, 6), ["LayerNormalization"]),
    ("layer_norm_no_affine", lambda: nn.LayerNorm(6, elementwise_affine=False), x_(6), ["LayerNormalization"]),
    ("rms_norm", lambda: nn.RMSNorm(6), x_(3, 6), ["Sqrt"]),
    ("group_norm", lambda: nn.GroupNorm(2, 6), x_(6, 3, 3), ["ReduceMean"]),
    ("embedding_padding_idx", lambda: nn.Embedding(10, 4, padding_idx=0),
     lambda b: (ember.randint(0, 10, (b, 7)),), ["Gather"]),
    ("rnn_tanh_2layer", lambda: nn.RNN(4, 5, num_layers=2), x_(6, 4), ["RNN"]),
    ("rnn_relu_bidirectional", lambda: nn.RNN(4, 5, nonlinearity="relu", bidirectional=True), x_(6, 4), ["RNN"]),
    ("lstm", lambda: nn.LSTM(4, 5), x_(6, 4), ["LSTM"]),
    ("lstm_2layer_bidir_batch_first", lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True),
     x_(6, 4), ["LSTM"]),
    ("gru_2layer_bidir", lambda: nn.GRU(4, 5, num_layers=2, bidirectional=True), x_(6, 4), ["GRU"]),
    ("gru_no_bias_batch_first", lambda: nn.GRU(4, 5, bias=False, batch_first=True), x_(6, 4), ["GRU"]),
    ("mha_self", lambda: Fn(lambda s, x: s.mods[0](x, x, x)[0], nn.MultiheadAttention(8, 2)), x_(3, 8),
     ["Softmax"]),
    ("dropout_eval", lambda: nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), x_(4), []),
    ("flatten", lambda: nn.Flatten(), x_(2, 3, 4), ["Reshape"]),
    ("unflatten", lambda: nn.Unflatten(1, (2, 3)), x_(6), ["Reshape"]),
    ("identity", lambda: nn.Sequential(nn.Identity(), nn.Linear(3, 2)), x_(3), []),
]
ACTIVATIONS = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax",
               "LogSoftmax", "Softmin", "Softplus", "Hardtanh", "Mish", "PReLU", "Softsign", "Hardswish",
               "Hardsigmoid", "LogSigmoid", "GLU", "Threshold", "Tanhshrink"]
_ACT_ARGS = {"Softmax": (1,), "LogSoftmax": (1,), "Softmin": (1,), "Threshold": (0.1, -2.0), "PReLU": (6,)}
_ACT_OPS = {"ReLU": ["Relu"], "Sigmoid": ["Sigmoid"], "Tanh": ["Tanh"], "Softmax": ["Softmax"],
            "LogSoftmax": ["LogSoftmax"], "GELU": ["Erf"]}


@pytest.mark.parametrize("name, build, make, ops", LAYERS, ids=[r[0] for r in LAYERS])
def test_layer_exports(name, build, make, ops):
    roundtrip(_eval(build()), make, ops)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_exports(name):
    act = getattr(nn, name)(*_ACT_ARGS.get(name, ()))
    roundtrip(_eval(nn.Sequential(nn.Linear(4, 6), act)), lambda b: (ember.randn(b, 4) * 3,), _ACT_OPS.get(name, ()))


def test_gelu_tanh_and_opset_20_gelu():
    model = _eval(nn.Sequential(nn.Linear(4, 6), nn.GELU(approximate="tanh")))
    roundtrip(model, x_(4), ["Tanh"])
    roundtrip(_eval(nn.GELU()), x_(5), ["Gelu"], opset=20)


def test_group_norm_is_one_op_from_opset_21():
    roundtrip(_eval(nn.GroupNorm(3, 6)), x_(6, 4), ["GroupNormalization"], opset=21)


def test_lstm_and_gru_with_initial_states():
    lstm = _eval(nn.LSTM(4, 5, num_layers=2, bidirectional=True))
    make = lambda b: (ember.randn(7, b, 4), ember.randn(4, b, 5), ember.randn(4, b, 5))  # noqa: E731
    model = Fn(lambda self, x, h, c: self.mods[0](x, (h, c)), lstm)
    proto = roundtrip(model, make, ["LSTM"], batch_axis=[1, 1, 1], max_nodes=20)
    assert [n.op_type for n in proto.graph.node].count("LSTM") == 2  # one per layer, not a loop of slices
    gru = _eval(nn.GRU(4, 5, batch_first=True))
    roundtrip(Fn(lambda self, x, h: self.mods[0](x, h), gru), lambda b: (ember.randn(b, 6, 4), ember.randn(1, b, 5)),
              ["GRU"], batch_axis=[0, 1])


def test_lstm_sequence_length_is_dynamic_too():
    lstm = _eval(nn.LSTM(3, 4, batch_first=True))
    buf = io.BytesIO()
    ember.onnx.export(lstm, (ember.randn(2, 5, 3),), buf, input_names=["x"], output_names=["y", "h", "c"],
                      dynamic_axes={"x": {0: "batch", 1: "time"}, "y": {0: "batch", 1: "time"}})
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = ember.randn(3, 9, 3)
    with ember.no_grad():
        want = lstm(x)[0].numpy()
    np.testing.assert_allclose(sess.run(["y"], {"x": x.numpy()})[0], want, rtol=1e-5, atol=1e-5)
    proto = onnx.load_from_string(buf.getvalue())
    assert [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim][:2] == ["batch", "time"]


def _mha(kind):
    mha = _eval(nn.MultiheadAttention(8, 2, batch_first=True))
    causal = nn.Transformer.generate_square_subsequent_mask(5)

    def fwd(self, x, pad):
        if kind == "float_mask":
            return self.mods[0](x, x, x, attn_mask=causal)
        if kind == "bool_mask":
            return self.mods[0](x, x, x, attn_mask=causal == float("-inf"), need_weights=False)[0]
        return self.mods[0](x, x, x, key_padding_mask=pad)

    make = lambda b: (ember.randn(b, 5, 8), ember.arange(5).reshape(1, 5).expand(b, 5) >= 4)  # noqa: E731
    return Fn(fwd, mha), make


@pytest.mark.parametrize("kind", ["float_mask", "bool_mask", "key_padding_mask"])
def test_multihead_attention_masks(kind):
    model, make = _mha(kind)
    roundtrip(model, make, ["Softmax", "MatMul"])


@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder(norm_first, activation):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, activation=activation, batch_first=True,
                                       norm_first=norm_first)
    model = _eval(nn.TransformerEncoder(layer, 2))
    roundtrip(model, x_(4, 8), ["LayerNormalization", "Softmax"])


TENSOR_OPS = [
    ("view_permute", lambda s, x: x.view(x.shape[0], 3, 4).permute(0, 2, 1) * 2, x_(12)),
    ("slicing", lambda s, x: x[:, 1:5:2, ::-1] + x[:, -1:, :3].sum(), x_(6, 4)),
    ("int_index_and_newaxis", lambda s, x: x[:, 2][:, None] * x[..., 0, None], x_(4, 3)),
    ("advanced_index", lambda s, x: x[:, ember.tensor([2, 0, 2])], x_(4, 3)),
    ("advanced_index_pair", lambda s, x: x[:, ember.tensor([0, 1]), ember.tensor([2, 0])], x_(3, 4)),
    ("bool_mask_row", lambda s, x: x[:, ember.tensor([True, False, True, True])], x_(4, 2)),
    ("cat_stack", lambda s, x: ember.cat([x, ember.stack([x[:, 0], x[:, 1]], 1)], 1), x_(3)),
    ("chunk_split", lambda s, x: x.chunk(2, 1)[1] - x.split([1, 3], 1)[1][:, :2], x_(4)),
    ("reductions", lambda s, x: x.mean(1) + x.amax(1) - x.std(1) + x.argmax(1).float() + x.logsumexp(1), x_(5)),
    ("where_clamp_pow", lambda s, x: ember.where(x > 0, x ** 2, x.clamp(-0.5, 0.5)) + x.abs().sqrt(), x_(5)),
    ("cumsum_sort", lambda s, x: x.cumsum(1) + x.sort(1)[0] + x.argsort(1).float(), x_(5)),
    ("gather", lambda s, x: x.gather(1, x.argsort(1)[:, :3]), x_(4)),
    ("pad_repeat", lambda s, x: nn.functional.pad(x, (1, 2), value=0.5) + 0, x_(3, 4)),
    ("masked_fill_softmax", lambda s, x: x.masked_fill(x > 1, -1.0).softmax(-1), x_(5)),
    ("einsum_bmm", lambda s, x: ember.einsum("bij,bjk->bik", x, x.transpose(1, 2)), x_(3, 4)),
    ("inverse_trig_hyperbolic", lambda s, x: (x * 0.9).asin() + (x * 0.9).acos() + x.atan() + x.sinh() + x.cosh()
     + x.asinh() + (x.abs() + 1.5).acosh() + (x * 0.9).atanh(), lambda b: (ember.rand(b, 5) * 2 - 1,)),
    ("atan2_quadrants", lambda s, x: ember.atan2(x, x.flip(1)) + ember.atan2(x, ember.zeros(1)),
     lambda b: (ember.tensor([[1.0, -1.0, 0.5, -0.5, 2.0, 0.0], [-2.0, 0.0, 3.0, -3.0, 0.25, 1.0]] * b)[:b],)),
    ("det", lambda s, x: ember.linalg.det(x.view(-1, 2, 2) + ember.eye(2)), x_(4)),
    ("floor_div_remainder", lambda s, x: (x * 4).floor_divide(3) + (x * 4).remainder(1.5), x_(5)),
]


@pytest.mark.parametrize("name, fn, make", TENSOR_OPS, ids=[r[0] for r in TENSOR_OPS])
def test_tensor_ops_export(name, fn, make):
    roundtrip(Fn(fn), make)


def test_initializers_are_named_after_parameters_and_file_paths_work(tmp_path):
    model = _eval(nn.Sequential(nn.Linear(4, 3)))
    path = tmp_path / "m.onnx"
    ember.onnx.export(model, ember.randn(1, 4), str(path))
    proto = onnx.load(str(path))
    assert {t.name for t in proto.graph.initializer} == {"0.weight", "0.bias"}
    assert [i.name for i in proto.graph.input] == ["input"] and [o.name for o in proto.graph.output] == ["output"]
    assert not model.training


def test_torch_spellings_dynamic_shapes_and_unknown_options():
    model = _eval(nn.Sequential(nn.Linear(3, 2)))
    buf = io.BytesIO()
    proto = ember.onnx.export(model, (ember.randn(2, 3),), buf, dynamic_shapes={"input": {0: "n"}}, dynamo=True,
                              external_data=False)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"
    with pytest.raises(TypeError, match="opset"):
        ember.onnx.export(model, (ember.randn(2, 3),), buf, opset=17)


def test_causal_attention_with_a_dynamic_sequence_length():
    """is_causal builds its mask inside the layer op: ONNX makes it with Trilu at the run's length."""
    model = Fn(lambda s, q, k: nn.functional.scaled_dot_product_attention(q, k, k, is_causal=True))
    buf = io.BytesIO()
    spec = {0: "batch", 2: "time"}
    ember.onnx.export(model, (ember.randn(2, 2, 5, 4), ember.randn(2, 2, 5, 4)), buf, input_names=["q", "k"],
                      dynamic_axes={"q": spec, "k": spec})
    assert "Trilu" in [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    q, k = ember.randn(3, 2, 9, 4), ember.randn(3, 2, 9, 4)
    with ember.no_grad():
        want = model(q, k).numpy()
    np.testing.assert_allclose(sess.run(None, {"q": q.numpy(), "k": k.numpy()})[0], want, rtol=1e-5, atol=1e-5)
