"""StringLookup, IntegerLookup, Hashing and TextVectorization. Keras 3's versions of these layers need
TensorFlow, which is not installed here, so every expected value below is one printed in Keras 3's own
docstrings (keras/src/layers/preprocessing/*.py, the `>>>` examples) or derived from its documented rules
(the layout mask, OOV, vocabulary; adapt's order: count, then the larger token first; idf = log(1 + N / (1 + df)))."""

import numpy as np
import pytest

from ember import keras

L = keras.layers
VOCAB = ["a", "b", "c", "d"]
DATA = [["a", "c", "d"], ["d", "z", "b"]]
DATA4 = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
IVOCAB = [12, 36, 1138, 42]


def _adapted(layer, data):
    layer.adapt(data)
    return layer


# (id, layer factory, input, expected): Keras 3 docstring outputs unless the id says "rule"
LOOKUPS = [
    ("string-vocab", lambda: L.StringLookup(vocabulary=VOCAB), DATA, [[1, 3, 4], [4, 0, 2]]),
    ("string-adapt", lambda: _adapted(L.StringLookup(), DATA), DATA, [[5, 3, 1], [1, 2, 4]]),
    ("string-2-oov-farmhash", lambda: L.StringLookup(vocabulary=VOCAB, num_oov_indices=2),
     [["a", "c", "d"], ["m", "z", "b"]], [[2, 4, 5], [0, 1, 3]]),
    ("string-one-hot", lambda: L.StringLookup(vocabulary=VOCAB, output_mode="one_hot"), ["a", "b", "c", "d", "z"],
     np.eye(5)[[1, 2, 3, 4, 0]]),
    ("string-multi-hot", lambda: L.StringLookup(vocabulary=VOCAB, output_mode="multi_hot"), DATA4,
     [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]),
    ("string-count", lambda: L.StringLookup(vocabulary=VOCAB, output_mode="count"), DATA4,
     [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]]),
    ("string-tf-idf", lambda: L.StringLookup(output_mode="tf_idf", vocabulary=VOCAB,
                                             idf_weights=[0.25, 0.75, 0.6, 0.4]), DATA4,
     [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]]),
    ("string-tf-idf-oov-weight", lambda: L.StringLookup(output_mode="tf_idf", vocabulary=["[UNK]"] + VOCAB,
                                                        idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4]), DATA4,
     [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]]),
    ("rule-string-mask", lambda: L.StringLookup(vocabulary=VOCAB, mask_token=""), [["a", "", "z"]], [[2, 0, 1]]),
    ("rule-mask-dropped-in-count", lambda: L.StringLookup(vocabulary=VOCAB, mask_token="", output_mode="count"),
     [["a", "", "a"]], [[0, 2, 0, 0, 0]]),
    ("rule-max-tokens", lambda: _adapted(L.StringLookup(max_tokens=3), DATA), DATA, [[0, 0, 1], [1, 2, 0]]),
    ("rule-pad-to-max-tokens", lambda: L.StringLookup(vocabulary=VOCAB, output_mode="multi_hot", max_tokens=7,
                                                      pad_to_max_tokens=True), [["a"]], [[0, 1, 0, 0, 0, 0, 0]]),
    ("integer-vocab", lambda: L.IntegerLookup(vocabulary=IVOCAB), [[12, 1138, 42], [42, 1000, 36]],
     [[1, 3, 4], [4, 0, 2]]),
    ("integer-adapt", lambda: _adapted(L.IntegerLookup(), np.array([[12, 1138, 42], [42, 1000, 36]])),
     [[12, 1138, 42], [42, 1000, 36]], [[5, 2, 1], [1, 3, 4]]),
    ("integer-2-oov-floormod", lambda: L.IntegerLookup(vocabulary=IVOCAB, num_oov_indices=2),
     [[12, 1138, 42], [37, 1000, 36]], [[2, 4, 5], [1, 0, 3]]),
    ("integer-4-oov-farmhash", lambda: L.IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4,
                                                       oov_method="farmhash"),
     [100, 300, 700, 1100, 1700, 2000], [3, 3, 2, 2, 0, 1]),
    ("hashing", lambda: L.Hashing(num_bins=3), [["A"], ["B"], ["C"], ["D"], ["E"]], [[1], [0], [1], [1], [2]]),
    ("hashing-mask", lambda: L.Hashing(num_bins=3, mask_value=""), [["A"], ["B"], [""], ["C"], ["D"]],
     [[1], [1], [0], [2], [2]]),
    ("hashing-salt-pair", lambda: L.Hashing(num_bins=3, salt=[133, 137]), [["A"], ["B"], ["C"], ["D"], ["E"]],
     [[1], [2], [1], [0], [2]]),
    ("hashing-salt-int", lambda: L.Hashing(num_bins=3, salt=133), [["A"], ["B"], ["C"], ["D"], ["E"]],
     [[0], [0], [2], [1], [0]]),
    # Keras 3's hashing_test.py values (dense SipHash rows)
    ("hashing-salt-names", lambda: L.Hashing(num_bins=2, salt=[133, 137]),
     [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]], [[0], [1], [0], [1], [0]]),
    ("hashing-salt-names-other-key", lambda: L.Hashing(num_bins=2, salt=[211, 137]),
     [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]], [[1], [0], [1], [0], [1]]),
    ("hashing-salt-ints", lambda: L.Hashing(num_bins=3, salt=[133, 137]), np.array([[0], [1], [2], [3], [4]]),
     [[1], [1], [2], [0], [1]]),
    ("rule-hashing-salt-mask", lambda: L.Hashing(num_bins=4, salt=[133, 137], mask_value=""),
     [["A"], [""], ["B"]], [[2], [0], [3]]),  # 1 + (the 3-bin SipHash bin of "A", "B" above)
    ("rule-hashing-multi-hot", lambda: L.Hashing(num_bins=3, output_mode="multi_hot"), [["A", "B", "E"]],
     [[1, 1, 1]]),
    ("textvec-adapt", lambda: _adapted(L.TextVectorization(max_tokens=5000, output_sequence_length=4),
                                       ["foo bar", "bar baz", "baz bada boom"]),
     [["foo qux bar"], ["qux baz"]], [[4, 1, 3, 0], [1, 2, 0, 0]]),
    ("rule-textvec-standardize", lambda: L.TextVectorization(vocabulary=["hello", "world"]),
     ["Hello, World!", "WORLD... hello?? hi"], [[2, 3, 0], [3, 2, 1]]),
    ("rule-textvec-truncate", lambda: L.TextVectorization(vocabulary=["x"], output_sequence_length=2),
     ["x y x"], [[2, 1]]),
    ("rule-textvec-bigrams", lambda: L.TextVectorization(vocabulary=["a", "a b", "b"], ngrams=2),
     ["a b c"], [[2, 4, 1, 3, 1]]),
    ("rule-textvec-multi-hot", lambda: L.TextVectorization(vocabulary=["a", "b"], output_mode="multi_hot"),
     ["a a x", "b"], [[1, 1, 0], [0, 0, 1]]),
    ("rule-textvec-count", lambda: L.TextVectorization(vocabulary=["a", "b"], output_mode="count"),
     ["a a x", ""], [[1, 2, 0], [0, 0, 0]]),
    ("rule-textvec-characters", lambda: L.TextVectorization(vocabulary=["a", "b"], split="character",
                                                            standardize=None), ["abA"], [[2, 3, 1]]),
]


@pytest.mark.parametrize("make, x, expected", [r[1:] for r in LOOKUPS], ids=[r[0] for r in LOOKUPS])
def test_lookup_outputs_match_keras_documented_values(make, x, expected):
    got = make()(x).numpy()
    np.testing.assert_allclose(got, np.asarray(expected, dtype=got.dtype), atol=1e-6)


# (id, layer, expected vocabulary): docstrings and rules
VOCABULARIES = [
    ("string-adapt", lambda: _adapted(L.StringLookup(), DATA), ["[UNK]", "d", "z", "c", "b", "a"]),
    ("integer-adapt", lambda: _adapted(L.IntegerLookup(), np.array([[12, 1138, 42], [42, 1000, 36]])),
     [-1, 42, 1138, 1000, 36, 12]),
    ("textvec-vocabulary", lambda: L.TextVectorization(max_tokens=5000, output_sequence_length=4,
                                                       vocabulary=["earth", "wind", "and", "fire"]),
     ["", "[UNK]", "earth", "wind", "and", "fire"]),
    ("rule-textvec-max-tokens", lambda: _adapted(L.TextVectorization(max_tokens=4), ["b a b", "c b a", "d"]),
     ["", "[UNK]", "b", "a"]),
    ("rule-textvec-multi-hot-has-no-mask", lambda: _adapted(L.TextVectorization(output_mode="multi_hot"),
                                                           ["B b a."]), ["[UNK]", "b", "a"]),
    ("rule-no-special-tokens", lambda: L.StringLookup(vocabulary=VOCAB, mask_token="", num_oov_indices=2),
     ["", "[UNK]", "[UNK]"] + VOCAB),
]


@pytest.mark.parametrize("make, expected", [r[1:] for r in VOCABULARIES], ids=[r[0] for r in VOCABULARIES])
def test_vocabulary_layout_matches_keras(make, expected):
    layer = make()
    assert layer.get_vocabulary() == expected
    assert layer.vocabulary_size() == len(expected)


def test_invert_maps_indices_back_to_tokens():
    ids = L.StringLookup(vocabulary=VOCAB)(DATA)
    tokens = L.StringLookup(vocabulary=VOCAB, invert=True)(ids)
    assert tokens.tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]  # Keras's docstring (as str, not bytes)
    assert L.IntegerLookup(vocabulary=IVOCAB, invert=True)([[1, 0, 9]]).tolist() == [[12, -1, -1]]


def test_tf_idf_adapt_uses_keras_formula():
    docs = [["a", "b"], ["a", "a"], ["c", "c"]]
    layer = _adapted(L.StringLookup(output_mode="tf_idf"), docs)
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b"]  # counts 3, 2, 1
    idf = np.log(1 + 3 / (1 + np.array([2, 1, 1])))  # a in 2 documents, c and b in 1; the OOV gets the mean
    np.testing.assert_allclose(layer([["a", "a", "z"]]).numpy(), [[idf.mean(), 2 * idf[0], 0, 0]], rtol=1e-5)
    np.testing.assert_allclose(layer([["z", "c"]]).numpy(), [[idf.mean(), 0, idf[1], 0]], rtol=1e-5)


def test_text_vectorization_feeds_an_embedding_model():
    texts = ["good movie", "bad movie", "good good fun", "bad awful"] * 4
    labels = np.array([1, 0, 1, 0] * 4, "float32")
    vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=3)
    vectorize.adapt(texts)
    model = keras.Sequential([keras.Input((3,), dtype="int64"), L.Embedding(20, 4), L.GlobalAveragePooling1D(),
                              L.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", jit_compile=False)  # the data path is under test, not compile
    model.fit(vectorize(texts), labels, epochs=2, verbose=0)
    assert model.predict(vectorize(["good fun"]), verbose=0).shape == (1, 1)


def test_config_round_trip_keeps_the_vocabulary():
    tv = _adapted(L.TextVectorization(output_mode="tf_idf", ngrams=2), ["a b", "b c c"])
    made = [tv, L.StringLookup(vocabulary=VOCAB, mask_token="", num_oov_indices=2),
            L.IntegerLookup(vocabulary=IVOCAB, output_mode="count"), L.Hashing(5, mask_value="", salt=7)]
    x = {"TextVectorization": ["c b a"], "StringLookup": DATA, "IntegerLookup": [[12, 7, 42]], "Hashing": [["q", ""]]}
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        np.testing.assert_allclose(clone(x[type(layer).__name__]).numpy(), layer(x[type(layer).__name__]).numpy())


BAD = [
    (lambda: L.StringLookup(output_mode="bag"), ValueError, "output_mode"),
    (lambda: L.StringLookup(vocabulary=["a", "a"]), ValueError, "distinct"),
    (lambda: L.StringLookup(vocabulary=VOCAB, num_oov_indices=0)([["zz"]]), ValueError, "num_oov_indices=1"),
    (lambda: L.StringLookup(output_mode="tf_idf", vocabulary=VOCAB), ValueError, "idf_weights"),
    (lambda: L.Hashing(3, salt="pepper"), ValueError, "salt"),
    (lambda: L.Hashing(3, salt=[1, 2, 3]), ValueError, "pair of integers"),
    (lambda: L.Hashing(3, salt=-1), ValueError, "unsigned 64-bit"),
    (lambda: L.TextVectorization(output_mode="int", ngrams=2)(np.array([["a", "b"]])), ValueError, "batch, 1"),
    (lambda: L.StringLookup(vocabulary=VOCAB)(keras.Input((2,))), TypeError, "runs on data"),
]


@pytest.mark.parametrize("make, error, words", BAD)
def test_bad_uses_are_named(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_salted_hash_is_tensorflows_strong_keyed_hash():
    """SipHash-2-4 with a 128-bit key: the reference vector of the SipHash paper (key 00..0f, empty message) and
    TensorFlow's own StringToHashBucketStrong kernel test (key [98765, 132]: full 64-bit hashes)."""
    from ember.keras.layers.preprocessing_text import _siphash64

    key = (int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little"))
    assert _siphash64(b"", key) == 0x726FDB47DD0E0E31
    assert [_siphash64(c, [98765, 132]) for c in "abc"] == [7157389809176466784, 15805638358933211562,
                                                          18100027895074076528]
    assert L.Hashing(10, salt=[98765, 132])(["a", "b", "c"]).tolist() == [4, 2, 8]
    # floats are truncated to integers before hashing, as Keras casts them to int64
    assert L.Hashing(3, salt=[133, 137])(np.array([[0.7], [4.2]])).tolist() == [[1], [1]]
