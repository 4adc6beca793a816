"""The rules behind compiled-equals-eager, one mechanism per test (tests/test_compiled_equals_eager.py runs
whole programs): value checks raise in compiled runs, random draws are kept and ordered by every pass, the
eager in-place fast path equals the general one, and a traced write reaches views and not made constants."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.graph import Graph
from ember.graph.passes import cse, dce, fold_constants, optimize


def test_value_checks_raise_on_every_compiled_call_with_the_callers_line():
    step = ember.compile(lambda x, t: F.nll_loss(F.log_softmax(x, 1), t), strict=True)
    x = ember.randn(3, 4)
    for _ in range(3):  # a trace, then compiled calls
        step(x, ember.tensor([0, 3, 1]))
    assert ember.compile.stats(step)["cache_hits"] == 2
    with pytest.raises(IndexError, match=r"target 7 is out of bounds for 4 classes(.|\n)*test_compile_rules.py"):
        step(x, ember.tensor([0, 7, 1]))


def test_error_if_nonfinite_is_checked_by_the_compiled_step():
    p = nn.Parameter(ember.ones(3))

    def clip(g):
        p.grad = g * 1.0
        return nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)

    step = ember.compile(clip, strict=True)
    for _ in range(2):
        step(ember.ones(3))
    with pytest.raises(RuntimeError, match="non-finite"):
        step(ember.tensor([1.0, float("inf"), 0.0]))


def _two_draws():
    g = Graph()
    a = g.add_node("uniform", [], {"shape": (3,), "dtype": "float32"})
    b = g.add_node("uniform", [], {"shape": (3,), "dtype": "float32"})
    check = g.add_node("assert_all", [g.add_node("ge", [a, g.add_constant(np.float32(0))])], {"message": "x"})
    g.outputs.append(g.add_node("add", [b, a]))
    return g, check


@pytest.mark.parametrize("run", [cse, dce, fold_constants, lambda g: optimize(g, fuse=True)])
def test_passes_keep_random_draws_and_checks_in_order(run):
    g, _ = _two_draws()
    g = run(g)
    kept = [n.op for n in g.nodes if n.op in ("uniform", "assert_all")]
    assert kept == ["uniform", "uniform", "assert_all"]  # neither merged, dropped nor reordered


@pytest.mark.parametrize("op,other", [("add", 0.25), ("sub", 3), ("mul", 0.3), ("div", 7.0), ("maximum", 0.1),
                                      ("mul", "tensor"), ("div", "row"), ("sqrt", None), ("neg", None)])
def test_eager_in_place_fast_path_equals_forward_then_copy(op, other):
    from ember.ops import REGISTRY

    rng = np.random.default_rng(0)
    a = np.abs(rng.standard_normal((5, 4)).astype(np.float32)) + 0.1
    o = {"tensor": rng.standard_normal((5, 4)).astype(np.float32), "row": rng.standard_normal(4).astype(np.float32)}
    others = [] if other is None else [ember.tensor(o[other]) if isinstance(other, str) else other]
    t = ember.tensor(a.copy())
    t._inplace(op, *others)
    args = [x._data if hasattr(x, "_data") else t._scalar(x)._data for x in others]
    np.testing.assert_array_equal(t.numpy(), REGISTRY[op].forward(np, a, *args))


def test_writes_reach_views_and_leave_made_constants_alone():
    def f(x):
        h = x * 1.0
        h[:, 0].mul_(3.0)  # through a view: h changes
        made = ember.zeros(2, 3)
        out = h + made
        made.fill_(1.0)  # a tensor made in the function starts from zeros on every call
        return out + made

    fast = ember.compile(f, strict=True)
    for _ in range(3):
        x = ember.randn(2, 3)
        np.testing.assert_array_equal(fast(x).numpy(), f(x).numpy())
    assert ember.compile.stats(fast)["cache_hits"] == 2
