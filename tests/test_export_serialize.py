"""The IR's JSON form (ember/graph/serialize.py): every attr type, and every primitive of the registry
round-tripped through JSON text (graphs traced from the op table, forward and backward, and fused)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _optable import (
    rows_conv,
    rows_index,
    rows_linalg,
    rows_linalg_more,
    rows_math,
    rows_more,
    rows_nn,
    rows_reduce,
    rows_scatter,
    rows_shape,
)
from _optable import rows_special as special_rows
from _optable.spec import make_case
from test_export_onnx import LAYERS as ONNX_LAYERS

import ember
from ember.export.artifact import _check_shapes as check_shapes
from ember.graph import Graph, interpret, opinfo
from ember.graph.capture import run_traced
from ember.graph.passes import fuse_elementwise
from ember.graph.serialize import SerializeError, decode_attr, encode_attr, graph_from_json, graph_to_json
from ember.ops import REGISTRY

ROWS = rows_math.ROWS + rows_reduce.ROWS + rows_shape.ROWS + rows_index.ROWS + rows_nn.ROWS + rows_linalg.ROWS
ROWS += rows_conv.ROWS + rows_more.ROWS + rows_scatter.ROWS + special_rows.ROWS + rows_linalg_more.ROWS


def _typed(x):
    """A value with its types spelled out, so (1,) vs [1], 1 vs 1.0 vs True, float32 vs float64 all differ."""
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(_typed(y) for y in x))
    if isinstance(x, dict):
        return ("dict", tuple((_typed(k), _typed(v)) for k, v in x.items()))
    if isinstance(x, Graph):
        return ("graph", _graph_key(x))
    if isinstance(x, float) and math.isnan(x):
        return (type(x).__name__, "nan")
    return (type(x).__name__, x)


def _graph_key(g: Graph):
    ids = {v: i for i, v in enumerate(g.values())}
    return (
        tuple((v.shape, v.dtype, v.hint) for v in g.values()),
        tuple(ids[v] for v in g.inputs),
        tuple(ids[v] for v in g.outputs),
        tuple((n.op, tuple(ids[v] for v in n.inputs), tuple(ids[v] for v in n.outputs), _typed(n.attrs),
               n.meta.get("source")) for n in g.nodes),
    )


def _roundtrip(g: Graph) -> Graph:
    data, arrays = graph_to_json(g)
    text = json.dumps(data, allow_nan=False)  # strict JSON: no NaN/Infinity literals
    back, _, used = graph_from_json(json.loads(text), arrays)
    assert used == set(arrays)
    return back


# ---------------------------------------------------------------------------------------------- attrs
def _body():
    g = Graph()
    x = g.add_input((None, 3), "float32")
    g.outputs.append(g.add_node("exp", [g.add_node("mul", [x, g.add_constant(np.float32(2))])]))
    return g


ATTRS = [
    0, -3, 2**40, 1.5, -0.0, 1e-300, math.inf, -math.inf, math.nan, True, False, None, "float32", "ij,jk->ik",
    (), (1,), (0, 2, 1), ((0, 1), (2, 3)), (("slice", None, -1, 2), ("int", -1), None, ("ellipsis",),
                                            ("tensor", 0)),
    [1, (2, 3)], {"a": 1, "b": (None, 2.5)}, np.float32(0.1), np.int64(-7), np.bool_(True), ember.float32,
    np.dtype("int32"), (math.inf, -math.inf),
]


@pytest.mark.parametrize("value", ATTRS, ids=[repr(v)[:30] for v in ATTRS])
def test_attr_roundtrip(value):
    data = json.loads(json.dumps(encode_attr(value), allow_nan=False))
    back = decode_attr(data)
    if isinstance(value, np.dtype) or value is ember.float32:
        assert back == opinfo.dtype_name(value)  # dtypes come back as the IR's dtype names
        return
    assert _typed(back) == _typed(value)
    if isinstance(value, np.generic):
        assert back.dtype == value.dtype


def test_graph_attr_roundtrip_keeps_body_and_its_constants():
    body = _body()
    enc = encode_attr(body, graph_encoder=lambda g: graph_to_json(g)[0])
    assert "$graph" in enc
    outer = Graph()
    x = outer.add_input((None, 3), "float32")
    out = outer.add_node("fused", [x], {"body": body}, outputs=[ember.graph.Value((None, 3), "float32")])
    outer.outputs.append(out)
    back = _roundtrip(outer)
    assert _graph_key(back) == _graph_key(outer)
    xs = np.random.rand(4, 3).astype(np.float32)
    np.testing.assert_array_equal(interpret(back, [xs])[0], np.exp(xs * 2))


BAD_ATTRS = [
    (object(), "cannot write a object"),
    (lambda: 1, "cannot write a function"),
    ({"$weird": 1}, "unknown tagged value"),
    ({"$float": "huge"}, "unknown float"),
    ({"$dtype": "complex64"}, "unknown dtype"),
    ({"$list": 3}, "expected a JSON array"),
]


@pytest.mark.parametrize("value, words", BAD_ATTRS, ids=[w for _, w in BAD_ATTRS])
def test_bad_attrs_are_clear_errors(value, words):
    with pytest.raises(SerializeError, match=words):
        decode_attr(value) if isinstance(value, dict) else encode_attr(value)


# ---------------------------------------------------------------------------------------------- every op
def _flat(o):
    return [y for x in o for y in _flat(x)] if isinstance(o, (tuple, list)) else [o]


def _traced(row, grad=True):
    """The row's graph, forward plus the backward of every float output (so vjp primitives appear);
    ``grad=False``: the forward alone, under no_grad, where layer ops stay one node each (as exported)."""
    values, flags = make_case(row.cases[0], 11)
    args = [
        ember.tensor(v.astype(np.float32) if v.dtype.kind == "f" else v, requires_grad=bool(f and v.dtype.kind == "f"))
        if isinstance(v, np.ndarray) else v
        for v, f in zip(values, flags)
    ]
    if not grad:
        with ember.no_grad():
            cap = run_traced(lambda *xs: [o for o in _flat(row.fn(ember, *xs)) if isinstance(o, ember.Tensor)],
                             args, {}, mode="compile")
        return cap.graph, [a._data for a in args if isinstance(a, ember.Tensor)] + \
            [o._data if k == "tensor" else o.grad._data for k, o in cap.state] if cap.graph is not None else None

    def fn(*xs):
        outs = [o for o in _flat(row.fn(ember, *xs)) if isinstance(o, ember.Tensor)]
        wrt = [a for a in xs if isinstance(a, ember.Tensor) and a.requires_grad]
        diff = [o for o in outs if o.requires_grad]
        grads = ember.autograd.grad([o.sum() for o in diff], wrt, allow_unused=True, create_graph=True) \
            if diff and wrt else []
        return outs + [g for g in grads if g is not None]

    cap = run_traced(fn, args, {}, mode="compile")
    if cap.graph is None:
        return None, None
    leaves = [a for a in args if isinstance(a, ember.Tensor)]
    arrays = [t._data for t in leaves] + [o._data if k == "tensor" else o.grad._data for k, o in cap.state]
    return cap.graph, arrays


TRACED = {r.name: _traced(r) for r in ROWS}
EXTRA_LAYERS = [
    ("gelu", lambda: ember.nn.GELU(), lambda b: (ember.randn(b, 5),), []),
    ("log_softmax", lambda: ember.nn.LogSoftmax(1), lambda b: (ember.randn(b, 5),), []),
]
# forward-only graphs that hold layer ops as one node each (conv, pools, norms, RNNs, attention...): the ONNX
# export's layer table, traced under no_grad as every exporter traces
def _layer_traced(build, make):
    ember.manual_seed(0)
    model, args = build(), make(2)
    with ember.no_grad():
        cap = run_traced(model, args, {}, mode="compile")
    return cap.graph, [a._data for a in args] + [o._data if k == "tensor" else o.grad._data for k, o in cap.state]


LAYER_TRACED = {name: g for name, build, make, _ in ONNX_LAYERS + EXTRA_LAYERS for g in [_layer_traced(build, make)]
                if any(opinfo.is_layer(n.op) for n in g[0].nodes)}


def _same_outputs(a, b, arrays):
    for x, y in zip(interpret(a, arrays), interpret(b, arrays)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_traced_graph_roundtrips(row):
    graph, arrays = TRACED[row.name]
    if graph is None:
        pytest.skip(f"{row.name} needs data-dependent Python (a graph break): no graph to save")
    back = _roundtrip(graph)
    assert _graph_key(back) == _graph_key(graph)
    check_shapes(back, {}, "artifact")  # what load checks: every node against its op's shape rule
    assert back.format(source=True) == graph.format(source=True)
    if not any(n.op in opinfo.RANDOM for n in graph.nodes):
        _same_outputs(graph, back, arrays)
    fused = fuse_elementwise(graph.clone()[0], singletons=True)
    if any(n.op == "fused" for n in fused.nodes):
        assert _graph_key(_roundtrip(fused)) == _graph_key(fused)


@pytest.mark.parametrize("name", sorted(LAYER_TRACED))
def test_layer_graph_roundtrips(name):
    graph, arrays = LAYER_TRACED[name]
    back = _roundtrip(graph)
    assert _graph_key(back) == _graph_key(graph)
    check_shapes(back, {}, "artifact")
    assert [n.op for n in back.nodes] == [n.op for n in graph.nodes]
    # the JSON form keeps layer nodes with their attrs but not the traced decomposition (meta["body"]), so the
    # loaded graph is not run here: ember.export.save writes decomposed graphs (see docs/deploy.md)


def test_every_registry_op_roundtrips():
    seen = {n.op for g, _ in [*TRACED.values(), *LAYER_TRACED.values()] if g is not None for n in g.nodes}
    collectives = {n for n, op in REGISTRY.items() if op.kind == "collective"}  # need ranks: test_distributed
    # complex numbers never enter graphs (a graph break; tests/test_fft.py checks it)
    eager_only = {n for n, op in REGISTRY.items() if op.kind == "complex"}
    missing = sorted(set(REGISTRY) - seen - collectives - eager_only)
    assert not missing, f"primitives never round-tripped through JSON: {missing}"


def test_unknown_op_and_bad_references_are_errors():
    g = Graph()
    x = g.add_input((2,), "float32")
    g.outputs.append(g.add_node("exp", [x]))
    data, arrays = graph_to_json(g)
    bad = json.loads(json.dumps(data))
    bad["nodes"][0]["op"] = "frobnicate"
    with pytest.raises(SerializeError, match="unknown op 'frobnicate'"):
        graph_from_json(bad, arrays)
    bad = json.loads(json.dumps(data))
    bad["nodes"][0]["inputs"] = [9]
    with pytest.raises(SerializeError, match="out of range"):
        graph_from_json(bad, arrays)
    bad = json.loads(json.dumps(data))
    bad["values"][0]["shape"] = [-2]
    with pytest.raises(SerializeError, match="bad dim"):
        graph_from_json(bad, arrays)
