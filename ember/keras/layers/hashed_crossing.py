"""HashedCrossing: cross two or more categorical features into ``num_bins`` bins, with the bins Keras gets
from TensorFlow's ``tf.sparse.cross_hashed``.

TensorFlow's crossing hash, written out: start from the default key ``0xDECAFCAFFE``, then for each feature in
order combine the running value with the feature's hash by ``FingerprintCat64`` (a multiply / shift-mix
combiner on unsigned 64-bit integers); a string's hash is its FarmHash Fingerprint64, an integer is its own
hash (as an unsigned 64-bit value). The bin is the final value modulo ``num_bins``. Like the other vocabulary
layers it runs on data with NumPy (it needs the ``text`` extra for FarmHash).

>>> import numpy as np
>>> from ember import keras
>>> keras.layers.HashedCrossing(num_bins=5)((np.array(["A", "B", "A"]), np.array([101, 101, 102]))).tolist()
[1, 4, 3]
"""

from __future__ import annotations

import numpy as np

from ember.errors import user_errors

from .. import backend as K
from .preprocessing_text import _as_text, _EagerDataLayer, _fingerprint64, _to_numpy

_HASH_KEY = 0xDECAFCAFFE  # TensorFlow's default hash_key for sparse_cross_hashed
_MUL = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1


def _shift_mix(v):
    return v ^ (v >> 47)


def fingerprint_cat64(fp1, fp2):
    """TensorFlow's ``FingerprintCat64``: combine two unsigned 64-bit fingerprints (order matters)."""
    result = fp1 ^ _MUL
    result ^= (_shift_mix((fp2 * _MUL) & _U64) * _MUL) & _U64
    result = (result * _MUL) & _U64
    result = (_shift_mix(result) * _MUL) & _U64
    return _shift_mix(result)


def _feature_hash(value):
    if isinstance(value, (str, bytes)):
        return _fingerprint64(_as_text(value))
    return int(value) & _U64  # an int64 feature is its own hash (two's complement for negatives)


def cross_hash(values, num_bins):
    """The bin of one crossed example: ``values`` holds one feature value per input, in input order."""
    out = _HASH_KEY
    for value in values:
        out = fingerprint_cat64(out, _feature_hash(value))
    return out % num_bins


class HashedCrossing(_EagerDataLayer):
    """Cross categorical features (strings or integers) by hashing each combination into ``num_bins`` bins.

    Call it on a list or tuple of at least two inputs of equal shape ``()``, ``(batch,)`` or ``(batch, 1)``;
    ``output_mode="int"`` returns bin ids of that shape (``int64`` unless ``dtype`` says otherwise),
    ``"one_hot"`` one-hot rows of ``num_bins`` (float32).

    >>> import numpy as np
    >>> from ember import keras
    >>> layer = keras.layers.HashedCrossing(num_bins=5, output_mode="one_hot")
    >>> layer((np.array(["A", "B"]), np.array([101, 101]))).tolist()
    [[0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]
    """

    @user_errors
    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs):
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"HashedCrossing: output_mode must be 'int' or 'one_hot', got {output_mode!r}")
        if sparse:
            raise ValueError("HashedCrossing: sparse=True needs TensorFlow's sparse tensors (Keras allows it only "
                             "on the tensorflow backend); Ember returns dense outputs")
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins <= 0:
            raise ValueError(f"HashedCrossing: num_bins must be a positive integer, got {num_bins!r}")
        super().__init__(name=name, dtype=dtype or ("int64" if output_mode == "int" else None), **kwargs)
        self.num_bins, self.output_mode, self.sparse = int(num_bins), output_mode, False

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"HashedCrossing {self.name!r}: call it on a list or tuple of inputs (one per feature), "
                             f"got a {type(inputs).__name__}")
        if len(inputs) < 2:
            raise ValueError(f"HashedCrossing {self.name!r}: call it on at least two inputs, got {len(inputs)}")
        arrays = [_to_numpy(x) for x in inputs]
        shape = arrays[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError(f"HashedCrossing {self.name!r}: inputs should have shape (), (batch_size,) or "
                             f"(batch_size, 1), got {shape}")
        if any(a.shape != shape for a in arrays[1:]):
            raise ValueError(f"HashedCrossing {self.name!r}: inputs should have equal shape, got "
                             f"{[a.shape for a in arrays]}")
        for a in arrays:
            if a.dtype.kind not in "iuUSO" or (a.dtype.kind == "O" and not all(
                    isinstance(v, (str, bytes)) for v in a.ravel().tolist())):
                raise ValueError(f"HashedCrossing {self.name!r}: inputs should have an integer or string dtype, "
                                 f"got {a.dtype}")
        return arrays, shape

    @user_errors
    def call(self, inputs):
        arrays, shape = self._check(inputs)
        columns = [a.ravel().tolist() for a in arrays]
        ids = np.asarray([cross_hash(row, self.num_bins) for row in zip(*columns)], "int64").reshape(shape)
        if self.output_mode == "int":
            return K.convert(ids, self.dtype)
        rows = ids.reshape(-1)  # Keras: a scalar becomes one sample, a (batch, 1) column a (batch,) vector
        return K.convert(np.eye(self.num_bins, dtype="float32")[rows], self.dtype)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "output_mode": self.output_mode,
                "sparse": self.sparse}
