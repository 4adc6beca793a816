"""``keras.layers.GroupQueryAttention`` against real Keras 3 with the same weights: outputs and attention scores
over head groupings, bias / gate / sliding window / causal options and masks, plus gradients, config, errors."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")

import ember  # noqa: E402
from ember import keras  # noqa: E402

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 5, 8)).astype("float32")
V = RNG.standard_normal((2, 6, 6)).astype("float32")
K = RNG.standard_normal((2, 6, 7)).astype("float32")
MASK = RNG.random((2, 5, 6)) > 0.3
VALUE_MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)

CASES = {  # name: (layer kwargs, call args, call kwargs)
    "mqa": (dict(head_dim=4, num_query_heads=4, num_key_value_heads=1), (Q, V), {}),
    "gqa": (dict(head_dim=3, num_query_heads=4, num_key_value_heads=2), (Q, V), {}),
    "mha": (dict(head_dim=2, num_query_heads=2, num_key_value_heads=2, use_bias=False), (Q, V), {}),
    "key": (dict(head_dim=4, num_query_heads=6, num_key_value_heads=3), (Q, V, K), {}),
    "gate": (dict(head_dim=4, num_query_heads=4, num_key_value_heads=2, use_gate=True), (Q, V), {}),
    "mask": (dict(head_dim=4, num_query_heads=4, num_key_value_heads=2), (Q, V), {"attention_mask": MASK}),
    "value_mask": (dict(head_dim=4, num_query_heads=4, num_key_value_heads=2), (Q, V), {"value_mask": VALUE_MASK}),
    "causal_self": (dict(head_dim=4, num_query_heads=4, num_key_value_heads=2), (Q, Q), {"use_causal_mask": True}),
    "window": (dict(head_dim=4, num_query_heads=4, num_key_value_heads=2, sliding_window=2), (Q, V), {}),
    "causal_window": (dict(head_dim=4, num_query_heads=2, num_key_value_heads=1, sliding_window=3), (Q, Q),
                      {"use_causal_mask": True, "attention_mask": MASK[:, :, :5]}),
}


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _pair(kwargs, args):
    theirs, ours = real.layers.GroupQueryAttention(**kwargs), keras.layers.GroupQueryAttention(**kwargs)
    theirs(*args)
    ours(*args)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_and_scores_match_keras(case):
    kwargs, args, call = CASES[case]
    theirs, ours = _pair(kwargs, args)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    out, scores = ours(*args, return_attention_scores=True, **call)
    want, want_scores = theirs(*args, return_attention_scores=True, **call)
    np.testing.assert_allclose(_np(out), _np(want), atol=2e-5)
    np.testing.assert_allclose(_np(scores), _np(want_scores), atol=2e-6)
    np.testing.assert_allclose(_np(ours(*args, **call)), _np(want), atol=2e-5)


def test_gradients_reach_every_weight_and_match_keras():
    import torch

    kwargs, args, call = CASES["gate"]
    theirs, ours = _pair(kwargs, args)
    out = ours(*args, **call)
    (out * out).sum().backward()
    want = theirs(*[torch.tensor(a) for a in args], **call)
    grads = torch.autograd.grad((want * want).sum(), [w.value for w in theirs.trainable_weights])
    for w, g in zip(ours.trainable_weights, grads):
        np.testing.assert_allclose(w.grad.numpy(), g.numpy(), atol=1e-4, rtol=1e-4)


def test_config_round_trip_dropout_and_errors():
    layer = keras.layers.GroupQueryAttention(4, 4, 2, dropout=0.5, sliding_window=3, use_gate=True, seed=1)
    again = keras.layers.GroupQueryAttention.from_config(layer.get_config())
    assert (again.num_key_value_heads, again.sliding_window, again.use_gate, again.dropout) == (2, 3, True, 0.5)
    from_keras = keras.layers.deserialize(real.layers.serialize(real.layers.GroupQueryAttention(4, 6, 3)))
    assert (from_keras.head_dim, from_keras.num_query_heads, from_keras.num_key_value_heads) == (4, 6, 3)
    ember.manual_seed(0)
    dropped = layer(Q, V, training=True)
    assert not np.allclose(_np(dropped), _np(layer(Q, V)))  # attention dropout only when training
    with pytest.raises(ValueError, match=r"num_query_heads \(5\) must be a multiple of num_key_value_heads \(2\)"):
        keras.layers.GroupQueryAttention(4, 5, 2)
    with pytest.raises(ValueError, match="sliding_window must be a positive integer"):
        keras.layers.GroupQueryAttention(4, 4, 2, sliding_window=0)


def test_trains_in_a_functional_model():
    tokens = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(20, 8)(tokens)
    x = keras.layers.GroupQueryAttention(4, 4, 2)(x, x, use_causal_mask=True)
    model = keras.Model(tokens, keras.layers.Dense(20)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = RNG.integers(0, 20, (32, 7))
    history = model.fit(ids[:, :-1], ids[:, 1:], epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
