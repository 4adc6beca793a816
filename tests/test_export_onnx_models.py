"""ONNX export of whole models (MNIST MLP and CNN, a char-LSTM LM, a causal transformer LM), Keras layers and a
two-input Keras functional model, and the export errors: each error names the op, the layer, the user's line
and what would work."""

import io
import os

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from test_export_onnx import BATCHES, Fn, roundtrip  # noqa: E402

HERE = os.path.basename(__file__)


def _eval(m):
    return m.eval()


# -- whole models ---------------------------------------------------------------------------------------------
def mnist_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


def mnist_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 6 * 6, 10),
                         nn.LogSoftmax(1))


class CharLSTM(nn.Module):
    def __init__(self, vocab=40, emb=16, hidden=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.lstm(self.emb(tokens))
        return self.head(out)


class TinyGPT(nn.Module):
    def __init__(self, vocab=32, d=16, seq=6):
        super().__init__()
        self.seq = seq
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(ember.randn(seq, d) * 0.1)
        layer = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.1, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, 2)
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight  # weight tying

    def forward(self, tokens):
        mask = nn.Transformer.generate_square_subsequent_mask(self.seq)
        x = self.tok(tokens) + self.pos
        return self.head(self.ln(self.blocks(x, mask=mask, is_causal=True)))


MODELS = [
    ("mnist_mlp", mnist_mlp, lambda b: (ember.rand(b, 1, 28, 28),), ["Gemm", "Relu"]),
    ("mnist_cnn", mnist_cnn, lambda b: (ember.rand(b, 1, 28, 28),), ["Conv", "MaxPool", "BatchNormalization"]),
    ("char_lstm", CharLSTM, lambda b: (ember.randint(0, 40, (b, 9)),), ["Gather", "LSTM"]),
    ("causal_transformer", TinyGPT, lambda b: (ember.randint(0, 32, (b, 6)),), ["Gather", "Softmax",
                                                                               "LayerNormalization"]),
]


@pytest.mark.parametrize("name, build, make, ops", MODELS, ids=[m[0] for m in MODELS])
def test_model_exports(name, build, make, ops):
    ember.manual_seed(0)
    proto = roundtrip(_eval(build()), make, ops)
    assert len(proto.graph.node) < 200  # layers as ONNX ops, not a thousand slices


def test_trained_mnist_cnn_keeps_its_predictions():
    """A few real training steps first: the exported model then has non-trivial BatchNorm statistics."""
    ember.manual_seed(1)
    model = mnist_cnn()
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    x, y = ember.rand(32, 1, 28, 28), ember.randint(0, 10, (32,))
    for _ in range(3):
        opt.zero_grad()
        F.nll_loss(model(x), y).backward()
        opt.step()
    model.eval()
    roundtrip(model, lambda b: (x[:b] if b <= 32 else ember.rand(b, 1, 28, 28),), ["Conv"])
    assert model.training is False


# -- Keras ------------------------------------------------------------------------------------------------------
keras = ember.keras


def _keras_layer(layer, shape):
    model = keras.Sequential([keras.Input(shape), layer])
    return model, lambda b: (ember.randn(b, *shape),)


KERAS = [
    ("Dense", lambda: keras.layers.Dense(5, activation="relu"), (4,), ["Relu"]),
    ("Conv1D", lambda: keras.layers.Conv1D(4, 3, padding="same"), (8, 3), ["Conv"]),
    ("Conv2D", lambda: keras.layers.Conv2D(4, 3, strides=2, activation="tanh"), (9, 9, 2), ["Conv"]),
    ("Conv2DTranspose", lambda: keras.layers.Conv2DTranspose(3, 2, strides=2), (4, 4, 2), ["ConvTranspose"]),
    # Keras pooling has its own composite (reshape + reduce), which exports as such
    ("MaxPooling2D", lambda: keras.layers.MaxPooling2D(2), (6, 6, 3), []),
    ("AveragePooling2D", lambda: keras.layers.AveragePooling2D(2), (6, 6, 3), []),
    ("MaxPooling1D", lambda: keras.layers.MaxPooling1D(2), (6, 3), []),
    ("GlobalAveragePooling2D", lambda: keras.layers.GlobalAveragePooling2D(), (5, 5, 3), []),
    ("GlobalMaxPooling1D", lambda: keras.layers.GlobalMaxPooling1D(), (5, 3), []),
    ("BatchNormalization", lambda: keras.layers.BatchNormalization(), (5,), []),
    ("LayerNormalization", lambda: keras.layers.LayerNormalization(), (3, 5), []),
    ("Embedding", lambda: keras.layers.Embedding(10, 4), (6,), ["Gather"]),
    # Keras RNNs read their zero initial state off the input (nn.modules.rnn.batch_zeros): dynamic batch
    ("LSTM", lambda: keras.layers.LSTM(4), (5, 3), ["LSTM"]),
    ("LSTM_sequences", lambda: keras.layers.LSTM(4, return_sequences=True), (5, 3), ["LSTM"]),
    ("GRU", lambda: keras.layers.GRU(4), (5, 3), []),
    ("SimpleRNN", lambda: keras.layers.SimpleRNN(4, return_sequences=True), (5, 3), []),
    ("Bidirectional", lambda: keras.layers.Bidirectional(keras.layers.LSTM(3)), (5, 3), ["LSTM"]),
    ("Dropout", lambda: keras.layers.Dropout(0.5), (4,), []),
    ("Flatten", lambda: keras.layers.Flatten(), (2, 3), ["Reshape"]),
    ("Reshape", lambda: keras.layers.Reshape((3, 2)), (6,), ["Reshape"]),
    ("Permute", lambda: keras.layers.Permute((2, 1)), (2, 3), ["Transpose"]),
    ("Rescaling", lambda: keras.layers.Rescaling(0.5, 1.0), (3,), []),
    ("Activation", lambda: keras.layers.Activation("gelu"), (3,), []),
]


@pytest.mark.parametrize("name, build, shape, ops", KERAS, ids=[k[0] for k in KERAS])
def test_keras_layer_exports(name, build, shape, ops):
    ember.manual_seed(0)
    layer = build()
    model, make = _keras_layer(layer, shape)
    if name == "Embedding":
        make = lambda b: (ember.randint(0, 10, (b, 6)),)  # noqa: E731
    roundtrip(model, make, ops)  # every row at two batch sizes through the dynamic batch axis


def test_keras_multi_head_attention_exports():
    q = keras.Input((5, 8))
    out = keras.layers.MultiHeadAttention(2, 4)(q, q)
    model = keras.Model(q, out)
    roundtrip(model, lambda b: (ember.randn(b, 5, 8),), ["Softmax"])


def test_keras_functional_model_with_two_inputs():
    ember.manual_seed(0)
    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((3,), name="meta")
    x = keras.layers.Conv2D(4, 3, activation="relu")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Concatenate()([x, keras.layers.Dense(4)(meta)])
    out = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model([image, meta], out)
    buf = io.BytesIO()  # the model takes one list of two tensors: two ONNX inputs
    ember.onnx.export(model, ([ember.randn(2, 8, 8, 1), ember.randn(2, 3)],), buf, input_names=["image", "meta"],
                      dynamic_axes={"image": [0], "meta": [0]})
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()), full_check=True)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for b in BATCHES:
        a, m = ember.randn(b, 8, 8, 1), ember.randn(b, 3)
        want = model([a, m]).detach().numpy()
        got = sess.run(None, {"image": a.numpy(), "meta": m.numpy()})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# -- errors -----------------------------------------------------------------------------------------------------
class Patches(nn.Module):
    def forward(self, x):
        return F.unfold(x, 2)  # the bad line


class Unfolder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3), Patches())

    def forward(self, x):
        return self.body(x) * 2


def _export(model, *args, **kw):
    return ember.onnx.export(model, args, io.BytesIO(), **kw)


def _avg_override():
    pool = nn.AvgPool2d(2, divisor_override=3)
    return _export(nn.Sequential(pool), ember.randn(1, 1, 4, 4))


def _branchy(x):
    if x.sum() > 0:  # data-dependent control flow
        return x
    return -x


def _size_in_python(x):
    return x + ember.ones(x.shape[0], 1)  # a constant the size of the batch


ERRORS = [
    ("no_mapping_names_op_layer_line", lambda: _export(Unfolder().eval(), ember.randn(1, 1, 6, 6)),
     ember.onnx.UnsupportedOperatorError,
     ["'im2col'", "layer: 'body.1' (Patches)", HERE, "the bad line", "ember.export"]),
    ("layer_option_suggests_fix", _avg_override, ember.onnx.UnsupportedOperatorError,
     ["'avg_pool'", "divisor_override", "divisor_override=None", HERE]),
    ("other_opset_suggested", lambda: _export(Fn(lambda s, x: F.fold(x, (4, 4), 2)), ember.randn(1, 8, 9)),
     ember.onnx.UnsupportedOperatorError, ["'col2im'", "opset_version=18"]),
    ("return_indices", lambda: _export(nn.MaxPool2d(2, return_indices=True), ember.randn(1, 1, 4, 4)),
     ember.onnx.UnsupportedOperatorError, ["'pool_argmax'", "return_indices=False"]),
    ("data_dependent_branch", lambda: _export(Fn(lambda s, x: _branchy(x)), ember.randn(2, 3)),
     ember.onnx.OnnxExportError, ["control flow", HERE, "if x.sum() > 0"]),
    ("size_baked_in_python", lambda: _export(Fn(lambda s, x: _size_in_python(x)), ember.randn(2, 3),
                                             input_names=["x"], dynamic_axes={"x": [0]}),
     ember.onnx.OnnxExportError, ["cannot make", "dynamic", HERE]),
    ("bad_dynamic_axes_name", lambda: _export(nn.Linear(2, 2), ember.randn(1, 2), dynamic_axes={"y": [0]}),
     ValueError, ["'y'", "input/output names"]),
    ("old_opset", lambda: _export(nn.Linear(2, 2), ember.randn(1, 2), opset_version=13), ValueError, ["17"]),
]


@pytest.mark.parametrize("name, call, exc, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_export_error(name, call, exc, words):
    with pytest.raises(exc) as info:
        call()
    text = str(info.value)
    for w in words:
        assert w in text, f"{w!r} not in: {text}"
