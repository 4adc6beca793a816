"""``keras.applications`` (weights=None) against Keras 3: the same layers (names), parameter counts and
weight shapes, and the same outputs once Keras's weights are copied in layer by layer."""

import os
import re

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

ROWS = [
    ("VGG16", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")),
    ("VGG19", dict(input_shape=(32, 32, 3), classes=3)),
    ("ResNet50", dict(include_top=False, input_shape=(32, 32, 3), pooling="max")),
    ("ResNet50V2", dict(input_shape=(32, 32, 3), classes=5, classifier_activation=None)),
    ("MobileNetV2", dict(input_shape=(33, 35, 3), classes=4)),  # odd sizes: the stride-2 padding rule
]


def _names(model):
    return sorted(re.sub(r"_\d+$", "", layer.name) for layer in model.layers if layer.weights or
                  "pad" in layer.name or "relu" in layer.name or "pool" in layer.name or "add" in layer.name)


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("name,kwargs", ROWS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ROWS)])
def test_application_matches_keras(name, kwargs):
    ours = getattr(keras.applications, name)(weights=None, **kwargs)
    theirs = getattr(real.applications, name)(weights=None, **kwargs)
    assert ours.name == theirs.name and ours.count_params() == theirs.count_params()
    assert len(ours.layers) == len(theirs.layers) and _names(ours) == _names(theirs)
    for layer in theirs.layers:  # functional layer order differs between the libraries; names do not
        if layer.weights:  # every layer with weights has a fixed name in these models
            mine = ours.get_layer(layer.name)
            assert [tuple(w.shape) for w in mine.get_weights()] == [tuple(w.shape) for w in layer.get_weights()]
            mine.set_weights([_np(w) for w in layer.get_weights()])
    x = np.random.default_rng(0).random((1, *kwargs["input_shape"])).astype("float32") * 2 - 1
    np.testing.assert_allclose(_np(ours(x, training=False)), _np(theirs(x, training=False)), rtol=2e-3, atol=2e-4)


def test_application_arguments_are_checked():
    with pytest.raises(ValueError, match="weights=None"):
        keras.applications.ResNet50(weights="imagenet")
    with pytest.raises(ValueError, match="input_shape"):
        keras.applications.VGG16(weights=None, input_shape=(16, 16, 3))
    top = keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=7)
    assert top.count_params() == real.applications.VGG16(weights=None, input_shape=(32, 32, 3),
                                                         classes=7).count_params()
