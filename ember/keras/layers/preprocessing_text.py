"""Vocabulary layers with Keras 3's layout and rules: StringLookup, IntegerLookup, Hashing, TextVectorization.

They run on data (NumPy arrays, Python lists, tensors of ids) before the model, as Keras's guides apply them
in the input pipeline: a call returns an Ember tensor (or, for ``invert=True``, a NumPy array of tokens).
Calling them on a symbolic ``keras.Input`` raises (strings have no place in Ember's compiled graphs).

Keras's layout: in ``output_mode="int"`` index 0 is the mask token (when one is set), then
``num_oov_indices`` OOV indices, then the vocabulary (most frequent first after ``adapt``; ties broken by
the larger token first, as Keras sorts). Several OOV indices hash a string with FarmHash Fingerprint64 (what
TensorFlow's ``to_hash_bucket_fast`` uses, through the ``pyfarmhash`` package) and an integer by ``floormod``.

>>> from ember import keras
>>> lookup = keras.layers.StringLookup(vocabulary=["a", "b", "c"])
>>> lookup([["a", "c"], ["z", "b"]]).tolist()
[[1, 3], [0, 2]]
>>> keras.layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)([[1, 0]]).tolist()
[['a', '[UNK]']]
"""

from __future__ import annotations

import collections
import re

import numpy as np

from ember.errors import user_errors

from .. import backend as K
from .base import Layer
from .symbolic import any_symbolic

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


def _fingerprint64(token):
    try:
        import farmhash
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError("Hashing (and string lookups with num_oov_indices > 1) use FarmHash Fingerprint64, "
                          "as Keras does: pip install pyfarmhash (or ember[text])") from exc
    return farmhash.fingerprint64(token)


def _siphash64(token, salt):
    """TensorFlow's ``StrongKeyedHash`` (``to_hash_bucket_strong``): SipHash-2-4 of the UTF-8 bytes with the
    128-bit key ``salt[0], salt[1]`` (two little-endian uint64), as an unsigned 64-bit integer."""
    try:
        from siphash24 import siphash24
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError("Hashing(salt=...) uses SipHash-2-4 keyed by the salt, as Keras does: pip install "
                          "siphash24 (or ember[text])") from exc
    data = token if isinstance(token, bytes) else str(token).encode("utf-8")
    key = int(salt[0]).to_bytes(8, "little") + int(salt[1]).to_bytes(8, "little")
    return siphash24(data, key=key).intdigest() & 0xFFFF_FFFF_FFFF_FFFF  # the package returns it signed


def _to_numpy(data):
    if hasattr(data, "detach"):
        return np.asarray(K.to_numpy(data))
    arr = np.asarray(data, dtype=object if _has_strings(data) else None)
    return arr


def _has_strings(data):
    first = data
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    return isinstance(first, (str, bytes)) or (isinstance(first, np.ndarray) and first.dtype.kind in "USO")


def _as_text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _batches(data):
    """``adapt`` data: an array / list / tensor, or an iterable of batches (``(x, y)`` pairs use ``x``)."""
    if isinstance(data, (np.ndarray, list, tuple, str)) or hasattr(data, "detach"):
        return [_to_numpy(data)]
    return [_to_numpy(b[0] if isinstance(b, tuple) else b) for b in data]


def _encode(ids, depth, mode, idf=None):
    """Keras's ``encode_categorical_inputs``: ids (rank 0-2; out-of-range ids, like the mask, are dropped)."""
    ids = np.asarray(ids, "int64")
    if ids.ndim == 0:
        ids = ids[None]
    if mode == "one_hot" and ids.shape[-1] != 1:
        ids = ids[..., None]
    if ids.ndim > 2:
        raise ValueError(f"output_mode={mode!r} supports inputs of rank <= 2 (after one_hot's expansion), "
                         f"got shape {ids.shape}")
    rows = ids.reshape(-1, ids.shape[-1])
    out = np.zeros((len(rows), depth), "float32")
    for row, values in zip(out, rows):
        kept = values[(values >= 0) & (values < depth)]
        np.add.at(row, kept, 1.0)
    if mode in ("one_hot", "multi_hot"):
        out = np.minimum(out, 1.0)
    out = out.reshape(ids.shape[:-1] + (depth,))
    return out * idf if mode == "tf_idf" else out


class _EagerDataLayer(Layer):
    """A layer that works on raw data with NumPy (never traced)."""

    @user_errors
    def __call__(self, inputs, *args, **kwargs):
        if any_symbolic((inputs,) + args, kwargs):
            raise TypeError(f"{type(self).__name__} {self.name!r} runs on data, not inside a model graph: apply "
                            f"it to your arrays (or in your data pipeline) before model.fit, e.g. "
                            f"x = layer(x_raw)")
        return self.call(inputs)


class _IndexLookup(_EagerDataLayer):
    _key = staticmethod(_as_text)

    @user_errors
    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 **kwargs):
        kwargs.pop("vocabulary_dtype", None), kwargs.pop("encoding", None), kwargs.pop("oov_method", None)
        super().__init__(**kwargs)
        name = type(self).__name__
        if output_mode not in _MODES:
            raise ValueError(f"{name}: output_mode must be one of {_MODES}, got {output_mode!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{name}: invert=True needs output_mode='int', got {output_mode!r}")
        if num_oov_indices < 0 or (max_tokens is not None and max_tokens <= 1):
            raise ValueError(f"{name}: need num_oov_indices >= 0 and max_tokens > 1 (or None), got "
                             f"num_oov_indices={num_oov_indices}, max_tokens={max_tokens}")
        if sparse:
            raise ValueError(f"{name}: sparse=True is not supported by Ember (dense outputs only)")
        self.max_tokens, self.num_oov_indices, self.invert = max_tokens, int(num_oov_indices), invert
        self.mask_token = None if mask_token is None else self._key(mask_token)
        self.oov_token = self._key(oov_token)
        self.output_mode, self.pad_to_max_tokens = output_mode, pad_to_max_tokens
        self._tokens, self._index, self.idf_weights = [], {}, None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    def _oov_start(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self):
        return self._oov_start() + self.num_oov_indices

    @user_errors
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (a list, an array, or a text file with one token a line)."""
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f]
        tokens = [self._key(t) for t in _to_numpy(vocabulary).ravel().tolist()]
        specials = ([self.mask_token] if self._oov_start() else []) + [self.oov_token] * self.num_oov_indices
        if tokens[: len(specials)] == specials and specials:
            tokens = tokens[len(specials):]  # a vocabulary that already lists the special tokens (Keras accepts it)
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated or self.oov_token in tokens or (self.mask_token is not None and self.mask_token in tokens):
            raise ValueError(f"{type(self).__name__}: the vocabulary must hold distinct tokens without the OOV "
                             f"token {self.oov_token!r} or mask token {self.mask_token!r}; found "
                             f"{(repeated or [self.oov_token, self.mask_token])[:5]}")
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{type(self).__name__}: output_mode='tf_idf' with a vocabulary needs idf_weights")
            weights = np.asarray(idf_weights, "float32").ravel()
            if len(weights) == len(tokens) + self._token_start():
                self.idf_weights = weights  # weights for the special tokens given too (Keras's second form)
            elif len(weights) == len(tokens):
                self.idf_weights = np.concatenate([np.full(self._token_start(), weights.mean(), "float32"), weights])
            else:
                raise ValueError(f"{type(self).__name__}: {len(weights)} idf_weights for {len(tokens)} tokens")
        self._set_tokens(tokens)

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        self._index = {t: i + self._token_start() for i, t in enumerate(self._tokens)}

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens in index order (with the mask and OOV tokens first unless told otherwise)."""
        specials = ([self.mask_token] if self._oov_start() else []) + [self.oov_token] * self.num_oov_indices
        return (specials if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self):
        return self._token_start() + len(self._tokens)

    @user_errors
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (most frequent first; ``max_tokens`` caps its size with the special tokens)."""
        counts, documents, num_docs = collections.Counter(), collections.Counter(), 0
        for batch in _batches(data):
            rows = batch.reshape(-1, 1) if batch.ndim <= 1 else batch.reshape(len(batch), -1)
            for row in rows:
                keys = [self._key(t) for t in row.tolist()]
                counts.update(keys)
                documents.update(set(keys))
                num_docs += 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        ordered = sorted(counts, key=lambda t: (counts[t], self._sort_key(t)), reverse=True)
        if self.max_tokens:
            ordered = ordered[: self.max_tokens - self._token_start()]
        self._set_tokens(ordered)
        if self.output_mode == "tf_idf":
            idf = np.log(1 + num_docs / (1 + np.array([documents[t] for t in ordered], "float64")))
            pad = np.full(self._token_start(), idf.mean() if len(idf) else 0.0)
            self.idf_weights = np.concatenate([pad, idf]).astype("float32")

    @staticmethod
    def _sort_key(token):
        return token.encode("utf-8") if isinstance(token, str) else token

    def _oov_index(self, key):
        if self.num_oov_indices == 1:
            return self._oov_start()
        if self.num_oov_indices == 0:
            raise ValueError(f"{type(self).__name__} {self.name!r}: {key!r} is not in the vocabulary and "
                             f"num_oov_indices=0; set num_oov_indices=1")
        return self._oov_start() + self._bucket(key)

    def _bucket(self, key):
        return _fingerprint64(key) % self.num_oov_indices

    def lookup_ids(self, values):
        """Indices for an array of tokens (the ``int`` output as a NumPy array)."""
        flat = [self._key(v) for v in values.ravel().tolist()]
        ids = []
        for key in flat:
            if self.mask_token is not None and key == self.mask_token:
                ids.append(0 if self.output_mode == "int" else -1)  # dropped by the encodings, as Keras
            else:
                idx = self._index.get(key)
                ids.append(self._oov_index(key) if idx is None else idx)
        return np.asarray(ids, "int64").reshape(values.shape)

    def _invert(self, ids):
        vocab = self.get_vocabulary()
        out = [vocab[i] if 0 <= i < len(vocab) else self.oov_token for i in ids.ravel().tolist()]
        return np.asarray(out, dtype=self._inverted_dtype).reshape(ids.shape)

    @user_errors
    def call(self, inputs):
        values = _to_numpy(inputs)
        if self.invert:
            return self._invert(values.astype("int64"))
        ids = self.lookup_ids(values)
        if self.output_mode == "int":
            return K.convert(ids, "int64")
        if self.output_mode == "tf_idf" and self.idf_weights is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: tf_idf needs adapt() or idf_weights")
        depth = self.max_tokens if self.pad_to_max_tokens and self.max_tokens else self.vocabulary_size()
        idf = None if self.idf_weights is None else np.pad(self.idf_weights, (0, depth - len(self.idf_weights)))
        return K.convert(_encode(ids, depth, self.output_mode, idf))

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token, "oov_token": self.oov_token, "vocabulary": self._tokens or None,
                "invert": self.invert, "output_mode": self.output_mode, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": None if self.idf_weights is None else self.idf_weights.tolist()}


class StringLookup(_IndexLookup):
    """Strings to indices (or ``one_hot`` / ``multi_hot`` / ``count`` / ``tf_idf`` vectors), Keras 3's rules.

    >>> from ember import keras
    >>> layer = keras.layers.StringLookup(output_mode="multi_hot")
    >>> layer.adapt([["a", "b", "b"], ["c", "b", "a"]])
    >>> layer.get_vocabulary()
    ['[UNK]', 'b', 'a', 'c']
    >>> layer([["a", "x"]]).tolist()
    [[1.0, 0.0, 1.0, 0.0]]
    """

    _inverted_dtype = object


class IntegerLookup(_IndexLookup):
    """Integer ids to indices; ``mask_token`` defaults to None and ``oov_token`` to -1 (Keras 3)."""

    _inverted_dtype = "int64"

    @staticmethod
    def _key(value):
        return int(value)

    @user_errors
    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", oov_method="floormod",
                 **kwargs):
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"IntegerLookup: oov_method must be 'floormod' or 'farmhash', got {oov_method!r}")
        self.oov_method = oov_method
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, **kwargs)

    def _bucket(self, key):
        if self.oov_method == "farmhash":
            return _fingerprint64(str(key)) % self.num_oov_indices
        return key % self.num_oov_indices  # Keras's default oov_method="floormod"


class Hashing(_EagerDataLayer):
    """Hash strings (or integers, through their decimal text; floats are truncated to integers first) into
    ``num_bins`` bins as Keras does with TensorFlow: FarmHash Fingerprint64 (``to_hash_bucket_fast``) by default,
    or with ``salt`` (an int ``s``, meaning ``[s, s]``, or a pair of ints) SipHash-2-4 keyed by the salt
    (``to_hash_bucket_strong``). ``mask_value`` goes to bin 0 and the rest to ``1 + hash % (num_bins - 1)``.

    >>> from ember import keras
    >>> keras.layers.Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).tolist()
    [[1], [0], [1], [1], [2]]
    >>> keras.layers.Hashing(num_bins=3, salt=[133, 137])([["A"], ["B"], ["C"], ["D"], ["E"]]).tolist()
    [[1], [2], [1], [0], [2]]
    """

    @user_errors
    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Hashing: output_mode must be 'int', 'one_hot', 'multi_hot' or 'count', "
                             f"got {output_mode!r}")
        if num_bins is None or num_bins <= (1 if mask_value is not None else 0):
            raise ValueError(f"Hashing: num_bins must be a positive integer (> 1 with a mask_value), got {num_bins}")
        self.num_bins, self.mask_value, self.output_mode = int(num_bins), mask_value, output_mode
        self.salt = _check_salt(salt)

    def _bin(self, value):
        if self.salt is None:
            return _fingerprint64(_as_text(value))
        return _siphash64(value if isinstance(value, bytes) else _as_text(value), self.salt)

    @user_errors
    def call(self, inputs):
        values = _to_numpy(inputs)
        if values.dtype.kind == "f":  # Keras casts floats to int64 before hashing their text
            values = np.trunc(values).astype("int64")
        bins = self.num_bins - (self.mask_value is not None)
        masked = np.zeros(values.shape, bool) if self.mask_value is None else (_to_numpy(inputs) == self.mask_value)
        out = [0 if m else self._bin(v) % bins + (self.mask_value is not None)
               for v, m in zip(values.ravel().tolist(), masked.ravel().tolist())]
        ids = np.asarray(out, "int64").reshape(values.shape)
        if self.output_mode == "int":
            return K.convert(ids, "int64")
        return K.convert(_encode(ids, self.num_bins, self.output_mode))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "mask_value": self.mask_value,
                "salt": self.salt, "output_mode": self.output_mode}


def _check_salt(salt):
    """Keras's rule: ``None``, one int (used twice) or a pair of ints; each is a uint64 key half."""
    if salt is None:
        return None
    pair = [salt, salt] if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool) else salt
    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in pair)):
        raise ValueError(f"Hashing: salt must be one integer or a pair of integers (the SipHash key halves), "
                         f"got salt={salt!r}")
    if not all(0 <= int(k) < 2**64 for k in pair):
        raise ValueError(f"Hashing: salt values are unsigned 64-bit integers (0 <= k < 2**64), got {salt!r}")
    return [int(k) for k in pair]


class TextVectorization(_EagerDataLayer):
    """Text to token ids (padded to ``output_sequence_length``) or to multi_hot / count / tf_idf vectors:
    standardize (``lower_and_strip_punctuation``, ``lower``, ``strip_punctuation``, a callable or None), split
    (``whitespace``, ``character``, a callable or None), optional ``ngrams``, then a StringLookup with the
    mask token ``""`` and OOV token ``[UNK]`` (Keras 3's layout).

    >>> from ember import keras
    >>> vectorize = keras.layers.TextVectorization(output_sequence_length=4)
    >>> vectorize.adapt(["The cat sat.", "The dog!"])
    >>> vectorize.get_vocabulary()
    ['', '[UNK]', 'the', 'sat', 'dog', 'cat']
    >>> vectorize(["the bird sat"]).tolist()
    [[2, 1, 3, 0]]
    """

    @user_errors
    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace",
                 ngrams=None, output_mode="int", output_sequence_length=None, pad_to_max_tokens=False,
                 vocabulary=None, idf_weights=None, sparse=False, ragged=False, encoding="utf-8", **kwargs):
        super().__init__(**kwargs)
        if not (standardize in (None, "lower", "strip_punctuation", "lower_and_strip_punctuation")
                or callable(standardize)):
            raise ValueError(f"TextVectorization: unknown standardize={standardize!r}")
        if not (split in (None, "whitespace", "character") or callable(split)):
            raise ValueError(f"TextVectorization: unknown split={split!r}")
        if output_mode not in _MODES or output_mode == "one_hot":
            raise ValueError(f"TextVectorization: output_mode must be 'int', 'multi_hot', 'count' or 'tf_idf', "
                             f"got {output_mode!r}")
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError("TextVectorization: output_sequence_length applies to output_mode='int' only")
        if ragged:
            raise ValueError("TextVectorization: ragged=True is not supported by Ember (padded outputs only)")
        self.standardize, self.split, self.output_mode = standardize, split, output_mode
        self.ngrams = (tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else
                       None if ngrams is None else tuple(ngrams))
        self.output_sequence_length = output_sequence_length
        self._lookup = StringLookup(max_tokens=max_tokens, num_oov_indices=1, mask_token="", oov_token="[UNK]",
                                    vocabulary=vocabulary, idf_weights=idf_weights, output_mode=output_mode,
                                    pad_to_max_tokens=pad_to_max_tokens)

    def _standardize(self, text):
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.lower()
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        return self.standardize(text) if callable(self.standardize) else text

    def _tokens(self, text):
        text = self._standardize(_as_text(text))
        if self.split is None:
            tokens = [text]
        elif self.split == "whitespace":
            tokens = text.split()
        elif self.split == "character":
            tokens = list(text)
        else:
            tokens = [_as_text(t) for t in self.split(text)]
        if self.ngrams:
            tokens = [" ".join(tokens[i : i + n]) for n in self.ngrams for i in range(len(tokens) - n + 1)]
        return tokens

    def _documents(self, data):
        arr = _to_numpy(data)
        if arr.ndim == 2 and arr.shape[-1] == 1:
            arr = arr[:, 0]
        if arr.ndim > 1:
            raise ValueError(f"TextVectorization {self.name!r}: expected a batch of strings of shape (batch,) or "
                             f"(batch, 1), got shape {arr.shape}")
        return [self._tokens(t) for t in arr.reshape(-1).tolist()], arr.ndim == 0

    @user_errors
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from documents (an array / list of strings, or an iterable of batches)."""
        docs = [d for batch in _batches(data) for d in self._documents(batch)[0]]
        width = max((len(d) for d in docs), default=0)
        padded = np.array([d + [""] * (width - len(d)) for d in docs] or [[]], dtype=object)
        self._lookup.adapt(padded if self.output_mode != "tf_idf" else _Docs(docs))

    @user_errors
    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup.vocabulary_size()

    @user_errors
    def call(self, inputs):
        docs, scalar = self._documents(inputs)
        if self.output_mode != "int":
            rows = [self._lookup([d]).numpy()[0] if d else self._lookup([[""]]).numpy()[0] for d in docs]
            out = np.stack(rows) if rows else np.zeros((0, self._lookup.vocabulary_size()), "float32")
            return K.convert(out[0] if scalar else out)
        ids = [self._lookup.lookup_ids(np.asarray(d, dtype=object)).tolist() for d in docs]
        length = self.output_sequence_length or max((len(r) for r in ids), default=0)
        out = np.zeros((len(ids), length), "int64")
        for i, row in enumerate(ids):
            out[i, : min(len(row), length)] = row[:length]
        return K.convert(out[0] if scalar else out, "int64")

    def get_config(self):
        return {**super().get_config(), "max_tokens": self._lookup.max_tokens,
                "standardize": self.standardize if not callable(self.standardize) else None,
                "split": self.split if not callable(self.split) else None, "ngrams": self.ngrams,
                "output_mode": self.output_mode, "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self._lookup.pad_to_max_tokens, "vocabulary": self._lookup._tokens or None,
                "idf_weights": None if self._lookup.idf_weights is None else self._lookup.idf_weights.tolist()}


class _Docs:
    """Documents of different lengths for tf_idf's ``adapt`` (each one a row; no padding token counted)."""

    @user_errors
    def __init__(self, docs):
        self.docs = docs

    def __iter__(self):
        for d in self.docs:
            yield np.asarray([d] if d else [[]], dtype=object).reshape(1, -1)
