"""``winograd_conv_pool``: a Winograd convolution + bias + 2x2 max pool in one pass, put into compiled training
steps by ``graph/passes/conv_pool.py``. The op table checks the primitive against PyTorch and its gradients;
here: the pass fires where it should (and only there), the compiled step equals eager, and the loop equals
the three separate ops bit for bit, NaN included."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.ops import winograd, winograd_pool
from ember.ops.conv import _pool_max_arg_fwd

SHAPES = [  # (input, padding): even and odd output sizes, asymmetric padding, several image blocks
    ((3, 5, 13, 11), ((0, 0), (0, 0))),
    ((4, 8, 24, 24), ((1, 1), (1, 1))),
    ((2, 3, 9, 10), ((2, 1), (0, 2))),
    ((40, 16, 18, 18), ((0, 0), (0, 0))),
]


def _three_ops(x, w, b, padding):
    y = winograd._conv_fwd(np, x, w, padding) + b.reshape(-1, 1, 1)
    return _pool_max_arg_fwd(np, y, **winograd_pool.POOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,padding", SHAPES)
def test_loop_equals_the_three_ops_bit_for_bit(shape, padding, dtype, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal((6, shape[1], 3, 3)).astype(dtype), rng.standard_normal(6).astype(dtype)
    x[0, 0, 2, 2] = np.nan  # spreads over a few windows: NaN wins, at the last NaN offset
    x[-1, -1, 0, :3] = 1e30
    got = winograd_pool.conv_pool_fwd(np, x, w, b, padding)
    np.testing.assert_array_equal(got, _three_ops(x, w, b, padding))
    assert np.isnan(got[0]).any()
    monkeypatch.setitem(winograd_pool._JIT, "loop", None)  # without numba: the three ops as NumPy passes
    np.testing.assert_allclose(winograd_pool.conv_pool_fwd(np, x, w, b, padding), got, rtol=1e-5, atol=1e-5)


def _model(seed=0):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 5 * 5, 4))


def _run(compiled, extra_read):
    model = _model()
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    captured = []

    def step(x, y):
        opt.zero_grad()
        h = model[:3](x)
        out = model[3:](h)
        loss = ember.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        return (loss, h.sum()) if extra_read else loss  # extra_read: the conv output is read elsewhere

    fn = ember.compile(step) if compiled else step
    rng = np.random.default_rng(1)
    with winograd.forced(True):
        for _ in range(3):
            x = ember.tensor(rng.standard_normal((4, 3, 12, 12)).astype(np.float32))
            captured.append(fn(x, ember.tensor(rng.integers(0, 4, 4))))
    ops = [n.op for n in fn._entries[-1].exe.graph.nodes] if compiled else []
    return [p.detach().numpy().copy() for p in model.parameters()], captured, ops


@pytest.mark.parametrize("extra_read", [False, True], ids=["fused", "conv_output_read_elsewhere"])
def test_compiled_training_step_equals_eager(extra_read):
    eager, eager_out, _ = _run(False, extra_read)
    compiled, compiled_out, ops = _run(True, extra_read)
    assert ("winograd_conv_pool" in ops) is not extra_read
    assert ("pool_max_arg" in ops) is extra_read
    for a, b in zip(eager, compiled):  # (the backward's sums may round differently compiled)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(eager_out, compiled_out):
        np.testing.assert_allclose(np.asarray(a[0] if extra_read else a), np.asarray(b[0] if extra_read else b),
                                   rtol=1e-5)


@pytest.mark.parametrize("pool", [nn.MaxPool2d(3), nn.MaxPool2d(2, stride=1), nn.MaxPool2d(2, padding=1)])
def test_other_pools_keep_their_own_node(pool):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), pool)
    x = ember.randn(2, 8, 14, 14, requires_grad=True)
    step = ember.compile(model)
    with winograd.forced(True):
        step(x).sum().backward()
        compiled_grad = x.grad.numpy().copy()
        x.grad = None
        model(x).sum().backward()
    ops = [n.op for n in step._entries[-1].plan.fwd.graph.nodes]
    assert "winograd_conv_pool" not in ops and "pool_max_arg" in ops
    np.testing.assert_allclose(compiled_grad, x.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_bad_bias_is_refused_with_the_shapes():
    x, w = ember.randn(1, 2, 6, 6), ember.randn(3, 2, 3, 3)
    with pytest.raises(RuntimeError, match=r"winograd_conv_pool: bias \(2,\)"):
        ember.ops.apply("winograd_conv_pool", x, w, ember.randn(2), padding=((0, 0), (0, 0)))
    with pytest.raises(RuntimeError, match="smaller than the 2x2 pool"):
        ember.ops.apply("winograd_conv_pool", ember.randn(1, 2, 3, 3), w, ember.randn(3), padding=((0, 0), (0, 0)))
