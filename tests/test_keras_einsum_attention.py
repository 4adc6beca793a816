"""EinsumDense, AdditiveAttention and activity regularizers against real Keras 3 (torch backend): the same
weights give Keras's outputs, weight shapes and losses; bad equations are clear errors."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

EINSUM = [  # (equation, output_shape, bias_axes, input shape)
    ("ab,bc->ac", 6, "c", (3, 5)),
    ("abc,cd->abd", (None, 6), "d", (3, 4, 5)),
    ("abc,cde->abde", (None, 2, 3), "de", (3, 4, 5)),
    ("abc,cde->abde", (None, 2, 3), None, (3, 4, 5)),
    ("abcd,cde->abe", (4, 6), "e", (2, 4, 3, 5)),
    ("...b,bc->...c", 6, "c", (2, 3, 4, 5)),
    ("abc,cd->abd", (4, 6), "bd", (3, 4, 5)),
]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", EINSUM, ids=[f"{r[0]}-{r[2]}" for r in EINSUM])
def test_einsum_dense_matches_keras(equation, output_shape, bias_axes, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu")
    theirs = real.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu")
    theirs(x)
    ours(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("use_scale", [True, False])
@pytest.mark.parametrize("with_key", [False, True])
def test_additive_attention_matches_keras(use_scale, with_key):
    rng = np.random.default_rng(2)
    q, v, k = (rng.normal(size=s).astype("float32") for s in [(2, 3, 4), (2, 5, 4), (2, 5, 4)])
    mask = [np.array([[1, 1, 0], [1, 1, 1]], bool), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)]
    inputs = [q, v, k] if with_key else [q, v]
    ours, theirs = keras.layers.AdditiveAttention(use_scale=use_scale), real.layers.AdditiveAttention(
        use_scale=use_scale)
    theirs(inputs)
    ours(inputs)
    ours.set_weights(theirs.get_weights())
    for kwargs in ({}, {"use_causal_mask": True}, {"return_attention_scores": True}):
        got = ours(inputs, mask=mask, **kwargs)
        want = theirs(inputs, mask=[real.ops.convert_to_tensor(m) for m in mask], **kwargs)
        for a, b in zip(got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want]):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)


def test_activity_regularizer_losses_and_config_match_keras():
    def model(lib):
        return lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activity_regularizer="l2"),
                               lib.layers.Dense(2, activity_regularizer=lib.regularizers.L1(0.1))])
    ours, theirs = model(keras), model(real)
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(3).normal(size=(5, 3)).astype("float32")
    ours(x)
    theirs(x)
    np.testing.assert_allclose([float(_np(v)) for v in ours.losses], [float(_np(v)) for v in theirs.losses],
                               rtol=1e-5)
    assert ours.layers[0].get_config()["activity_regularizer"]["class_name"] == "L2"


def test_bad_equations_raise_clear_errors():
    with pytest.raises(ValueError, match="not of the form"):
        keras.layers.EinsumDense("ab,bc,cd->ad", 4)(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        keras.layers.EinsumDense("abc,cd->abd", (None, 4))(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="bias_axes"):
        keras.layers.EinsumDense("ab,bc->ac", 4, bias_axes="z")(np.ones((2, 3), "float32"))
