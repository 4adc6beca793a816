"""Tracing through ops.apply: graph inputs for state, backward and updates inside a trace, breaks."""

import textwrap

import numpy as np
import pytest

import ember
from ember.graph import interpret, trace, verify
from ember.graph.capture import run_traced
from ember.graph.compile import explain
from ember.graph.tracer import GraphBreak
from ember.ops import apply


def test_trace_makes_closed_over_tensors_inputs_and_tensors_made_inside_constants():
    w = ember.ones(3, requires_grad=True)

    def f(x):
        c = ember.tensor([1.0, 2.0, 3.0])
        return apply("sum", x * w + c, axis=None, keepdims=False)

    g = verify(trace(f, ember.ones(3)))
    assert str(g) == textwrap.dedent("""\
        graph(%0:f32[3], %1:f32[3]) {
          %2:f32[3] = const [1.0, 2.0, 3.0]
          %3:f32[3] = mul %0 %1
          %4:f32[3] = add %3 %2
          %5:f32[] = sum[axis=None, keepdims=False] %4
          return %5
        }""")


def test_nodes_carry_the_user_source_line():
    g = trace(lambda x: x.exp(), ember.ones(2))
    assert g.nodes[0].meta["source"].startswith("test_graph_trace.py:")


def test_interpreting_a_trace_equals_eager():
    rng = np.random.default_rng(0)
    a = ember.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    b = ember.tensor(rng.standard_normal((5, 3)).astype(np.float32))

    def f(a, b):
        h = (a @ b).tanh() * 2 - 1
        return apply("amax", h.exp(), axis=(1,), keepdims=True) / 3

    g = trace(f, a, b)
    (out,) = interpret(g, [a.numpy(), b.numpy()])
    np.testing.assert_allclose(out, f(a, b).numpy(), rtol=1e-6)


def _sgd_step_fn(w):
    def step(x):
        w.grad = None
        loss = apply("sum", (x @ w) ** 2, axis=None, keepdims=False)
        loss.backward()
        with ember.no_grad():
            w.sub_(w.grad * 0.1)
        return loss.detach()

    return step


def test_backward_and_in_place_update_are_recorded_with_write_backs():
    w = ember.ones(3, 2, requires_grad=True)
    cap = run_traced(_sgd_step_fn(w), (ember.ones(4, 3),), {})
    verify(cap.graph)
    ops = [n.op for n in cap.graph.nodes]
    assert ops.count("matmul") == 2 and "permute" in ops and ops[-1] == "sub"  # forward, vjp, update
    kinds = [kind for (kind, _), _ in cap.writeback]
    assert kinds == ["tensor", "grad_new"] and cap.writeback[0][0][1] is w
    assert len(cap.graph.outputs) == 3  # loss, new w, new w.grad
    assert cap.graph.inputs[1].shape == (3, 2)


def test_tracing_runs_eagerly_so_the_traced_call_takes_effect():
    w = ember.ones(3, 2, requires_grad=True)
    run_traced(_sgd_step_fn(w), (ember.ones(4, 3),), {})
    assert not np.allclose(w.detach().numpy(), 1.0)


def test_strict_trace_raises_at_the_line_of_a_data_dependent_if():
    def f(x):
        if x.sum() > 0:  # the line named in the error
            return x
        return -x

    with pytest.raises(GraphBreak, match=r"test_graph_trace.py:\d+.*if x.sum\(\) > 0"):
        run_traced(f, (ember.ones(2),), {}, mode="strict")


def test_explain_lists_every_break_with_its_line():
    def f(x):
        y = x * 2
        print(y)
        s = y.sum().item()
        return y + s

    e = explain(f, ember.ones(2))
    assert e.graph_break_count == 2
    assert ["printing a tensor", ".item()"] == [str(b).split(": ", 1)[1].split("  `")[0] for b in e.breaks]
    assert "print(y)" in str(e) and "y.sum().item()" in str(e)


def test_item_on_a_constant_is_not_a_break():
    scale = ember.tensor(3.0)
    e = explain(lambda x: x * scale.item(), ember.ones(2))
    assert e.graph_break_count == 0 and e.graph is not None
