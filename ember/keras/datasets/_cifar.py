"""Shared reader for Keras's CIFAR tarballs (the pickled "python version" from cs.toronto.edu), read with
Ember's pickle *data* reader (see ``_pickle_data``): no code in the files is ever run."""

from __future__ import annotations

import os

import numpy as np

from ..file_utils import get_file
from ._pickle_data import loads


def load_batch(fpath, label_key="labels"):
    """``(data uint8 N x 3 x 32 x 32, labels list)`` from one pickled CIFAR batch file."""
    with open(fpath, "rb") as f:
        d = loads(f.read(), encoding="bytes")
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise ValueError(f"{fpath!r} is not a CIFAR batch: it has no 'data' / {label_key!r} entries "
                         f"(keys: {sorted(d)})")
    data = np.asarray(d["data"], dtype=np.uint8)
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def fetch(dirname, origin, sha256):
    """The extracted folder of a CIFAR tarball in Keras's cache (``~/.keras/datasets/<dirname>``)."""
    return get_file(fname=dirname, origin=origin, untar=True, file_hash=sha256)


def to_keras_layout(x_train, y_train, x_test, y_test):
    """Keras's return layout: channels-last uint8 images, labels uint8 of shape (N, 1)."""
    def images(x):
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype(np.uint8)

    def labels(y):
        return np.asarray(y, dtype=np.uint8).reshape(-1, 1)

    return (images(x_train), labels(y_train)), (images(x_test), labels(y_test))


def join(*parts):
    return os.path.join(*parts)
