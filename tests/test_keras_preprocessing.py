"""Preprocessing layers and keras.utils helpers against real Keras 3 (torch backend)."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

import ember  # noqa: E402
from ember import keras  # noqa: E402

rng = np.random.default_rng(0)
IMAGES = rng.uniform(0, 255, (2, 7, 9, 3)).astype("float32")
IDS = np.array([[0, 1, 1], [2, 2, 3]])

# (layer factory, input); the layers are deterministic at inference
PREPROCESSING = [
    (lambda lib: lib.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25]), IMAGES),
    (lambda lib: lib.layers.Normalization(mean=2.0, variance=9.0, invert=True), IMAGES),
    (lambda lib: lib.layers.Resizing(4, 5), IMAGES),
    (lambda lib: lib.layers.Resizing(14, 12), IMAGES),
    (lambda lib: lib.layers.Resizing(5, 5, crop_to_aspect_ratio=True), IMAGES),
    (lambda lib: lib.layers.CenterCrop(4, 5), IMAGES),
    (lambda lib: lib.layers.CenterCrop(5, 6), IMAGES[0]),
    (lambda lib: lib.layers.CategoryEncoding(4, "multi_hot"), IDS),
    (lambda lib: lib.layers.CategoryEncoding(4, "count"), IDS),
    (lambda lib: lib.layers.CategoryEncoding(4, "count"), IDS[0]),
    (lambda lib: lib.layers.CategoryEncoding(4, "one_hot"), IDS[:, :1]),
    (lambda lib: lib.layers.Discretization([0.0, 1.0, 2.5]), np.array([[-1.0, 0.0, 0.5], [1.0, 2.5, 9.0]])),
]


@pytest.mark.parametrize("make, x", PREPROCESSING, ids=[str(i) for i in range(len(PREPROCESSING))])
def test_preprocessing_matches_real_keras(make, x):
    expected = real.ops.convert_to_numpy(make(real)(x))
    got = make(keras)(x).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-3, rtol=1e-4)


def test_normalization_adapt_matches_real_keras():
    data = rng.normal(3.0, 2.0, (50, 4)).astype("float32")
    ours, theirs = keras.layers.Normalization(), real.layers.Normalization()
    ours.adapt(data)
    theirs.adapt(data)
    np.testing.assert_allclose(ours(data).numpy(), real.ops.convert_to_numpy(theirs(data)), atol=1e-4)


def test_random_flip_draws_from_embers_generator():
    flip = keras.layers.RandomFlip("horizontal")
    ember.manual_seed(3)
    a = flip(IMAGES, training=True).numpy()
    ember.manual_seed(3)
    b = flip(IMAGES, training=True).numpy()
    np.testing.assert_array_equal(a, b)  # the same seed, the same flips
    for got, image in zip(a, IMAGES):
        assert np.array_equal(got, image) or np.array_equal(got, image[:, ::-1])


# (args, kwargs) for pad_sequences
PADS = [
    (([[1, 2, 3], [4], [5, 6]],), {}),
    (([[1, 2, 3], [4], [5, 6]],), {"maxlen": 2}),
    (([[1, 2, 3], [4], [5, 6]],), {"maxlen": 2, "padding": "post", "truncating": "post", "value": -1}),
    (([[1.5, 2.5], [3.0]],), {"dtype": "float32", "maxlen": 4}),
    (([[], [1]],), {}),
]


@pytest.mark.parametrize("args, kwargs", PADS)
def test_pad_sequences_matches_real_keras(args, kwargs):
    expected = real.utils.pad_sequences(*args, **kwargs)
    got = keras.utils.pad_sequences(*args, **kwargs)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("lib", [keras, real], ids=["ember", "keras"])
def test_random_flip_augments_on_direct_calls_only(lib):
    flip = lib.layers.RandomFlip("vertical", seed=1)
    many = np.repeat(IMAGES[:1], 16, axis=0)
    assert not np.allclose(lib.ops.convert_to_numpy(flip(many)), many)
    np.testing.assert_array_equal(lib.ops.convert_to_numpy(flip(many, training=False)), many)
    model = lib.Sequential([lib.Input(IMAGES.shape[1:]), flip])
    np.testing.assert_array_equal(model.predict(many, verbose=0), many)


def test_py_dataset_trains_and_gets_epoch_end():
    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epochs_seen = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            x = np.full((8, 2), i, "float32")
            return x, x.sum(1, keepdims=True)

        def on_epoch_end(self):
            self.epochs_seen += 1

    data = Batches()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and data.epochs_seen == 2
    assert keras.utils.Sequence is keras.utils.PyDataset
