"""Stateful RNNs (``stateful=True``, ``reset_state`` / ``reset_states``) against real Keras 3."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

CHUNKS = np.random.default_rng(5).standard_normal((3, 2, 4, 3)).astype("float32")  # 3 chunks of (2, 4, 3)


def _model(lib, name, **kwargs):
    layer = getattr(lib.layers, name)(5, stateful=True, **kwargs)
    return lib.Sequential([lib.Input(batch_shape=(2, 4, 3)), layer]), layer


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("name,kwargs", [("LSTM", {}), ("GRU", {"return_sequences": True}), ("SimpleRNN", {}),
                                         ("LSTM", {"go_backwards": True})])
def test_state_carries_across_calls_and_resets_like_keras(name, kwargs):
    ours, ours_layer = _model(keras, name, **kwargs)
    theirs, theirs_layer = _model(real, name, **kwargs)
    theirs.set_weights(ours.get_weights())
    for chunk in CHUNKS:
        np.testing.assert_allclose(_np(ours(chunk)), _np(theirs(chunk)), rtol=1e-5, atol=1e-5)
    assert [s.shape for s in map(_np, ours_layer.states)] == [s.shape for s in map(_np, theirs_layer.states)]
    np.testing.assert_allclose(_np(ours_layer.states[0]), _np(theirs_layer.states[0]), rtol=1e-5, atol=1e-5)
    ours_layer.reset_state()
    theirs_layer.reset_states()
    np.testing.assert_allclose(_np(ours(CHUNKS[0])), _np(theirs(CHUNKS[0])), rtol=1e-5, atol=1e-5)


def test_stateful_chunks_equal_one_long_sequence():
    stateful, layer = _model(keras, "LSTM")
    whole = keras.layers.LSTM(5)
    whole.build((2, 12, 3))
    whole.set_weights(layer.get_weights())
    for chunk in CHUNKS:
        last = stateful(chunk)
    np.testing.assert_allclose(_np(last), _np(whole(np.concatenate(list(CHUNKS), axis=1))), rtol=1e-5, atol=1e-5)
    first = _np(stateful(CHUNKS[0]))
    stateful.reset_states()  # the model-level reset reaches the layer
    assert not np.allclose(first, _np(stateful(CHUNKS[0])))


def test_stateful_needs_fixed_batch():
    with pytest.raises(ValueError, match=r"stateful=True needs a fixed batch size.*batch_size"):
        keras.Sequential([keras.Input((4, 3)), keras.layers.LSTM(5, stateful=True)])
    model, _ = _model(keras, "GRU")
    with pytest.raises(ValueError, match=r"batch size 2 but got a batch of 3"):
        model(np.zeros((3, 4, 3), "float32"))


def test_stateful_survives_json_round_trip():
    model, _ = _model(keras, "LSTM")
    rebuilt = real.models.model_from_json(model.to_json())
    assert rebuilt.layers[0].stateful and rebuilt.layers[0].states is not None


def _bidirectional(lib, name, merge_mode, **kwargs):
    layer = lib.layers.Bidirectional(getattr(lib.layers, name)(4, stateful=True, **kwargs), merge_mode=merge_mode)
    return lib.Sequential([lib.Input(batch_shape=(2, 4, 3)), layer]), layer


@pytest.mark.parametrize("name,merge_mode,kwargs", [("LSTM", "concat", {}), ("GRU", "sum", {"return_sequences": True}),
                                                    ("SimpleRNN", "ave", {})])
def test_stateful_bidirectional_carries_both_directions_like_keras(name, merge_mode, kwargs):
    ours, ours_layer = _bidirectional(keras, name, merge_mode, **kwargs)
    theirs, theirs_layer = _bidirectional(real, name, merge_mode, **kwargs)
    theirs.set_weights(ours.get_weights())
    outputs = [_np(ours(chunk)) for chunk in CHUNKS]
    for mine, chunk in zip(outputs, CHUNKS):
        np.testing.assert_allclose(mine, _np(theirs(chunk)), rtol=1e-5, atol=1e-5)
    assert len(ours_layer.states) == len(theirs_layer.states) == 2 * (2 if name == "LSTM" else 1)
    for mine, want in zip(ours_layer.states, theirs_layer.states):
        np.testing.assert_allclose(_np(mine), _np(want), rtol=1e-5, atol=1e-5)
    again = _np(ours(CHUNKS[0]))  # the carried states make the same chunk give other outputs
    assert not np.allclose(again, outputs[0])
    np.testing.assert_allclose(again, _np(theirs(CHUNKS[0])), rtol=1e-5, atol=1e-5)
    ours_layer.reset_states()
    theirs_layer.reset_states()
    np.testing.assert_allclose(_np(ours(CHUNKS[0])), outputs[0], rtol=1e-6, atol=1e-6)
    ours.reset_states()  # the model-level reset reaches both directions
    np.testing.assert_allclose(_np(ours(CHUNKS[0])), outputs[0], rtol=1e-6, atol=1e-6)


def test_bidirectional_initial_state_and_direction_checks_follow_keras():
    x = CHUNKS[0]
    ours = keras.layers.Bidirectional(keras.layers.LSTM(4, return_state=True))
    theirs = real.layers.Bidirectional(real.layers.LSTM(4, return_state=True))
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    init = [np.random.default_rng(i).standard_normal((2, 4)).astype("float32") for i in range(4)]
    for mine, want in zip(ours(x, initial_state=init), theirs(x, initial_state=init)):
        np.testing.assert_allclose(_np(mine), _np(want), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="initial_state needs 4"):
        ours(x, initial_state=init[:2])
    with pytest.raises(ValueError, match="same stateful"):
        keras.layers.Bidirectional(keras.layers.GRU(3, stateful=True),
                                   backward_layer=keras.layers.GRU(3, go_backwards=True))
    with pytest.raises(AttributeError, match="stateful"):
        keras.layers.Bidirectional(keras.layers.GRU(3)).reset_state()
