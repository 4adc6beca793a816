"""``keras.layers.SpectralNormalization`` against real Keras 3 with the same weights: outputs and the stored
kernel / ``vector_u`` after several training calls, inference calls, config, errors, and training by ``fit``."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")

import ember  # noqa: E402
from ember import keras  # noqa: E402

RNG = np.random.default_rng(0)
CASES = {  # name: (layer factory, input)
    "dense": (lambda L: L.layers.Dense(4), RNG.standard_normal((5, 3)).astype("float32")),
    "dense_no_bias": (lambda L: L.layers.Dense(6, use_bias=False), RNG.standard_normal((2, 7)).astype("float32")),
    "conv2d": (lambda L: L.layers.Conv2D(5, 3), RNG.standard_normal((2, 6, 6, 3)).astype("float32")),
    "conv1d": (lambda L: L.layers.Conv1D(3, 2, padding="same"), RNG.standard_normal((2, 5, 4)).astype("float32")),
}


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("iterations", [1, 3])
@pytest.mark.parametrize("case", sorted(CASES))
def test_training_calls_match_keras(case, iterations):
    make, x = CASES[case]
    theirs = real.layers.SpectralNormalization(make(real), power_iterations=iterations)
    ours = keras.layers.SpectralNormalization(make(keras), power_iterations=iterations)
    theirs.build(x.shape)
    ours.build(x.shape)
    ours.set_weights(theirs.get_weights())  # same order as Keras: kernel, vector_u, then the rest
    for _ in range(3):
        np.testing.assert_allclose(_np(ours(x, training=True)), _np(theirs(x, training=True)), atol=2e-6)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)  # a few float32 ulps: BLAS sums in its own order
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), atol=2e-6)


def test_embedding_is_normalised_and_inference_leaves_it():
    keras.utils.set_random_seed(0)  # power iteration converges slowly for some random tables (failed in one run)
    ids = RNG.integers(0, 10, (4, 3))
    sn = keras.layers.SpectralNormalization(keras.layers.Embedding(10, 4), power_iterations=30)
    before = _np(sn(ids))  # inference: builds, normalises nothing
    np.testing.assert_array_equal(before, sn.layer.embeddings.numpy()[ids])
    out = _np(sn(ids, training=True))
    table = sn.layer.embeddings.numpy()
    np.testing.assert_allclose(out, table[ids], atol=1e-7)  # Keras 3.15 casts this output to the ids' int dtype
    np.testing.assert_allclose(np.linalg.norm(table, 2), 1.0, rtol=1e-3)


def test_config_round_trip_and_errors():
    sn = keras.layers.SpectralNormalization(keras.layers.Dense(2), power_iterations=2, name="sn")
    again = keras.layers.SpectralNormalization.from_config(sn.get_config())
    assert again.power_iterations == 2 and isinstance(again.layer, keras.layers.Dense) and again.name == "sn"
    ours = keras.layers.deserialize(real.layers.serialize(real.layers.SpectralNormalization(
        real.layers.Conv2D(3, 3), power_iterations=4)))
    assert ours.power_iterations == 4 and ours.layer.filters == 3
    with pytest.raises(ValueError, match="power_iterations must be an integer >= 1"):
        keras.layers.SpectralNormalization(keras.layers.Dense(2), power_iterations=0)
    zero = keras.layers.SpectralNormalization(keras.layers.Dense(2, kernel_initializer="zeros"))
    zero(np.ones((1, 3), "float32"), training=True)
    assert not zero.layer.kernel.numpy().any() and np.isfinite(zero.vector_u.numpy()).all()
    with pytest.raises(ValueError, match="has no 'kernel' or 'embeddings'"):
        keras.layers.SpectralNormalization(keras.layers.LayerNormalization())(np.ones((2, 3), "float32"))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a graph break in the compiled train step would warn
def test_fit_trains_through_the_normalised_layer():
    ember.manual_seed(0)
    x = RNG.standard_normal((64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.SpectralNormalization(keras.layers.Dense(8)),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    kernel = model.layers[0].layer.kernel.numpy()
    assert np.linalg.norm(kernel, 2) < 1.5  # kept near 1 by the normalisation in every training step
