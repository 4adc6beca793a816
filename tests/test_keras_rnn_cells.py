"""keras.layers.RNN over SimpleRNNCell / LSTMCell / GRUCell / StackedRNNCells / a custom cell, against real
Keras 3 (torch backend): the same weights give Keras's outputs and final states (return_sequences,
return_state, go_backwards, masks); gradients flow to inputs and weights (float64 numeric check); a cell called
alone returns Keras's structure; configs round-trip."""

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

CELLS = {  # name: lib -> cell (or list of cells)
    "simple_tanh": lambda lib: lib.layers.SimpleRNNCell(4),
    "simple_relu_nobias": lambda lib: lib.layers.SimpleRNNCell(3, activation="relu", use_bias=False),
    "lstm": lambda lib: lib.layers.LSTMCell(4),
    "lstm_hard_sigmoid": lambda lib: lib.layers.LSTMCell(3, recurrent_activation="hard_sigmoid"),
    "gru": lambda lib: lib.layers.GRUCell(4),
    "gru_reset_before": lambda lib: lib.layers.GRUCell(3, reset_after=False),
    "stacked": lambda lib: [lib.layers.LSTMCell(4), lib.layers.GRUCell(3), lib.layers.SimpleRNNCell(2)],
}
OPTIONS = [{}, {"return_sequences": True}, {"return_state": True}, {"return_sequences": True, "go_backwards": True,
                                                                     "return_state": True}]


def _flat(out):
    if isinstance(out, (list, tuple)):
        return [a for o in out for a in _flat(o)]
    return [np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out)]


def _shapes(out):  # the nesting of the outputs (Keras returns tuples, Ember lists)
    return [_shapes(o) for o in out] if isinstance(out, (list, tuple)) else tuple(out.shape)


def _pair(name, **options):
    x = np.random.default_rng(1).normal(size=(3, 6, 5)).astype("float32")
    ours, theirs = keras.layers.RNN(CELLS[name](keras), **options), real.layers.RNN(CELLS[name](real), **options)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    return ours, theirs, x


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(sorted(o)) or "last")
@pytest.mark.parametrize("name", list(CELLS))
def test_rnn_matches_keras(name, options):
    ours, theirs, x = _pair(name, **options)
    assert _shapes(ours(x)) == _shapes(theirs(x))
    got, want = _flat(ours(x)), _flat(theirs(x))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "gru", "stacked"])
def test_masked_steps_match_keras(name):
    ours, theirs, x = _pair(name, return_sequences=True, return_state=True)
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    got = _flat(ours(x, mask=ember.tensor(mask)))
    want = _flat(theirs(x, mask=real.ops.convert_to_tensor(mask)))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_rnn_of_lstm_cell_equals_the_lstm_layer_in_values_and_gradients():
    x = ember.tensor(np.random.default_rng(2).normal(size=(2, 7, 3)).astype("float32"), requires_grad=True)
    layer, rnn = keras.layers.LSTM(5, return_sequences=True), keras.layers.RNN(keras.layers.LSTMCell(5),
                                                                                return_sequences=True)
    layer(x)
    rnn(x)
    rnn.set_weights(layer.get_weights())
    a, b = layer(x), rnn(x)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    ga = ember.autograd.grad(a.sum(), [x] + list(layer.trainable_weights))
    gb = ember.autograd.grad(b.sum(), [x] + list(rnn.trainable_weights))
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["simple_tanh", "lstm", "gru", "gru_reset_before", "stacked"])
def test_gradients_are_numerically_right_in_float64(name):
    from ember.func import functional_call
    from ember.testing import gradcheck

    rnn = keras.layers.RNN(CELLS[name](keras), return_sequences=True)
    x = ember.tensor(np.random.default_rng(3).normal(size=(2, 3, 5)), requires_grad=True)
    rnn(x)
    names = [n for n, _ in rnn.named_parameters()]
    params = [p.detach().double().requires_grad_(True) for _, p in rnn.named_parameters()]
    assert len(params) == len(rnn.trainable_weights) > 0
    assert gradcheck(lambda x, *ps: functional_call(rnn, dict(zip(names, ps)), (x,)).tanh(), (x, *params))


def test_a_cell_called_alone_returns_keras_structure():
    x = np.ones((2, 3), "float32")
    out, states = keras.layers.LSTMCell(4)(x, [np.zeros((2, 4), "float32")] * 2)
    assert tuple(out.shape) == (2, 4) and isinstance(states, list) and len(states) == 2
    out, state = keras.layers.GRUCell(4)(x, np.zeros((2, 4), "float32"))
    assert isinstance(state, ember.Tensor)
    _, state = keras.layers.SimpleRNNCell(4)(x, [np.zeros((2, 4), "float32")])
    assert isinstance(state, list)
    cells = keras.layers.StackedRNNCells([keras.layers.LSTMCell(4), keras.layers.GRUCell(3)])
    assert cells.state_size == [[4, 4], 3] and cells.output_size == 3


def test_a_custom_cell_runs_in_rnn_and_in_a_functional_model():
    class MinimalRNNCell(keras.layers.Layer):  # the keras.io "working with RNNs" guide's cell
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units, self.state_size = units, units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform")

        def call(self, inputs, states):
            h = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(states[0], self.recurrent_kernel)
            return h, [h]

    inp = keras.Input((None, 5))
    model = keras.Model(inp, keras.layers.RNN(MinimalRNNCell(8))(inp))
    x = np.random.default_rng(4).normal(size=(3, 4, 5)).astype("float32")
    cell = model.layers[-1].cell
    k, r = (w.numpy() for w in (cell.kernel, cell.recurrent_kernel))
    h = np.zeros((3, 8), "float32")
    for t in range(4):
        h = x[:, t] @ k + h @ r
    np.testing.assert_allclose(model.predict(x, verbose=0), h, rtol=1e-5, atol=1e-6)


def test_dropout_masks_are_fixed_over_the_steps_and_off_in_inference():
    rnn = keras.layers.RNN(keras.layers.SimpleRNNCell(4, dropout=0.5, recurrent_dropout=0.5, seed=1))
    x = np.ones((2, 5, 3), "float32")
    def run(**kw):
        return keras.ops.convert_to_numpy(rnn(x, **kw))
    assert np.allclose(run(), run(training=False))
    a, b = run(training=True), run(training=True)
    assert not np.allclose(a, b)  # a fresh mask per call
    mask = keras.ops.convert_to_numpy(rnn.cell._masks[0])
    assert set(np.unique(mask)) <= {0.0, 2.0}


@pytest.mark.parametrize("name", ["lstm", "stacked"])
def test_config_round_trip(name):
    rnn = keras.layers.RNN(CELLS[name](keras), return_sequences=True)
    clone = keras.layers.RNN.from_config(rnn.get_config())
    x = np.ones((1, 2, 5), "float32")
    rnn(x)
    clone(x)
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in rnn.get_weights()]
    assert rnn.get_config()["cell"]["class_name"] == real.layers.RNN(CELLS[name](real)).get_config()["cell"][
        "class_name"]


def test_bad_cells_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="state_size"):
        keras.layers.RNN(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="timesteps"):
        keras.layers.RNN(keras.layers.LSTMCell(3))(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="units"):
        keras.layers.LSTMCell(0)
