"""Winograd F(2x2, 3x3) convolutions (ember/ops/winograd.py): float32 error on bench-sized shapes, the NumPy
form (no numba) and image blocks against the compiled loops, and where the conv composite chooses it. The
op table (tests/_optable/rows_nn.py: conv2d_winograd, winograd_primitives) checks values against torch and
NumPy and the first- and second-order gradients; tests/_compiled/rows_layers.py compiled against eager."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.ops import winograd as W

torch = pytest.importorskip("torch")

# max |winograd float32 - float64 reference| / max |reference|, measured 2.2e-7 .. 6.7e-7 on the bench shapes
# (cnn conv2, VGG block, 128 and 256 channels) for the forward, input and weight gradients; PyTorch's own
# float32 convolution is 2.7e-7 .. 3.2e-7 on the same shapes.
F32_BOUND = 2e-6


def _case(n, c, o, h, p, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    g = rng.standard_normal((n, o, h + 2 * p - 2, h + 2 * p - 2)).astype(np.float32)
    return x, w, g, ((p, p), (p, p))


def _compute(x, w, g, pad):
    return (W._conv_fwd(np, x, w, pad), W._conv_fwd(np, g, w, W._flip_pad(pad), True), W._wgrad_fwd(np, x, g, pad))


@pytest.mark.parametrize("shape", [(4, 32, 64, 26, 0), (2, 64, 64, 32, 1)], ids=["cnn-conv2", "vgg"])
def test_float32_error_bound(shape):
    x, w, g, pad = _case(*shape)
    p = pad[0][0]
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, padding=p)
    y.backward(torch.tensor(g, dtype=torch.float64))
    for name, got, ref in zip(("forward", "input grad", "weight grad"), _compute(x, w, g, pad),
                              (y.detach(), xt.grad, wt.grad)):
        ref = ref.numpy()
        assert got.dtype == np.float32 and got.shape == ref.shape
        err = np.abs(got - ref).max() / np.abs(ref).max()
        assert err < F32_BOUND, f"{name}: relative error {err:.2e}"


def test_numpy_form_and_blocks_match_the_loops(monkeypatch):
    if not W.available():
        pytest.skip("numba (the jit extra) is not installed")
    x, w, g, pad = _case(5, 6, 7, 11, 1, seed=3)
    pad = ((2, 0), (1, 1))  # asymmetric: 11 x 11 outputs, partial tiles
    g = g[:, :, :11, :11].copy()
    looped = _compute(x, w, g, pad)
    monkeypatch.setattr(W, "BLOCK_BYTES", 1)  # one image a block
    blocked = _compute(x, w, g, pad)
    monkeypatch.setitem(W._JIT, "loops", None)  # as without numba
    plain = _compute(x, w, g, pad)
    for a, b, c in zip(looped, blocked, plain):  # float32 sums in other orders (the weight gradient's blocks)
        scale = np.abs(a).max()
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6 * scale)
        np.testing.assert_allclose(c, a, rtol=0, atol=1e-6 * scale)


def _chose(x, conv, **kw):
    seen = []
    op = ember.ops.REGISTRY["winograd_conv"]
    forward = op.forward
    op.forward = lambda *a, **k: seen.append(1) or forward(*a, **k)
    try:
        conv(x, **kw)
    finally:
        op.forward = forward
    return bool(seen)


def test_chosen_in_training_only_where_it_applies():
    big = nn.Conv2d(32, 64, 3)
    x = ember.randn(2, 32, 26, 26)
    if W.available():
        assert _chose(x, big), "training (a weight that requires grad) takes Winograd"
    with ember.no_grad():  # inference and export keep im2col (and the inference kernels)
        assert not _chose(x, big)
    for conv in (nn.Conv2d(32, 64, 3, stride=2), nn.Conv2d(32, 64, 3, dilation=2), nn.Conv2d(32, 64, 3, groups=2),
                 nn.Conv2d(32, 64, 5), nn.Conv2d(32, 64, 3, padding=3)):
        assert not _chose(x, conv), conv
    assert not _chose(ember.randn(2, 1, 28, 28), nn.Conv2d(1, 32, 3)), "one input channel: im2col"
    assert not _chose(ember.randn(2, 32, 9, 9), big), "below 12 x 12 outputs im2col measured faster"
    with W.forced(False):
        assert not _chose(x, big)
    with W.forced(True):  # every convolution it computes, any size
        assert _chose(ember.randn(1, 2, 4, 4), nn.Conv2d(2, 1, 3))


def test_gradients_match_im2col_through_the_layer():
    ember.manual_seed(0)
    conv = nn.Conv2d(16, 24, 3, padding="same").double()
    x = ember.randn(3, 16, 13, 15, dtype=ember.float64, requires_grad=True)
    grads = []
    for mode in (True, False):
        with W.forced(mode):
            out = conv(x)
            (gx, gw, gb) = ember.autograd.grad((out * out).sum(), [x, conv.weight, conv.bias])
        grads.append((out, gx, gw, gb))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_export_keeps_the_conv_layer():
    model = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
    prog = ember.export.export(model, (ember.randn(2, 16, 14, 14),))
    assert [n.op for n in prog.graph.nodes][:1] == ["conv"]
    assert "winograd_conv" not in {n.op for n in prog.graph.nodes[0].meta["body"].nodes}
    out = prog.run([np.ones((2, 16, 14, 14), np.float32)])[0]
    with ember.no_grad():
        ref = model(ember.ones(2, 16, 14, 14)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
