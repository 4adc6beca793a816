"""More Keras 3 layers against real Keras 3 (torch backend), one row each: RMSNormalization, the 3-D
reshaping layers, adaptive pooling, AlphaDropout in inference; the same weights give Keras's outputs and
weight shapes, and a gradient flows."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

import ember  # noqa: E402
from ember import keras  # noqa: E402

ROWS = [  # (layer, kwargs, input shape)
    ("RMSNormalization", {}, (2, 3, 4)),
    ("RMSNormalization", {"axis": [1, 2], "epsilon": 1e-3}, (2, 3, 4)),
    ("RMSNormalization", {"epsilon": 0.1}, (3, 5)),  # (axis=1 alone: Keras 3.15 on torch raises itself)
    ("UpSampling3D", {"size": (1, 2, 3)}, (2, 2, 3, 2, 2)),
    ("ZeroPadding3D", {"padding": ((1, 0), (0, 2), (1, 1))}, (2, 2, 3, 2, 2)),
    ("ZeroPadding3D", {}, (1, 2, 2, 2, 1)),
    ("Cropping3D", {"cropping": ((1, 0), (0, 1), (1, 1))}, (2, 3, 3, 4, 2)),
    ("AdaptiveAveragePooling2D", {"output_size": (3, 2)}, (2, 7, 5, 3)),
    ("AdaptiveMaxPooling2D", {"output_size": 3}, (2, 7, 5, 3)),
    ("AdaptiveAveragePooling1D", {"output_size": 4}, (2, 9, 3)),
    ("AdaptiveMaxPooling1D", {"output_size": 4}, (2, 9, 3)),
    ("AlphaDropout", {"rate": 0.3}, (2, 5)),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, (2, 9, 3)),
    ("DepthwiseConv1D", {"kernel_size": 2, "strides": 2, "padding": "same", "use_bias": False}, (2, 9, 3)),
    ("DepthwiseConv1D", {"kernel_size": 3, "dilation_rate": 2, "activation": "relu"}, (1, 10, 2)),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3}, (2, 9, 3)),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 2, "padding": "same"}, (2, 7, 7, 4)),
    ("Conv1D", {"filters": 4, "kernel_size": 2, "groups": 4, "strides": 2}, (2, 9, 4)),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3, "padding": "same", "depth_multiplier": 2}, (2, 9, 3)),
]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("name, kwargs, shape", ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_layer_matches_keras(name, kwargs, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours, theirs = getattr(keras.layers, name)(**kwargs), getattr(real.layers, name)(**kwargs)
    theirs(x)
    ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    if theirs.weights:
        ws = [np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
        ours.set_weights(ws)
        theirs.set_weights(ws)
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-6)
    xt = ember.tensor(x, requires_grad=True)
    ours(xt, training=True).sum().backward()
    assert xt.grad is not None and xt.grad.shape == xt.shape


def test_alpha_dropout_keeps_selu_statistics_in_training():
    x = ember.tensor(np.random.default_rng(2).normal(size=(20000,)).astype("float32"))
    y = keras.layers.AlphaDropout(0.2)(x, training=True)
    assert abs(float(y.mean())) < 0.05 and abs(float(y.std()) - 1.0) < 0.05
    assert float((y != x).float().mean()) > 0.1
