"""Reuters newswires (46 topics): ``keras.datasets.reuters.load_data(num_words=..., test_split=0.2)``; same
arguments, cache file (``reuters.npz``, sha256-checked) and preprocessing as Keras."""

import numpy as np

from ._sequences import BASE, as_object_array, cut_vocab, drop_long, read_npz, shift, shuffle, word_index

SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
              start_char=1, oov_char=2, index_from=3):
    f = read_npz(path, BASE + "reuters.npz", SHA256)
    xs, labels = shuffle(np.random.RandomState(seed), f["x"], f["y"])
    xs, labels = drop_long(maxlen, shift(xs, start_char, index_from), labels)
    xs = cut_vocab(xs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    return (as_object_array(xs[:cut]), np.array(labels[:cut])), (as_object_array(xs[cut:]),
                                                                   np.array(labels[cut:]))


def get_word_index(path="reuters_word_index.json"):
    """``{word: index}`` (indices before ``index_from`` is added)."""
    return word_index(path, "4d44cc38712099c9e383dc6e5f11a921")
