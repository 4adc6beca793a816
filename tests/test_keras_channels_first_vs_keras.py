"""data_format="channels_first" (and channels_last) on every Keras 3 layer that takes it, against real Keras 3
(torch backend): one row per layer x config, run in both layouts; Keras's weights give Keras's outputs, configs
round-trip data_format, the global image_data_format() is the default, and a bad data_format raises as Keras does."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

ROWS = [  # (layer, kwargs, channels_last input shape)
    ("Conv1D", {"filters": 4, "kernel_size": 3}, (2, 9, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 10, 3)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "groups": 2, "activation": "relu"}, (2, 11, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 7, 8, 3)),
    ("Conv2D", {"filters": 6, "kernel_size": (2, 3), "dilation_rate": (2, 1), "groups": 3}, (1, 7, 6, 3)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "activation": "softmax", "use_bias": False}, (1, 5, 5, 2)),
    ("Conv3D", {"filters": 2, "kernel_size": 2, "padding": "same", "strides": (1, 2, 2)}, (1, 3, 4, 5, 2)),
    ("Conv3D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2}, (1, 4, 5, 5, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 4, "strides": 3, "padding": "same"}, (2, 5, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1}, (2, 5, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "dilation_rate": 2}, (2, 5, 2)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 4, 5, 3)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": (2, 3), "strides": (2, 3), "output_padding": (1, 2)},
     (1, 4, 3, 3)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 1},
     (1, 4, 5, 3)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "activation": "relu"}, (1, 4, 5, 3)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (1, 2, 3, 4, 3)),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 7, 3)),
    ("DepthwiseConv1D", {"kernel_size": 3, "dilation_rate": 2}, (2, 9, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same"}, (2, 7, 8, 3)),
    ("DepthwiseConv2D", {"kernel_size": (3, 2), "dilation_rate": (1, 2)}, (1, 6, 7, 2)),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 9, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 6, 7, 3)),
    ("SeparableConv2D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2}, (1, 6, 6, 3)),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3)),
    ("AveragePooling1D", {"pool_size": 2}, (2, 9, 3)),
    ("MaxPooling2D", {"pool_size": 2}, (2, 7, 8, 3)),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 8, 3)),
    # 'same' with symmetric padding: where TensorFlow pads one more after, Keras's torch backend pads by
    # replicating edges (its jax / tensorflow backends and Ember average the real inputs only)
    ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 6, 8, 3)),
    ("AveragePooling2D", {"pool_size": (2, 3), "strides": 1}, (1, 5, 6, 2)),
    ("MaxPooling3D", {"pool_size": 2, "padding": "same"}, (1, 3, 4, 5, 2)),
    ("AveragePooling3D", {"pool_size": 2, "strides": 1}, (1, 3, 4, 5, 2)),
    ("GlobalMaxPooling1D", {}, (2, 5, 3)),
    ("GlobalAveragePooling1D", {"keepdims": True}, (2, 5, 3)),
    ("GlobalMaxPooling2D", {"keepdims": True}, (2, 4, 5, 3)),
    ("GlobalAveragePooling2D", {}, (2, 4, 5, 3)),
    ("GlobalMaxPooling3D", {}, (1, 2, 3, 4, 3)),
    ("GlobalAveragePooling3D", {"keepdims": True}, (1, 2, 3, 4, 3)),
    ("UpSampling2D", {"size": (2, 3)}, (2, 3, 4, 3)),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (2, 3, 4, 3)),
    ("UpSampling3D", {"size": (1, 2, 3)}, (1, 2, 3, 2, 2)),
    ("ZeroPadding1D", {"padding": (1, 2)}, (2, 4, 3)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, (2, 3, 4, 3)),
    ("ZeroPadding3D", {"padding": 1}, (1, 2, 3, 2, 2)),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, (2, 4, 5, 3)),
    ("Cropping3D", {"cropping": ((1, 0), (0, 1), (1, 1))}, (1, 3, 4, 5, 2)),
    ("CenterCrop", {"height": 4, "width": 5}, (2, 6, 7, 3)),
    ("CenterCrop", {"height": 5, "width": 6}, (2, 3, 4, 3)),  # smaller: resized up first
    ("Resizing", {"height": 5, "width": 3}, (2, 4, 6, 3)),
    ("Flatten", {}, (2, 3, 4, 2)),
    ("Flatten", {}, (2, 3, 2)),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": 3, "padding": "same", "return_sequences": True}, (2, 3, 5, 2)),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "strides": 2, "return_state": True}, (2, 3, 7, 6, 2)),
    ("ConvLSTM3D", {"filters": 2, "kernel_size": 2, "padding": "same"}, (1, 2, 3, 3, 4, 2)),
]
CASES = [(name, kw, shape, fmt) for name, kw, shape in ROWS for fmt in ("channels_last", "channels_first")]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _flat(out):
    return [_np(o) for o in out] if isinstance(out, (list, tuple)) else [_np(out)]


def _layout(shape, name, fmt):
    """The input shape in ``fmt``: the channels axis moves to 1 (to 2 for the ConvLSTMs, after time)."""
    if fmt == "channels_last":
        return shape
    at = 2 if name.startswith("ConvLSTM") else 1
    return shape[:at] + shape[-1:] + shape[at:-1]


@pytest.mark.parametrize("name, kwargs, shape, fmt", CASES,
                         ids=[f"{c[0]}-{i // 2}-{c[3][9:]}" for i, c in enumerate(CASES)])
def test_layer_matches_keras(name, kwargs, shape, fmt):
    rng = np.random.default_rng(0)
    x = rng.normal(size=_layout(shape, name, fmt)).astype("float32")
    ours = getattr(keras.layers, name)(**kwargs, data_format=fmt)
    theirs = getattr(real.layers, name)(**kwargs, data_format=fmt)
    theirs(x)
    ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    got, want = _flat(ours(x)), _flat(theirs(x))
    assert [a.shape for a in got] == [b.shape for b in want]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    config = ours.get_config()
    assert config["data_format"] == theirs.get_config()["data_format"] == fmt
    assert type(ours).from_config(config).get_config() == config


def test_channels_first_is_channels_last_transposed():
    """The same weights on transposed data give the transposed output (a check that needs no Keras)."""
    x = np.random.default_rng(1).normal(size=(2, 6, 7, 3)).astype("float32")
    last = keras.layers.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2)
    first = keras.layers.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2,
                                         data_format="channels_first")
    last(x)
    first(x.transpose(0, 3, 1, 2))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(_np(first(x.transpose(0, 3, 1, 2))), _np(last(x)).transpose(0, 3, 1, 2),
                               rtol=1e-5, atol=1e-6)


def test_random_flip_channels_first_flips_the_same_axes():
    x = np.random.default_rng(3).normal(size=(6, 4, 5, 2)).astype("float32")
    last = keras.layers.RandomFlip(seed=5)(x)
    first = keras.layers.RandomFlip(seed=5, data_format="channels_first")(x.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(_np(first), _np(last).transpose(0, 3, 1, 2))
    assert not np.array_equal(_np(last), x)
    assert keras.layers.RandomFlip(data_format="channels_first").get_config()["data_format"] == "channels_first"


def test_masked_global_average_pooling_1d_channels_first():
    x = np.random.default_rng(2).normal(size=(2, 3, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0]], bool)
    got = keras.layers.GlobalAveragePooling1D(data_format="channels_first")(x, mask=mask)
    want = real.layers.GlobalAveragePooling1D(data_format="channels_first")(x, mask=mask)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5)


@pytest.mark.parametrize("name", ["SpatialDropout2D", "SpatialDropout3D"])
def test_spatial_dropout_channels_first_drops_whole_maps(name):
    rank = int(name[-2])
    layer = keras.layers.SpatialDropout2D(0.5, data_format="channels_first", seed=1) if rank == 2 else \
        keras.layers.SpatialDropout3D(0.5, data_format="channels_first", seed=1)
    out = _np(layer(np.ones((4, 8) + (3,) * rank, "float32"), training=True))
    per_map = out.reshape(4, 8, -1)
    assert np.all(per_map.min(-1) == per_map.max(-1))  # one draw per (sample, channel)
    assert set(np.unique(per_map)) <= {0.0, 2.0} and 0 < per_map.mean() < 2
    assert layer.get_config()["data_format"] == "channels_first"
    assert "data_format" not in keras.layers.SpatialDropout1D(0.5).get_config()


def test_default_follows_image_data_format():
    assert keras.config.image_data_format() == "channels_last"
    try:
        keras.config.set_image_data_format("channels_first")
        real.config.set_image_data_format("channels_first")
        for name in ("Conv2D", "MaxPooling2D", "GlobalAveragePooling2D", "UpSampling2D", "Flatten"):
            args = (2, 3) if name == "Conv2D" else ()
            assert getattr(keras.layers, name)(*args).data_format == \
                getattr(real.layers, name)(*args).data_format == "channels_first"
        layer = keras.layers.Conv2D(2, 3)
        assert tuple(layer(np.ones((1, 3, 5, 5), "float32")).shape) == (1, 2, 3, 3)
    finally:
        keras.config.set_image_data_format("channels_last")
        real.config.set_image_data_format("channels_last")
    assert keras.layers.Conv2D(2, 3, data_format="Channels_First").data_format == "channels_first"  # as Keras


@pytest.mark.parametrize("make", [
    lambda L: L.layers.Conv2D(2, 3, data_format="nchw"),
    lambda L: L.layers.Conv2DTranspose(2, 3, data_format="nchw"),
    lambda L: L.layers.MaxPooling2D(data_format="nchw"),
    lambda L: L.layers.GlobalMaxPooling1D(data_format="nchw"),
    lambda L: L.layers.UpSampling3D(data_format="nchw"),
    lambda L: L.layers.Cropping2D(data_format="nchw"),
    lambda L: L.layers.Flatten(data_format="nchw"),
    lambda L: L.layers.ConvLSTM2D(2, 3, data_format="nchw"),
    lambda L: L.config.set_image_data_format("nchw"),
], ids=["Conv2D", "Conv2DTranspose", "MaxPooling2D", "GlobalMaxPooling1D", "UpSampling3D", "Cropping2D",
        "Flatten", "ConvLSTM2D", "set_image_data_format"])
def test_bad_data_format_raises_as_keras(make):
    with pytest.raises(ValueError):
        make(real)
    with pytest.raises(ValueError, match="channels_first.*channels_last") as info:
        make(keras)
    assert "nchw" in str(info.value)


def test_wrong_channels_name_the_layout():
    layer = keras.layers.Conv2D(2, 3, data_format="channels_first")
    layer(np.ones((1, 3, 5, 5), "float32"))
    with pytest.raises(ValueError, match=r"3 channels \(axis 1, channels_first\).*\(1, 5, 5, 3\)"):
        layer(np.ones((1, 5, 5, 3), "float32"))


def test_output_padding_not_below_strides_raises_as_keras():
    for lib in (real, keras):
        with pytest.raises(ValueError):
            lib.layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="Conv1DTranspose.*output_padding"):
        keras.layers.Conv1DTranspose(2, 3, strides=2, output_padding=3)
