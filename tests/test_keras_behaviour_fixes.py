"""Keras behaviours found wrong while running keras.io guides (issue 15), each checked against real Keras 3."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402


def _loss_layer(lib):
    class AddsLoss(lib.layers.Layer):
        def call(self, x):
            self.add_loss(lib.ops.sum(x))
            return x

    return AddsLoss()


@pytest.mark.parametrize("lib", [keras, real], ids=["ember", "keras"])
def test_add_loss_terms_reset_at_each_outer_call(lib):
    layer = _loss_layer(lib)
    outer = lib.Sequential([lib.Input((2,)), layer])
    for _ in range(3):
        outer(np.ones((1, 2), "float32"))
    assert len(layer.losses) == 1 and len(outer.losses) == 1


@pytest.mark.parametrize("lib", [keras, real], ids=["ember", "keras"])
def test_callbacks_get_a_logs_dict(lib):
    seen = {}

    class Spy(lib.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["train_begin"] = logs

        def on_epoch_begin(self, epoch, logs=None):
            seen["epoch_begin"] = logs

    model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0, callbacks=[Spy()])
    assert seen == {"train_begin": {}, "epoch_begin": {}}


@pytest.mark.parametrize("lib", [keras, real], ids=["ember", "keras"])
def test_batch_hooks_get_a_logs_dict(lib):
    # the callbacks guide calls list(logs.keys()) in every batch hook
    seen = {}

    class Spy(lib.callbacks.Callback):
        def __getattribute__(self, name):
            if name.startswith("on_") and "batch" in name:
                return lambda batch, logs=None: seen.setdefault(name, sorted(logs))
            return super().__getattribute__(name)

    for hook in ("train", "test", "predict"):  # overridden in the class so both libraries call them
        for end in ("begin", "end"):
            setattr(Spy, f"on_{hook}_batch_{end}", lambda self, batch, logs=None: None)
    model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    model.fit(x, y, verbose=0, callbacks=[Spy()])
    model.evaluate(x, y, verbose=0, callbacks=[Spy()])
    model.predict(x, verbose=0, callbacks=[Spy()])
    assert {k: v for k, v in seen.items() if "predict_batch_end" not in k} == {
        "on_train_batch_begin": [], "on_train_batch_end": ["loss"],
        "on_test_batch_begin": [], "on_test_batch_end": ["loss"], "on_predict_batch_begin": []}


@pytest.mark.parametrize("lib", [keras, real], ids=["ember", "keras"])
def test_model_subclass_built_functionally_uses_its_train_step(lib):
    class CustomModel(lib.Model):
        steps = 0

        def train_step(self, *args, **kwargs):
            type(self).steps += 1
            return super().train_step(*args, **kwargs)

    inputs = lib.Input((3,))
    model = CustomModel(inputs, lib.layers.Dense(1)(inputs))
    assert isinstance(model, CustomModel) and type(model).__name__ == "CustomModel"
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 3)), np.ones((8, 1)), batch_size=4, verbose=0)
    assert CustomModel.steps == 2


# (declared input shape, batch shape, accepted?) -- Keras adds or drops one trailing axis of size 1
RANKS = [((28, 28, 1), (4, 28, 28), True), ((28, 28), (4, 28, 28, 1), True), ((28, 28, 1), (4, 28, 28, 1), True),
         ((28, 28, 3), (4, 28, 28), False), ((28, 28), (4, 28, 28, 2), False)]


@pytest.mark.parametrize("declared, given, ok", RANKS)
@pytest.mark.parametrize("lib", [keras, real], ids=["ember", "keras"])
def test_input_rank_rule_matches_keras(lib, declared, given, ok):
    inp = lib.Input(declared)
    model = lib.Model(inp, lib.layers.Flatten()(inp))
    x = np.zeros(given, "float32")
    if ok:
        assert tuple(model.predict(x, verbose=0).shape) == (4, int(np.prod(declared)))
    else:
        with pytest.raises(ValueError):
            model.predict(x, verbose=0)


def test_sequential_accepts_the_missing_channel_axis():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten()])
    assert model.predict(np.zeros((3, 8, 8)), verbose=0).shape == (3, 72)


@keras.saving.register_keras_serializable(package="wp15b")
class _WithVariable(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.offset = keras.Variable(np.zeros(3, "float32"), name="offset")

    def call(self, x):
        return x + self.offset


def test_attribute_variable_is_saved_and_restored(tmp_path):
    inp = keras.Input((3,))
    layer = _WithVariable()
    model = keras.Model(inp, layer(inp))
    layer.offset.assign(np.arange(3, dtype="float32"))
    assert len(model.weights) == 1
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict(np.zeros((1, 3)), verbose=0), [[0.0, 1.0, 2.0]])


@keras.saving.register_keras_serializable(package="wp15b")
class _Subclassed(keras.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_model_rebuilt_from_build_config(tmp_path):
    model = _Subclassed()
    x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), expected)


def test_weights_that_do_not_restore_raise(tmp_path):
    inp = keras.Input((3,))
    keras.Model(inp, keras.layers.Dense(2)(inp)).save(tmp_path / "m.keras")
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="weight"):
        other.load_weights(tmp_path / "m.keras")
