"""Conv3DTranspose and the 3-D adaptive pools against real Keras 3 (torch backend): one row per configuration
(padding, output_padding, dilation, channels_first), the same weights give Keras's outputs and weight shapes,
configs round-trip, a gradient flows, and bad arguments raise as Keras does."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

import ember  # noqa: E402
from ember import keras  # noqa: E402

CF = {"data_format": "channels_first"}
ROWS = [  # (layer, kwargs, input shape)
    ("Conv3DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 3, 4, 5, 3)),
    ("Conv3DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 3, 4, 5, 3)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": (2, 3, 4), "strides": (1, 2, 3), "padding": "same"},
     (1, 3, 4, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": (2, 3, 4), "strides": (1, 2, 3)}, (1, 3, 4, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 1},
     (1, 3, 4, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": (2, 3, 1), "strides": (2, 3, 2), "output_padding": (1, 2, 0)},
     (1, 3, 4, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": (4, 2, 3), "strides": 3, "padding": "same",
                         "output_padding": (0, 2, 1)}, (1, 3, 4, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 1, "strides": 3}, (1, 2, 3, 2, 2)),  # k < s: zero gaps
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "dilation_rate": (1, 2, 3), "activation": "relu"},
     (1, 3, 4, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same", "use_bias": False},
     (1, 3, 4, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", **CF}, (2, 3, 3, 4, 5)),
    ("Convolution3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2, **CF}, (1, 3, 2, 3, 4)),
    ("AdaptiveAveragePooling3D", {"output_size": (2, 3, 4)}, (2, 5, 6, 7, 3)),
    ("AdaptiveAveragePooling3D", {"output_size": 3, **CF}, (2, 3, 5, 6, 7)),
    ("AdaptiveMaxPooling3D", {"output_size": (2, 3, 4)}, (2, 5, 6, 7, 3)),
    ("AdaptiveMaxPooling3D", {"output_size": (4, 1, 2), **CF}, (2, 3, 5, 6, 7)),
    ("AdaptiveAveragePooling2D", {"output_size": (2, 3), **CF}, (2, 3, 5, 7)),
    ("AdaptiveMaxPooling1D", {"output_size": 4, **CF}, (2, 3, 9)),
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
    ws = [np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    ours.set_weights(ws)
    theirs.set_weights(ws)
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-5)
    config = ours.get_config()
    for key, value in theirs.get_config().items():
        if key in ("kernel_size", "strides", "dilation_rate", "output_padding", "output_size", "padding",
                   "data_format", "filters", "use_bias"):
            assert config[key] == (list(value) if isinstance(value, tuple) else value), key
    clone = type(ours).from_config(config)
    clone(x)
    clone.set_weights(ws)
    np.testing.assert_allclose(_np(clone(x)), _np(ours(x)), rtol=1e-6)
    xt = ember.tensor(x, requires_grad=True)
    ours(xt).sum().backward()
    assert xt.grad is not None and xt.grad.shape == xt.shape and float(xt.grad.abs().sum()) > 0


def test_conv3d_transpose_trains_in_a_model():
    model = keras.Sequential([keras.Input((2, 3, 3, 2)), keras.layers.Conv3DTranspose(1, 2, strides=2)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(4, 2, 3, 3, 2)).astype("float32")
    y = np.zeros((4, 4, 6, 6, 1), "float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


ERRORS = [  # (layer, kwargs, input shape or None, error, words)
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2}, None, ValueError,
     "output_padding must be less than strides"),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, None, ValueError,
     "dilation_rate"),
    ("Conv3DTranspose", {"filters": 0, "kernel_size": 3}, None, ValueError, "filters"),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "padding": "causal"}, None, ValueError, "padding"),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3}, (1, 4, 4, 3), ValueError, "rank 5"),
    ("AdaptiveAveragePooling3D", {"output_size": (2, 2)}, None, TypeError, "output_size"),
    ("AdaptiveMaxPooling3D", {"output_size": "2"}, None, TypeError, "output_size"),
    ("AdaptiveMaxPooling3D", {"output_size": 2, "data_format": "nhwc"}, None, ValueError, "data_format"),
    ("AdaptiveMaxPooling3D", {"output_size": 2}, (1, 4, 4, 3), ValueError, "rank 5"),
]


@pytest.mark.parametrize("name, kwargs, shape, error, words", ERRORS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ERRORS)])
def test_bad_arguments_raise(name, kwargs, shape, error, words):
    with pytest.raises(error):  # Keras refuses these too
        getattr(real.layers, name)(**kwargs)(np.ones(shape or (1, 4, 4, 4, 3), "float32"))
    with pytest.raises(error, match=words):
        getattr(keras.layers, name)(**kwargs)(np.ones(shape or (1, 4, 4, 4, 3), "float32"))
