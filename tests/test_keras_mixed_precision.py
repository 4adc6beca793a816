"""keras.mixed_precision against real Keras 3 (torch backend): policies, layer dtypes, LossScaleOptimizer step
by step, and fit under mixed_bfloat16 / mixed_float16."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="real Keras 3 is the oracle here (pip install 'ember[test]')")
from ember import keras as ek  # noqa: E402

pytestmark = pytest.mark.skipif(ek.backend.floatx() != "float32", reason="tests assume floatx float32")
POLICIES = ["mixed_bfloat16", "mixed_float16", "float32", "bfloat16", "float16"]


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    ek.mixed_precision.set_global_policy("float32")
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", POLICIES)
def test_policy_attributes_match_keras(name):
    ours, theirs = ek.mixed_precision.Policy(name), keras.mixed_precision.Policy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == \
        (theirs.name, theirs.compute_dtype, theirs.variable_dtype)
    assert repr(ours) == repr(theirs)


def test_bad_policy_name_raises_like_keras():
    for lib in (ek, keras):
        with pytest.raises(ValueError, match="mixed_float16"):
            lib.mixed_precision.set_global_policy("mixed_int7")


def _dense_facts(lib, policy, layer_dtype=None):
    lib.mixed_precision.set_global_policy(policy)
    layer = lib.layers.Dense(3, dtype=layer_dtype) if layer_dtype else lib.layers.Dense(3)
    out = layer(lib.ops.ones((2, 4)))
    name = lambda d: str(d).replace("ember.", "").replace("torch.", "")  # noqa: E731
    return (layer.dtype_policy.name, layer.compute_dtype, layer.variable_dtype, layer.dtype,
            name(layer.kernel.dtype), name(out.dtype), lib.mixed_precision.global_policy().name)


@pytest.mark.parametrize("policy", POLICIES)
def test_layer_dtypes_under_global_policy_match_keras(policy):
    assert _dense_facts(ek, policy) == _dense_facts(keras, policy)


def test_layer_dtype_overrides_global_policy():
    assert _dense_facts(ek, "mixed_bfloat16", "float32") == _dense_facts(keras, "mixed_bfloat16", "float32")


def _loss_scale_run(lib):
    v = lib.Variable(np.array([1.0, -2.0], dtype="float32"))
    opt = lib.mixed_precision.LossScaleOptimizer(lib.optimizers.SGD(0.1), initial_scale=8.0,
                                                 dynamic_growth_steps=2)
    grads = [[8.0, 16.0], [np.inf, 1.0], [4.0, 4.0], [2.0, -2.0], [np.nan, 0.0], [8.0, 8.0], [1.0, 1.0]]
    trace = []
    for g in grads:
        opt.apply([lib.ops.convert_to_tensor(np.array(g, dtype="float32"))], [v])
        trace.append((float(np.asarray(opt.dynamic_scale)), np.array(v.numpy(), dtype=np.float64).round(6).tolist()))
    return trace, float(np.asarray(opt.scale_loss(lib.ops.convert_to_tensor(2.0))))


def test_loss_scale_optimizer_matches_keras_step_by_step():
    ours, theirs = _loss_scale_run(ek), _loss_scale_run(keras)
    assert ours == theirs


def _fit(policy, last_dtype=None):
    ek.mixed_precision.set_global_policy(policy)
    ek.utils.set_random_seed(0)  # the same initial weights whatever ran before in this worker
    rng = np.random.default_rng(0)
    x = rng.random((256, 8)).astype("float32")
    y = (x[:, 0] * 3).astype(int)
    model = ek.Sequential([ek.Input((8,)), ek.layers.Dense(32, activation="relu"),
                           ek.layers.Dense(3, activation="softmax", dtype=last_dtype)])
    model.compile(optimizer=ek.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    hist = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    return model, hist.history["loss"], model.predict(x[:4], verbose=0)


def test_fit_mixed_bfloat16_trains_with_float32_variables():
    model, losses, pred = _fit("mixed_bfloat16", "float32")
    assert losses[-1] < 0.8 * losses[0], losses
    assert all(str(w.dtype) == "ember.float32" for w in model.weights)
    assert pred.dtype == np.float32
    _, base, _ = _fit("float32")
    assert abs(losses[-1] - base[-1]) < 0.1, (losses, base)  # tracks the float32 run


def test_fit_mixed_float16_wraps_the_optimizer_and_scales_the_loss():
    model, losses, pred = _fit("mixed_float16")
    assert isinstance(model.optimizer, ek.mixed_precision.LossScaleOptimizer)
    assert model.optimizer.dynamic_scale == 2.0 ** 15 and int(model.optimizer.iterations) == 6 * 8
    assert losses[-1] < 0.8 * losses[0], losses
    assert str(pred.dtype) == "float16"  # like Keras: the last layer computes in float16 too
