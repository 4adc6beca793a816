"""HashedCrossing: Keras's bins. Keras 3 computes them with TensorFlow (``tf.sparse.cross_hashed``), so where
TensorFlow is missing real Keras cannot run the layer; the rows then check the values Keras and TensorFlow
document and test (Keras's HashedCrossing docstring and tests, TensorFlow's sparse_cross_op tests), and
compare with real Keras directly when it can run."""

import os

import numpy as np
import pytest

pytest.importorskip("farmhash")

from ember import keras  # noqa: E402
from ember.keras.layers.hashed_crossing import cross_hash  # noqa: E402

FEAT1, FEAT2 = np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])


def test_keras_documented_bins():
    assert keras.layers.HashedCrossing(num_bins=5)((FEAT1, FEAT2)).tolist() == [1, 4, 1, 1, 3]
    assert int(keras.layers.HashedCrossing(num_bins=10)(("A", 101))) == 1
    one_hot = keras.layers.HashedCrossing(num_bins=5, output_mode="one_hot")((FEAT1, FEAT2)).numpy()
    np.testing.assert_array_equal(one_hot, np.eye(5, dtype="float32")[[1, 4, 1, 1, 3]])


def test_tensorflow_sparse_cross_hashed_values():
    # TensorFlow's sparse_cross_hashed with num_buckets=0 takes the value modulo the int64 maximum
    strings = ["batch1-FC1-F1", "batch1-FC2-F1", "batch1-FC3-F1"]
    assert cross_hash(strings, 2**63 - 1) == 1971693436396284976
    assert cross_hash([s.encode() for s in strings], 2**63 - 1) == 1971693436396284976


@pytest.mark.parametrize("shape", [(), (4,), (4, 1)])
@pytest.mark.parametrize("mode", ["int", "one_hot"])
def test_shapes_and_dtypes_like_keras(shape, mode):
    a = np.arange(int(np.prod(shape)), dtype="int64").reshape(shape)
    out = keras.layers.HashedCrossing(7, output_mode=mode)((a, a * 3 - 5))
    if mode == "int":
        assert tuple(out.shape) == shape and str(out.dtype).endswith("int64")
        assert ((out.numpy() >= 0) & (out.numpy() < 7)).all()
    else:  # Keras: a scalar is one sample, a (batch, 1) column one row per sample
        assert tuple(out.shape) == ((1,) if shape == () else shape[:1]) + (7,) and str(out.dtype).endswith("float32")
        np.testing.assert_array_equal(out.numpy().sum(-1), 1.0)
    assert str(keras.layers.HashedCrossing(7, dtype="int32")((a, a)).dtype).endswith("int32")


def test_crossing_properties():
    layer = keras.layers.HashedCrossing(16)
    a, b = np.arange(4000) - 2000, np.arange(4000) % 7
    bins = layer((a, b)).numpy()
    assert not np.array_equal(bins, layer((b, a)).numpy())  # the order of the features matters
    counts = np.bincount(bins, minlength=16)
    assert counts.min() > 150 and counts.max() < 350  # about uniform (250 each)
    assert layer((np.array([b"x", b"y"]), np.array([1, 2]))).tolist() == layer((["x", "y"], [1, 2])).tolist()
    three = keras.layers.HashedCrossing(1000)((a[:50], b[:50], a[:50]))
    assert len(set(three.tolist())) > 40  # a third feature changes the bins
    config = keras.layers.HashedCrossing(9, output_mode="one_hot").get_config()
    assert {k: config[k] for k in ("num_bins", "output_mode", "sparse")} == {"num_bins": 9, "output_mode": "one_hot",
                                                                             "sparse": False}
    clone = keras.layers.HashedCrossing.from_config(config)
    np.testing.assert_array_equal(clone((FEAT1, FEAT2)).numpy(), np.eye(9)[[cross_hash(r, 9) for r in zip(FEAT1,
                                                                                                         FEAT2)]])


ERRORS = [  # (kwargs, inputs, error, words)
    ({"num_bins": 5}, FEAT1, ValueError, "list or tuple"),
    ({"num_bins": 5}, [FEAT1], ValueError, "at least two"),
    ({"num_bins": 5}, (np.ones((2, 2), "int64"), np.ones((2, 2), "int64")), ValueError, "should have shape"),
    ({"num_bins": 5}, (np.ones(3, "int64"), np.ones(4, "int64")), ValueError, "equal shape"),
    ({"num_bins": 5}, (np.ones(3), np.ones(3)), ValueError, "integer or string"),
    ({"num_bins": 5, "output_mode": "multi_hot"}, None, ValueError, "output_mode"),
    ({"num_bins": 5, "sparse": True}, None, ValueError, "sparse"),
    ({"num_bins": 0}, None, ValueError, "num_bins"),
]


@pytest.mark.parametrize("kwargs, inputs, error, words", ERRORS, ids=[r[-1] for r in ERRORS])
def test_bad_inputs_raise(kwargs, inputs, error, words):
    with pytest.raises(error, match=words):
        keras.layers.HashedCrossing(**kwargs)(inputs)


def test_against_real_keras_when_it_can_run():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    real = pytest.importorskip("keras")
    try:
        theirs = real.layers.HashedCrossing(num_bins=11)
    except ImportError:
        pytest.skip("Keras's HashedCrossing needs TensorFlow, which is not installed")
    a, b = np.array(["x", "y", "zz", "x"]), np.array([3, -4, 5, 2**40])
    np.testing.assert_array_equal(keras.layers.HashedCrossing(11)((a, b)).numpy(), np.asarray(theirs((a, b))))
