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


# EfficientNet: B0 built by both libraries (odd input sizes exercise the stride-2 padding rule); the
# preprocessing Normalization layer has an automatic name, so it is matched by type.
EFFICIENTNET_ROWS = [
    ("EfficientNetB0", dict(input_shape=(65, 67, 3), classes=5, classifier_activation=None)),
]
# The deeper/wider variants at 32x32 without the top, as real Keras 3.15 counts them (each Keras build takes
# 10-30 s here, so the counts were read once from Keras; B4-B7 matched too but take seconds to build in Ember)
LARGER_PARAMS = {"EfficientNetB1": 6575239, "EfficientNetB2": 7768569, "EfficientNetB3": 10783535,
                 "ResNet101": 42658176}  # ResNet152 / 101V2 / 152V2 matched too (58370944, 42626560, 58331648)


def _copy_keras_weights(ours, theirs, rng):
    for layer in theirs.layers:
        if not layer.weights:
            continue
        if type(layer).__name__ == "Normalization":  # ImageNet statistics, as pretrained Keras models carry
            layer.set_weights([np.array([0.485, 0.456, 0.406], "float32"),
                               np.array([0.229, 0.224, 0.225], "float32") ** 2, np.array(0, "int32")])
            mine = next(m for m in ours.layers if type(m).__name__ == "Normalization")
        else:
            mine = ours.get_layer(layer.name)
        if type(layer).__name__ == "BatchNormalization":  # non-trivial running statistics
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma, beta, rng.normal(0, 0.1, mean.shape).astype("float32"),
                               rng.uniform(0.5, 1.5, var.shape).astype("float32")])
        mine.set_weights([_np(w) for w in layer.get_weights()])


@pytest.mark.parametrize("name,kwargs", EFFICIENTNET_ROWS, ids=[n for n, _ in EFFICIENTNET_ROWS])
def test_efficientnet_matches_keras(name, kwargs):
    ours = getattr(keras.applications, name)(weights=None, **kwargs)
    theirs = getattr(real.applications, name)(weights=None, **kwargs)
    assert ours.name == theirs.name and ours.count_params() == theirs.count_params()
    assert [re.sub(r"_\d+$", "", m.name) for m in ours.layers] == [re.sub(r"_\d+$", "", m.name)
                                                                  for m in theirs.layers]
    rng = np.random.default_rng(1)
    _copy_keras_weights(ours, theirs, rng)
    x = rng.uniform(0, 255, (2, *kwargs["input_shape"])).astype("float32")  # pixels: rescaling is in the model
    np.testing.assert_allclose(_np(ours(x, training=False)), _np(theirs(x, training=False)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(LARGER_PARAMS))
def test_larger_variants_count_like_keras(name):
    built = getattr(keras.applications, name)(weights=None, include_top=False, input_shape=(32, 32, 3),
                                              pooling="avg")
    assert built.count_params() == LARGER_PARAMS[name] and tuple(built.output.shape) == (None, built.layers[
        -2].output.shape[-1])


def test_efficientnet_trains_and_drops_whole_examples_in_training_only():
    keras.utils.set_random_seed(0)
    model = keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=3)
    x = np.random.default_rng(2).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    # stochastic depth (Dropout with noise_shape=(None, 1, 1, 1)) and top dropout act in training only
    assert not np.allclose(_np(model(x, training=True)), _np(model(x, training=True)))
    np.testing.assert_array_equal(_np(model(x, training=False)), _np(model(x, training=False)))
    # eager: compiling this 240-layer graph takes minutes (noted for the compiler)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", jit_compile=False)
    history = model.fit(x, np.array([0, 1, 2, 0]), batch_size=4, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
