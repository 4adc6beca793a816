"""``keras.utils``: to_categorical, set_random_seed, normalize, plot_model / model_to_dot.

>>> from ember.keras import utils
>>> utils.to_categorical([0, 2], num_classes=3).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
"""

from __future__ import annotations

import random

import numpy as np

import ember

from .file_utils import get_file  # noqa: F401
from .model_plot import model_to_dot, plot_model  # noqa: F401
from .saving import (  # noqa: F401
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    register_keras_serializable,  # noqa: F401  (also exported here, like Keras)
)


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


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) lists of ids to one length, as Keras: ``padding`` / ``truncating`` 'pre' (default) or
    'post'; ``maxlen`` defaults to the longest sequence.

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
    [[2, 3], [0, 4]]
    """
    for name, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {v!r}")
    seqs = [np.asarray(s) for s in sequences]
    length = max((len(s) for s in seqs), default=0) if maxlen is None else int(maxlen)
    sample_shape = next((s.shape[1:] for s in seqs if len(s)), ())
    out = np.full((len(seqs), length) + sample_shape, value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not len(s) or not length:
            continue
        kept = s[-length:] if truncating == "pre" else s[:length]
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, -len(kept) :] = kept
    return out


class PyDataset:
    """Batches by index, as Keras's ``PyDataset``: define ``__len__`` (batches per epoch) and
    ``__getitem__(i)`` returning ``(x, y)`` or ``(x, y, sample_weight)``; ``fit`` calls ``on_epoch_end``
    after each epoch. ``workers`` / ``use_multiprocessing`` are accepted; batches are read in order.

    >>> import numpy as np
    >>> class Squares(PyDataset):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, i):
    ...         return np.full((2, 1), i, "float32"), np.full((2, 1), i * i, "float32")
    >>> [int(y[0, 0]) for _, y in Squares()]
    [0, 1, 4]
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__() (the number of batches)")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_end(self):
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


Sequence = PyDataset  # Keras 2's name


# image files and dataset builders live in their own modules (Pillow is imported only when used)
from .backend import standardize_dtype  # noqa: E402, F401
from .config import (  # noqa: E402, F401
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from .config_dict import Config  # noqa: E402, F401
from .dataset_utils import (  # noqa: E402, F401
    image_dataset_from_directory,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)
from .image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: E402, F401
from .layers.base import clear_session  # noqa: E402, F401
from .progbar import Progbar  # noqa: E402, F401
from .saving import (  # noqa: E402, F401
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    serialize_keras_object,
)


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic tensor (a ``keras.Input`` or a layer's output on one)."""
    from .layers.symbolic import KerasTensor

    return isinstance(x, KerasTensor)


def get_source_inputs(tensor):
    """The ``keras.Input`` tensors a symbolic tensor was computed from (in first-use order).

    >>> from ember import keras
    >>> a, b = keras.Input((3,)), keras.Input((3,))
    >>> keras.utils.get_source_inputs(keras.layers.Dense(2)(keras.layers.add([a, b]))) == [a, b]
    True
    """
    if not is_keras_tensor(tensor):
        raise TypeError(f"get_source_inputs: expected a symbolic KerasTensor, got {type(tensor).__name__}")
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._history is None:
            found.append(t)
        else:
            stack.extend(reversed(t._history[0].inputs))
    return found


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """``x`` (wrapped as ``(x,)`` when it is a tuple or list), ``(x, y)`` or ``(x, y, sample_weight)``: the
    element ``fit`` unpacks (Keras's helper)."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a data element, with ``None`` for what it lacks."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) in (1, 2, 3):
        return tuple(data) + (None,) * (3 - len(data))
    raise ValueError(f"unpack_x_y_sample_weight: expected a tuple of 1 to 3 elements (x, y, sample_weight), "
                     f"got one of {len(data)}")
