"""igamma / igammac (ember.special.gammainc / gammaincc): values and edge values against PyTorch in float32 and
float64 over a grid reaching large a and x, the gradient in x, the raising gradient in a, methods and in-place."""
from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

_A = [1e-3, 0.1, 0.5, 1, 2.5, 5, 10, 30, 100, 1e3, 1e4, 1e5, 1e6]
_R = [1e-3, 0.1, 0.5, 0.9, 0.99, 1.0, 1.01, 1.1, 2, 5]
_GRID_A = np.array([a for a in _A for _ in _R])
_GRID_X = np.array([a * r for a in _A for r in _R])


@pytest.mark.parametrize("name", ["igamma", "igammac"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grid_matches_torch(name, dtype):
    got = getattr(ember, name)(ember.tensor(_GRID_A, dtype=dtype), ember.tensor(_GRID_X, dtype=dtype)).numpy()
    ref = getattr(torch, name)(torch.tensor(_GRID_A, dtype=getattr(torch, dtype)),
                               torch.tensor(_GRID_X, dtype=getattr(torch, dtype))).numpy()
    assert got.dtype == np.dtype(dtype)
    # both sides lose ~1e-9 relative at a = 1e6 (the exponent a log x - x - lgamma(a) cancels to that)
    np.testing.assert_allclose(got, ref, rtol=2e-9 if dtype == "float64" else 2e-6, atol=1e-6 if dtype ==
                               "float32" else 1e-9)


def test_upper_tail_keeps_digits():
    q = ember.igammac(ember.tensor([2.0, 10.0], dtype=ember.float64), ember.tensor([40.0, 100.0],
                                                                                   dtype=ember.float64))
    ref = torch.igammac(torch.tensor([2.0, 10.0], dtype=torch.float64), torch.tensor([40.0, 100.0],
                                                                                     dtype=torch.float64))
    np.testing.assert_allclose(q.numpy(), ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_edge_values_match_torch(name):
    vals = [0.0, 1.0, -1.0, float("inf"), float("nan"), 2.0]
    a = np.array([p for p in vals for _ in vals])
    x = np.array([q for _ in vals for q in vals])
    got = getattr(ember, name)(ember.tensor(a, dtype=ember.float64), ember.tensor(x, dtype=ember.float64)).numpy()
    ref = getattr(torch, name)(torch.tensor(a), torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-15, equal_nan=True)


def test_aliases_methods_and_in_place():
    a, x = ember.tensor([0.5, 3.0]), ember.tensor([0.7, 2.0])
    p = ember.igamma(a, x)
    assert np.array_equal(ember.special.gammainc(a, x).numpy(), p.numpy())
    assert np.array_equal(a.igamma(x).numpy(), p.numpy())
    np.testing.assert_allclose(ember.special.gammaincc(a, x).numpy(), 1 - p.numpy(), rtol=1e-6)
    b = a.clone()
    assert b.igamma_(x) is b and np.array_equal(b.numpy(), p.numpy())
    c = a.clone()
    c.igammac_(x)
    np.testing.assert_allclose(c.numpy(), 1 - p.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_gradient_in_x_matches_torch(name):
    a = np.array([0.3, 1.0, 2.5, 40.0])
    x = np.array([0.2, 1.5, 2.0, 45.0])
    xe = ember.tensor(x, dtype=ember.float64, requires_grad=True)
    getattr(ember, name)(ember.tensor(a, dtype=ember.float64), xe).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    getattr(torch, name)(torch.tensor(a), xt).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_gradient_in_a_raises_as_torch():
    a = ember.tensor([2.0], requires_grad=True)
    y = ember.igamma(a, ember.tensor([3.0]))
    with pytest.raises(NotImplementedError, match="derivative with respect to input"):
        y.backward()


def test_gamma_cdf_still_differentiable_in_concentration():
    # (torch's Gamma.cdf is not; Ember's keeps its series derivative in a, checked by central differences)
    c = ember.tensor([2.0], dtype=ember.float64, requires_grad=True)
    v = ember.tensor([3.0], dtype=ember.float64)
    ember.distributions.Gamma(c, 1.0).cdf(v).backward()
    h = 1e-6
    fd = (ember.igamma(ember.tensor([2.0 + h], dtype=ember.float64), v)
          - ember.igamma(ember.tensor([2.0 - h], dtype=ember.float64), v)).item() / (2 * h)
    np.testing.assert_allclose(c.grad.item(), fd, rtol=1e-7)
