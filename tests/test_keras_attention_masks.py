"""Masks in MultiHeadAttention and Attention against real Keras 3: explicit ``attention_mask``, causal masks,
and query/value masks propagated from ``Embedding(mask_zero=True)`` (also onto the output)."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")
if real.backend.backend() != "torch":
    pytest.skip("real Keras is loaded with a non-torch backend", allow_module_level=True)

from ember import keras  # noqa: E402

RNG = np.random.default_rng(11)
TOKENS_Q = np.array([[3, 5, 2, 0, 0], [1, 4, 4, 6, 0]], "int32")  # 0 = padding
TOKENS_V = np.array([[7, 1, 0, 0, 0, 0], [2, 2, 3, 5, 6, 0]], "int32")


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(a, b):
    np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)


def _pair(build):
    ours, theirs = build(keras), build(real)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _mha_masked_by_embedding(lib, **call_kwargs):
    q_in, v_in = lib.Input((5,), dtype="int32"), lib.Input((6,), dtype="int32")
    emb = lib.layers.Embedding(10, 8, mask_zero=True)
    q, v = emb(q_in), emb(v_in)
    out = lib.layers.MultiHeadAttention(num_heads=2, key_dim=4)(q, v, **call_kwargs)
    return lib.Model([q_in, v_in], lib.layers.GlobalAveragePooling1D()(out))  # pooling reads the query mask


def _attention_masked_by_embedding(lib, **kwargs):
    q_in, v_in = lib.Input((5,), dtype="int32"), lib.Input((6,), dtype="int32")
    emb = lib.layers.Embedding(10, 8, mask_zero=True)
    out = lib.layers.Attention(**kwargs)([emb(q_in), emb(v_in)])
    return lib.Model([q_in, v_in], lib.layers.GlobalAveragePooling1D()(out))


@pytest.mark.parametrize("build", [
    _mha_masked_by_embedding,
    lambda lib: _mha_masked_by_embedding(lib, use_causal_mask=True),
    _attention_masked_by_embedding,
    lambda lib: _attention_masked_by_embedding(lib, use_scale=True, score_mode="concat"),
], ids=["mha", "mha-causal", "attention", "attention-concat"])
def test_masks_from_embedding_match_keras(build):
    ours, theirs = _pair(build)
    _close(ours([TOKENS_Q, TOKENS_V]), theirs([TOKENS_Q, TOKENS_V]))


def test_mha_explicit_attention_mask_and_scores_match_keras():
    q, v = RNG.standard_normal((2, 4, 6)).astype("float32"), RNG.standard_normal((2, 7, 6)).astype("float32")
    mask = RNG.random((2, 4, 7)) > 0.4
    mask[:, :, 0] = True  # every query sees something
    ours, theirs = keras.layers.MultiHeadAttention(3, 5), real.layers.MultiHeadAttention(3, 5)
    ours(q, v)
    theirs(q, v)
    theirs.set_weights(ours.get_weights())
    for kwargs in ({"attention_mask": mask}, {"attention_mask": mask, "use_causal_mask": True},
                   {"value_mask": mask[:, 0, :]}):
        (out, scores), (want, want_scores) = (layer(q, v, return_attention_scores=True, **kwargs)
                                              for layer in (ours, theirs))
        _close(out, want)
        _close(scores, want_scores)


def test_attention_explicit_masks_and_scores_match_keras():
    q, v, k = (RNG.standard_normal((2, t, 4)).astype("float32") for t in (3, 5, 5))
    q_mask, v_mask = np.array([[1, 1, 0], [1, 0, 1]], bool), np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    for kwargs in ({}, {"use_scale": True}):
        ours, theirs = keras.layers.Attention(**kwargs), real.layers.Attention(**kwargs)
        ours([q, v, k])
        theirs([q, v, k])
        theirs.set_weights([w * 1.5 for w in ours.get_weights()])
        ours.set_weights([w * 1.5 for w in ours.get_weights()])
        for call in ({"mask": [q_mask, v_mask]}, {"mask": [None, v_mask], "use_causal_mask": True}):
            (out, s), (want, want_s) = (layer([q, v, k], return_attention_scores=True, **call)
                                        for layer in (ours, theirs))
            _close(out, want)
            _close(s, want_s)


def test_mha_output_carries_query_mask():
    emb = keras.layers.Embedding(10, 8, mask_zero=True)
    x = emb(TOKENS_Q)
    out = keras.layers.MultiHeadAttention(2, 4)(x, x)
    assert _np(out._keras_mask).tolist() == (TOKENS_Q != 0).tolist()
