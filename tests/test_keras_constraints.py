"""``keras.constraints`` against real Keras 3: each constraint on the same weights, and layers whose
``kernel_constraint`` / ``bias_constraint`` / ``embeddings_constraint`` the optimizer applies after each update
(one SGD step from the same weights gives the same weights), and configs Keras reads."""

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

W = np.random.default_rng(0).normal(0, 2, (4, 3, 2)).astype("float32")
CONSTRAINTS = [
    ("MaxNorm", dict(max_value=1.5)), ("MaxNorm", dict(max_value=2, axis=[0, 1])), ("NonNeg", {}),
    ("UnitNorm", dict(axis=1)), ("MinMaxNorm", dict(min_value=0.5, max_value=1.0, rate=0.7, axis=0)),
]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("name,kwargs", CONSTRAINTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONSTRAINTS)])
def test_constraint_matches_keras(name, kwargs):
    ours, theirs = getattr(keras.constraints, name)(**kwargs), getattr(real.constraints, name)(**kwargs)
    np.testing.assert_allclose(_np(ours(ember.tensor(W))), _np(theirs(real.ops.convert_to_tensor(W))),
                               rtol=1e-6, atol=1e-6)
    assert ours.get_config() == theirs.get_config()


def _model(lib):
    layers = lib.layers
    return lib.Sequential([
        lib.Input((5,), dtype="int32"),
        layers.Embedding(10, 4, embeddings_constraint="unit_norm"),
        layers.Conv1D(3, 2, kernel_constraint=lib.constraints.MaxNorm(0.3), bias_constraint="non_neg"),
        layers.Flatten(),
        layers.Dense(2, kernel_constraint=lib.constraints.MinMaxNorm(0.2, 0.4, axis=0)),
    ])


def test_optimizer_applies_layer_constraints_like_keras():
    ours, theirs = _model(keras), _model(real)
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 10, (8, 5)).astype("int32"), rng.normal(size=(8, 2)).astype("float32")
    ours.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    for mine, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, _np(want), rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(ours.get_weights()[0], axis=0).max() == pytest.approx(1.0, abs=1e-5)


def test_constraints_round_trip_through_keras_configs():
    rebuilt = real.models.model_from_json(_model(keras).to_json())
    assert type(rebuilt.layers[1].kernel_constraint).__name__ == "MaxNorm"
    assert rebuilt.layers[1].kernel_constraint.max_value == 0.3
    ours = keras.models.model_from_json(_model(real).to_json())
    assert type(ours.layers[0].embeddings_constraint).__name__ == "UnitNorm"
    assert type(ours.layers[3].kernel_constraint).__name__ == "MinMaxNorm"
    with pytest.raises(ValueError, match="unknown constraint"):
        keras.layers.Dense(2, kernel_constraint="max_nrom")


def test_compiled_steps_apply_constraints_as_eager_steps_do():
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 10, (8, 5)).astype("int32"), rng.normal(size=(8, 2)).astype("float32")
    weights = []
    for jit in (True, False):
        keras.utils.set_random_seed(0)
        model = _model(keras)
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        for _ in range(3):
            model.train_on_batch(x, y)
        weights.append(model.get_weights())
    for compiled, eager in zip(*weights):
        np.testing.assert_allclose(compiled, eager, rtol=1e-6, atol=1e-6)
