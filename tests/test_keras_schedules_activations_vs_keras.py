"""ember.keras learning-rate schedules, activations, initializer names and optimizer configs against real
Keras 3 (torch backend): schedule values at several steps, activation values and gradients (against Keras and
against float64 central differences), configs and serialize/deserialize round trips."""

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

SCHEDULES = [
    ("PiecewiseConstantDecay", ([10, 20, 35], [0.1, 0.05, 0.01, 0.001])),
    ("PolynomialDecay", (0.1, 30, 0.001, 2.0)),
    ("PolynomialDecay", (0.1, 12, 0.01, 0.5, True)),
    ("InverseTimeDecay", (0.1, 10, 0.5)),
    ("InverseTimeDecay", (0.1, 10, 0.5, True)),
    ("CosineDecayRestarts", (0.1, 7)),
    ("CosineDecayRestarts", (0.1, 5, 1.0, 0.8, 0.1)),
    ("CosineDecayRestarts", (0.1, 5, 1.5, 0.5)),
]
STEPS = [0, 1, 5, 10, 11, 20, 21, 34, 36, 50]


@pytest.mark.parametrize("name, args", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_schedule_values_and_config_match_real_keras(name, args):
    ours, theirs = getattr(keras.optimizers.schedules, name)(*args), getattr(real.optimizers.schedules, name)(*args)
    got = [float(ours(s)) for s in STEPS]
    want = [float(theirs(s)) for s in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert float(ours(ember.tensor(11, dtype=ember.int64))) == pytest.approx(want[STEPS.index(11)], rel=1e-5)
    assert ours.get_config() == theirs.get_config()
    back = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(ours))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


def test_schedule_inside_compiled_fit_does_not_retrace():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    lr = keras.optimizers.schedules.PiecewiseConstantDecay([3, 6], [0.1, 0.01, 0.001])
    model.compile(optimizer=keras.optimizers.Nadam(lr), loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    assert ember.compile.stats(model.train_function.compiled)["traces"] == 1


ACTIVATIONS = [
    ("celu", {}), ("celu", {"alpha": 0.5}), ("glu", {}), ("hard_shrink", {}), ("hard_shrink", {"threshold": 1.0}),
    ("soft_shrink", {"threshold": 0.3}), ("hard_silu", {}), ("hard_swish", {}), ("hard_tanh", {}),
    ("log_sigmoid", {}), ("tanh_shrink", {}), ("threshold", {"threshold": 0.2, "default_value": -1.0}),
    ("sparse_plus", {}), ("sparse_sigmoid", {}), ("squareplus", {}), ("squareplus", {"b": 1.0}),
]
X = np.random.default_rng(3).uniform(-3, 3, (4, 6)).astype("float32")


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ACTIVATIONS)])
def test_activation_values_and_gradients(name, kwargs):
    import torch

    x = X[np.abs(np.abs(X) - 1.0) > 0.05].reshape(-1)[:20].reshape(4, 5) if name != "glu" else X
    x = np.where(np.abs(x - 0.2) < 0.05, 0.3, x).astype("float32")  # keep away from kinks
    ours_fn, theirs_fn = getattr(keras.activations, name), getattr(real.activations, name)
    t = ember.tensor(x, requires_grad=True)
    out = ours_fn(t, **kwargs)
    tt = torch.tensor(x, requires_grad=True)
    want = theirs_fn(tt, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-4, atol=1e-6)
    # float64 central differences of our own function
    x64 = ember.tensor(x.astype("float64"), requires_grad=True)
    ours_fn(x64, **kwargs).sum().backward()
    h = 1e-6
    num = [(float(ours_fn(ember.tensor(x.astype("float64") + h * e), **kwargs).sum())
            - float(ours_fn(ember.tensor(x.astype("float64") - h * e), **kwargs).sum())) / (2 * h)
           for e in np.eye(x.size).reshape(x.size, *x.shape)]
    np.testing.assert_allclose(x64.grad.numpy().reshape(-1), num, rtol=1e-5, atol=1e-6)
    assert keras.activations.get(name) is ours_fn and keras.activations.deserialize(name) is ours_fn


def _sparsemax_reference(z):
    """The paper's closed form in float64."""
    zs = np.sort(z)[::-1]
    k = np.arange(1, len(z) + 1)
    support = 1 + k * zs > np.cumsum(zs)
    kz = k[support][-1]
    return np.maximum(z - (np.cumsum(zs)[kz - 1] - 1) / kz, 0)


def test_sparsemax_is_the_simplex_projection():
    x = np.random.default_rng(5).normal(size=(6, 5)).astype("float32") * 2
    got = keras.activations.sparsemax(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, np.stack([_sparsemax_reference(r.astype("float64")) for r in x]), atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-6)
    along0 = keras.activations.sparsemax(ember.tensor(x.T.copy()), axis=0).numpy()
    np.testing.assert_allclose(along0, got.T, atol=1e-7)
    # Keras 3.15's own sparsemax agrees where the support has a single entry
    one = np.array([[3.0, 0.5, -1.0]], "float32")
    np.testing.assert_allclose(keras.activations.sparsemax(ember.tensor(one)).numpy(),
                               real.ops.convert_to_numpy(real.activations.sparsemax(one)), atol=1e-7)


def test_initializer_names_and_optimizer_configs():
    for name in ("glorot_uniform", "he_normal", "orthogonal", "zeros", "lecun_uniform", "variance_scaling"):
        cls = getattr(keras.initializers, name)
        assert cls is type(keras.initializers.get(name))
        assert isinstance(keras.initializers.deserialize(name), cls)
    assert keras.initializers.IdentityInitializer is keras.initializers.Identity
    assert keras.initializers.glorot_uniform(seed=3)((4, 5)).shape == (4, 5)
    config = keras.initializers.serialize(keras.initializers.Orthogonal(gain=2.0, seed=1))
    assert keras.initializers.deserialize(config).get_config() == {"gain": 2.0, "seed": 1}
    for name in ("Adamax", "Nadam", "Adadelta", "Lion", "Lamb", "Ftrl", "Adafactor"):
        ours, theirs = getattr(keras.optimizers, name)(), getattr(real.optimizers, name)()
        assert set(ours.get_config()) <= set(theirs.get_config()), name
        back = keras.optimizers.deserialize(keras.optimizers.serialize(ours))
        assert type(back) is type(ours) and back.get_config() == ours.get_config()
        assert type(keras.optimizers.get(name.lower())) is type(ours)
    sched = keras.optimizers.schedules.InverseTimeDecay(0.1, 10, 0.5)
    back = keras.optimizers.deserialize(keras.optimizers.serialize(keras.optimizers.Lamb(sched)))
    assert isinstance(back._learning_rate, keras.optimizers.schedules.InverseTimeDecay)


def test_bad_arguments_name_the_object():
    with pytest.raises(ValueError, match=r"PiecewiseConstantDecay: boundaries must have one element less"):
        keras.optimizers.schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match=r"CosineDecayRestarts: first_decay_steps must be > 0, got .*=0"):
        keras.optimizers.schedules.CosineDecayRestarts(0.1, 0)
    with pytest.raises(ValueError, match=r"Ftrl: learning_rate_power must be <= 0, got learning_rate_power=0.5"):
        keras.optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match=r"unknown optimizer 'nadm'.*nadam"):
        keras.optimizers.get("nadm")
    with pytest.raises(ValueError, match=r"unknown activation 'hard_swsh'.*hard_swish"):
        keras.activations.get("hard_swsh")
    with pytest.raises(ValueError, match=r"glu: the size of axis -1 must be even, got shape \(2, 3\)"):
        keras.activations.glu(ember.ones(2, 3))
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot'.*glorot_uniform"):
        keras.initializers.get("glorot")
