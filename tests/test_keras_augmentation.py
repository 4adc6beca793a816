"""Random image augmentation layers against real Keras 3 (torch backend): fixed factors make Keras's
transforms deterministic, so those rows compare outputs to 1e-4; the random draws are checked by statistics."""

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
FILL_MODES = ["reflect", "wrap", "constant", "nearest"]


def _affine_rows():
    rows = []
    for fill in FILL_MODES:
        for interp in ["bilinear", "nearest"]:
            kw = {"fill_mode": fill, "interpolation": interp, "fill_value": 3.0}
            rows += [
                (f"rotate-{fill}-{interp}", lambda L, kw=kw: L.layers.RandomRotation((0.1, 0.1), **kw), IMAGES),
                (f"zoom-{fill}-{interp}", lambda L, kw=kw: L.layers.RandomZoom((0.3, 0.3), (-0.2, -0.2), **kw),
                 IMAGES),
                (f"shift-{fill}-{interp}",
                 lambda L, kw=kw: L.layers.RandomTranslation((0.25, 0.25), (-0.3, -0.3), **kw), IMAGES),
            ]
    return rows


# (id, layer factory, input): every factor is a one-point range, so Keras's output is fixed
DETERMINISTIC = _affine_rows() + [
    ("rotate-quarter-turn", lambda L: L.layers.RandomRotation((0.25, 0.25)), IMAGES),
    ("zoom-aspect-kept", lambda L: L.layers.RandomZoom((-0.4, -0.4)), IMAGES),
    ("rotate-one-image", lambda L: L.layers.RandomRotation((-0.3, -0.3)), IMAGES[0]),
    ("rotate-channels-first", lambda L: L.layers.RandomRotation((0.2, 0.2), data_format="channels_first"),
     IMAGES.transpose(0, 3, 1, 2)),
    ("contrast-1.5", lambda L: L.layers.RandomContrast((-0.5, 0.5)), IMAGES),
    ("contrast-unit-range", lambda L: L.layers.RandomContrast((-0.8, 0.8), value_range=(0, 1)), IMAGES / 255),
    ("brightness+0.2", lambda L: L.layers.RandomBrightness((0.2, 0.2)), IMAGES),
    ("brightness-0.3-unit", lambda L: L.layers.RandomBrightness((-0.3, -0.3), value_range=(0, 1)), IMAGES / 255),
    ("crop-resize-up", lambda L: L.layers.RandomCrop(10, 12), IMAGES),
    ("crop-one-axis-small", lambda L: L.layers.RandomCrop(5, 12), IMAGES),
    ("crop-same-size", lambda L: L.layers.RandomCrop(7, 9), IMAGES),
]


@pytest.mark.parametrize("make, x", [r[1:] for r in DETERMINISTIC], ids=[r[0] for r in DETERMINISTIC])
def test_fixed_factor_transform_matches_real_keras(make, x):
    expected = real.ops.convert_to_numpy(make(real)(x, training=True))
    got = make(keras)(x, training=True).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4 * 255, rtol=1e-4)


# (id, factory): random layers, compared at inference (fit/predict run them with training=False)
RANDOM = [
    ("rotation", lambda L: L.layers.RandomRotation(0.2)),
    ("zoom", lambda L: L.layers.RandomZoom(0.3, 0.2, fill_mode="constant")),
    ("translation", lambda L: L.layers.RandomTranslation(0.2, 0.3, fill_mode="wrap")),
    ("crop", lambda L: L.layers.RandomCrop(4, 5)),
    ("contrast", lambda L: L.layers.RandomContrast(0.5)),
    ("brightness", lambda L: L.layers.RandomBrightness(0.5)),
]


@pytest.mark.parametrize("make", [r[1] for r in RANDOM], ids=[r[0] for r in RANDOM])
def test_inference_matches_real_keras(make):
    expected = real.ops.convert_to_numpy(make(real)(IMAGES, training=False))
    np.testing.assert_array_equal(make(keras)(IMAGES, training=False).numpy(), expected)
    model = keras.Sequential([keras.Input(IMAGES.shape[1:]), make(keras)])
    np.testing.assert_array_equal(model.predict(IMAGES, verbose=0), expected)


MANY = np.repeat(IMAGES[:1], 64, axis=0)


def test_rotation_draws_angles_within_factor():
    # a constant-filled rotation of a uniform image leaves a border whose size grows with the angle
    ones = np.ones((256, 16, 16, 1), "float32")
    small = keras.layers.RandomRotation(0.02, fill_mode="constant")(ones).numpy()
    large = keras.layers.RandomRotation((0.1, 0.125), fill_mode="constant")(ones).numpy()
    filled_small, filled_large = (1 - small).sum((1, 2, 3)), (1 - large).sum((1, 2, 3))
    assert filled_small.max() < filled_large.min()  # every 36-45 degree turn loses more than any 0-7 degree one
    assert len(np.unique(np.round(filled_large, 3))) > 200  # one angle per image


def test_zoom_and_translation_vary_per_image_and_stay_in_range():
    for layer in (keras.layers.RandomZoom(0.3), keras.layers.RandomTranslation(0.2, 0.2)):
        out = layer(MANY).numpy()
        assert out.shape == MANY.shape
        assert out.min() >= IMAGES.min() - 1e-3 and out.max() <= IMAGES.max() + 1e-3  # reflect: convex mixes
        changed = np.abs(out - MANY).max(axis=(1, 2, 3)) > 1e-3
        assert changed.mean() > 0.9
        assert len({o.tobytes() for o in out}) > 50


def test_random_crop_takes_windows_of_the_input():
    big = np.arange(10 * 12, dtype="float32").reshape(1, 10, 12, 1)
    starts = set()
    layer = keras.layers.RandomCrop(4, 5)
    for _ in range(40):
        out = layer(big).numpy()[0, :, :, 0]
        top, left = divmod(int(out[0, 0]), 12)
        np.testing.assert_array_equal(out, big[0, top : top + 4, left : left + 5, 0])
        starts.add((top, left))
    assert len(starts) > 10 and max(t for t, _ in starts) <= 6 and max(s for _, s in starts) <= 7


def test_contrast_and_brightness_factors_follow_keras_ranges():
    contrast = keras.layers.RandomContrast(0.5, value_range=(-1e9, 1e9))(MANY).numpy()
    mean = MANY.mean(axis=(1, 2), keepdims=True)
    factor = ((contrast - mean) / (MANY - mean)).mean(axis=(1, 2, 3))
    assert 1.0 <= factor.min() and factor.max() <= 1.5 and factor.std() > 0.05  # Keras 3: f -> [1, 1 + f]
    brighter = keras.layers.RandomBrightness(0.1, value_range=(-1e9, 1e9))(MANY).numpy()
    delta = (brighter - MANY).mean(axis=(1, 2, 3)) / 2e9
    assert -0.1 <= delta.min() and delta.max() <= 0.1 and delta.std() > 0.02
    clipped = keras.layers.RandomBrightness(0.5)(MANY).numpy()
    assert clipped.min() >= 0 and clipped.max() <= 255


def test_compiled_augmentation_draws_fresh_transforms():
    layer = keras.layers.RandomRotation(0.2)
    step = ember.compile(lambda x: layer(x, training=True))
    x = ember.tensor(IMAGES)
    first, second = step(x).numpy(), step(x).numpy()
    assert not np.allclose(first, second)
    ember.manual_seed(5)
    eager = layer(x, training=True).numpy()
    ember.manual_seed(5)
    np.testing.assert_allclose(step(x).numpy(), eager, atol=1e-4)  # the same generator state, the same draw


def test_augmentation_model_trains_with_fit():
    x = rng.uniform(0, 1, (16, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.RandomRotation(0.1), keras.layers.RandomZoom(0.1),
        keras.layers.RandomCrop(6, 6), keras.layers.RandomContrast(0.2, value_range=(0, 1)),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    assert model.layers[2].output.shape == (None, 6, 6, 1)  # Keras's symbolic shape for RandomCrop
    model.compile("adam", "binary_crossentropy", jit_compile=False)  # compiled draws: the test above
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(x[:4], verbose=0).shape == (4, 1)


def test_config_round_trip_and_saved_model(tmp_path):
    for _, make in RANDOM:
        layer = make(keras)
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.RandomRotation(0.1, fill_mode="wrap"),
                              keras.layers.RandomCrop(6, 6), keras.layers.GlobalAveragePooling2D()])
    path = str(tmp_path / "augment.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_allclose(loaded.predict(IMAGES[:, :8, :8, :1], verbose=0),
                               model.predict(IMAGES[:, :8, :8, :1], verbose=0), atol=1e-6)


BAD = [
    (lambda: keras.layers.RandomRotation(0.2, fill_mode="mirror"), "fill_mode"),
    (lambda: keras.layers.RandomZoom(0.2, interpolation="bicubic"), "interpolation"),
    (lambda: keras.layers.RandomZoom(-1.0), "factors must lie"),
    (lambda: keras.layers.RandomRotation(1.5), "factor"),
    (lambda: keras.layers.RandomContrast("big"), "factor"),
    (lambda: keras.layers.RandomRotation(0.1)(np.zeros((2, 3), "float32")), "expected images"),
]


@pytest.mark.parametrize("make, words", BAD)
def test_bad_arguments_are_named(make, words):
    with pytest.raises(ValueError, match=words):
        make()
