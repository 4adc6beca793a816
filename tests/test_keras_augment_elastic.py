"""RandomElasticTransform and MaxNumBoundingBoxes against real Keras 3 (torch backend).

RandomElasticTransform: each row draws a transformation with Keras's ``get_random_transformation``; Keras's
torch ``elastic_transform`` then draws its two displacement fields from torch's global generator, so the test
seeds torch, draws the same two fields itself and hands them to Ember's ``keras.random.normal`` (patched for
the call): both layers then see the same random numbers and their outputs must be equal. Ember's own draws
must have Keras's keys and shapes, inference passes images through, a seed repeats, and the randomness follows
``factor``. MaxNumBoundingBoxes is not random: whole calls are compared."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)
import torch  # noqa: E402

import ember  # noqa: E402
from ember import keras  # noqa: E402

RNG = np.random.default_rng(0)
PIXELS = RNG.uniform(0, 255, (2, 12, 10, 3)).astype("float32")
UNIT = PIXELS / 255.0
CF = {"data_format": "channels_first"}

ROWS = [  # (kwargs, images in channels_last)
    ({}, PIXELS),
    ({"factor": (0.5, 1.0), "scale": (0.5, 1.0), "interpolation": "nearest"}, PIXELS),
    ({"fill_mode": "constant", "fill_value": 7.0, "value_range": (0, 200)}, PIXELS),
    ({"fill_mode": "wrap", "scale": (0.8, 1.0), **CF}, PIXELS),
    ({"fill_mode": "mirror", "value_range": (0, 1)}, UNIT),
    ({"fill_mode": "nearest", "scale": 0.5, "factor": 0.5}, PIXELS),
]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _layout(images, kwargs):
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)) if kwargs.get("data_format") else images


def _keras_fields(seed, n, h, w):
    """The two fields Keras's torch elastic_transform draws after ``torch.manual_seed(seed)``, as Ember's
    ``(n, h, w, 2)`` draw (y displacement first)."""
    torch.manual_seed(seed)
    dx = torch.normal(0.0, 1.0, size=(n, h, w))
    dy = torch.normal(0.0, 1.0, size=(n, h, w))
    return np.stack([dy.numpy(), dx.numpy()], -1)


@pytest.mark.parametrize("kwargs, images", ROWS, ids=[str(i) for i in range(len(ROWS))])
def test_keras_draws_give_keras_output(kwargs, images, monkeypatch):
    x = _layout(images, kwargs)
    ours, theirs = keras.layers.RandomElasticTransform(**kwargs), real.layers.RandomElasticTransform(**kwargs)
    for step, (data, apply) in enumerate(((x, theirs.transform_images), (x[0], theirs.transform_single_image))):
        t = theirs.get_random_transformation(data)
        t["apply_transform"] = torch.tensor([True, False][:len(t["apply_transform"])])  # one distorted, one kept
        torch.manual_seed(step)
        want = _np(apply(real.ops.convert_to_tensor(data), t))
        h, w = (data.shape[-2:] if kwargs.get("data_format") else data.shape[-3:-1])
        fields = _keras_fields(step, 1 if data.ndim == 3 else data.shape[0], h, w)
        monkeypatch.setattr(keras.random, "normal", lambda shape, f=fields, **_: ember.tensor(f))
        got = _np(ours.transform_images(data, {k: v if k == "seed" else _np(v) for k, v in t.items()}))
        monkeypatch.undo()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-3)
        assert got.shape == data.shape
        kept = np.clip(data, *kwargs.get("value_range", (0, 255)))
        moved = np.abs(got - kept).reshape(len(t["apply_transform"]) if data.ndim == 4 else 1, -1).max(1)
        assert moved[0] > 0 and (len(moved) == 1 or moved[1] == 0)  # the first image is moved, the second kept
    mine, t = ours.get_random_transformation(x), theirs.get_random_transformation(x)
    assert sorted(mine) == sorted(t) and tuple(mine["apply_transform"].shape) == tuple(t["apply_transform"].shape)
    assert tuple(mine["distortion_factor"].shape) == tuple(t["distortion_factor"].shape) == ()
    np.testing.assert_array_equal(_np(ours(x, training=False)), _np(theirs(x, training=False)))
    out = _np(ours(x))
    assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()
    low, high = kwargs.get("value_range", (0, 255))
    assert out.min() >= low and out.max() <= high
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    for key, value in theirs.get_config().items():
        if key in ("factor", "scale", "interpolation", "fill_mode", "fill_value", "value_range", "data_format"):
            assert config[key] == (list(value) if isinstance(value, tuple) else value), key


def test_zero_factor_or_scale_draws_nothing_like_keras():
    for kwargs in ({"factor": 0.0}, {"scale": 0.0}):
        assert real.layers.RandomElasticTransform(**kwargs).get_random_transformation(PIXELS) is None
        layer = keras.layers.RandomElasticTransform(**kwargs)
        assert layer.get_random_transformation(PIXELS) is None
        np.testing.assert_array_equal(_np(layer(PIXELS)), PIXELS)
        np.testing.assert_array_equal(_np(layer.transform_images(PIXELS, None)), PIXELS)


def test_seeds_repeat_and_randomness_follows_factor():
    images = np.tile(np.linspace(0, 255, 16, dtype="float32").reshape(1, 16, 1, 1), (200, 1, 16, 1))
    a = _np(keras.layers.RandomElasticTransform(factor=(0.3, 0.3), seed=4)(images))
    b = _np(keras.layers.RandomElasticTransform(factor=(0.3, 0.3), seed=4)(images))
    np.testing.assert_array_equal(a, b)
    changed = np.abs(a - images).reshape(200, -1).max(1) > 1e-3
    assert 0.2 < changed.mean() < 0.4  # 30% of the images distorted
    c = _np(keras.layers.RandomElasticTransform(factor=(0.3, 0.3), seed=5)(images))
    assert not np.array_equal(a, c)
    draws = keras.layers.RandomElasticTransform(scale=(0.2, 0.4), seed=6)
    factors = [float(draws.get_random_transformation(images[:2])["distortion_factor"]) for _ in range(50)]
    assert 0.2 <= min(factors) and max(factors) <= 0.4 and np.std(factors) > 0.03


def test_model_use():
    model = keras.Sequential([keras.Input((12, 10, 3)), keras.layers.RandomElasticTransform(),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    assert model.predict(PIXELS, verbose=0).shape == (2, 1)


ERRORS = [  # kwargs that Keras refuses too (ValueError; Keras's NotImplementedError for the two modes)
    {"factor": 1.5}, {"scale": (0.2, 0.3, 0.4)}, {"scale": -0.5}, {"factor": "big"},
    {"interpolation": "bicubic"}, {"fill_mode": "zeros"},
]


@pytest.mark.parametrize("kwargs", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_bad_arguments_raise_like_keras(kwargs):
    with pytest.raises((ValueError, NotImplementedError)):
        real.layers.RandomElasticTransform(**kwargs)
    with pytest.raises(ValueError, match="RandomElasticTransform"):
        keras.layers.RandomElasticTransform(**kwargs)


BOXES = {"boxes": RNG.uniform(0, 9, (2, 3, 4)).astype("float32"), "labels": np.array([[1, 2, 3], [4, 5, 6]])}


@pytest.mark.parametrize("max_number, fill_value", [(5, -1), (2, 0), (3, 7)])
def test_max_num_bounding_boxes_like_keras(max_number, fill_value):
    kwargs = {"max_number": max_number, "fill_value": fill_value, "bounding_box_format": "xyxy"}
    ours, theirs = keras.layers.MaxNumBoundingBoxes(**kwargs), real.layers.MaxNumBoundingBoxes(**kwargs)
    images = PIXELS[:, :4, :4]
    for data in ({"images": images, "bounding_boxes": BOXES, "labels": np.eye(2, dtype="float32")},
                 {"images": images[0], "bounding_boxes": {k: v[0] for k, v in BOXES.items()}}):
        for training in (True, False):
            got, want = ours(data, training=training), theirs(data, training=training)
            assert sorted(got) == sorted(want)
            for key in ("boxes", "labels"):
                g, w = _np(got["bounding_boxes"][key]), _np(want["bounding_boxes"][key])
                np.testing.assert_array_equal(g, w)
                assert g.dtype == w.dtype, key
            np.testing.assert_array_equal(_np(got["images"]), _np(want["images"]))
    np.testing.assert_array_equal(_np(ours(images)), images)
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    assert config["max_number"] == theirs.get_config()["max_number"]


def test_max_num_bounding_boxes_errors():
    layer = keras.layers.MaxNumBoundingBoxes(2)
    with pytest.raises(ValueError):
        real.layers.MaxNumBoundingBoxes(2)({"images": PIXELS, "bounding_boxes": BOXES})
    with pytest.raises(ValueError, match="bounding_box_format"):
        layer({"images": PIXELS, "bounding_boxes": BOXES})
    with pytest.raises(ValueError, match="max_number"):
        keras.layers.MaxNumBoundingBoxes("a")
    with pytest.raises(ValueError, match="max_number"):
        keras.layers.MaxNumBoundingBoxes(0)  # Keras accepts 0 and negatives
    with pytest.raises(ValueError, match="'boxes' and 'labels'"):
        layer.transform_bounding_boxes({**BOXES, "scores": BOXES["labels"]})
