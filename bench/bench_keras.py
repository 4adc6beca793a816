"""Throughput of Keras ``fit`` (batch 32, one epoch): ember.keras vs Keras 3 on the PyTorch backend.

Workloads:

- ``seed``: the MNIST seed program (Flatten + Dense(10, softmax), Adam, sparse categorical cross-entropy,
  accuracy) on 60,000 samples;
- ``cnn_bn``: a small CNN with BatchNormalization and Dropout (Conv2D 16 -> BN -> relu -> pool -> Conv2D 32 ->
  BN -> relu -> pool -> Dropout -> Dense(10, softmax)), Adam, on 3,200 samples;
- ``convnet``: keras.io's MNIST convnet example (Conv2D 32 and 64, 3x3, relu, max pools, Flatten, Dropout 0.5,
  Dense(10, softmax); Adam, categorical cross-entropy on one-hot labels, batch 128) on 6,400 samples (issue 16's
  real-program goal: >= 1.0x Keras 3 on PyTorch per step).

Each measurement runs in its own process (``--worker``), one framework at a time, alternating ember / keras
for ``--rounds`` rounds; the table shows the median samples/s of each and the ratio of the medians. MNIST's
training split is used when found in ../shared/data/mnist (or $EMBER_DATA_DIR); otherwise random 28x28
images are synthesised (the program's cost does not depend on pixel values) and that is said.

    python -m bench.bench_keras [--rounds 3] [--threads N] [seed cnn_bn]

``--threads N`` pins both frameworks' BLAS / OpenMP thread pools to N (on a loaded machine PyTorch's
spinning threads make thread count matter a lot; the default leaves the environment as it is).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAMPLES = {"seed": 60_000, "cnn_bn": 3_200, "convnet": 6_400}
BATCH = {"seed": 32, "cnn_bn": 32, "convnet": 128}


def load_data(n):
    root = os.environ.get("EMBER_DATA_DIR") or os.path.join(HERE, "..", "..", "shared", "data", "mnist")
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        path = os.path.join(root, name)
        if os.path.exists(path):
            from ember.vision.datasets import read_idx

            x = read_idx(path)[:n] / 255.0
            y = read_idx(path.replace("images-idx3", "labels-idx1"))[:n]
            return x, y, "MNIST train split"
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28)), rng.integers(0, 10, n), "synthetic random 28x28 data (no MNIST train split)"


def seed_model(keras):
    return keras.models.Sequential(
        [keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10, activation="softmax")]
    )


def cnn_bn_model(keras):
    L = keras.layers
    return keras.models.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(16, 3), L.BatchNormalization(), L.Activation("relu"), L.MaxPooling2D(),
        L.Conv2D(32, 3), L.BatchNormalization(), L.Activation("relu"), L.MaxPooling2D(),
        L.Flatten(), L.Dropout(0.25), L.Dense(10, activation="softmax"),
    ])


def convnet_model(keras):
    L = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, kernel_size=(3, 3), activation="relu"), L.MaxPooling2D(pool_size=(2, 2)),
        L.Conv2D(64, kernel_size=(3, 3), activation="relu"), L.MaxPooling2D(pool_size=(2, 2)),
        L.Flatten(), L.Dropout(0.5), L.Dense(10, activation="softmax"),
    ])


MODELS = {"seed": seed_model, "cnn_bn": cnn_bn_model, "convnet": convnet_model}


def fit_throughput(keras, workload, x, y):
    loss = "sparse_categorical_crossentropy"
    if workload != "seed":
        x = x.reshape(-1, 28, 28, 1)
    if workload == "convnet":  # the example one-hot encodes its labels
        y, loss = np.eye(10, dtype="float32")[y], "categorical_crossentropy"
    model = MODELS[workload](keras)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    batch = BATCH[workload]
    model.fit(x[:10 * batch], y[:10 * batch], epochs=1, batch_size=batch, verbose=0)  # warm-up (first-call costs)
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=batch)
        elapsed = time.perf_counter() - start
    return len(x) / elapsed


def worker(framework, workload):
    """One measurement in this process: prints {"samples_per_s", "data", "version"} as JSON."""
    x, y, source = load_data(SAMPLES[workload])
    if framework == "ember":
        from ember import keras

        version = "ember"
    else:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        if keras.backend.backend() != "torch":
            raise SystemExit(f"keras backend is {keras.backend.backend()!r}, not torch; set KERAS_BACKEND=torch")
        version = f"keras {keras.__version__} (torch)"
    rate = fit_throughput(keras, workload, x, y)
    print(json.dumps({"samples_per_s": rate, "data": source, "version": version}))


def measure(framework, workload):
    env = dict(os.environ, PYTHONPATH=os.environ.get("EMBER_BENCH_ROOT", ROOT), KERAS_BACKEND="torch")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", framework, workload],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{framework} {workload} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=list(SAMPLES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"))
    args = ap.parse_args(argv)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    if args.worker:
        worker(*args.worker)
        return 0
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras  # noqa: F401
        frameworks = ("ember", "keras")
    except ImportError:
        print("keras not installed (pip install keras); ember.keras only")
        frameworks = ("ember",)
    print(f"{'workload':10s} {'samples':>8s} {'ember.keras /s':>15s} {'keras-torch /s':>15s} {'ratio':>7s}  runs"
          " (samples/s; ratio > 1: Ember faster per step)")
    for workload in args.workloads:
        rates = {f: [] for f in frameworks}
        info = {}
        for _ in range(args.rounds):  # alternating, so drift in the machine's load hits both
            for f in frameworks:
                row = measure(f, workload)
                rates[f].append(row["samples_per_s"])
                info["data"] = row["data"]
        med = {f: statistics.median(r) for f, r in rates.items()}
        ratio = f"{med['ember'] / med['keras']:6.2f}x" if "keras" in med else "    n/a"
        runs = "; ".join(f"{f}: " + ", ".join(f"{r:.0f}" for r in rates[f]) for f in frameworks)
        theirs = f"{med['keras']:15.0f}" if "keras" in med else f"{'n/a':>15s}"
        print(f"{workload:10s} {SAMPLES[workload]:8d} {med['ember']:15.0f} {theirs} {ratio}  {runs}")
        print(f"{'':10s} data: {info['data']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
