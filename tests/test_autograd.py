"""Autograd behaviour: accumulation, hooks, retain/create_graph, grad(), grad modes, custom Function, in-place
checks, GradientTape, anomaly mode, graph release."""

from __future__ import annotations

import gc
import os
import tracemalloc

import numpy as np
import pytest

import ember
from ember.testing import assert_close

HERE = os.path.basename(__file__)


def leaf(*values, dtype=ember.float64):
    return ember.tensor(list(values), dtype=dtype, requires_grad=True)


# -- accumulation, retain_graph, create_graph ------------------------------------------------------
def test_grad_accumulates_across_backward_calls():
    x = leaf(1.0, 2.0)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    assert_close(x.grad, [2 + 3, 4 + 3])
    x.grad = None
    (x * x).sum().backward()
    assert_close(x.grad, [2.0, 4.0])


def test_retain_graph_allows_a_second_backward():
    x = leaf(1.0, 2.0)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))))


def test_second_backward_without_retain_graph_names_node_and_suggests_detach():
    x = leaf(1.0, 2.0)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert "second time" in msg and "Backward" in msg and "detach()" in msg and HERE in msg


def test_create_graph_third_derivative_of_cube():
    x = ember.tensor(2.0, dtype=ember.float64, requires_grad=True)
    (d1,) = ember.autograd.grad(x**3, x, create_graph=True)
    (d2,) = ember.autograd.grad(d1, x, create_graph=True)
    (d3,) = ember.autograd.grad(d2, x)
    assert (d1.item(), d2.item(), d3.item()) == (12.0, 12.0, 6.0)


def test_backward_create_graph_keeps_grad_differentiable():
    x = leaf(1.0, 2.0)
    (x**2).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gx,) = ember.autograd.grad(x.grad.sum(), x)
    assert_close(gx, [2.0, 2.0])


def test_backward_with_gradient_for_non_scalar():
    x = leaf(1.0, 2.0, 3.0)
    (x * x).backward(gradient=ember.tensor([1.0, 0.5, 0.0], dtype=ember.float64))
    assert_close(x.grad, [2.0, 2.0, 0.0])


def test_backward_inputs_restricts_accumulation():
    a, b = leaf(1.0), leaf(2.0)
    (a * b).sum().backward(inputs=[a])
    assert_close(a.grad, [2.0])
    assert b.grad is None


# -- ember.autograd.grad ---------------------------------------------------------------------------
def test_grad_with_grad_outputs_and_multiple_inputs():
    x, y = leaf(1.0, 2.0), leaf(3.0, 4.0)
    out = x * y
    gx, gy = ember.autograd.grad(out, (x, y), grad_outputs=ember.tensor([1.0, 2.0], dtype=ember.float64))
    assert_close(gx, [3.0, 8.0])
    assert_close(gy, [1.0, 4.0])
    assert x.grad is None and y.grad is None  # grad() returns, it does not accumulate


def test_grad_allow_unused():
    x, z = leaf(1.0), leaf(2.0)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not used"):
        ember.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = ember.autograd.grad(y, [x, z], allow_unused=True)
    assert_close(gx, [2.0])
    assert gz is None


def test_grad_retain_graph():
    x = leaf(1.0, 2.0)
    y = (x.sin()).sum()
    g1 = ember.autograd.grad(y, x, retain_graph=True)[0]
    g2 = ember.autograd.grad(y, x)[0]
    assert_close(g1, g2)
    with pytest.raises(RuntimeError, match="second time"):
        ember.autograd.grad(y, x)


# -- hooks -----------------------------------------------------------------------------------------
def test_leaf_hook_replaces_grad_and_handle_removes_it():
    x = leaf(1.0, 2.0)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()) or g * 10)
    (x * x).sum().backward()
    assert seen == [[2.0, 4.0]]
    assert_close(x.grad, [20.0, 40.0])
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    assert_close(x.grad, [2.0, 4.0])
    assert len(seen) == 1


def test_non_leaf_hook_and_retain_grad():
    x = leaf(1.0, 2.0)
    y = x * 3
    y.retain_grad()
    assert y.retains_grad
    seen = []
    with y.register_hook(lambda g: seen.append(g.tolist())):
        (y * y).sum().backward()
    assert seen == [[6.0, 12.0]]
    assert_close(y.grad, [6.0, 12.0])
    assert_close(x.grad, [18.0, 36.0])
    z = x * 3  # a non-leaf without retain_grad keeps no .grad
    (z * z).sum().backward()
    assert z.grad is None


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require"):
        ember.ones(2).register_hook(lambda g: g)


# -- grad modes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "set_grad_enabled"])
def test_grad_disabled_context_and_decorator(mode):
    x = leaf(1.0)
    make = {
        "no_grad": ember.no_grad,
        "inference_mode": ember.inference_mode,
        "set_grad_enabled": lambda: ember.set_grad_enabled(False),
    }[mode]
    with make():
        y = x * 2
        assert not ember.is_grad_enabled()
        with ember.enable_grad():
            assert (x * 2).requires_grad
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @make()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert ember.is_grad_enabled()


def test_set_grad_enabled_as_function_and_enable_grad_decorator():
    x = leaf(1.0)
    ember.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad

        @ember.enable_grad()
        def f(t):
            return t * 2

        assert f(x).requires_grad
    finally:
        ember.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_requires_grad_and_detach():
    x = ember.ones(3)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d[0] = 5.0  # detach shares memory
    assert y[0].item() == 5.0
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.ones(2, dtype=ember.int64).requires_grad_()


# -- custom Function -------------------------------------------------------------------------------
class ScaledCube(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, y):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        ctx.flags = ctx.needs_input_grad
        return x**3 * scale + y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * 3 * x**2 * ctx.scale, None, g


class SplitSigns(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0), x.clamp(max=0)

    @staticmethod
    def backward(ctx, g_pos, g_neg):
        (x,) = ctx.saved_tensors
        return ember.where(x > 0, g_pos, g_neg)


def test_custom_function_save_for_backward_and_non_tensor_args():
    x, y = leaf(1.0, 2.0), ember.tensor([5.0, 5.0], dtype=ember.float64)
    out = ScaledCube.apply(x, 2.0, y)
    assert_close(out, [7.0, 21.0])
    assert out.grad_fn is not None and "ScaledCube" in repr(out.grad_fn)
    out.sum().backward()
    assert_close(x.grad, [6.0, 24.0])
    assert y.grad is None


def test_custom_function_needs_input_grad():
    captured = {}

    class Probe(ember.autograd.Function):
        @staticmethod
        def forward(ctx, a, k, b):
            captured["flags"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    Probe.apply(leaf(1.0), 3, ember.tensor([2.0], dtype=ember.float64))
    assert captured["flags"] == (True, False, False)


def test_custom_function_multiple_outputs():
    x = leaf(-1.0, 2.0)
    pos, neg = SplitSigns.apply(x)
    assert_close(pos, [0.0, 2.0])
    assert_close(neg, [-1.0, 0.0])
    (pos * 3 + neg * 5).sum().backward()
    assert_close(x.grad, [5.0, 3.0])
    x.grad = None
    pos, neg = SplitSigns.apply(x)
    pos.sum().backward()  # the unused output gets a zero gradient
    assert_close(x.grad, [0.0, 1.0])


def test_custom_function_under_no_grad_records_nothing():
    with ember.no_grad():
        out = ScaledCube.apply(leaf(1.0), 1.0, ember.zeros(1, dtype=ember.float64))
    assert out.grad_fn is None and not out.requires_grad


# -- in-place safety -------------------------------------------------------------------------------
def test_modifying_a_saved_tensor_names_both_ops_and_lines():
    x = leaf(1.0, 2.0)
    y = x.exp()  # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    msg = str(info.value)
    assert "exp" in msg and "add_" in msg and "modified by an in-place operation" in msg
    assert msg.count(HERE + ":") >= 2, msg  # where exp ran and where add_ ran
    assert "y = x.exp()" in msg and "y.add_(1)" in msg


def test_modifying_a_saved_input_is_detected():
    x = leaf(1.0, 2.0)
    h = x * 1
    z = h * h  # mul saves its inputs
    h.mul_(2)
    with pytest.raises(RuntimeError, match="mul"):
        z.sum().backward()


def test_inplace_on_unsaved_input_is_fine():
    x = leaf(1.0, 2.0)
    h = x * 1
    z = h + 1  # add saves nothing
    h.mul_(3)
    (z.sum() + h.sum()).backward()
    assert_close(x.grad, [4.0, 4.0])


def test_inplace_on_leaf_requiring_grad_raises():
    x = leaf(1.0)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with ember.no_grad():
        x.add_(1)
    assert x.item() == 2.0


def test_saved_tensor_of_custom_function_modified():
    x = leaf(1.0, 2.0)
    y = ScaledCube.apply(x, 1.0, ember.zeros(2, dtype=ember.float64))
    with ember.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


# -- GradientTape ----------------------------------------------------------------------------------
def test_tape_watch_and_gradient():
    x = ember.tensor(3.0, dtype=ember.float64)
    with ember.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x).item() == 6.0
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_tape_persistent_and_containers():
    a, b = leaf(1.0, 2.0), leaf(3.0)
    with ember.GradientTape(persistent=True) as tape:
        y = (a * b).sum()
        z = (a * a).sum()
    g = tape.gradient(y, {"a": a, "b": b})
    assert set(g) == {"a", "b"}
    assert_close(g["a"], [3.0, 3.0])
    assert_close(g["b"], [3.0])
    ga, gb = tape.gradient(z, [a, b])
    assert_close(ga, [2.0, 4.0])
    assert gb is None
    assert tape.gradient(z, [a, b], unconnected_gradients="zero")[1].tolist() == [0.0]


def test_nested_tapes_give_second_order():
    x = ember.tensor(2.0, dtype=ember.float64)
    with ember.GradientTape() as outer:
        outer.watch(x)
        with ember.GradientTape() as inner:
            inner.watch(x)
            y = x**3
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert (dy.item(), d2y.item()) == (12.0, 12.0)


# -- anomaly mode ----------------------------------------------------------------------------------
def test_anomaly_forward_nan_names_op_and_line():
    x = ember.tensor([-1.0, 1.0])
    ember.autograd.set_detect_anomaly(True)
    try:
        with pytest.raises(RuntimeError) as info:
            x.log()  # the line the error must point at
    finally:
        ember.autograd.set_detect_anomaly(False)
    msg = str(info.value)
    assert "'log'" in msg and "NaN" in msg and HERE in msg and "x.log()" in msg
    assert ember.tensor([-1.0]).log().isnan().all()  # off again: no error


def test_anomaly_backward_names_op_and_forward_line():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = x.sqrt()  # forward is finite; the backward divides by 0
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    msg = str(info.value)
    assert "backward of 'sqrt'" in msg and "y = x.sqrt()" in msg and HERE in msg
    assert not ember.autograd.is_anomaly_enabled()


# -- graph release ---------------------------------------------------------------------------------
def test_ten_thousand_steps_run_in_flat_memory():
    ember.manual_seed(0)
    w = ember.randn(4, 3, requires_grad=True)
    b = ember.zeros(3, requires_grad=True)
    x = ember.randn(8, 4)

    def step():
        loss = ((x @ w + b) ** 2).mean()
        loss.backward()
        w.grad = b.grad = None
        return loss

    for _ in range(1_000):  # warm-up untraced (caches fill), then trace 9,000 more steps
        step()
    gc.collect()
    tracemalloc.start()
    try:
        at_1000 = tracemalloc.get_traced_memory()[0]
        for _ in range(9_000):
            loss = step()
        gc.collect()
        at_10000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert loss.grad_fn is not None and np.isfinite(loss.item())
    assert at_10000 - at_1000 < 64 * 1024, f"memory grew by {at_10000 - at_1000} bytes over 9,000 steps"


def test_leaf_grad_owns_a_writable_buffer():
    # sum's vjp hands back a broadcast (read-only) view; .grad must still accumulate and zero in place
    x = ember.randn(3, 4, requires_grad=True)
    x.sum().backward()
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0, np.float32))
    x.grad.zero_()
    assert float(x.grad.abs().sum()) == 0.0
    # backward on a leaf with an explicit gradient must not alias the caller's tensor
    y = ember.zeros(2, requires_grad=True)
    g = ember.ones(2)
    y.backward(g)
    y.backward(g)
    np.testing.assert_array_equal(g.numpy(), np.ones(2, np.float32))
    np.testing.assert_array_equal(y.grad.numpy(), np.full(2, 2.0, np.float32))


def _custom_square(lib, right):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x * (2 if right else 1)  # the wrong one forgets the 2
    return Square.apply


def _checked(lib, check, right):
    if check == "gradcheck":
        return _custom_square(lib, right)
    return lambda v: (v * v).sin() if right else _custom_square(lib, False)(v).sin()


@pytest.mark.parametrize("right", [True, False])
@pytest.mark.parametrize("check", ["gradcheck", "gradgradcheck"])
def test_torch_autograd_gradcheck_names_agree_with_torch(check, right):
    import torch

    x = np.random.default_rng(0).normal(size=(3, 2))
    results = [getattr(lib.autograd, check)(_checked(lib, check, right), (lib.tensor(x, requires_grad=True),),
                                            raise_exception=False, eps=1e-6, atol=1e-5) for lib in (ember, torch)]
    assert results[0] == results[1] == right
    if not right:
        with pytest.raises(ember.testing.GradcheckError):
            getattr(ember.autograd, check)(_checked(ember, check, False), (ember.tensor(x, requires_grad=True),))
