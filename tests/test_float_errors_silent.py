"""Float errors give inf/nan silently, as in PyTorch: no NumPy RuntimeWarning escapes Ember (code written for torch
is often run with warnings as errors), and the user's own NumPy error state is left as it was.

One row per path an array computation can take: the dispatch point (``ops.apply``), the in-place fast path,
optimizer updates, the compiled executor, and the helper pool (a pass large enough to be split over cores).
Each row runs under ``warnings.simplefilter("error")`` and compares its values with PyTorch's.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

EDGES = [0.0, -0.0, -1.0, 1000.0, -1000.0, np.inf, -np.inf, np.nan]


def _inplace_divide(lib, x):
    y = x.clone()
    y /= 0.0
    return y


def _adam_on_inf_grads(lib, x):
    w = lib.nn.Parameter(lib.ones(len(EDGES), dtype=lib.float64))
    opt = lib.optim.Adam([w], lr=0.1)
    w.grad = x * lib.inf if hasattr(lib, "inf") else x * float("inf")
    opt.step()
    return w.detach()


ROWS = {
    "log": lambda lib, x: lib.log(x),
    "sqrt": lambda lib, x: lib.sqrt(x),
    "exp": lambda lib, x: lib.exp(x),
    "divide_by_zero": lambda lib, x: x / 0.0,
    "zero_over_zero": lambda lib, x: (x * 0.0) / 0.0,
    "acosh": lambda lib, x: lib.acosh(x),
    "logit": lambda lib, x: lib.logit(x),
    "silu": lambda lib, x: lib.nn.functional.silu(x),
    "softsign": lambda lib, x: lib.nn.functional.softsign(x),
    "inf_minus_inf": lambda lib, x: x - x,
    "inplace_divide": _inplace_divide,
    "adam_on_inf_grads": _adam_on_inf_grads,
    "compiled_log_relu": lambda lib, x: (ember.compile(lambda t: ember.relu(t * 2.0) + ember.log(t))
                                         if lib is ember else (lambda t: torch.relu(t * 2.0) + torch.log(t)))(x),
    "pool_sized_log": lambda lib, x: lib.log(x.reshape(-1, 1).expand(len(EDGES), 1 << 16).contiguous()).sum(1),
}


@pytest.mark.parametrize("name", ROWS)
def test_float_errors_are_silent_and_match_torch(name):
    x = np.array(EDGES, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ROWS[name](ember, ember.tensor(x))
    want = ROWS[name](torch, torch.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, equal_nan=True, err_msg=name)


def test_the_users_numpy_error_state_is_untouched():
    before = np.geterr()
    ember.log(ember.tensor([0.0, -1.0]))
    assert np.geterr() == before
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.log(np.array([0.0]))
