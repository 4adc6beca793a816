"""Acceptance: the Keras MNIST seed program, with only the import changed, on the real MNIST test split."""

import os
import re

import numpy as np
import pytest

from ember import keras

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


def _load():
    from ember.vision.datasets import read_idx

    images = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
    labels = os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")
    if not (os.path.exists(images) and os.path.exists(labels)):
        pytest.skip(f"MNIST IDX files not found in {DATA}")
    return read_idx(images), read_idx(labels)


def test_seed_program_reaches_90_percent_and_prints_like_keras(capsys):
    x, y = _load()
    x = x / 255.0
    x_train, y_train, x_test, y_test = x[:8000], y[:8000], x[8000:], y[8000:]
    keras.utils.set_random_seed(0)

    # --- the seed program, verbatim apart from the import ---
    model = keras.models.Sequential(
        [
            keras.layers.Flatten(input_shape=(28, 28)),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5)
    # ---------------------------------------------------------

    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0] == "Epoch 1/5"
    assert sum(line.startswith("Epoch ") for line in lines) == 5
    step_line = re.compile(r"^250/250 ━{20} \d+s \d+(ms|us)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$")
    assert len([line for line in lines if step_line.match(line)]) == 5, out  # one line per epoch (not a TTY)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc >= 0.90, f"test accuracy {acc:.4f} < 0.90"
    pred = model.predict(x_test, verbose=0)
    assert pred.shape == (2000, 10)
    assert np.isclose((pred.argmax(1) == y_test).mean(), acc)
