"""RandomShear and RandomPerspective against real Keras 3 (torch backend). The RNGs differ, so each row draws
a transformation with Keras's ``get_random_transformation``, applies it with both layers'
``transform_images`` and the outputs must be equal; Ember's own draws have Keras's keys and shapes;
inference passes through; seeds repeat; configs round-trip; bad factors raise where Keras raises."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

PIXELS = np.random.default_rng(0).uniform(0, 255, (3, 6, 7, 3)).astype("float32")
CF = {"data_format": "channels_first"}

ROWS = [
    ("RandomShear", {"x_factor": 0.5, "y_factor": (0.1, 0.4)}),
    ("RandomShear", {"x_factor": 0.8, "fill_mode": "constant", "fill_value": 7.0, "interpolation": "nearest"}),
    ("RandomShear", {"y_factor": 0.6, "fill_mode": "wrap", **CF}),
    ("RandomShear", {"x_factor": (0.2, 0.3), "y_factor": 0.3, "fill_mode": "nearest"}),
    ("RandomPerspective", {"factor": (1.0, 1.0), "scale": 0.6}),
    ("RandomPerspective", {"factor": (0.5, 1.0), "fill_value": 9.0, "interpolation": "nearest"}),
    ("RandomPerspective", {"factor": (1.0, 1.0), **CF}),
]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _shapes(t):
    return {k: tuple(v) if k == "input_shape" else tuple(v.shape) for k, v in t.items()}


def _images(kwargs):
    return np.ascontiguousarray(PIXELS.transpose(0, 3, 1, 2)) if kwargs.get("data_format") else PIXELS


@pytest.mark.parametrize("name, kwargs", ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_keras_transformation_gives_keras_output(name, kwargs):
    x = _images(kwargs)
    ours, theirs = getattr(keras.layers, name)(**kwargs), getattr(real.layers, name)(**kwargs)
    for data, apply in ((x, theirs.transform_images), (x, theirs.transform_images), (x[0], theirs.transform_images)):
        t = theirs.get_random_transformation(data)
        want = _np(apply(real.ops.convert_to_tensor(data), t))
        got = _np(ours.transform_images(data, {k: _np(v) for k, v in t.items()}))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
        assert got.shape == data.shape
    assert _shapes(ours.get_random_transformation(x)) == _shapes(theirs.get_random_transformation(x))
    np.testing.assert_array_equal(_np(ours(x, training=False)), _np(theirs(x, training=False)))
    assert ours.get_random_transformation(x, training=False) is None
    out = _np(ours(x))
    assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    if name == "RandomShear":  # the arguments as given (Keras's widened pair fails its own from_config)
        assert config["x_factor"] == kwargs.get("x_factor", 0.0) or config["x_factor"] == list(kwargs["x_factor"])
    for key, value in theirs.get_config().items():
        if key in ("factor", "scale", "interpolation", "fill_mode", "fill_value",
                   "data_format", "seed"):
            assert config[key] == (list(value) if isinstance(value, tuple) else value), key


def test_seeds_repeat_and_draws_follow_the_factors():
    x = np.full((400, 5, 5, 3), 50.0, "float32")
    shear = keras.layers.RandomShear(x_factor=(0.2, 0.4), y_factor=0.1, seed=3).get_random_transformation(x)
    f = _np(shear["shear_factor"])
    assert (np.abs(f[:, 0]) >= 0.2 - 1e-6).all() and (np.abs(f[:, 0]) <= 0.4 + 1e-6).all()
    assert (np.abs(f[:, 1]) <= 0.1 + 1e-6).all() and 0.4 < (f[:, 0] > 0).mean() < 0.6
    again = keras.layers.RandomShear(x_factor=(0.2, 0.4), y_factor=0.1, seed=3).get_random_transformation(x)
    np.testing.assert_array_equal(_np(again["shear_factor"]), f)
    persp = keras.layers.RandomPerspective(factor=(0.3, 0.3), scale=0.4, seed=4).get_random_transformation(x)
    assert 0.22 < _np(persp["apply_perspective"]).mean() < 0.38
    start, end = _np(persp["start_points"]), _np(persp["end_points"])
    np.testing.assert_array_equal(start[0], [[0, 0], [4, 0], [0, 4], [4, 4]])
    assert (np.abs(end - start) <= 0.2 * start + 1e-5).all()
    layer = keras.layers.RandomPerspective(seed=5)
    first = _np(keras.layers.RandomPerspective(seed=5)(PIXELS))
    np.testing.assert_array_equal(_np(layer(PIXELS)), first)


def test_shear_of_zero_and_unapplied_perspective_keep_images():
    np.testing.assert_allclose(_np(keras.layers.RandomShear()(PIXELS)), PIXELS, atol=1e-3)
    np.testing.assert_array_equal(_np(keras.layers.RandomPerspective(factor=0.0)(PIXELS)), PIXELS)


ERRORS = [  # (layer, kwargs) that Keras refuses too
    ("RandomShear", {"x_factor": 1.5}),
    ("RandomShear", {"y_factor": (-0.2, 0.2)}),
    ("RandomShear", {"x_factor": (0.1, 0.2, 0.3)}),
    ("RandomShear", {"x_factor": "big"}),
    ("RandomPerspective", {"factor": 1.5}),
    ("RandomPerspective", {"factor": (2.0, 3.0)}),
    ("RandomPerspective", {"scale": 1.5}),
    ("RandomPerspective", {"scale": -0.1}),
]


@pytest.mark.parametrize("name, kwargs", ERRORS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ERRORS)])
def test_bad_arguments_raise_like_keras(name, kwargs):
    with pytest.raises(ValueError):
        getattr(real.layers, name)(**kwargs)
    with pytest.raises(ValueError, match=name):
        getattr(keras.layers, name)(**kwargs)


def test_bad_modes_raise():
    with pytest.raises(ValueError, match="RandomShear.*fill_mode"):  # Keras raises NotImplementedError
        keras.layers.RandomShear(0.2, fill_mode="mirror")
    with pytest.raises(ValueError, match="RandomPerspective.*interpolation"):
        keras.layers.RandomPerspective(interpolation="bicubic")


JITTER = [  # RandomColorJitter's factors (channels_last: Keras's sub-layers ignore data_format)
    {"brightness_factor": 0.3, "contrast_factor": 0.4, "saturation_factor": (0.3, 0.7), "hue_factor": 0.4},
    {"contrast_factor": (0.2, 0.5)},
    {"hue_factor": 0.2, "brightness_factor": (-0.2, 0.1), "value_range": (0, 1)},
    {"saturation_factor": 0.6, "value_range": (0, 1)},
]


def _keras_jitter(theirs, images):
    """Keras draws inside transform_images; draw and apply with its sub-layers, keeping each step's dict."""
    y, steps = real.ops.convert_to_tensor(images), {}
    for name in ("brightness", "contrast", "saturation", "hue"):
        sub = getattr(theirs, f"random_{name}")
        if sub is not None:
            t = sub.get_random_transformation(y)
            y, steps[name] = sub.transform_images(y, t), {k: _np(v) for k, v in t.items()}
    return _np(y), steps


@pytest.mark.parametrize("kwargs", JITTER, ids=[f"jitter-{i}" for i in range(len(JITTER))])
def test_color_jitter_with_keras_draws(kwargs):
    x = PIXELS / 255.0 if kwargs.get("value_range") == (0, 1) else PIXELS
    ours, theirs = keras.layers.RandomColorJitter(**kwargs), real.layers.RandomColorJitter(**kwargs)
    for data, batch in ((x, x), (x[0], x[:1])):  # one image: Keras's hue step needs a batch
        want, steps = _keras_jitter(theirs, batch)
        np.testing.assert_allclose(_np(ours.transform_images(data, steps)), want.reshape(data.shape), rtol=1e-5,
                                   atol=1e-3)
    drawn = ours.get_random_transformation(x)
    _, steps = _keras_jitter(theirs, x)
    assert {k: {kk: tuple(vv.shape) for kk, vv in v.items()} for k, v in drawn.items()} == \
        {k: {kk: vv.shape for kk, vv in v.items()} for k, v in steps.items()}
    cf = keras.layers.RandomColorJitter(**kwargs, data_format="channels_first")
    np.testing.assert_allclose(_np(cf.transform_images(x.transpose(0, 3, 1, 2), drawn)),
                               _np(ours.transform_images(x, drawn)).transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(_np(ours(x, training=False)), _np(theirs(x, training=False)))
    assert ours.get_random_transformation(x, training=False) is None
    seeded = [_np(keras.layers.RandomColorJitter(**kwargs, seed=7)(x)) for _ in range(2)]
    np.testing.assert_array_equal(*seeded)
    assert seeded[0].shape == x.shape and np.isfinite(seeded[0]).all()
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    for key, value in theirs.get_config().items():
        if key.endswith("_factor") or key == "value_range":
            assert config[key] == (list(value) if isinstance(value, tuple) else value), key


@pytest.mark.parametrize("kwargs", [{"brightness_factor": 1.5}, {"contrast_factor": -0.5},
                                    {"saturation_factor": 2.0}, {"hue_factor": (1.5, 2.0)},
                                    {"brightness_factor": "big"}], ids=["brightness", "contrast", "saturation",
                                                                        "hue", "string"])
def test_color_jitter_bad_factors_raise_like_keras(kwargs):
    with pytest.raises(ValueError):
        real.layers.RandomColorJitter(**kwargs)
    with pytest.raises(ValueError, match="RandomColorJitter.*" + next(iter(kwargs))):
        keras.layers.RandomColorJitter(**kwargs)
