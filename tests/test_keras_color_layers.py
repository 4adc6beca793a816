"""Colour augmentation layers against real Keras 3: where Keras's draws are fixed by the factors the outputs
must be equal; where they are random, the share of images changed must follow the probability."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")

from ember import keras  # noqa: E402

RNG = np.random.default_rng(0)
PIXELS = (RNG.random((3, 5, 4, 3)) * 255).astype("float32")
UNIT = RNG.random((2, 4, 4, 3)).astype("float32")
FLAT = PIXELS.copy()
FLAT[0, :, :, 1] = 7.0  # a flat channel: nothing to stretch
WITH_NAN = PIXELS.copy()
WITH_NAN[1, 0, 0, 2] = np.nan

FIXED = {  # name: (layer class name, kwargs, images, call kwargs)
    "gray_always": ("RandomGrayscale", {"factor": 1.0}, PIXELS, {}),
    "gray_never": ("RandomGrayscale", {"factor": 0.0}, PIXELS, {}),
    "gray_single_image": ("RandomGrayscale", {"factor": 1.0}, PIXELS[0], {}),
    "invert_always": ("RandomInvert", {"factor": (1.0, 1.0)}, PIXELS, {}),
    "invert_never": ("RandomInvert", {"factor": 0.0}, PIXELS, {}),
    "invert_unit_range": ("RandomInvert", {"factor": (1.0, 1.0), "value_range": (0, 1)}, UNIT, {}),
    "solarize_all": ("Solarization", {}, PIXELS, {}),
    "solarize_unit_range": ("Solarization", {"value_range": (0, 1)}, UNIT, {}),
    "autocontrast": ("AutoContrast", {}, PIXELS, {}),
    "autocontrast_unit": ("AutoContrast", {"value_range": (0, 1)}, UNIT * 0.5 + 0.2, {}),
    "autocontrast_flat": ("AutoContrast", {}, FLAT, {}),
    "autocontrast_inference": ("AutoContrast", {}, PIXELS, {"training": False}),
    "invert_inference": ("RandomInvert", {"factor": (1.0, 1.0)}, PIXELS, {"training": False}),
    "posterize_3_bits": ("RandomPosterization", {"factor": (3, 3)}, PIXELS, {}),
    "posterize_1_bit": ("RandomPosterization", {"factor": (1, 1)}, PIXELS, {}),
    "posterize_unit_range": ("RandomPosterization", {"factor": (5, 5), "value_range": (0, 1)}, UNIT, {}),
    "degenerate_half": ("RandomColorDegeneration", {"factor": (0.5, 0.5)}, PIXELS, {}),
    "degenerate_negative": ("RandomColorDegeneration", {"factor": (-0.7, -0.7)}, PIXELS, {}),
    "degenerate_unit_range": ("RandomColorDegeneration", {"factor": (1.0, 1.0), "value_range": (0, 1)}, UNIT, {}),
}


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("case", sorted(FIXED))
def test_fixed_draws_match_keras(case):
    name, kwargs, images, call = FIXED[case]
    want = _np(getattr(real.layers, name)(**kwargs)(images.copy(), **call))
    got = _np(getattr(keras.layers, name)(**kwargs)(images, **call))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3, equal_nan=True)


def test_autocontrast_leaves_nan_pixels_out_of_the_stretch():
    # Keras 3.15's stretch of a channel holding a NaN is neither nan-aware nor NaN: Ember takes the channel's
    # min and max over its other pixels (NumPy's nanmin / nanmax) and keeps the NaN where it was
    got = _np(keras.layers.AutoContrast()(WITH_NAN))
    low = np.nanmin(WITH_NAN, axis=(1, 2), keepdims=True)
    high = np.nanmax(WITH_NAN, axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(got, (WITH_NAN - low) / (high - low) * 255, rtol=1e-5, atol=1e-3, equal_nan=True)
    assert np.isnan(got[1, 0, 0, 2]) and np.isfinite(np.delete(got.reshape(-1), 1 * 60 + 2)).all()


@pytest.mark.parametrize("name,kwargs,share", [("RandomGrayscale", {"factor": 0.3}, 0.3),
                                               ("RandomInvert", {"factor": 1.0}, 0.5),
                                               ("RandomInvert", {"factor": (0.2, 0.6)}, 0.4)])
def test_share_of_images_changed_follows_the_probability(name, kwargs, share):
    images = np.repeat(PIXELS[:1], 600, axis=0)
    out = _np(getattr(keras.layers, name)(seed=3, **kwargs)(images))
    changed = np.abs(out - images).reshape(len(images), -1).max(1) > 1e-3
    assert abs(changed.mean() - share) < 0.07
    again = _np(getattr(keras.layers, name)(seed=3, **kwargs)(images))
    np.testing.assert_array_equal(out, again)  # the same seed, the same draws


def test_posterization_draws_the_bits_kept_per_image():
    out = _np(keras.layers.RandomPosterization(4, seed=2)(np.repeat(PIXELS[:1], 200, axis=0)))
    levels = {len(np.unique(image)) for image in out}  # 1, 2 or 3 bits kept: 2, 4 or 8 levels
    assert levels == {2, 4, 8}


def test_solarization_thresholds_split_the_pixels():
    ramp = np.linspace(0, 255, 256, dtype="float32").reshape(1, 16, 16, 1).repeat(50, 0)
    out = _np(keras.layers.Solarization(threshold_factor=(0.5, 0.5), seed=1)(ramp))
    inverted = np.abs(out - (255 - ramp)) < 1e-3
    kept = np.abs(out - ramp) < 1e-3
    assert (inverted | kept).all()
    first_inverted = inverted.reshape(50, -1).argmax(1)  # the per-image threshold, drawn in [0.5, 127.5]
    assert 0 <= first_inverted.min() and first_inverted.max() <= 128 and len(set(first_inverted)) > 10


def test_configs_round_trip_from_keras_and_errors():
    for layer in (real.layers.RandomGrayscale(0.2), real.layers.RandomInvert((0.1, 0.4), value_range=(0, 1)),
                  real.layers.Solarization(0.2, (0.1, 0.3)), real.layers.AutoContrast((0, 1))):
        ours = keras.layers.deserialize(real.layers.serialize(layer))
        assert type(ours).__name__ == type(layer).__name__
    assert keras.layers.deserialize(real.layers.serialize(real.layers.Solarization(0.2, (0.1, 0.3)))
                                    ).threshold_factor == (0.1, 0.3)
    with pytest.raises(ValueError, match=r"factor must be a number in \[0, 1\]"):
        keras.layers.RandomInvert(factor=1.5)
    with pytest.raises(ValueError, match="value_range must be"):
        keras.layers.AutoContrast(value_range=(1, 0))
    with pytest.raises(ValueError, match="expected 3 \\(RGB\\) channels"):
        keras.layers.RandomGrayscale(1.0)(np.ones((1, 2, 2, 1), "float32"))
