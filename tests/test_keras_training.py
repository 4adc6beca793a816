"""fit/evaluate/predict details: progress output, callbacks, optimizers' Keras formulas, data inputs, custom
train_step, interop with Ember's autograd."""

import io
import os

import numpy as np
import pytest

import ember
from ember import keras
from ember.keras import layers
from ember.keras.progbar import Progbar


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x.sum(1, keepdims=True) > 0).astype("float32")


def _model(lr=0.05):
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")]
    )
    m.compile(optimizer=keras.optimizers.SGD(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return m


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progbar_tty_redraws_in_place_and_pipe_writes_one_line():
    tty = _Tty()
    bar = Progbar(3, stream=tty, interval=0.0)
    for i in range(1, 4):
        bar.update(i, [("loss", 0.5)])
    text = tty.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "\x1b[1m3/3\x1b[0m" in text and "\x1b[32m" in text
    pipe = io.StringIO()
    bar = Progbar(3, stream=pipe)
    for i in range(1, 4):
        bar.update(i, [("loss", 0.5)])
    assert pipe.getvalue().count("\n") == 1 and pipe.getvalue().startswith("3/3 ━━━━━━━━━━━━━━━━━━━━ 0s ")
    assert pipe.getvalue().rstrip().endswith("/step - loss: 0.5000")


def test_verbose_modes(capsys):
    x, y = _data()
    m = _model()
    m.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[1].startswith("2/2 - ") and "/step - accuracy: " in out[1]
    m.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_callbacks_lr_schedule_plateau_csv_lambda_nan(tmp_path):
    x, y = _data()
    m = _model()
    seen = []
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    csv_path = str(tmp_path / "log.csv")
    h = m.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        validation_data=(x, y),
        callbacks=[
            sched,
            keras.callbacks.CSVLogger(csv_path),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e)),
        ],
    )
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(h.history["learning_rate"], [0.1, 0.05, 0.1 / 3])
    lines = open(csv_path).read().splitlines()
    assert lines[0].split(",")[0] == "epoch" and len(lines) == 4
    m.optimizer.learning_rate = 1e-9  # nothing improves -> the plateau callback cuts the rate
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=1.0)
    m.fit(x, y, epochs=3, verbose=0, callbacks=[plateau])
    assert m.optimizer.learning_rate < 1e-9
    bad = y.copy()
    bad[0] = np.nan
    h = m.fit(x, bad, epochs=3, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1


def test_early_stopping_restores_best_even_without_stopping():
    x, y = _data()
    m = _model(lr=0.5)
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=100, restore_best_weights=True)
    h = m.fit(x, y, epochs=4, verbose=0, callbacks=[stop])
    assert stop.stopped_epoch == 0
    best = int(np.argmin(h.history["loss"]))
    assert stop.best_epoch == best and stop.best_weights is not None
    for got, want in zip(m.get_weights(), stop.best_weights):
        np.testing.assert_array_equal(got, want)


def test_backup_and_restore_resumes(tmp_path):
    x, y = _data()
    m = _model()

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("interrupted")

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "bk"))
    with pytest.raises(RuntimeError, match="interrupted"):
        m.fit(x, y, epochs=4, verbose=0, callbacks=[backup, Boom()])
    h = _model().fit(
        x, y, epochs=4, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "bk"))]
    )
    assert len(h.history["loss"]) == 2  # epochs 2 and 3 only
    assert not os.path.exists(tmp_path / "bk")


def test_adam_follows_keras_formula():
    w = ember.tensor([1.0, -2.0], requires_grad=True)
    opt = keras.optimizers.Adam(learning_rate=0.1)
    assert opt.epsilon == 1e-7
    m = v = np.zeros(2)
    ref = np.array([1.0, -2.0])
    for t in range(1, 4):
        g = np.array([0.5, -1.5]) * t
        opt.apply([ember.tensor(g.astype("float32"))], [w])
        m = m + (g - m) * 0.1
        v = v + (g * g - v) * 0.001
        ref = ref - 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-5)


def test_custom_train_step_like_the_keras_torch_guide():
    class Custom(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            weights = [v for v in self.trainable_weights]
            with ember.no_grad():
                self.optimizer.apply([v.value.grad for v in weights], weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    class Net(Custom):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    model = Net()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = _data()
    h = model.fit(x, y, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0] and "mae" in h.history


def test_generators_dataloaders_and_tensors():
    x, y = _data()
    m = _model()

    def gen():
        while True:
            for i in range(0, 64, 16):
                yield x[i : i + 16], y[i : i + 16]

    h = m.fit(gen(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    m.fit(ember.tensor(x), ember.tensor(y), epochs=1, verbose=0)
    from ember.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(ember.tensor(x), ember.tensor(y)), batch_size=16)
    m.fit(loader, epochs=1, verbose=0)
    assert m.evaluate(loader, verbose=0)[1] >= 0.0
    p1 = m.predict(x, verbose=0)
    for _ in range(3):
        np.testing.assert_array_equal(m.predict(x, verbose=0), p1)
    assert m.predict_on_batch(x[:3]).shape == (3, 1)
    assert isinstance(m.train_on_batch(x[:8], y[:8]), list)


def test_keras_model_is_usable_like_an_nn_module():
    m = _model()
    params = list(m.parameters())
    assert len(params) == 4 and all(p.requires_grad for p in params)
    loss = m(np.ones((2, 4), "float32")).sum()
    loss.backward()
    assert all(p.grad is not None for p in params)
    assert set(m.state_dict()) == {n for n, _ in m.named_parameters()}


def test_summary_and_utils(capsys):
    m = _model()
    m.summary()
    out = capsys.readouterr().out
    assert "Total params: 49" in out and "(None, 8)" in out
    np.testing.assert_array_equal(keras.utils.to_categorical([1, 0], 2), [[0, 1], [1, 0]])
    with pytest.raises(RuntimeError, match="compile"):
        keras.Sequential([layers.Dense(1)]).fit(np.ones((2, 1)), np.ones((2, 1)))


def test_datasets_path_override(tmp_path):
    here = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
    npz = str(tmp_path / "mnist.npz")
    np.savez(
        npz,
        x_train=np.zeros((2, 28, 28), "uint8"),
        y_train=np.zeros(2, "uint8"),
        x_test=np.zeros((1, 28, 28), "uint8"),
        y_test=np.zeros(1, "uint8"),
    )
    (xt, yt), (xs, ys) = keras.datasets.mnist.load_data(path=npz)
    assert xt.shape == (2, 28, 28) and xs.shape == (1, 28, 28)
    assert os.path.isdir(here) or True
