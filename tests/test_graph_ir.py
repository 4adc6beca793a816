"""The IR: construction, users map, replace_all_uses_with, printer, dot, verifier."""

import textwrap

import numpy as np
import pytest

from ember.graph import Graph, GraphError, Node, Value, verify


def _mlp():
    g = Graph()
    x = g.add_input((64, 784), "float32")
    w = g.add_input((784, 10), "float32")
    b = g.add_input((10,), "float32")
    h = g.add_node("matmul", [x, w])
    y = g.add_node("add", [h, b])
    g.outputs.append(g.add_node("sum", [y], {"axis": (1,), "keepdims": False}))
    return g, (x, w, b, h, y)


def test_printer_names_values_in_definition_order():
    g, _ = _mlp()
    assert str(g) == textwrap.dedent("""\
        graph(%0:f32[64,784], %1:f32[784,10], %2:f32[10]) {
          %3:f32[64,10] = matmul %0 %1
          %4:f32[64,10] = add %3 %2
          %5:f32[64] = sum[axis=(1,), keepdims=False] %4
          return %5
        }""")


def test_printer_shows_constants_hints_dynamic_dims_and_source():
    g = Graph()
    x = g.add_input((None, 3), "float64", hint="x")
    c = g.add_constant(np.float64(2.5))
    g.outputs.append(g.add_node("mul", [x, c], meta={"source": "train.py:7"}))
    assert g.format(source=True).splitlines() == [
        "graph(%0(x):f64[?,3]) {",
        "  %1:f64[] = const 2.5",
        "  %2:f64[?,3] = mul %0 %1  # train.py:7",
        "  return %2",
        "}",
    ]


def test_users_map_tracks_edits():
    g, (x, w, b, h, y) = _mlp()
    assert [n.op for n in g.users(h)] == ["add"]
    assert g.producer(y).op == "add" and g.producer(x) is None
    h2 = g.add_node("matmul", [x, w], index=1)
    assert g.replace_all_uses_with(h, h2) == 1
    assert g.users(h) == [] and [n.op for n in g.users(h2)] == ["add"]
    assert g.nodes[2].inputs[0] is h2
    verify(g)


def test_replace_all_uses_with_updates_graph_outputs():
    g = Graph()
    x = g.add_input((2,), "float32")
    e = g.add_node("exp", [x])
    g.outputs = [e, e]
    assert g.replace_all_uses_with(e, x) == 2
    assert g.outputs == [x, x]


def test_remove_node_refuses_when_used():
    g, (x, w, b, h, y) = _mlp()
    with pytest.raises(GraphError, match="still used"):
        g.remove_node(g.producer(h))


def test_clone_has_fresh_values_and_same_print():
    g, _ = _mlp()
    c, vmap = g.clone()
    assert str(c) == str(g)
    assert all(vmap[v] is not v for v in g.inputs)
    verify(c)


def test_to_dot_lists_nodes_and_edges():
    g, _ = _mlp()
    dot = g.to_dot()
    assert dot.startswith('digraph "graph" {') and dot.rstrip().endswith("}")
    assert 'label="matmul"' in dot and "in0 -> n0" in dot and "n2 -> out0" in dot


def test_value_rejects_unknown_dtype():
    with pytest.raises(TypeError, match="unsupported dtype"):
        Value((2,), "complex128")


@pytest.mark.parametrize(
    "break_it, words",
    [
        (lambda g, v: setattr(g.nodes[0], "op", "frobnicate"), "unknown op 'frobnicate'"),
        (lambda g, v: g.nodes.reverse(), "before it is defined"),
        (lambda g, v: g.nodes[1].outputs.__setitem__(0, v[3]), "redefines"),
        (lambda g, v: g.nodes[0].outputs.__setitem__(0, Value((64, 11), "float32")), "output shape [64, 11]"),
        (lambda g, v: g.nodes[0].outputs.__setitem__(0, Value((64, 10), "float64")), "output dtype float64"),
        (lambda g, v: g.outputs.append(Value((1,), "float32")), "never defined"),
        (lambda g, v: g._users[v[3]].clear(), "users map is out of sync"),
    ],
)
def test_verifier_rejects(break_it, words):
    g, vals = _mlp()
    break_it(g, vals)
    with pytest.raises(GraphError, match=words.replace("[", r"\[").replace("]", r"\]")):
        verify(g)


def test_verifier_rejects_broadcast_mismatch_naming_the_source():
    g = Graph()
    a = g.add_input((3, 4), "float32")
    b = g.add_input((5,), "float32")
    g.insert_node(Node("add", [a, b], {}, [Value((3, 4), "float32")], {"source": "model.py:3"}))
    with pytest.raises(GraphError, match=r"node 0 \(add, from model.py:3\).*cannot be broadcast"):
        verify(g)


def test_verifier_accepts_dynamic_dims():
    g = Graph()
    x = g.add_input((None, 4), "float32")
    w = g.add_input((4, 2), "float32")
    g.outputs.append(g.add_node("matmul", [x, w]))
    assert g.outputs[0].shape == (None, 2)
    verify(g)
