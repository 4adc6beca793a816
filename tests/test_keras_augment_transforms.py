"""The two-step augmentation layers (RandomErasing, RandomHue, RandomSaturation, RandomSharpness,
RandomGaussianBlur, Equalization) against real Keras 3 (torch backend). The RNGs differ, so each row draws a
transformation with Keras's ``get_random_transformation``, applies it with both layers' ``transform_images``
and the outputs must be equal; Ember's own draws must have Keras's keys and shapes, inference must pass
images through as Keras does, and the randomness must follow the factors."""

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

RNG = np.random.default_rng(0)
PIXELS = RNG.uniform(0, 255, (3, 6, 7, 3)).astype("float32")
UNIT = PIXELS / 255.0
CF = {"data_format": "channels_first"}

ROWS = [  # (layer, kwargs, images in channels_last)
    ("RandomErasing", {"factor": (0.5, 1.0)}, PIXELS),
    ("RandomErasing", {"fill_value": (10, 20, 30), "scale": (0.1, 0.6)}, PIXELS),
    ("RandomErasing", {"fill_value": 300.0, "factor": (1.0, 1.0), **CF}, PIXELS),
    ("RandomHue", {"factor": 0.5}, PIXELS),
    ("RandomHue", {"factor": (0.2, 0.9), "value_range": (0, 1)}, UNIT),
    ("RandomHue", {"factor": 1.0, **CF}, PIXELS),
    ("RandomSaturation", {"factor": 0.5}, PIXELS),
    ("RandomSaturation", {"factor": (0.2, 0.9), "value_range": (0, 1)}, UNIT),
    ("RandomSaturation", {"factor": (0.6, 0.8), "value_range": (0, 1), **CF}, UNIT),
    ("RandomSharpness", {"factor": 0.7}, PIXELS),
    ("RandomSharpness", {"factor": (0.0, 1.0), "value_range": (0, 1), **CF}, UNIT),
    ("RandomGaussianBlur", {"factor": (0.5, 1.0)}, PIXELS),
    ("RandomGaussianBlur", {"kernel_size": 5, "sigma": (0.3, 0.9), "value_range": (0, 1)}, UNIT),
    ("RandomGaussianBlur", {"kernel_size": 5, **CF}, PIXELS),
    ("Equalization", {}, PIXELS),
    ("Equalization", {"bins": 16}, PIXELS),
    ("Equalization", {"value_range": (0, 1)}, UNIT),
    ("Equalization", {**CF}, PIXELS),
]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _layout(images, kwargs):
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)) if kwargs.get("data_format") else images


@pytest.mark.parametrize("name, kwargs, images", ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_keras_transformation_gives_keras_output(name, kwargs, images):
    x = _layout(images, kwargs)
    ours, theirs = getattr(keras.layers, name)(**kwargs), getattr(real.layers, name)(**kwargs)
    for data, apply in ((x, theirs.transform_images), (x[0], theirs.transform_single_image)):
        t = theirs.get_random_transformation(data) or {}
        want = _np(apply(real.ops.convert_to_tensor(data), t))
        got = _np(ours.transform_images(data, {k: _np(v) for k, v in t.items()}))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
        assert got.shape == data.shape
    mine = ours.get_random_transformation(x) or {}
    t = theirs.get_random_transformation(x) or {}
    assert {k: tuple(v.shape) for k, v in mine.items()} == {k: tuple(v.shape) for k, v in t.items()}
    np.testing.assert_array_equal(_np(ours(x, training=False)), _np(theirs(x, training=False)))
    out = _np(ours(x))
    assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()
    if name == "Equalization":  # not random: the whole call is Keras's
        np.testing.assert_allclose(out, _np(theirs(x)), atol=1e-3)
    config = ours.get_config()
    clone = type(ours).from_config(config)
    assert clone.get_config() == config
    for key in ("factor", "scale", "sigma", "value_range", "bins", "kernel_size", "fill_value", "data_format"):
        if key in theirs.get_config() and key != "kernel_size":
            value = theirs.get_config()[key]
            assert config[key] == (list(value) if isinstance(value, tuple) else value), key


def test_identity_factors_like_keras():
    for name, kwargs in [("RandomHue", {"factor": 0.0}), ("RandomSaturation", {"factor": (0.5, 0.5)}),
                         ("RandomSharpness", {"factor": (0.5, 0.5)}), ("RandomErasing", {"factor": 0.0}),
                         ("RandomGaussianBlur", {"factor": 0.0})]:
        out = _np(getattr(keras.layers, name)(**kwargs)(PIXELS))
        np.testing.assert_allclose(out, PIXELS, atol=0.05, err_msg=name)


def test_randomness_follows_the_factors():
    images = np.full((400, 8, 8, 3), 100.0, "float32")
    erased = _np(keras.layers.RandomErasing(factor=(0.3, 0.3), fill_value=0.0, seed=1)(images)) == 0
    hit = erased.reshape(400, -1).any(1)
    assert 0.22 < hit.mean() < 0.38  # 30% of images
    erase_all = keras.layers.RandomErasing(factor=(1.0, 1.0), scale=(0.25, 0.25), fill_value=0.0, seed=2)
    share = (_np(erase_all(images)) == 0).reshape(400, -1).mean(1)
    np.testing.assert_allclose(share, 0.25, atol=0.13)  # sqrt(0.25) of each side, cut to whole pixels
    hue = keras.layers.RandomHue(0.6, seed=3).get_random_transformation(images)["factor"].numpy()
    assert (np.abs(hue) <= 0.3).all() and 0.4 < (hue > 0).mean() < 0.6 and hue.std() > 0.1
    sat = keras.layers.RandomSaturation((0.2, 0.6), seed=4).get_random_transformation(images)["factor"].numpy()
    assert sat.min() >= 0.2 / 0.8 - 1e-4 and sat.max() <= 0.6 / 0.4 + 1e-4
    blur = keras.layers.RandomGaussianBlur((0.5, 0.5), seed=5).get_random_transformation(images)
    assert 0.4 < float(blur["should_apply_blur"].float().mean()) < 0.6
    again = keras.layers.RandomHue(0.6, seed=3).get_random_transformation(images)["factor"].numpy()
    np.testing.assert_array_equal(hue, again)  # a seed fixes the draws


def test_gradient_flows_and_model_use():
    x = ember.tensor(UNIT, requires_grad=True)
    keras.layers.RandomSharpness(0.9, value_range=(0, 1))(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    model = keras.Sequential([keras.Input((6, 7, 3)), keras.layers.RandomHue(0.2), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    assert model.predict(PIXELS, verbose=0).shape == (3, 1)


ERRORS = [  # (layer, kwargs) that Keras refuses too
    ("RandomErasing", {"factor": 1.5}),
    ("RandomErasing", {"scale": (0.2, 0.3, 0.4)}),
    ("RandomHue", {"factor": -0.5}),
    ("RandomHue", {"factor": "big"}),
    ("RandomSaturation", {"factor": 2.0}),
    ("RandomSaturation", {"factor": 0.5, "value_range": 255}),
    ("RandomSharpness", {"factor": (1.5, 2.0)}),
    ("RandomGaussianBlur", {"kernel_size": 4}),
    ("RandomGaussianBlur", {"sigma": 2.0}),
    ("RandomSharpness", {"factor": 0.5, "value_range": (0,)}),
]


@pytest.mark.parametrize("name, kwargs", ERRORS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ERRORS)])
def test_bad_arguments_raise_like_keras(name, kwargs):
    with pytest.raises(ValueError):
        getattr(real.layers, name)(**kwargs)
    with pytest.raises(ValueError, match=name):
        getattr(keras.layers, name)(**kwargs)


def test_bad_images_raise():
    with pytest.raises(ValueError, match="Equalization.*value_range"):  # (Keras 3.15 fails on its own message)
        keras.layers.Equalization(value_range=(0, 1, 2))
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        keras.layers.RandomHue(0.5)(np.ones((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="rank 3 or 4"):
        keras.layers.RandomSharpness(0.5).transform_images(np.ones((4, 4), "float32"), {"factor": [0.5]})
