"""IMDB reviews: ``(x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=...)``;
x are object arrays of word-id lists, y 0/1 labels; same arguments, cache file (``imdb.npz``, sha256-checked)
and preprocessing (shuffle with ``RandomState(seed)``, shift, ``maxlen`` filter, vocabulary cut) as Keras."""

import numpy as np

from ._sequences import BASE, as_object_array, cut_vocab, drop_long, read_npz, shift, shuffle, word_index

SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3):
    f = read_npz(path, BASE + "imdb.npz", SHA256)
    rng = np.random.RandomState(seed)
    x_train, y_train = shuffle(rng, f["x_train"], f["y_train"])
    x_test, y_test = shuffle(rng, f["x_test"], f["y_test"])
    x_train, y_train = drop_long(maxlen, shift(x_train, start_char, index_from), y_train)
    x_test, y_test = drop_long(maxlen, shift(x_test, start_char, index_from), y_test)
    if maxlen and (not x_train or not x_test):
        raise ValueError(f"imdb.load_data: no sequence is shorter than maxlen={maxlen}; increase maxlen")
    xs = cut_vocab(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([y_train, y_test])
    cut = len(x_train)
    return (as_object_array(xs[:cut]), labels[:cut]), (as_object_array(xs[cut:]), labels[cut:])


def get_word_index(path="imdb_word_index.json"):
    """``{word: index}`` (indices before ``index_from`` is added)."""
    return word_index(path, "bfafd718b763782e994055a2d397834f")
