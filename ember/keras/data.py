"""Turn what ``fit``/``evaluate``/``predict`` accept into batches: NumPy arrays, lists/dicts of arrays, Ember
tensors, ``ember.utils.data.DataLoader``s, and Python generators/iterables of ``(x, y[, sample_weight])``.

>>> import numpy as np
>>> data = ArrayData(np.zeros((10, 2)), np.arange(10))
>>> [len(b[1]) for b in data.batches(4, shuffle=False)]
[4, 4, 2]
"""

from __future__ import annotations

import math

import numpy as np

from ember.tensor import Tensor

from . import backend as K
from .layers.symbolic import flatten, map_structure


def _leaf_to_array(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        x = K.to_numpy(x)
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and arr.dtype != np.dtype(K.floatx()):
        arr = arr.astype(K.floatx())
    return arr


def to_arrays(structure):
    """Arrays (floats as floatx) in the same nesting (list/tuple/dict) as ``structure``."""
    if (
        isinstance(structure, (list, tuple))
        and structure
        and not isinstance(structure[0], (list, tuple, dict, np.ndarray, Tensor))
    ):
        return _leaf_to_array(structure)  # a plain list of numbers
    return map_structure(_leaf_to_array, structure)


def num_samples(structure, names=("x", "y", "sample_weight")) -> int:
    sizes = {len(a) for a in flatten(structure) if a is not None}
    if len(sizes) > 1:
        per = [f"{name} sizes: {', '.join(str(len(a)) for a in flatten(part) if a is not None)}"
               for name, part in zip(names, structure) if part is not None]
        raise ValueError(
            f"Data cardinality is ambiguous: {'; '.join(per)}. Make sure all arrays contain the same number "
            "of samples (slice them to one length, e.g. x[:n], y[:n])"
        )
    if not sizes:
        raise ValueError("no data given")
    return sizes.pop()


def _take(structure, idx):
    return map_structure(lambda a: None if a is None else a[idx], structure)


class ArrayData:
    """In-memory data; ``batches`` yields ``(x, y, sample_weight)`` slices (shuffled indices when asked)."""

    def __init__(self, x, y=None, sample_weight=None):
        self.x, self.y, self.sample_weight = to_arrays(x), to_arrays(y), to_arrays(sample_weight)
        self.n = num_samples([self.x, self.y, self.sample_weight])

    def split(self, validation_split):
        """``(train, val)``: the last ``validation_split`` fraction is held out (before any shuffling)."""
        if not 0 < validation_split < 1:
            raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
        cut = int(self.n * (1.0 - validation_split))
        if cut == 0 or cut == self.n:
            raise ValueError(
                f"validation_split={validation_split} leaves no training or no validation samples "
                f"out of {self.n}"
            )
        parts = []
        for sl in (slice(0, cut), slice(cut, None)):
            d = ArrayData.__new__(ArrayData)
            d.x, d.y, d.sample_weight = _take(self.x, sl), _take(self.y, sl), _take(self.sample_weight, sl)
            d.n = num_samples([d.x, d.y, d.sample_weight])
            parts.append(d)
        return parts

    def steps(self, batch_size):
        return math.ceil(self.n / batch_size)

    def batches(self, batch_size, shuffle=False, steps=None):
        order = np.random.permutation(self.n) if shuffle else None
        total = self.steps(batch_size) if steps is None else min(steps, self.steps(batch_size))
        for i in range(total):
            lo, hi = i * batch_size, min((i + 1) * batch_size, self.n)
            idx = slice(lo, hi) if order is None else order[lo:hi]
            yield _take(self.x, idx), _take(self.y, idx), _take(self.sample_weight, idx)


def unpack(batch):
    """``(x, y, sample_weight)`` from a batch given as ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sw)``."""
    if isinstance(batch, (list, tuple)) and not isinstance(batch, np.ndarray):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
        raise ValueError(
            f"a data batch must be x, (x, y) or (x, y, sample_weight); got a {type(batch).__name__} "
            f"of {len(batch)} items"
        )
    return batch, None, None


class IterableData:
    """A DataLoader (re-iterated each epoch) or a generator (one iterator shared across epochs)."""

    def __init__(self, source):
        self.source = source
        self.reiterable = hasattr(source, "__len__") and not hasattr(source, "__next__")
        self._iter = None

    def steps(self, batch_size=None):
        return len(self.source) if self.reiterable else None

    def batches(self, batch_size=None, shuffle=False, steps=None):
        if self.reiterable:
            it = iter(self.source)
        else:
            if self._iter is None:
                self._iter = iter(self.source)
            it = self._iter
        count = 0
        while steps is None or count < steps:
            try:
                batch = next(it)
            except StopIteration:
                if not self.reiterable:
                    self._iter = None
                if hasattr(self.source, "on_epoch_end"):  # keras.utils.PyDataset / Sequence
                    self.source.on_epoch_end()
                return
            x, y, sw = unpack(batch)
            yield to_arrays(x), to_arrays(y), to_arrays(sw)
            count += 1


def adapt(x, y=None, sample_weight=None):
    """The right data object for ``x`` (and ``y``/``sample_weight`` for in-memory data)."""
    if isinstance(x, (ArrayData, IterableData)):
        return x
    is_array_like = isinstance(x, (np.ndarray, Tensor, list, tuple, dict)) or np.isscalar(x)
    if is_array_like:
        return ArrayData(x, y, sample_weight)
    if hasattr(x, "__iter__") or hasattr(x, "__next__"):
        if y is not None:
            raise ValueError(
                "when x is a dataset, DataLoader or generator, y must not be given separately "
                "(yield (x, y) pairs instead)"
            )
        return IterableData(x)
    raise TypeError(
        f"unsupported input data of type {type(x).__name__}: use NumPy arrays, Ember tensors, "
        "lists/dicts of arrays, a DataLoader or a generator"
    )
