"""ember.keras against real Keras 3 (torch backend), when it is installed: the same initial weights and data,
a few steps of ``fit`` with each optimizer, then the weights must agree to 1e-5; and the conv / pooling / RNN
layers (which run on ember.nn.functional) must give Keras's outputs for the same weights."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

OPTIMIZERS = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"learning_rate": 0.01}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Adadelta", {"learning_rate": 0.5}),
    ("Lion", {"learning_rate": 0.003}),
    ("Lamb", {"learning_rate": 0.01}),
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.01,
              "l2_shrinkage_regularization_strength": 0.01, "beta": 0.1}),
    ("Adafactor", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01, "weight_decay": 0.1, "clipnorm": 0.5}),
]


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 5)).astype("float32"), rng.normal(size=(40, 2)).astype("float32")


def _pair(lib):
    return lib.Sequential([lib.Input((5,)), lib.layers.Dense(8, activation="tanh"), lib.layers.Dense(2)])


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[f"{n}-{sorted(k)}" for n, k in OPTIMIZERS])
def test_fit_matches_real_keras(name, kwargs):
    x, y = _data()
    ours, theirs = _pair(keras), _pair(real)
    ours.set_weights(theirs.get_weights())
    ours.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss="mse")
    theirs.compile(optimizer=getattr(real.optimizers, name)(**kwargs), loss="mse")
    h1 = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    h2 = theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    assert not np.allclose(ours.get_weights()[0], _pair(real).get_weights()[0])  # it did train


def test_defaults_are_keras_defaults():
    for name in ("Adam", "AdamW", "RMSprop", "SGD", "Adagrad", "Adamax", "Nadam", "Adadelta", "Lion", "Lamb", "Ftrl",
                 "Adafactor"):
        ours, theirs = getattr(keras.optimizers, name)(), getattr(real.optimizers, name)()
        for key, value in ours.get_config().items():
            if key in theirs.get_config() and key != "name":
                assert theirs.get_config()[key] == pytest.approx(value), (name, key)


LAYERS = [
    (lambda lib: lib.layers.Conv2D(4, 3, strides=2, padding="same"), (2, 9, 8, 3)),
    (lambda lib: lib.layers.Conv2D(4, (2, 3), dilation_rate=2, activation="relu"), (2, 9, 8, 3)),
    (lambda lib: lib.layers.Conv1D(5, 3, strides=2, padding="same"), (2, 11, 3)),
    (lambda lib: lib.layers.Conv2DTranspose(3, 3, strides=2, padding="same"), (2, 5, 4, 2)),
    (lambda lib: lib.layers.Conv2DTranspose(3, (2, 3), strides=(2, 1)), (2, 5, 4, 2)),
    (lambda lib: lib.layers.MaxPooling2D(3, strides=2, padding="same"), (2, 9, 8, 3)),
    (lambda lib: lib.layers.MaxPooling2D(2), (2, 9, 8, 3)),
    # symmetric 'same' padding: for asymmetric padding Keras's torch backend pads by replicating edges,
    # unlike its TensorFlow / JAX backends; we follow those (mean over real inputs, tested in
    # test_keras_layers.py against the strided-slice baseline)
    (lambda lib: lib.layers.AveragePooling2D(3, strides=2, padding="same"), (2, 9, 9, 3)),
    (lambda lib: lib.layers.AveragePooling2D((2, 3), strides=(1, 2)), (2, 9, 8, 3)),
    (lambda lib: lib.layers.MaxPooling1D(2, padding="same"), (2, 7, 3)),
    (lambda lib: lib.layers.LSTM(6, return_sequences=True), (3, 5, 4)),
    (lambda lib: lib.layers.LSTM(6, activation="relu"), (3, 5, 4)),
    (lambda lib: lib.layers.GRU(6, return_sequences=True), (3, 5, 4)),
    (lambda lib: lib.layers.GRU(6, reset_after=False), (3, 5, 4)),
    (lambda lib: lib.layers.SimpleRNN(6, return_sequences=True, go_backwards=True), (3, 5, 4)),
]


@pytest.mark.parametrize("make, shape", LAYERS, ids=[str(i) for i in range(len(LAYERS))])
def test_layer_outputs_match_real_keras(make, shape):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    ours, theirs = make(keras), make(real)
    expected = real.ops.convert_to_numpy(theirs(x))
    ours(x)
    weights = theirs.get_weights()
    if weights:
        weights = [
            w + np.random.default_rng(2).normal(scale=0.1, size=w.shape).astype("float32") for w in weights
        ]
        theirs.set_weights(weights)
        ours.set_weights(weights)
        expected = real.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).detach().numpy(), expected, atol=2e-5, rtol=1e-4)


def _probs(rng, shape):
    e = np.exp(rng.normal(size=shape))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


# (loss class name, kwargs, y_true kind, y_pred kind); kinds: "onehot", "labels", "binary", "probs", "logits",
# "sigmoid", "real", "positive"
LOSSES = [
    ("MeanSquaredError", {}, "real", "real"),
    ("MeanAbsoluteError", {}, "real", "real"),
    ("MeanAbsolutePercentageError", {}, "real", "real"),
    ("Huber", {"delta": 0.7}, "real", "real"),
    ("LogCosh", {}, "real", "real"),
    ("CategoricalCrossentropy", {}, "onehot", "probs"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot", "logits"),
    ("SparseCategoricalCrossentropy", {}, "labels", "probs"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels", "logits"),
    ("BinaryCrossentropy", {}, "binary", "sigmoid"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "binary", "logits"),
    ("KLDivergence", {}, "probs", "probs"),
    ("Hinge", {}, "binary", "real"),
    ("Poisson", {}, "positive", "positive"),
    ("CosineSimilarity", {}, "real", "real"),
]


def _inputs(rng, kind, n=6, c=4):
    if kind == "onehot":
        return np.eye(c, dtype="float32")[rng.integers(0, c, n)]
    if kind == "labels":
        return rng.integers(0, c, n)
    if kind == "binary":
        return rng.integers(0, 2, (n, c)).astype("float32")
    if kind == "probs":
        return _probs(rng, (n, c))
    if kind == "sigmoid":
        return (1 / (1 + np.exp(-rng.normal(size=(n, c))))).astype("float32")
    if kind == "positive":
        return rng.uniform(0.1, 2.0, (n, c)).astype("float32")
    return rng.normal(size=(n, c)).astype("float32")


@pytest.mark.parametrize("name, kwargs, t_kind, p_kind", LOSSES, ids=[f"{r[0]}-{sorted(r[1])}" for r in LOSSES])
def test_losses_match_real_keras(name, kwargs, t_kind, p_kind):
    rng = np.random.default_rng(3)
    y_true, y_pred, sw = _inputs(rng, t_kind), _inputs(rng, p_kind), rng.uniform(0, 1, 6).astype("float32")
    ours, theirs = getattr(keras.losses, name)(**kwargs), getattr(real.losses, name)(**kwargs)
    for weights in (None, sw):
        want = real.ops.convert_to_numpy(theirs(y_true, y_pred, sample_weight=weights))
        got = ours(y_true, y_pred, sample_weight=weights).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


METRICS = [
    ("SparseCategoricalAccuracy", {}, "labels", "probs"),
    ("CategoricalAccuracy", {}, "onehot", "probs"),
    ("BinaryAccuracy", {"threshold": 0.4}, "binary", "sigmoid"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot", "probs"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "labels", "probs"),
    ("MeanSquaredError", {}, "real", "real"),
    ("RootMeanSquaredError", {}, "real", "real"),
    ("Precision", {}, "binary", "sigmoid"),
    ("Recall", {"thresholds": 0.3}, "binary", "sigmoid"),
    ("AUC", {"num_thresholds": 50}, "binary", "sigmoid"),
    ("AUC", {"num_thresholds": 50, "curve": "PR"}, "binary", "sigmoid"),
]


@pytest.mark.parametrize("name, kwargs, t_kind, p_kind", METRICS, ids=[f"{r[0]}-{sorted(r[1])}" for r in METRICS])
def test_metrics_match_real_keras(name, kwargs, t_kind, p_kind):
    rng = np.random.default_rng(4)
    ours, theirs = getattr(keras.metrics, name)(**kwargs), getattr(real.metrics, name)(**kwargs)
    for batch in range(3):  # state accumulates over batches, the last one weighted
        y_true, y_pred = _inputs(rng, t_kind), _inputs(rng, p_kind)
        sw = rng.uniform(0, 1, 6).astype("float32") if batch == 2 else None
        ours.update_state(y_true, y_pred, sample_weight=sw)
        theirs.update_state(y_true, y_pred, sample_weight=sw)
        np.testing.assert_allclose(float(ours.result()), float(real.ops.convert_to_numpy(theirs.result())),
                                   rtol=1e-5, atol=1e-6)
