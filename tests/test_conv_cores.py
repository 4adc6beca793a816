"""Training convolutions over the cores (issue 16): Winograd's image blocks spread over Ember's pool
(``ember._cores``) give the single-threaded result (the forward and input gradient bit for bit, the weight
gradient within float32 rounding) and torch's; an exception in a helper surfaces on the caller; a forked child
rebuilds the pool and runs the same way."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from fork_util import run_forked

import ember
from ember import _cores, _threads
from ember.ops import winograd as W

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not W.available(), reason="numba (the jit extra) is not installed")


@pytest.fixture
def threads(monkeypatch):
    """Set Ember's thread count for the test (BLAS's own count is left alone: Winograd holds it at one)."""
    monkeypatch.setitem(_threads._STATE, "n", _threads._STATE["n"])

    def use(n):
        _threads._STATE["n"] = n
    return use


def _case(n, c, o, h, p, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, h)).astype(dtype)
    w = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(dtype)
    g = rng.standard_normal((n, o, h + 2 * p - 2, h + 2 * p - 2)).astype(dtype)
    return x, w, g, ((p, p), (p, p))


def _compute(x, w, g, pad):
    return (W._conv_fwd(np, x, w, pad), W._conv_fwd(np, g, w, W._flip_pad(pad), True), W._wgrad_fwd(np, x, g, pad))


def _torch_ref(x, w, g, pad):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, padding=pad[0][0])
    y.backward(torch.tensor(g, dtype=torch.float64))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


# (id, (N, C, O, size, pad), BLOCK_BYTES, threads): bench-like shapes and odd ones (blocks that do not divide
# among the threads, one image a block, more threads than this machine has cores)
ROWS = [
    ("vgg_like", (6, 16, 16, 16, 1), 1 << 18, 2),
    ("one_image_blocks_3_threads", (5, 8, 12, 11, 1), 1, 3),
    ("cnn_conv2_like", (8, 32, 64, 14, 0), 1 << 16, 2),
    ("fewer_blocks_than_groups", (3, 8, 8, 12, 2), 1, 4),
]


@pytest.mark.parametrize("shape,block_bytes,n", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_threaded_equals_one_thread_and_torch(threads, monkeypatch, shape, block_bytes, n):
    if block_bytes is not None:
        monkeypatch.setattr(W, "BLOCK_BYTES", block_bytes)
    x, w, g, pad = _case(*shape)
    threads(1)
    one = _compute(x, w, g, pad)
    groups, run_blocks = [], _cores.run_blocks
    monkeypatch.setattr(W, "run_blocks",
                        lambda fn, blocks, k: groups.append((len(blocks), k)) or run_blocks(fn, blocks, k))
    threads(n)
    many = _compute(x, w, g, pad)
    assert groups and all(count >= 2 and k == n for count, k in groups), groups  # the spread path ran
    np.testing.assert_array_equal(many[0], one[0])  # images are independent: the same bits
    np.testing.assert_array_equal(many[1], one[1])
    scale = np.abs(one[2]).max()  # partial sums per group, added in group order: float32 rounding only
    np.testing.assert_allclose(many[2], one[2], rtol=0, atol=1e-6 * scale)
    for got, ref in zip(many, _torch_ref(x, w, g, pad)):
        assert np.abs(got - ref).max() / np.abs(ref).max() < 2e-6


def test_weight_gradient_is_deterministic_at_a_thread_count(threads, monkeypatch):
    monkeypatch.setattr(W, "BLOCK_BYTES", 1)
    x, w, g, pad = _case(9, 8, 8, 12, 1, seed=4)
    threads(2)
    first = W._wgrad_fwd(np, x, g, pad)
    for _ in range(3):
        np.testing.assert_array_equal(W._wgrad_fwd(np, x, g, pad), first)


def test_float64_gradients_through_the_layer_at_two_threads(threads, monkeypatch):
    """The conv composite's Winograd path at 2 threads against torch, double precision, first and second
    order (the op table runs the same rows at the process's own count)."""
    monkeypatch.setattr(W, "BLOCK_BYTES", 1)
    threads(2)
    rng = np.random.default_rng(1)
    xa, wa = rng.standard_normal((4, 8, 12, 12)), rng.standard_normal((8, 8, 3, 3))
    x = ember.tensor(xa, requires_grad=True)
    w = ember.tensor(wa, requires_grad=True)
    with W.forced(True):
        y = ember.nn.functional.conv2d(x, w, padding=1)
        gx, gw = ember.autograd.grad((y * y).sum(), [x, w], create_graph=True)
        ggx, = ember.autograd.grad((gw * gw).sum(), [x])
    xt = torch.tensor(xa, requires_grad=True)
    wt = torch.tensor(wa, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, padding=1)
    gxt, gwt = torch.autograd.grad((yt * yt).sum(), [xt, wt], create_graph=True)
    ggxt, = torch.autograd.grad((gwt * gwt).sum(), [xt])
    for got, ref in ((y, yt), (gx, gxt), (gw, gwt), (ggx, ggxt)):
        np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-9)


def test_an_error_in_a_helper_surfaces_on_the_caller(threads, monkeypatch):
    """A helper's block raises; the caller waits for every block, then raises that exception."""
    monkeypatch.setattr(W, "BLOCK_BYTES", 1)
    x, w, g, pad = _case(6, 8, 8, 12, 1)
    threads(2)
    helper_started, input_block = threading.Event(), W._input_block

    def block(x_, geom, n0, count, v=None):
        if threading.current_thread().name.startswith("ember-core"):
            helper_started.set()
            raise ValueError(f"block at image {n0} failed on a helper")
        helper_started.wait(10)  # the caller holds back, so a helper surely takes a block
        return input_block(x_, geom, n0, count, v)

    monkeypatch.setattr(W, "_input_block", block)
    with pytest.raises(ValueError, match="failed on a helper"):
        W._conv_fwd(np, x, w, pad)
    assert helper_started.is_set()
    monkeypatch.setattr(W, "_input_block", input_block)  # the pool still works after the error
    np.testing.assert_array_equal(W._conv_fwd(np, x, w, pad), _compute(x, w, g, pad)[0])


def _in_child(x, w, pad, send):
    _threads._STATE["n"] = 2
    W.BLOCK_BYTES = 1
    send.send(W._conv_fwd(np, x, w, pad))


def test_a_forked_child_rebuilds_the_pool(threads, monkeypatch):
    monkeypatch.setattr(W, "BLOCK_BYTES", 1)
    x, w, g, pad = _case(6, 8, 8, 12, 1)
    threads(2)
    ref = W._conv_fwd(np, x, w, pad)  # the parent's helpers are running
    assert _cores._POOL["threads"]
    got = run_forked(_in_child, x, w, pad, what="the forked child in the pool")
    np.testing.assert_array_equal(got, ref)


def test_one_thread_and_the_cap_keep_calls_on_the_caller(threads, monkeypatch):
    monkeypatch.setattr(W, "BLOCK_BYTES", 1)
    x, w, _, pad = _case(4, 8, 8, 12, 1)
    names = set()
    loops = W._loops()
    monkeypatch.setitem(W._JIT, "loops", (loops[0], lambda *a: names.add(threading.current_thread().name)
                                          or loops[1](*a), loops[2]))
    threads(1)
    W._conv_fwd(np, x, w, pad)
    threads(2)
    monkeypatch.setenv("EMBER_CONV_THREADS", "1")
    W._conv_fwd(np, x, w, pad)
    assert names == {threading.current_thread().name}


# max pooling's forward (pool_max_arg) and backward (pool_scatter_at) over blocks of the batch:
# (id, x shape, kernel, stride, padding) with overlapping windows, padding (the copy path) and NaN
POOL_ROWS = [
    ("2x2_tiling", (7, 5, 12, 12), (2, 2), (2, 2), ((0, 0), (0, 0))),
    ("3x3_stride2_padded", (6, 3, 13, 13), (3, 3), (2, 2), ((1, 1), (1, 1))),
    ("3x3_overlapping", (5, 4, 9, 9), (3, 3), (1, 1), ((0, 0), (0, 0))),
]


@pytest.mark.parametrize("shape,kernel,stride,padding", [r[1:] for r in POOL_ROWS], ids=[r[0] for r in POOL_ROWS])
def test_max_pool_over_the_batch_gives_the_same_bits(threads, monkeypatch, shape, kernel, stride, padding):
    from ember.ops import _spread, conv

    monkeypatch.setattr(_spread, "SPREAD_MIN", 1)
    monkeypatch.setattr(_spread, "blas_quiet", lambda: True)  # passes spread only while BLAS is held
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(np.float32)
    x[3, 1, 4, 4] = np.nan  # one block takes the NaN-aware pass, the others not
    results = []
    for n in (1, 2, 3):
        threads(n)
        packed = conv._pool_max_arg_fwd(np, x, kernel, stride, padding, (1, 1))
        g = rng.standard_normal(packed.shape[1:]).astype(np.float32) if n == 1 else results[0][2]
        g[0, 0, 0, 0] = np.inf if n == 1 else g[0, 0, 0, 0]
        dx = conv._pool_scatter_at_fwd(np, g, packed[1], shape[2:], kernel, stride, padding, (1, 1))
        results.append((packed, dx, g))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, kernel, stride, padding[0][0])
    np.testing.assert_array_equal(results[0][0][0], yt.detach().numpy())
    for packed, dx, _ in results[1:]:
        np.testing.assert_array_equal(packed, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])
