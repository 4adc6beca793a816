"""Shared loader for the MNIST-style datasets (``(x_train, y_train), (x_test, y_test)`` as uint8 arrays)."""

from __future__ import annotations

import os

import numpy as np

from ember.utils import download as dl


def load(name, arrays_fn, path=None):
    """Arrays from ``path`` (a folder with the IDX files, or a Keras-style ``.npz`` with
    x_train/y_train/x_test/
    y_test), or from Ember's data cache, downloading when missing."""
    if path is not None and os.fspath(path).endswith(".npz") and os.path.isfile(path):
        with np.load(path, allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    root = dl.default_data_dir() if path is None else os.path.expanduser(os.fspath(path))
    try:
        train = arrays_fn(root, train=True, download=True)
        test = arrays_fn(root, train=False, download=True)
    except (dl.DownloadError, OSError) as exc:
        raise RuntimeError(
            f"keras.datasets.{name}.load_data(): the dataset is not in {root!r} and could not be "
            f"downloaded ({exc}). Copy the IDX files there, or pass path= pointing at a folder "
            "holding them (or at a Keras .npz file)."
        ) from exc
    return (train[0], train[1].astype(np.uint8)), (test[0], test[1].astype(np.uint8))
