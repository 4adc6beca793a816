"""MixUp and CutMix against real Keras 3 (torch backend). The RNGs differ, so each row draws a transformation
with Keras's ``get_random_transformation`` and applies it with both layers' ``transform_images`` /
``transform_labels``: outputs equal. Ember's own draws have Keras's keys, shapes and dtypes; a dict call mixes
images and labels alike; inference passes through; seeds repeat; configs round-trip; bad factors raise."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

PIXELS = np.random.default_rng(0).uniform(0, 255, (5, 6, 7, 3)).astype("float32")
LABELS = np.eye(5, dtype="float32")[[0, 1, 2, 3, 4]]
CF = {"data_format": "channels_first"}
ROWS = [("MixUp", {}), ("MixUp", {"alpha": 0.8}), ("MixUp", {"alpha": 0.3, **CF}),
        ("CutMix", {}), ("CutMix", {"factor": (0.2, 0.6)}), ("CutMix", {"factor": 0.5, **CF})]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _images(kwargs):
    return np.ascontiguousarray(PIXELS.transpose(0, 3, 1, 2)) if kwargs.get("data_format") else PIXELS


@pytest.mark.parametrize("name, kwargs", ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_keras_transformation_gives_keras_output(name, kwargs):
    x = _images(kwargs)
    ours, theirs = getattr(keras.layers, name)(**kwargs), getattr(real.layers, name)(**kwargs)
    for _ in range(3):
        t = theirs.get_random_transformation(x)
        mine = {k: _np(v) for k, v in t.items()}
        want = _np(theirs.transform_images(real.ops.convert_to_tensor(x), t))
        np.testing.assert_allclose(_np(ours.transform_images(x, mine)), want, rtol=1e-6, atol=1e-4)
        want = _np(theirs.transform_labels(real.ops.convert_to_tensor(LABELS), t))
        np.testing.assert_allclose(_np(ours.transform_labels(LABELS, mine)), want, rtol=1e-6, atol=1e-6)
    drawn, t = ours.get_random_transformation(x), theirs.get_random_transformation(x)
    assert {k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in drawn.items()} == \
        {k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in t.items()}


@pytest.mark.parametrize("name, kwargs", ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)])
def test_dict_call_inference_seeds_and_config(name, kwargs):
    x = _images(kwargs)
    layer = getattr(keras.layers, name)(**kwargs, seed=3)
    out = layer({"images": x, "labels": LABELS})
    images, labels = _np(out["images"]), _np(out["labels"])
    assert images.shape == x.shape and labels.shape == LABELS.shape
    np.testing.assert_allclose(labels.sum(1), 1.0, rtol=1e-5)  # still distributions
    assert not np.allclose(images, x)  # something was mixed
    kept = np.diag(labels)  # each image's own share of its label is its share of the mix
    assert np.all((kept >= 0.0) & (kept <= 1.0 + 1e-6))
    again = getattr(keras.layers, name)(**kwargs, seed=3)({"images": x, "labels": LABELS})
    np.testing.assert_array_equal(_np(again["images"]), images)
    passed = layer({"images": x, "labels": LABELS}, training=False)
    np.testing.assert_array_equal(_np(passed["images"]), x)
    np.testing.assert_array_equal(_np(passed["labels"]), LABELS)
    np.testing.assert_array_equal(_np(layer(x, training=False)), _np(getattr(real.layers, name)(**kwargs)(
        x, training=False)))
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    theirs = getattr(real.layers, name)(**kwargs, seed=3).get_config()
    for key in ("alpha", "factor", "data_format", "seed"):
        if key in theirs:
            value = theirs[key]
            assert config[key] == (list(value) if isinstance(value, tuple) else value), key


def test_cutmix_labels_follow_the_pasted_area():
    images = np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1))]).astype("float32")
    t = {"permutation_order": np.array([1, 0]), "mix_weight": np.array([0.75, 0.75]).reshape(2, 1, 1, 1),
         "batch_masks": np.zeros((2, 8, 8, 1), bool)}
    t["batch_masks"][:, :4, :4] = True
    layer = keras.layers.CutMix()
    out = _np(layer.transform_images(images, t))
    assert out[0].mean() == 0.25 and out[1].mean() == 0.75
    np.testing.assert_allclose(_np(layer.transform_labels(np.eye(2, dtype="float32"), t)),
                               [[0.75, 0.25], [0.25, 0.75]])


def test_single_image():
    image = PIXELS[0]
    np.testing.assert_array_equal(_np(keras.layers.CutMix()(image)), image)  # Keras draws nothing for one image
    assert keras.layers.CutMix().get_random_transformation(image) is None
    out = _np(keras.layers.MixUp(seed=1)(image))  # a batch of one mixes with itself
    np.testing.assert_allclose(out, image, rtol=1e-5)


@pytest.mark.parametrize("make", [lambda L: L.layers.CutMix(factor=1.5), lambda L: L.layers.CutMix(factor=(2, 3)),
                                  lambda L: L.layers.CutMix(factor="big"), lambda L: L.layers.CutMix(factor=-0.5)],
                         ids=["above", "pair-above", "string", "negative"])
def test_bad_factor_raises_as_keras(make):
    with pytest.raises(ValueError):
        make(real)
    with pytest.raises(ValueError, match="CutMix.*factor"):
        make(keras)
