"""Keras optimizers' ``use_ema`` (moving averages of the weights, ``ema_overwrite_frequency``, the averages
copied in at the end of ``fit``) and the ``SwapEMAWeights`` callback, against real Keras 3; and the test hooks
that ``fit``'s validation runs, as Keras's."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")

from ember import keras  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.standard_normal((32, 3)).astype("float32")
Y = RNG.standard_normal((32, 1)).astype("float32")


def _pair():
    def build(lib):
        return lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="tanh"), lib.layers.Dense(1)])

    theirs, ours = build(real), build(keras)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def _averages(model):
    return [np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a)
            for a in model.optimizer._model_variables_moving_average]


@pytest.mark.parametrize("optimizer,kwargs", [("Adam", {"ema_momentum": 0.9}),
                                              ("SGD", {"ema_momentum": 0.5, "ema_overwrite_frequency": 3}),
                                              ("RMSprop", {"ema_overwrite_frequency": 2})])
def test_fit_with_use_ema_matches_keras(optimizer, kwargs):
    theirs, ours = _pair()
    for model, lib in ((theirs, real), (ours, keras)):
        model.compile(getattr(lib.optimizers, optimizer)(0.05, use_ema=True, **kwargs), "mse")
        model.fit(X, Y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for a, b in zip(_averages(ours), _averages(theirs)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(ours.get_weights()[0], _averages(ours)[0])  # fit's end copies the averages in
    config = ours.optimizer.get_config()
    assert config["use_ema"] is True and config["ema_overwrite_frequency"] == kwargs.get("ema_overwrite_frequency")


def test_swap_ema_weights_evaluates_with_the_averages_and_swaps_back():
    _, model = _pair()
    model.compile(keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8), "mse")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    trained = [w.copy() for w in model.get_weights()]
    for v in model.trainable_weights:  # make the averages differ from the weights
        v.assign(v * 1.5)
    scaled = [w.copy() for w in model.get_weights()]
    swap = keras.callbacks.SwapEMAWeights()
    with_ema = model.evaluate(X, Y, verbose=0, callbacks=[swap])
    model.set_weights(trained)
    plain = model.evaluate(X, Y, verbose=0)
    assert with_ema == pytest.approx(plain, rel=1e-6)  # the averages (== trained) were evaluated
    model.set_weights(scaled)
    preds = model.predict(X, verbose=0, callbacks=[swap])
    for w, want in zip(model.get_weights(), scaled):  # swapped back after evaluate and after predict
        np.testing.assert_array_equal(w, want)
    model.set_weights(trained)
    np.testing.assert_allclose(preds, model.predict(X, verbose=0), rtol=1e-6)


def test_swap_on_epoch_keeps_the_averages_in_the_model():
    theirs, ours = _pair()
    for model, lib in ((theirs, real), (ours, keras)):
        model.compile(lib.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.7), "mse")
        model.fit(X, Y, epochs=3, batch_size=8, verbose=0, shuffle=False, validation_data=(X, Y),
                  callbacks=[lib.callbacks.SwapEMAWeights(swap_on_epoch=True)])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_swap_ema_weights_needs_use_ema_and_accumulation_is_refused():
    _, model = _pair()
    model.compile(keras.optimizers.Adam(), "mse")
    with pytest.raises(ValueError, match="use_ema=True"):
        model.fit(X, Y, epochs=1, verbose=0, validation_data=(X, Y), callbacks=[keras.callbacks.SwapEMAWeights()])
    with pytest.raises(NotImplementedError, match="gradient_accumulation_steps"):
        keras.optimizers.Adam(gradient_accumulation_steps=4)
    with pytest.raises(ValueError, match="ema_momentum must be in"):
        keras.optimizers.SGD(use_ema=True, ema_momentum=1.5)


def test_fit_validation_runs_the_test_hooks_as_keras():
    def hooks(lib):
        seen = []

        class Record(lib.callbacks.Callback):
            def on_test_begin(self, logs=None):
                seen.append("test_begin")

            def on_test_end(self, logs=None):
                seen.append(("test_end", sorted(logs)))

            def on_epoch_end(self, epoch, logs=None):
                seen.append(("epoch_end", sorted(logs)))

        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        model.compile("sgd", "mse", metrics=["mae"])
        model.fit(X, Y, epochs=2, batch_size=16, verbose=0, validation_data=(X, Y), callbacks=[Record()])
        return seen

    assert hooks(keras) == hooks(real)
