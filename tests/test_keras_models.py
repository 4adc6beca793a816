"""Acceptance: a CNN with validation_split + EarlyStopping + ModelCheckpoint + save/load, and a functional
two-input two-output model with a custom Layer, loss and Metric."""

import os

import numpy as np
import pytest

from ember import keras
from ember.keras import layers, ops


def _blobs(n=192, seed=0):
    """8x8 one-channel images whose class is the quadrant holding a bright blob."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.1, (n, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 4, n)
    for i, c in enumerate(y):
        r, col = (c // 2) * 4, (c % 2) * 4
        x[i, r + 1 : r + 3, col + 1 : col + 3, 0] += 1.0
    return x, y


def test_cnn_validation_early_stopping_checkpoint_and_reload(tmp_path):
    keras.utils.set_random_seed(1)
    x, y = _blobs()
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    ckpt = str(tmp_path / "best.keras")
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        x,
        y,
        epochs=6,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
        callbacks=[stopper, keras.callbacks.ModelCheckpoint(ckpt, save_best_only=True)],
    )
    assert set(history.history) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    val_losses = history.history["val_loss"]
    assert history.history["accuracy"][-1] > 0.6
    # the restored weights are the best epoch's: evaluating the validation split gives the best val_loss
    x_val, y_val = x[144:], y[144:]
    best = model.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"]
    assert np.isclose(best, min(val_losses), rtol=1e-4)
    assert os.path.exists(ckpt)
    from_ckpt = keras.models.load_model(ckpt)
    np.testing.assert_allclose(
        from_ckpt.predict(x_val, verbose=0), model.predict(x_val, verbose=0), rtol=1e-5, atol=1e-6
    )
    path = str(tmp_path / "cnn.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert reloaded.optimizer.iterations == model.optimizer.iterations
    reloaded.fit(x, y, epochs=1, verbose=0)  # the optimizer state came back too


@keras.saving.register_keras_serializable(package="test")
class Gate(layers.Layer):
    """out = x * sigmoid(w) + b, with weights from add_weight and math from keras.ops."""

    def __init__(self, init_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="w")
        self.b = self.add_weight(
            shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.init_value), name="b"
        )

    def call(self, x):
        return ops.add(ops.multiply(x, ops.sigmoid(self.w)), self.b)


@keras.saving.register_keras_serializable(package="test")
def scaled_mse(y_true, y_pred):
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1) * 2.0


class WithinTolerance(keras.metrics.Metric):
    def __init__(self, tol=0.5, name="within", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tol = tol
        self.hits = self.add_variable(name="hits")
        self.count = self.add_variable(name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        close = ops.less_equal(ops.abs(ops.subtract(ops.convert_to_tensor(y_true), y_pred)), self.tol)
        self.hits.assign_add(ops.sum(ops.cast(close, "float32")))
        self.count.assign_add(float(np.prod(ops.shape(y_pred))))

    def result(self):
        return ops.divide(self.hits, ops.maximum(self.count, 1.0))


def _two_io_model():
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(3,), name="b")
    h = layers.Concatenate()([a, Gate(name="gate")(b)])
    h = layers.Dense(16, activation="relu")(h)
    reg = layers.Dense(1, name="reg")(h)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    return keras.Model(inputs=[a, b], outputs=[reg, cls])


def test_functional_two_inputs_two_outputs_custom_layer_loss_metric(tmp_path):
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(256, 4)).astype("float32"), rng.normal(size=(256, 3)).astype("float32")
    y_reg = (xa[:, :1] + xb[:, :1]).astype("float32")
    y_cls = (xa[:, 1] > 0).astype("int64") + (xb[:, 1] > 0)
    model = _two_io_model()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss={"reg": scaled_mse, "cls": "sparse_categorical_crossentropy"},
        loss_weights={"reg": 1.0, "cls": 0.5},
        metrics={"reg": [WithinTolerance(0.5)], "cls": ["accuracy"]},
    )
    history = model.fit([xa, xb], [y_reg, y_cls], epochs=10, batch_size=32, verbose=0)
    keys = set(history.history)
    assert keys == {"loss", "reg_loss", "cls_loss", "reg_within", "cls_accuracy"}, keys
    h = history.history
    assert h["loss"][-1] < h["loss"][0]
    np.testing.assert_allclose(h["loss"][-1], h["reg_loss"][-1] + 0.5 * h["cls_loss"][-1], rtol=1e-4)
    assert h["cls_accuracy"][-1] > 0.7 and h["reg_within"][-1] > 0.5
    logs = model.evaluate({"a": xa, "b": xb}, {"reg": y_reg, "cls": y_cls}, verbose=0, return_dict=True)
    assert set(logs) == keys
    assert len(model.get_layer("gate").weights) == 2
    reg, cls = model.predict([xa, xb], verbose=0)
    assert reg.shape == (256, 1) and cls.shape == (256, 3)
    path = str(tmp_path / "two.keras")
    model.save(path)
    restored = keras.models.load_model(path, compile=False)
    for got, want in zip(restored.predict([xa, xb], verbose=0), (reg, cls)):
        np.testing.assert_array_equal(got, want)


def test_unregistered_custom_layer_error_names_class_and_fix(tmp_path):
    class Unlisted(layers.Layer):
        def call(self, x):
            return x * 2

    model = keras.Sequential([keras.Input((2,)), Unlisted(), layers.Dense(1)])
    path = str(tmp_path / "u.keras")
    model.save(path)
    with pytest.raises(TypeError, match=r"Unlisted.*register_keras_serializable.*custom_objects"):
        keras.models.load_model(path)
    restored = keras.models.load_model(path, custom_objects={"Unlisted": Unlisted})
    np.testing.assert_array_equal(
        restored.predict(np.ones((1, 2)), verbose=0), model.predict(np.ones((1, 2)), verbose=0)
    )
