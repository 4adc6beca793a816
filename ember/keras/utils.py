"""``keras.utils``: to_categorical, set_random_seed, normalize, plot_model / model_to_dot.

>>> from ember.keras import utils
>>> utils.to_categorical([0, 2], num_classes=3).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
"""

from __future__ import annotations

import random

import numpy as np

import ember

from .model_plot import model_to_dot, plot_model  # noqa: F401
from .saving import register_keras_serializable  # noqa: F401  (also exported here, like Keras)


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels (the last axis of size 1 is dropped first, like Keras)."""
    y = np.asarray(x, dtype="int64")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be non-negative, got minimum {y.min()}")
    n = int(num_classes) if num_classes is not None else int(y.max()) + 1 if y.size else 0
    if y.size and y.max() >= n:
        raise ValueError(f"to_categorical: label {int(y.max())} is out of range for num_classes={n}")
    out = np.zeros(y.shape + (n,), dtype="float32")
    np.put_along_axis(out, y[..., None], 1.0, axis=-1)
    return out


def set_random_seed(seed):
    """Seed Python's ``random``, NumPy and Ember (weight initialisation, dropout, shuffling)."""
    random.seed(seed)
    np.random.seed(int(seed) % (2**32))
    ember.manual_seed(seed)


def normalize(x, axis=-1, order=2):
    x = np.asarray(x, dtype="float32")
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.maximum(norm, 1e-12)
