"""``ReversibleEmbedding`` and ``Pipeline`` against real Keras 3 (same weights; outputs, masks, configs)."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")

import ember  # noqa: E402
from ember import keras  # noqa: E402

IDS = np.array([[1, 2, 0, 7], [3, 0, 0, 9]])


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("kwargs", [{}, {"tie_weights": False}, {"logit_soft_cap": 0.05},
                                    {"tie_weights": False, "mask_zero": True, "logit_soft_cap": 3.0}])
def test_reversible_embedding_matches_keras(kwargs):
    theirs, ours = real.layers.ReversibleEmbedding(10, 6, **kwargs), keras.layers.ReversibleEmbedding(10, 6, **kwargs)
    theirs(IDS)
    ours(IDS)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [np.random.default_rng(i).standard_normal(w.shape).astype("float32") for i, w in
               enumerate(theirs.get_weights())]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    hidden = ours(IDS)
    np.testing.assert_allclose(_np(hidden), _np(theirs(IDS)), atol=1e-6)
    want = _np(theirs(_np(hidden), reverse=True))
    np.testing.assert_allclose(_np(ours(hidden, reverse=True)), want, rtol=1e-5, atol=1e-5)
    if kwargs.get("mask_zero"):
        assert _np(ours.compute_mask(ember.tensor(IDS))).tolist() == (IDS != 0).tolist()
    config = ours.get_config()
    assert {k: config[k] for k in ("tie_weights", "logit_soft_cap", "reverse_dtype")} == {
        k: theirs.get_config()[k] for k in ("tie_weights", "logit_soft_cap", "reverse_dtype")}


def test_reversible_embedding_tied_language_model_trains_and_checks_shapes():
    embed = keras.layers.ReversibleEmbedding(20, 8)
    tokens = keras.Input((5,), dtype="int32")
    hidden = keras.layers.Dense(8, activation="tanh")(embed(tokens))
    model = keras.Model(tokens, embed(hidden, reverse=True))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.random.default_rng(0).integers(0, 20, (32, 6))
    history = model.fit(ids[:, :-1], ids[:, 1:], epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] and len(model.weights) == 3
    with pytest.raises(ValueError, match="projects hidden states of size 8"):
        embed(np.ones((2, 5), "float32"), reverse=True)


def test_pipeline_applies_layers_in_order_with_training_and_round_trips():
    images = np.random.default_rng(1).uniform(0, 255, (4, 6, 6, 3)).astype("float32")

    def steps(lib):
        return [lib.layers.Rescaling(1 / 255.0), lib.layers.RandomInvert((1.0, 1.0), value_range=(0, 1)),
                lib.layers.Resizing(3, 3)]

    ours, theirs = keras.layers.Pipeline(steps(keras)), real.layers.Pipeline(steps(real))
    np.testing.assert_allclose(_np(ours(images)), _np(theirs(images)), atol=1e-5)
    np.testing.assert_allclose(_np(ours(images, training=False)), _np(theirs(images, training=False)), atol=1e-5)
    again = keras.layers.deserialize(real.layers.serialize(theirs))
    assert [type(layer).__name__ for layer in again.layers] == ["Rescaling", "RandomInvert", "Resizing"]
    np.testing.assert_allclose(_np(again(images)), _np(ours(images)), atol=1e-6)
    with pytest.raises(ValueError, match="entry 1 is not a layer"):
        keras.layers.Pipeline([keras.layers.Rescaling(1.0), 3])


@pytest.mark.parametrize("kwargs", [{"pad_to_aspect_ratio": True, "fill_value": 5.0}, {"crop_to_aspect_ratio": True},
                                    {"data_format": "channels_first"}, {"interpolation": "nearest"}])
@pytest.mark.parametrize("size", [(4, 4), (8, 3), (3, 9)])
def test_resizing_options_of_keras_3(kwargs, size):
    x = np.random.default_rng(0).uniform(0, 255, (2, 6, 10, 3)).astype("float32")
    x = x.transpose(0, 3, 1, 2).copy() if kwargs.get("data_format") == "channels_first" else x
    want = _np(real.layers.Resizing(*size, **kwargs)(x))
    np.testing.assert_allclose(_np(keras.layers.Resizing(*size, **kwargs)(x)), want, atol=2e-4)
    loaded = keras.layers.deserialize(real.layers.serialize(real.layers.Resizing(*size, **kwargs)))
    np.testing.assert_allclose(_np(loaded(x)), want, atol=2e-4)
