"""The layers issue 15 added (activation, reshaping, separable/depthwise/transposed conv, GroupNormalization,
TimeDistributed, masking) against real Keras 3 (torch backend): the same weights, the same outputs."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

# (layer factory applied to `keras` or real `keras`, input shape)
LAYERS = [
    (lambda lib: lib.layers.LeakyReLU(), (2, 5)),
    (lambda lib: lib.layers.LeakyReLU(negative_slope=0.1), (2, 5)),
    (lambda lib: lib.layers.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.2), (2, 5)),
    (lambda lib: lib.layers.ReLU(), (2, 5)),
    (lambda lib: lib.layers.PReLU(alpha_initializer="ones", shared_axes=[1, 2]), (2, 3, 4, 2)),
    (lambda lib: lib.layers.ELU(alpha=0.7), (2, 5)),
    (lambda lib: lib.layers.Softmax(axis=1), (2, 5, 3)),
    (lambda lib: lib.layers.UpSampling1D(3), (2, 4, 3)),
    (lambda lib: lib.layers.UpSampling2D((2, 3)), (2, 3, 4, 2)),
    (lambda lib: lib.layers.UpSampling2D(2, interpolation="bilinear"), (2, 3, 4, 2)),
    (lambda lib: lib.layers.ZeroPadding1D((1, 2)), (2, 4, 3)),
    (lambda lib: lib.layers.ZeroPadding2D(((1, 0), (2, 3))), (2, 3, 4, 2)),
    (lambda lib: lib.layers.Cropping1D((1, 2)), (2, 6, 3)),
    (lambda lib: lib.layers.Cropping2D(((1, 0), (1, 2))), (2, 5, 6, 2)),
    (lambda lib: lib.layers.RepeatVector(3), (2, 4)),
    (lambda lib: lib.layers.GlobalMaxPooling1D(), (2, 5, 3)),
    (lambda lib: lib.layers.GlobalAveragePooling1D(keepdims=True), (2, 5, 3)),
    (lambda lib: lib.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (2, 6, 5, 3)),
    (lambda lib: lib.layers.DepthwiseConv2D((2, 3), strides=2), (2, 6, 5, 3)),
    (lambda lib: lib.layers.SeparableConv2D(4, 3, depth_multiplier=2, activation="relu"), (2, 6, 5, 3)),
    (lambda lib: lib.layers.SeparableConv2D(4, 3, strides=2, padding="same"), (2, 6, 5, 3)),
    (lambda lib: lib.layers.Conv1DTranspose(4, 3, strides=2), (2, 5, 3)),
    (lambda lib: lib.layers.Conv1DTranspose(4, 3, strides=2, padding="same"), (2, 5, 3)),
    (lambda lib: lib.layers.GroupNormalization(groups=2), (2, 5, 4)),
    (lambda lib: lib.layers.GroupNormalization(groups=3, epsilon=1e-5), (2, 3, 4, 6)),
    (lambda lib: lib.layers.TimeDistributed(lib.layers.Dense(3)), (2, 4, 5)),
    (lambda lib: lib.layers.TimeDistributed(lib.layers.Conv2D(2, 3)), (2, 3, 6, 6, 1)),
    (lambda lib: lib.layers.Masking(0.5), (2, 4, 3)),
    (lambda lib: lib.layers.SpatialDropout2D(0.5), (2, 4, 4, 3)),  # inference: identity
    (lambda lib: lib.layers.UnitNormalization(), (2, 5)),
    (lambda lib: lib.layers.UnitNormalization(axis=[1, 2]), (2, 3, 4)),
    (lambda lib: lib.layers.Identity(), (2, 3)),
    (lambda lib: lib.layers.GlobalAvgPool2D(), (2, 3, 4, 2)),  # Keras's short names for the same classes
    (lambda lib: lib.layers.Convolution2D(2, 3), (2, 5, 5, 1)),
]


def _perturbed(weights):
    rng = np.random.default_rng(2)
    return [w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in weights]


@pytest.mark.parametrize("make, shape", LAYERS, ids=[str(i) for i in range(len(LAYERS))])
def test_layer_matches_real_keras(make, shape):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    if len(shape) == 3 and shape == (2, 4, 3):
        x[0, 1] = 0.5  # a fully masked step for Masking(0.5)
    ours, theirs = make(keras), make(real)
    theirs(x)
    ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    if theirs.weights:
        theirs.set_weights(_perturbed(theirs.get_weights()))
        ours.set_weights(theirs.get_weights())
    expected = real.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).detach().numpy(), expected, atol=2e-5, rtol=1e-4)


def _masked_model(lib, rnn):
    inp = lib.Input((6,), dtype="int32")
    h = lib.layers.Embedding(10, 4, mask_zero=True)(inp)
    h = rnn(lib)(h)
    return lib.Model(inp, h)


MASKED = [
    lambda lib: lib.layers.LSTM(3),
    lambda lib: lib.layers.GRU(3, return_sequences=True),
    lambda lib: lib.layers.SimpleRNN(3, go_backwards=True),
    lambda lib: lib.layers.Bidirectional(lib.layers.LSTM(3)),
    lambda lib: lib.layers.GlobalAveragePooling1D(),
]


@pytest.mark.parametrize("rnn", MASKED, ids=["lstm", "gru-seq", "rnn-backwards", "bidirectional", "gap1d"])
def test_embedding_mask_propagates_like_keras(rnn):
    ids = np.array([[3, 4, 0, 0, 5, 0], [1, 2, 3, 4, 5, 6]], "int32")
    ours, theirs = _masked_model(keras, rnn), _masked_model(real, rnn)
    theirs.set_weights(_perturbed(theirs.get_weights()))
    ours.set_weights(theirs.get_weights())
    expected = real.ops.convert_to_numpy(theirs(ids))
    got = ours(ids).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-4)


# Dot: (axes, shape of a, shape of b, normalize)
DOTS = [(1, (2, 4), (2, 4), False), (-1, (2, 3, 4), (2, 5, 4), False), ((1, 1), (2, 3, 4), (2, 3, 5), True),
        ((2, 1), (2, 3, 4), (2, 4), False), ((1, 2), (2, 4, 3), (2, 5, 4), True)]


@pytest.mark.parametrize("axes, sa, sb, normalize", DOTS, ids=[str(i) for i in range(len(DOTS))])
def test_dot_matches_keras_batch_dot(axes, sa, sb, normalize):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=sa).astype("float32"), rng.normal(size=sb).astype("float32")
    expected = real.ops.convert_to_numpy(real.layers.Dot(axes, normalize=normalize)([a, b]))
    got = keras.layers.Dot(axes, normalize=normalize)([a, b]).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    x, y = keras.Input(sa[1:]), keras.Input(sb[1:])
    assert keras.Model([x, y], keras.layers.dot([x, y], axes=axes, normalize=normalize)).output_shape == (
        None, *expected.shape[1:])


def test_functional_merge_forms_match_layers():
    a, b = keras.Input((3,)), keras.Input((3,))
    outs = [keras.layers.concatenate([a, b]), keras.layers.add([a, b]), keras.layers.multiply([a, b]),
            keras.layers.average([a, b])]
    model = keras.Model([a, b], outs)
    x, y = np.ones((2, 3), "float32"), np.full((2, 3), 3.0, "float32")
    got = [o.detach().numpy() for o in model([x, y])]
    np.testing.assert_allclose(got[0], np.concatenate([x, y], -1))
    np.testing.assert_allclose(got[1], x + y)
    np.testing.assert_allclose(got[2], x * y)
    np.testing.assert_allclose(got[3], (x + y) / 2)


def test_activity_regularization_loss_matches_keras():
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    ours, theirs = keras.layers.ActivityRegularization(l1=0.1, l2=0.2), real.layers.ActivityRegularization(0.1, 0.2)
    ours(x), theirs(x)
    np.testing.assert_allclose(float(ours.losses[0]), float(real.ops.convert_to_numpy(theirs.losses[0])),
                               rtol=1e-5)


def test_spatial_dropout_drops_whole_channels():
    layer = keras.layers.SpatialDropout1D(0.5, seed=1)
    out = layer(np.ones((4, 6, 8), "float32"), training=True).numpy()
    per_channel = out.std(axis=1)  # a channel is all zeros or all 2.0
    assert np.all(per_channel == 0) and {0.0, 2.0} == set(np.unique(out))


def _split_layer(lib):
    class TemporalSplit(lib.layers.Layer):  # as the masking guide: two outputs, a mask for each
        def call(self, inputs):
            return lib.ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else lib.ops.split(mask, 2, axis=1)

    return TemporalSplit()


def test_multi_output_layer_masks_and_lowercase_regularizers_like_keras():
    ids = np.array([[3, 4, 0, 0], [1, 0, 0, 0]], "int32")
    masks = []
    for lib in (keras, real):
        emb = lib.layers.Embedding(10, 2, mask_zero=True)(ids)
        masks.append([lib.ops.convert_to_numpy(h._keras_mask) for h in _split_layer(lib)(emb)])
    np.testing.assert_array_equal(masks[0], masks[1])
    w = np.arange(6, dtype="float32").reshape(2, 3) - 2.0
    for name, args in (("l1", (0.1,)), ("l2", (0.01,)), ("l1_l2", (0.1, 0.01))):
        ours, theirs = getattr(keras.regularizers, name)(*args), getattr(real.regularizers, name)(*args)
        np.testing.assert_allclose(float(ours(keras.ops.convert_to_tensor(w))), float(theirs(w)), rtol=1e-6)
