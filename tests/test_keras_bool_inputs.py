"""Bool / integer inputs to float layers (one-hot bool arrays, as keras.io's addition_rnn feeds) against real
Keras 3 (torch backend): Keras's ops promote them to the layer's float dtype, so Ember casts them too."""
import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

# Keras 3 itself refuses bool/int inputs to Conv (NotImplementedError) and normalizes them in integer math, so
# Ember keeps its clear dtype error there (the last test) rather than guessing
LAYERS = {
    "Dense": (lambda lib: lib.layers.Dense(3), (2, 5)),
    "SimpleRNN": (lambda lib: lib.layers.SimpleRNN(3), (2, 4, 5)),
    "LSTM": (lambda lib: lib.layers.LSTM(3, return_sequences=True), (2, 4, 5)),
    "GRU": (lambda lib: lib.layers.GRU(3), (2, 4, 5)),
}


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", ["bool", "int32"])
def test_layer_takes_bool_and_int_inputs_like_keras(name, dtype):
    make, shape = LAYERS[name]
    x = (np.random.default_rng(0).integers(0, 2, size=shape)).astype(dtype)
    ref_layer, layer = make(real), make(keras)
    want = ref_layer(x)
    layer(x.astype("float32"))  # build
    layer.set_weights(ref_layer.get_weights())
    got = layer(x)
    assert str(got.dtype).endswith("float32")
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-5)


def test_fit_and_predict_on_one_hot_bool_arrays_like_keras():
    """addition_rnn's shape of data: bool one-hot sequences in, bool one-hot sequences out."""
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=bool)[rng.integers(0, 4, size=(8, 3))]
    y = np.eye(4, dtype=bool)[rng.integers(0, 4, size=(8, 2))]
    losses, weights = [], []
    for lib in (real, keras):
        lib.utils.set_random_seed(0)
        m = lib.Sequential([lib.Input((3, 4)), lib.layers.LSTM(6), lib.layers.RepeatVector(2),
                            lib.layers.LSTM(6, return_sequences=True), lib.layers.Dense(4, activation="softmax")])
        if weights:
            m.set_weights(weights)  # Ember starts from Keras's weights
        else:
            weights = m.get_weights()
        m.compile(optimizer="sgd", loss="categorical_crossentropy")
        pred = m.predict(x, verbose=0)
        assert pred.shape == (8, 2, 4)
        losses.append(m.evaluate(x, y, verbose=0))
        m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)


def test_embedding_still_indexes_with_integer_inputs():
    layer = keras.layers.Embedding(5, 2)
    out = layer(np.array([[0, 4]], dtype="int32"))
    np.testing.assert_allclose(_np(out)[0, 1], _np(layer.embeddings)[4])


def test_conv_keeps_a_clear_dtype_error_where_keras_refuses_too():
    x = np.ones((2, 4, 3), dtype=bool)
    with pytest.raises(Exception):
        real.layers.Conv1D(2, 2)(x)
    with pytest.raises(RuntimeError, match="conv1d: input dtype bool"):
        keras.layers.Conv1D(2, 2)(x)
