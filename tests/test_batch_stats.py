"""Batch norm's training primitives (``ops/batch_stats.py``): the numba loops against the NumPy forms and
PyTorch, at 1 and 2 threads, through ``nn.BatchNorm2d`` eagerly and compiled. The op table checks the
gradients (first and second order, float64) against numerical ones."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import _threads
from ember.ops import _spread, batch_stats

torch = pytest.importorskip("torch")
SHAPES = [(6, 5), (4, 3, 7), (5, 4, 6, 6), (3, 2, 4, 5, 3)]


@pytest.fixture
def threads(monkeypatch):
    monkeypatch.setitem(_threads._STATE, "n", _threads._STATE["n"])
    monkeypatch.setattr(_spread, "SPREAD_MIN", 1)
    monkeypatch.setattr(_spread, "blas_quiet", lambda: True)

    def use(n):
        _threads._STATE["n"] = n
    return use


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_loops_equal_the_numpy_forms_and_torch(shape, dtype, threads, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    runs = []
    for n in (1, 2):
        threads(n)
        y = batch_stats._standardize_fwd(np, x, 1e-5)
        runs.append((batch_stats._moments_fwd(np, x), y, batch_stats._grad_fwd(np, g, x, y, 1e-5)))
    monkeypatch.setitem(batch_stats._JIT, "loops", None)  # the NumPy forms (no numba, or CuPy)
    y = batch_stats._standardize_fwd(np, x, 1e-5)
    numpy_form = (batch_stats._moments_fwd(np, x), y, batch_stats._grad_fwd(np, g, x, y, 1e-5))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.batch_norm(xt, None, None, training=True, eps=1e-5)
    yt.backward(torch.tensor(g))
    axes = (0,) + tuple(range(2, x.ndim))
    reference = (np.stack([x.mean(axes), x.var(axes)]), yt.detach().numpy(), xt.grad.numpy())
    for got in runs + [numpy_form]:
        for a, b in zip(got, reference):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, **tol)


def test_a_thread_count_always_gives_the_same_bits(threads):
    threads(2)
    x = np.random.default_rng(1).standard_normal((8, 3, 9, 9)).astype(np.float32)
    first = batch_stats._standardize_fwd(np, x, 1e-5)
    for _ in range(3):
        np.testing.assert_array_equal(batch_stats._standardize_fwd(np, x, 1e-5), first)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_batchnorm_training_matches_torch_with_running_stats(compiled):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 5, 5)).astype(np.float32) * 2 + 1
    bn, ref = ember.nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        ref.weight.copy_(torch.linspace(0.5, 2, 4))
        ref.bias.copy_(torch.linspace(-1, 1, 4))
    bn.weight.data = ember.tensor(ref.weight.detach().numpy().copy())
    bn.bias.data = ember.tensor(ref.bias.detach().numpy().copy())

    def step(x):
        out = bn(x)
        out.square().mean().backward()
        return out

    fn = ember.compile(step) if compiled else step
    for _ in range(2):
        xe = ember.tensor(x, requires_grad=True)
        out = fn(xe)
        xt = torch.tensor(x, requires_grad=True)
        out_t = ref(xt)
        out_t.square().mean().backward()
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-5, atol=1e-6)


def test_bad_inputs_name_the_op():
    with pytest.raises(TypeError, match="batch_norm: expected a floating-point tensor"):
        ember.ops.apply("batch_standardize", ember.tensor([[1, 2], [3, 4]]), eps=1e-5)
    with pytest.raises(ValueError, match="batch_standardize_grad: expected three tensors of one shape"):
        ember.ops.apply("batch_standardize_grad", ember.ones(2, 3), ember.ones(2, 3), ember.ones(3, 3), eps=1e-5)
