"""keras.utils image files and dataset builders. Image functions and the directory listing (file order,
labels, seeded shuffle) are compared with real Keras 3 (torch backend; they need no TensorFlow). Keras's
timeseries_dataset_from_array and split_dataset build tf.data pipelines (TensorFlow is absent), so those rows
check the documented window arithmetic against a plain loop written from Keras's docs."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
pytest.importorskip("PIL")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from keras.src.utils import dataset_utils as real_dataset_utils  # noqa: E402

from ember import keras  # noqa: E402

rng = np.random.default_rng(0)
U = keras.utils

ARRAYS = [
    ("rgb", rng.uniform(0, 1, (5, 6, 3)), {}),
    ("gray", rng.uniform(-3, 3, (4, 7, 1)), {}),
    ("rgba-unscaled", rng.uniform(0, 255, (3, 4, 4)), {"scale": False}),
    ("channels-first", rng.uniform(0, 9, (3, 5, 2)), {"data_format": "channels_first"}),
]


@pytest.mark.parametrize("x, kwargs", [r[1:] for r in ARRAYS], ids=[r[0] for r in ARRAYS])
def test_array_image_round_trip_matches_real_keras(x, kwargs):
    ours, theirs = U.array_to_img(x, **kwargs), real.utils.array_to_img(x, **kwargs)
    assert ours.mode == theirs.mode and ours.size == theirs.size
    fmt = kwargs.get("data_format")
    np.testing.assert_array_equal(U.img_to_array(ours, data_format=fmt),
                                  real.utils.img_to_array(theirs, data_format=fmt))


@pytest.fixture
def png(tmp_path):
    path = str(tmp_path / "image.png")
    U.save_img(path, rng.uniform(0, 255, (12, 20, 3)).astype("float32"), scale=False)
    return path


LOADS = [
    {}, {"color_mode": "grayscale"}, {"color_mode": "rgba"}, {"target_size": (6, 8)},
    {"target_size": (5, 9), "interpolation": "bilinear"}, {"target_size": (6, 6), "keep_aspect_ratio": True},
]


@pytest.mark.parametrize("kwargs", LOADS, ids=[str(k) for k in LOADS])
def test_load_img_matches_real_keras(png, kwargs):
    np.testing.assert_array_equal(U.img_to_array(U.load_img(png, **kwargs)),
                                  real.utils.img_to_array(real.utils.load_img(png, **kwargs)))


def test_save_img_writes_what_keras_reads(tmp_path):
    x = rng.uniform(0, 255, (4, 5, 3)).round().astype("float32")
    U.save_img(str(tmp_path / "a.png"), x, scale=False)
    np.testing.assert_array_equal(real.utils.img_to_array(real.utils.load_img(str(tmp_path / "a.png"))), x)
    with pytest.raises(FileNotFoundError, match="no image file"):
        U.load_img(str(tmp_path / "missing.png"))


@pytest.fixture
def image_dir(tmp_path):
    root = tmp_path / "images"
    for c, name in enumerate(["cat", "dog", "emu"]):
        (root / name).mkdir(parents=True)
        for i in range(4 + c):
            size = (8, 10) if i % 2 else (16, 12)
            U.save_img(str(root / name / f"{i:02d}.png"), np.full(size + (3,), 40.0 * c + i), scale=False)
    (root / "cat" / "notes.txt").write_text("not an image")
    return str(root)


@pytest.mark.parametrize("shuffle, seed", [(False, None), (True, 7), (True, 123)])
def test_directory_order_and_labels_match_real_keras(image_dir, shuffle, seed):
    expected = real_dataset_utils.index_directory(image_dir, "inferred", (".png", ".jpg"), shuffle=shuffle,
                                                  seed=seed, verbose=False)
    ds = U.image_dataset_from_directory(image_dir, image_size=(8, 10), shuffle=shuffle, seed=seed, batch_size=4,
                                        verbose=False)
    assert ds.file_paths == expected[0] and ds.class_names == expected[2] == ["cat", "dog", "emu"]
    labels = np.concatenate([y for _, y in ds])
    np.testing.assert_array_equal(labels, expected[1])
    images = np.concatenate([x for x, _ in ds])
    assert images.shape == (15, 8, 10, 3) and images.dtype == np.float32
    small = [i for i, p in enumerate(ds.file_paths) if int(os.path.basename(p)[:2]) % 2]  # already 8x10
    for i in small:
        np.testing.assert_array_equal(images[i], real.utils.img_to_array(real.utils.load_img(ds.file_paths[i])))


def test_label_modes_color_modes_and_validation_split(image_dir):
    kw = {"image_size": (8, 8), "seed": 1, "verbose": False}
    x, y = U.image_dataset_from_directory(image_dir, label_mode="categorical", color_mode="grayscale", **kw)[0]
    assert x.shape == (15, 8, 8, 1) and y.shape == (15, 3) and (y.sum(1) == 1).all()
    train, val = U.image_dataset_from_directory(image_dir, validation_split=0.2, subset="both", **kw)
    assert (len(train.file_paths), len(val.file_paths)) == (12, 3)  # Keras: int(0.2 * 15) held out, at the end
    assert sorted(train.file_paths + val.file_paths) == sorted(U.image_dataset_from_directory(image_dir, **kw)
                                                               .file_paths)
    only_val = U.image_dataset_from_directory(image_dir, validation_split=0.2, subset="validation", **kw)
    assert only_val.file_paths == val.file_paths
    unlabeled = U.image_dataset_from_directory(image_dir, labels=None, **kw)[0]
    assert unlabeled.shape == (15, 8, 8, 3)
    two = U.image_dataset_from_directory(image_dir, class_names=["emu", "cat"], label_mode="binary", **kw)
    assert two.class_names == ["emu", "cat"] and two[0][1].shape == (10, 1)  # 6 emus and 4 cats
    with pytest.raises(ValueError, match="exactly 2 classes"):
        U.image_dataset_from_directory(image_dir, label_mode="binary", **kw)
    with pytest.raises(ValueError, match="pass seed"):
        U.image_dataset_from_directory(image_dir, validation_split=0.2, subset="training", verbose=False)


def test_image_dataset_trains_a_model(image_dir):
    train = U.image_dataset_from_directory(image_dir, image_size=(8, 8), batch_size=5, seed=3, verbose=False)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=False)
    assert len(model.fit(train, epochs=2, verbose=0).history["loss"]) == 2


def test_text_dataset_from_directory(tmp_path):
    for label, texts in (("neg", ["bad", "awful film"]), ("pos", ["good", "great", "fine"])):
        (tmp_path / label).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(t)
    ds = U.text_dataset_from_directory(str(tmp_path), shuffle=False, batch_size=8, max_length=4, verbose=False)
    texts, labels = ds[0]
    assert texts.tolist() == ["bad", "awfu", "good", "grea", "fine"] and labels.tolist() == [0, 0, 1, 1, 1]


def test_text_pipeline_with_map_as_in_keras_io(tmp_path):
    # keras.io's text classification: adapt on the texts, then map the vectorizer over (text, label) batches
    for label, texts in (("neg", ["bad film", "awful", "boring plot"]), ("pos", ["good film", "great", "fun plot"])):
        (tmp_path / label).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(t)
    raw = U.text_dataset_from_directory(str(tmp_path), batch_size=2, seed=0, verbose=False)
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(raw.map(lambda x, y: x))
    train = raw.map(lambda x, y: (vectorize(x), y)).prefetch(2).cache()
    assert len(train) == 3 and tuple(train[0][0].shape) == (2, 4)
    model = keras.Sequential([keras.Input((4,), dtype="int64"), keras.layers.Embedding(20, 4),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", jit_compile=False)
    assert len(model.fit(train, epochs=1, verbose=0).history["loss"]) == 1


def _windows(data, targets, length, stride=1, rate=1, start=None, end=None):
    """Keras's documented rule, as a loop: window i starts at start + i*stride; its target is targets[that]."""
    start, end = start or 0, len(data) if end is None else end
    xs, ys, i = [], [], 0
    while start + i * stride + (length - 1) * rate < end and (targets is None or i * stride < len(targets)):
        first = start + i * stride
        xs.append([data[first + j * rate] for j in range(length)])
        ys.append(None if targets is None else targets[first])
        i += 1
    return np.array(xs), np.array(ys)


DATA = np.arange(100)
SERIES = [
    ("docs-example-1", DATA[:-10], DATA[10:], {"sequence_length": 10}),
    ("stride-and-rate", DATA, DATA * 2, {"sequence_length": 5, "sequence_stride": 3, "sampling_rate": 4}),
    ("start-end", DATA, -DATA, {"sequence_length": 4, "start_index": 7, "end_index": 40, "sequence_stride": 2}),
    ("short-targets", DATA, DATA[:20], {"sequence_length": 3}),
    ("no-targets", np.stack([DATA, -DATA], 1), None, {"sequence_length": 6, "sampling_rate": 2}),
]


@pytest.mark.parametrize("data, targets, kwargs", [r[1:] for r in SERIES], ids=[r[0] for r in SERIES])
def test_timeseries_windows_follow_keras_rule(data, targets, kwargs):
    ds = U.timeseries_dataset_from_array(data, targets, batch_size=16, **kwargs)
    batches = list(ds)
    assert all(len(b[0] if targets is not None else b) <= 16 for b in batches)
    names = {"sequence_length": "length", "sequence_stride": "stride", "sampling_rate": "rate",
             "start_index": "start", "end_index": "end"}
    xs, ys = _windows(data, targets, **{names[k]: v for k, v in kwargs.items()})
    if targets is None:
        np.testing.assert_array_equal(np.concatenate(batches), xs)
    else:
        np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), xs)
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), ys)


def test_timeseries_shuffle_and_fit():
    x, y = U.timeseries_dataset_from_array(DATA, DATA, 5, shuffle=True, seed=4, batch_size=None).arrays
    again = U.timeseries_dataset_from_array(DATA, DATA, 5, shuffle=True, seed=4, batch_size=None).arrays[0]
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x[:, 0], np.sort(x[:, 0])) and sorted(x[:, 0].tolist()) == list(range(96))
    np.testing.assert_array_equal(x[:, 0], y)  # each window keeps its own target
    series = rng.normal(size=(60, 2)).astype("float32")
    ds = U.timeseries_dataset_from_array(series, series[:, 0], 8, batch_size=16)
    model = keras.Sequential([keras.Input((8, 2)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("adam", "mse", jit_compile=False)
    assert len(model.fit(ds, epochs=1, verbose=0).history["loss"]) == 1


SPLITS = [({"left_size": 0.8}, (8, 2)), ({"right_size": 3}, (7, 3)), ({"left_size": 4, "right_size": 0.25}, (4, 2)),
          ({"left_size": 0.25}, (2, 8))]  # Keras rounds fractions: round(0.25 * 10) = 2


@pytest.mark.parametrize("kwargs, sizes", SPLITS)
def test_split_dataset_sizes_and_order(kwargs, sizes):
    x, y = np.arange(10), np.arange(10) * 10
    left, right = U.split_dataset((x, y), **kwargs)
    assert (len(left), len(right)) == sizes
    np.testing.assert_array_equal(left.arrays[0], x[: sizes[0]])
    np.testing.assert_array_equal(right.arrays[1], y[10 - sizes[1]:])


def test_split_dataset_shuffles_with_a_seed_and_feeds_fit():
    data = np.arange(20, dtype="float32")[:, None]
    a, b = U.split_dataset(data, left_size=0.5, shuffle=True, seed=2)
    c, _ = U.split_dataset(data, left_size=0.5, shuffle=True, seed=2)
    np.testing.assert_array_equal(a.arrays, c.arrays)
    assert sorted(np.concatenate([a.arrays, b.arrays]).ravel().tolist()) == list(range(20))
    assert a[0].shape == (1,) and len(a.batch(3)) == 4
    train, _ = U.split_dataset((data, data * 2), left_size=16)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", jit_compile=False)
    assert len(model.fit(train.batch(4), epochs=1, verbose=0).history["loss"]) == 1
    with pytest.raises(ValueError, match="left_size"):
        U.split_dataset(data, left_size=1.5)
