"""ember.compile: equality with eager, the signature cache, dynamic dims, retrace logs, graph breaks."""

import logging
import warnings

import numpy as np
import pytest

import ember
from ember.graph import kernels
from ember.graph.compile import GraphBreak, compile, function, stats
from ember.ops import apply

JIT = [False] + ([True] if kernels.jit_available() else [])
rng = np.random.default_rng(0)


def T(*shape, requires_grad=False):
    t = ember.tensor(rng.standard_normal(shape).astype(np.float32))
    return t.requires_grad_() if requires_grad else t


def _sum(x, axis=None, keepdims=False):
    return apply("sum", x, axis=axis, keepdims=keepdims)


FUNCS = {
    "chain": lambda a, b: ((a * b + 1).exp() / (1 + a * a)).tanh(),
    "broadcast_reduce": lambda a, b: _sum((a - b[0]).abs().sqrt() * 0.5, axis=(1,)),
    "matmul_bias_relu": lambda a, b: apply("maximum", a @ b.permute(1, 0) + 1, ember.tensor(0.0)),
    "softmaxish": lambda a, b: (
        (a - apply("amax", a, axis=(1,), keepdims=True)).exp()
        / _sum((a - apply("amax", a, axis=(1,), keepdims=True)).exp(), axis=(1,), keepdims=True)
    ),
    "where_cmp": lambda a, b: apply("where", a > b, a.sigmoid(), (b * 3).sin()),
    "full_reduce": lambda a, b: _sum((a - b) * (a - b) * 0.5),
}


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_compiled_equals_eager(name, jit):
    fn = FUNCS[name]
    a, b = T(6, 5), T(6, 5)
    cf = compile(fn, jit=jit)
    expected = fn(a, b).numpy()
    for _ in range(2):  # the trace, then the executor
        np.testing.assert_allclose(cf(a, b).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert stats(cf)["traces"] == 1 and stats(cf)["cache_hits"] == 1


def _linear_step(w, b, lr=0.05):
    def step(x, y):
        w.grad = None
        b.grad = None
        out = x @ w + b
        loss = _sum((out - y) * (out - y)) / 8
        loss.backward()
        with ember.no_grad():
            w.sub_(w.grad * lr)
            b.sub_(b.grad * lr)
        return loss.detach()

    return step


@pytest.mark.parametrize("jit", JIT)
def test_compiled_training_step_matches_eager_and_updates_state(jit):
    w, b = T(5, 3, requires_grad=True), T(3, requires_grad=True)
    w0, b0 = w.detach().numpy().copy(), b.detach().numpy().copy()
    x, y = T(8, 5), T(8, 3)
    step = compile(_linear_step(w, b), jit=jit)
    compiled = [float(step(x, y)) for _ in range(5)]
    wc, gc = w.detach().numpy().copy(), w.grad.numpy().copy()
    with ember.no_grad():
        w.copy_(ember.tensor(w0))
        b.copy_(ember.tensor(b0))
    eager = [float(_linear_step(w, b)(x, y)) for _ in range(5)]
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)
    np.testing.assert_allclose(wc, w.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gc, w.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert stats(step)["traces"] == 1 and stats(step)["cache_hits"] == 4
    assert compiled[-1] < compiled[0]


def test_signature_cache_retraces_on_dtype_requires_grad_and_python_scalars():
    f = compile(lambda x, k: x * k)
    f(T(2, 2), 2.0)
    f(T(2, 2), 2.0)
    f(T(2, 2), 3.0)
    f(ember.ones(2, 2, dtype=ember.float64), 3.0)
    assert f(T(2, 2), 3.0).shape == (2, 2)
    s = stats(f)
    assert (s["traces"], s["cache_hits"]) == (3, 2)


def test_batch_sizes_trace_at_most_twice_and_the_log_names_argument_and_shapes(caplog):
    w1, w2 = T(20, 16, requires_grad=True), T(16, 4, requires_grad=True)

    def mlp(x):
        h = apply("maximum", x @ w1, ember.tensor(0.0))
        return h @ w2

    f = compile(mlp)
    with caplog.at_level(logging.INFO, logger="ember"), ember.no_grad():
        for n in [32, 17, 9, 32, 5, 64]:
            x = T(n, 20)
            np.testing.assert_allclose(f(x).numpy(), mlp(x).numpy(), rtol=1e-5, atol=1e-6)
    assert stats(f)["traces"] == 2
    text = caplog.text
    assert "argument 'x' changed shape (32, 20) -> (17, 20)" in text
    assert "dim [0] of argument 'x' now dynamic" in text


def test_size_dependent_graphs_stay_one_per_size():
    f = compile(lambda x: x * x.shape[0])  # the size is baked into a constant
    for n in (3, 4, 3):
        np.testing.assert_allclose(f(ember.ones(n)).numpy(), np.full(n, n, np.float32))
    assert stats(f)["traces"] == 2


def test_retrace_limit_warns_once_and_old_signatures_stay_compiled():
    f = compile(lambda x, k: x + k, retrace_limit=2)
    f(T(2), 1)
    f(T(2), 2)
    with pytest.warns(RuntimeWarning, match="traced 2 times"):
        assert f(ember.zeros(2), 3).tolist() == [3.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(T(2), 4)
        f(T(2), 1)
    s = stats(f)
    assert (s["traces"], s["fallbacks"], s["cache_hits"]) == (2, 2, 1)


def _branchy(x):
    if x.sum() > 0:
        return x * 2
    return x


def test_graph_break_runs_eagerly_with_one_warning_naming_the_line():
    f = compile(_branchy)
    with pytest.warns(
        RuntimeWarning, match=r"graph break in _branchy at .*test_compile.py:\d+.*if x.sum\(\) > 0"
    ):
        assert f(ember.ones(2)).tolist() == [2.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(-ember.ones(2)).tolist() == [-1.0, -1.0]
    assert stats(f)["fallbacks"] == 1 and len(stats(f)["graph_breaks"]) == 1


def test_strict_raises_at_the_line():
    f = compile(_branchy, strict=True)
    with pytest.raises(GraphBreak, match=r"test_compile.py:\d+: Python control flow.*if x.sum\(\) > 0"):
        f(ember.ones(2))


def test_item_and_print_are_breaks():
    def f(x):
        print(x)
        return x + 1

    g = compile(f)
    with pytest.warns(RuntimeWarning, match="printing a tensor"):
        g(ember.ones(1))


def test_outputs_needing_autograd_get_a_compiled_backward():
    w = T(3, requires_grad=True)
    f = compile(lambda x: _sum(x * w))
    for k in range(3):  # eager first (it shows the outputs need grad), then forward + backward graphs
        w.grad = None
        x = ember.full((3,), float(k + 1), requires_grad=True)
        f(x).backward()
        assert w.grad.tolist() == [k + 1.0] * 3
        np.testing.assert_allclose(x.grad.numpy(), w.detach().numpy(), rtol=1e-6)
    with ember.no_grad():
        f(ember.ones(3))
    assert stats(f)["cache_hits"] == 1 and stats(f)["traces"] == 3


def test_function_spelling_and_decorator_forms():
    @function
    def f(x):
        return x + x

    @compile(strict=True)
    def g(x):
        return x * 3

    assert f(ember.ones(2)).tolist() == [2.0, 2.0] and g(ember.ones(1)).tolist() == [3.0]
    assert compile(g) is g
    with pytest.raises(TypeError, match="expects a function returned by ember.compile"):
        stats(lambda: None)


def test_arguments_mutated_in_place_are_written_back():
    def f(x):
        x.mul_(2)
        return x + 1

    cf = compile(f)
    for _ in range(2):
        x = ember.ones(3)
        assert cf(x).tolist() == [3.0, 3.0, 3.0]
        assert x.tolist() == [2.0, 2.0, 2.0]


def test_random_ops_draw_fresh_numbers_each_call():
    f = compile(lambda x: x + apply("uniform", shape=(4,), dtype="float32", low=0.0, high=1.0))
    a, b, c = (f(ember.zeros(4)).numpy() for _ in range(3))
    assert not np.allclose(b, c) and ((c >= 0) & (c < 1)).all()


def test_compiled_module_with_an_input_that_requires_grad():
    """The joint trace collects its targets by identity (comparing tensors with `in` raised before)."""
    lin = ember.nn.Linear(4, 4)
    f = compile(lin)
    x = ember.randn(2, 4, requires_grad=True)
    lin(x).sum().backward()
    want_x, want_w = x.grad.numpy().copy(), lin.weight.grad.numpy().copy()
    for _ in range(2):
        x.grad, lin.weight.grad = None, None
        f(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), want_x, rtol=1e-6)
        np.testing.assert_allclose(lin.weight.grad.numpy(), want_w, rtol=1e-6)
