"""What IMDB and Reuters share: Keras's ``.npz`` of ragged word-id sequences (object arrays, read without
unpickling), shuffled with ``RandomState(seed)``, shifted by ``index_from``, marked with ``start_char``,
filtered by ``maxlen`` and cut to ``num_words`` / ``skip_top`` (others become ``oov_char``), as Keras does."""

from __future__ import annotations

import json

import numpy as np

from ..file_utils import get_file
from ._pickle_data import load_npz

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def read_npz(fname, origin, sha256):
    return load_npz(get_file(fname=fname, origin=origin, file_hash=sha256))


def shuffle(rng, *arrays):
    order = np.arange(len(arrays[0]))
    rng.shuffle(order)
    return [a[order] for a in arrays]


def shift(xs, start_char, index_from):
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    return [[w + index_from for w in x] for x in xs]


def drop_long(maxlen, xs, labels):
    """Keep the sequences shorter than ``maxlen`` (Keras's rule: ``len < maxlen``)."""
    if not maxlen:
        return xs, labels
    kept = [i for i, x in enumerate(xs) if len(x) < maxlen]
    return [xs[i] for i in kept], [labels[i] for i in kept]


def cut_vocab(xs, num_words, skip_top, oov_char):
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def as_object_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = [list(s) for s in seqs]
    return out


def word_index(fname, sha_or_md5):
    with open(get_file(fname, origin=BASE + fname, file_hash=sha_or_md5), encoding="utf8") as f:
        return json.load(f)
