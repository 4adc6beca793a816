"""Layer/Model.trainable_variables, non_trainable_variables and stateless_call against real Keras 3 (torch
backend): the same values give Keras's outputs and updated state; the model's own variables stay untouched;
gradients flow to the values passed in; wrong counts or shapes are clear errors."""

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


def _model(lib):
    return lib.Sequential([lib.Input((3,)), lib.layers.Dense(4), lib.layers.BatchNormalization(),
                           lib.layers.Dropout(0.0), lib.layers.Dense(1)])


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("training", [False, True])
def test_stateless_call_matches_keras(training):
    ours, theirs = _model(keras), _model(real)
    ours.set_weights(theirs.get_weights())
    assert [v.shape for v in ours.trainable_variables] == [tuple(v.shape) for v in theirs.trainable_variables]
    assert [v.shape for v in ours.non_trainable_variables] == [tuple(v.shape) for v in
                                                               theirs.non_trainable_variables]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    tv = [rng.normal(size=tuple(v.shape)).astype("float32") for v in theirs.trainable_variables]
    ntv = [np.abs(rng.normal(size=tuple(v.shape))).astype("float32") for v in theirs.non_trainable_variables]
    own = [w.copy() for w in ours.get_weights()]
    out, state = ours.stateless_call(tv, ntv, x, training=training)
    want_out, want_state = theirs.stateless_call(tv, ntv, x, training=training)
    np.testing.assert_allclose(_np(out), _np(want_out), rtol=1e-5, atol=1e-5)
    for a, b in zip(state, want_state):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), own):
        np.testing.assert_array_equal(a, b)  # the model's own variables are untouched


def test_gradients_flow_to_the_values_passed_in():
    model = _model(keras)
    tv = [v.detach().clone().requires_grad_(True) for v in model.trainable_variables]
    ntv = [v.detach().clone() for v in model.non_trainable_variables]
    out, _ = model.stateless_call(tv, ntv, np.ones((4, 3), "float32"), training=True)
    out.sum().backward()
    assert all(t.grad is not None for t in tv)
    assert all(v.grad is None for v in model.trainable_variables)


def test_bad_values_raise_clear_errors():
    model = _model(keras)
    tv, ntv = model.trainable_variables, model.non_trainable_variables
    with pytest.raises(ValueError, match="expected 6 trainable_variables values"):
        model.stateless_call(tv[:-1], ntv, np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="shape"):
        model.stateless_call([ember.zeros(2, 2)] + tv[1:], ntv, np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="not built"):
        keras.layers.Dense(2).stateless_call([], [], np.ones((1, 3), "float32"))
