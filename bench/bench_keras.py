"""Throughput of the Keras MNIST seed program's fit (batch 32, one epoch, 60,000 samples): ember.keras vs
Keras 3 on the PyTorch backend, in one run. Prints samples/s for each and the ratio.

MNIST's 60k training split is used when found in ../shared/data/mnist (or $EMBER_DATA_DIR); otherwise 60,000
random 28x28 images are synthesised (the program's cost does not depend on pixel values) and that is said.

    /work/venv/bin/python bench/bench_keras.py
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time

import numpy as np

N = 60_000
HERE = os.path.dirname(os.path.abspath(__file__))


def load_data():
    root = os.path.join(HERE, "..", "..", "shared", "data", "mnist")
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        path = os.path.join(root, name)
        if os.path.exists(path):
            from ember.vision.datasets import read_idx

            x = read_idx(path)[:N] / 255.0
            y = read_idx(path.replace("images-idx3", "labels-idx1"))[:N]
            return x, y, "MNIST train split"
    rng = np.random.default_rng(0)
    x = rng.random((N, 28, 28))
    y = rng.integers(0, 10, N)
    return x, y, "synthetic random 28x28 data (only MNIST's 10k test split is available locally)"


def seed_fit(keras, x, y):
    model = keras.models.Sequential(
        [keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:320], y[:320], epochs=1, batch_size=32, verbose=0)  # warm-up (imports, first-call costs)
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=32)
        elapsed = time.perf_counter() - start
    return len(x) / elapsed


def main():
    x, y, source = load_data()
    print(f"data: {source}; {len(x)} samples, batch 32, 1 epoch")
    from ember import keras as ember_keras

    ours = seed_fit(ember_keras, x, y)
    print(f"ember.keras            : {ours:10.0f} samples/s")
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
    except ImportError:
        print("keras not installed (pip install keras); no comparison")
        return 0
    if keras.backend.backend() != "torch":
        print(f"keras backend is {keras.backend.backend()!r}, not torch; set KERAS_BACKEND=torch")
        return 1
    theirs = seed_fit(keras, x, y)
    print(f"keras {keras.__version__} (torch)  : {theirs:10.0f} samples/s")
    print(f"ratio ember/keras      : {ours / theirs:10.2f}x  (goal >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
