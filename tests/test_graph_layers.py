"""Layer nodes in the IR (conv, pools, norms, embedding, RNNs, attention are one node each, with their
decomposition), the decomposition pass, and the one abstract value: shape rules whose dims may be unknown."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.dtypes import float32, int64
from ember.graph import interpret, trace, verify
from ember.graph.dynamic import generalize
from ember.graph.passes import decompose
from ember.ops import REGISTRY, Aval


def _cnn():
    ember.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, 10), nn.LogSoftmax(1)).eval()


def test_layers_are_one_node_each_and_print_at_both_levels():
    model, x = _cnn(), ember.randn(2, 1, 8, 8)
    with ember.no_grad():
        g = trace(model, x)
    assert [n.op for n in g.nodes] == ["conv", "batch_norm", "relu", "max_pool", "reshape", "linear",
                                       "log_softmax"]
    conv = g.nodes[0]
    assert conv.attrs == {"stride": (1, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1), "groups": 1}
    assert conv.meta["module"] == "'0' (Conv2d)" and conv.meta["source"].startswith("test_graph_layers.py")
    text = g.format(source=True)
    assert "conv[stride=(1,1)" in text and "in '1' (BatchNorm2d)" in text and "im2col" not in text
    assert "im2col" in g.format(decomposed=True) and "conv[" not in g.format(decomposed=True)
    nested = g.format(bodies=True)
    assert nested.index("conv[") < nested.index("decomposition(") < nested.index("im2col")
    verify(g)


def test_decomposition_runs_like_eager_and_equals_the_compiled_trace():
    from ember.graph.capture import run_traced

    model, x = _cnn(), ember.randn(3, 1, 8, 8)
    with ember.no_grad():
        cap = run_traced(model, (x,), {})
        want = model(x).numpy()
        compiled = run_traced(model, (x,), {}, decomposed=True).graph  # what ember.compile runs
    g = cap.graph
    args = [x._data] + [obj._data for _, obj in cap.state]
    np.testing.assert_allclose(interpret(g, args)[0], want, rtol=1e-6)  # layer nodes run their decomposition
    flat = decompose(g.clone()[0])
    assert all("body" not in n.meta for n in flat.nodes) and verify(flat)
    np.testing.assert_allclose(interpret(flat, args)[0], want, rtol=1e-6)
    assert [n.op for n in compiled.nodes] == [n.op for n in flat.nodes]


def test_training_graphs_stay_primitive():
    """Inputs that need grad: the backward reads the composite's intermediates, so no layer node."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    g = trace(lambda x: model(x).sum(), ember.randn(2, 1, 5, 5))
    ops = [n.op for n in g.nodes]
    assert "conv" not in ops and "im2col" in ops and "batch_norm" not in ops


def test_random_or_stateful_calls_stay_primitive():
    bn = nn.BatchNorm1d(3)  # training mode: the running statistics are written
    with ember.no_grad():
        g = trace(bn, ember.randn(4, 3))
    assert "batch_norm" not in [n.op for n in g.nodes]
    q = ember.randn(1, 2, 4, 8)
    with ember.no_grad():
        g = trace(lambda q: nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=0.5), q)
    assert "scaled_dot_product_attention" not in [n.op for n in g.nodes] and "uniform" in [n.op for n in g.nodes]


def test_a_value_read_from_outside_a_layer_expands_it():
    """A model keeps an intermediate of a layer's composite and uses it later: the node turns back into its
    primitives so the graph stays correct."""
    from ember.nn.functional import attention

    kept = {}
    real = attention._attention_weights

    def spy(*a, **kw):
        kept["w"] = real(*a, **kw)
        return kept["w"]

    attention._attention_weights = spy
    try:
        q = ember.randn(1, 2, 3, 4)
        with ember.no_grad():
            g = trace(lambda q: nn.functional.scaled_dot_product_attention(q, q, q) + kept["w"].sum(), q)
    finally:
        attention._attention_weights = real
    ops = [n.op for n in g.nodes]
    assert "scaled_dot_product_attention" not in ops and "softmax" in ops
    verify(g)
    with ember.no_grad():
        want = (nn.functional.scaled_dot_product_attention(q, q, q) + real(q, q, scale=0.5, is_causal=False).sum())
    np.testing.assert_allclose(interpret(g, [q._data])[0], want.numpy(), rtol=1e-6)


def test_nested_layers_and_multiple_outputs():
    lstm = nn.LSTM(3, 4, num_layers=2).eval()
    with ember.no_grad():
        g = trace(lstm, ember.randn(5, 2, 3))
    (node,) = [n for n in g.nodes if n.op == "lstm"]
    assert len(node.outputs) == 3 and node.attrs["num_layers"] == 2 and not node.attrs["has_state"]
    assert any(n.op == "lstm_seq" for n in node.meta["body"].nodes)
    verify(g)


# -- one abstract value: unknown dims (None) ----------------------------------------------------------------
def _infer(op, *avals, **attrs):
    out = REGISTRY[op].infer(*avals, **attrs)
    return [tuple(a.shape) for a in (out if isinstance(out, tuple) else (out,))]


F32 = float32
RULES = [
    ("add", [Aval((None, 3), F32), Aval((3,), F32)], {}, [(None, 3)]),
    ("matmul", [Aval((None, 5, 4), F32), Aval((4, 2), F32)], {}, [(None, 5, 2)]),
    ("reshape", [Aval((None, 2, 3), F32)], {"shape": (-1, 6)}, [(None, 6)]),
    ("reshape", [Aval((4, 2, 3), F32)], {"shape": (-1, 6)}, [(4, 6)]),
    ("cat", [Aval((None, 2), F32), Aval((None, 3), F32)], {"axis": 1}, [(None, 5)]),
    ("cat", [Aval((None, 2), F32), Aval((4, 2), F32)], {"axis": 0}, [(None, 2)]),
    ("getitem", [Aval((None, 5, 4), F32)], {"index": (("slice", None, None, None), ("int", -1))}, [(None, 4)]),
    ("getitem", [Aval((None, 5, 4), F32), Aval((3,), int64)],
     {"index": (("slice", None, None, None), ("tensor", 0))}, [(None, 3, 4)]),
    ("getitem", [Aval((6, 5, 4), F32), Aval((2,), int64), Aval((2,), int64)],
     {"index": (("tensor", 0), ("slice", None, None, None), ("tensor", 1))}, [(2, 5)]),
    ("im2col", [Aval((None, 3, 8, 8), F32)], {"kernel": (3, 3), "stride": (1, 1), "padding": ((0, 0), (0, 0)),
                                              "dilation": (1, 1), "fold_batch": True}, [(27, None)]),
    ("conv", [Aval((None, 3, 8, None), F32), Aval((4, 3, 3, 3), F32)],
     {"stride": (2, 1), "padding": ((1, 1), (0, 0)), "dilation": (1, 1), "groups": 1}, [(None, 4, 4, None)]),
    ("max_pool", [Aval((None, 3, 9, 9), F32)], {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0),
                                                "dilation": (1, 1), "ceil_mode": True}, [(None, 3, 5, 5)]),
    ("lstm", [Aval((None, None, 3), F32), Aval((16, 3), F32), Aval((16, 4), F32)],
     {"hidden_size": 4, "num_layers": 1, "bidirectional": False, "bias": False, "has_state": False},
     [(None, None, 4), (1, None, 4), (1, None, 4)]),
    ("scaled_dot_product_attention", [Aval((None, 2, 5, 4), F32)] * 3,
     {"scale": 0.5, "is_causal": True, "need_weights": True}, [(None, 2, 5, 4), (None, 2, 5, 5)]),
]


@pytest.mark.parametrize("op, avals, attrs, shapes", RULES, ids=[f"{r[0]}-{i}" for i, r in enumerate(RULES)])
def test_shape_rules_carry_unknown_dims(op, avals, attrs, shapes):
    assert _infer(op, *avals, **attrs) == shapes


def test_rules_still_reject_definite_mismatches():
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        _infer("matmul", Aval((None, 5), F32), Aval((4, 2), F32))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        _infer("add", Aval((None, 3), F32), Aval((4,), F32))


def test_generalize_makes_batch_dynamic_through_layer_nodes_and_says_why_not():
    model = _cnn()
    with ember.no_grad():
        g2, g3 = trace(model, ember.randn(2, 1, 8, 8)), trace(model, ember.randn(3, 1, 8, 8))
    g = generalize(g2, g3, {0: {0}})
    assert g.outputs[0].shape == (None, 10)
    assert [n.attrs["shape"] for n in g.nodes if n.op == "reshape"] == [(-1, 64)]
    why = []
    bad2 = trace(lambda x: x + ember.ones(x.shape[0], 1), ember.randn(2, 3))
    bad3 = trace(lambda x: x + ember.ones(x.shape[0], 1), ember.randn(3, 3))
    assert generalize(bad2, bad3, {0: {0}}, why) is None
    assert "constant of shape [2, 1] changes with the size" in why[0] and "test_graph_layers.py" in why[0]
