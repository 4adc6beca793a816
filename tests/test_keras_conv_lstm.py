"""ConvLSTM1D/2D/3D against real Keras 3 (torch backend): the same weights give Keras's sequences and final
states (strides, padding, dilation, go_backwards, masks, initial states); gradients are numerically right."""

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

ROWS = [  # (layer name, kwargs, input shape (batch, time, ..., channels))
    ("ConvLSTM2D", dict(filters=3, kernel_size=3), (2, 4, 7, 6, 2)),
    ("ConvLSTM2D", dict(filters=3, kernel_size=3, padding="same", return_sequences=True), (2, 4, 7, 6, 2)),
    ("ConvLSTM2D", dict(filters=2, kernel_size=(2, 3), strides=2, padding="same", return_state=True),
     (2, 3, 7, 6, 2)),
    ("ConvLSTM2D", dict(filters=2, kernel_size=3, dilation_rate=2, go_backwards=True, return_sequences=True,
                        activation="relu"), (1, 3, 9, 9, 1)),
    ("ConvLSTM1D", dict(filters=4, kernel_size=3, padding="same", return_sequences=True), (2, 5, 8, 3)),
    ("ConvLSTM3D", dict(filters=2, kernel_size=2, return_state=True), (1, 3, 4, 4, 4, 1)),
]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _flat(out):
    return [_np(o) for o in out] if isinstance(out, (list, tuple)) else [_np(out)]


def _pair(name, kwargs, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours, theirs = getattr(keras.layers, name)(**kwargs), getattr(real.layers, name)(**kwargs)
    theirs(x)
    ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    return ours, theirs, x


@pytest.mark.parametrize("name, kwargs, shape", ROWS, ids=[f"{r[0]}-{'-'.join(sorted(r[1]))}" for r in ROWS])
def test_conv_lstm_matches_keras(name, kwargs, shape):
    ours, theirs, x = _pair(name, kwargs, shape)
    got, want = _flat(ours(x)), _flat(theirs(x))
    assert [a.shape for a in got] == [b.shape for b in want]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_masks_and_initial_states_match_keras():
    ours, theirs, x = _pair("ConvLSTM2D", dict(filters=2, kernel_size=3, padding="same", return_sequences=True,
                                               return_state=True), (2, 4, 5, 5, 1))
    mask = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool)
    h0 = np.random.default_rng(1).normal(size=(2, 5, 5, 2)).astype("float32")
    got = _flat(ours(x, mask=ember.tensor(mask), initial_state=[h0, h0 * 0.5]))
    want = _flat(theirs(x, mask=real.ops.convert_to_tensor(mask), initial_state=[h0, h0 * 0.5]))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_gradients_are_numerically_right_in_float64():
    from ember.func import functional_call
    from ember.testing import gradcheck

    layer = keras.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True, dtype="float64")
    x = ember.tensor(np.random.default_rng(2).normal(size=(1, 3, 4, 4, 2)), requires_grad=True)
    layer(x)
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in layer.named_parameters()]
    assert gradcheck(lambda x, *ps: functional_call(layer, dict(zip(names, ps)), (x,)), (x, *params))


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="expected inputs"):
        keras.layers.ConvLSTM2D(2, 3)(np.ones((2, 5, 5, 1), "float32"))
    with pytest.raises(ValueError, match="ConvLSTM2D.*channels_first.*channels_last"):
        keras.layers.ConvLSTM2D(2, 3, data_format="nchw")
