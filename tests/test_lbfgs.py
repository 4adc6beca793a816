"""optim.LBFGS against torch.optim.LBFGS: the same parameters after the same steps (float64), with and
without the strong-Wolfe line search, plus its state and mistakes."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def rosenbrock(L, x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def regression(L, w, data=np.random.default_rng(0).normal(size=(20, 3))):
    X = L.tensor(data, dtype=L.float64)
    y = X @ L.tensor([1.0, -2.0, 0.5], dtype=L.float64) + 0.3
    return ((X @ w[:3] + w[3] - y) ** 2).mean() + 0.01 * (w ** 4).sum()


CASES = [
    ("rosenbrock", rosenbrock, [-1.5, 2.0], dict(lr=1, max_iter=20)),
    ("rosenbrock_wolfe", rosenbrock, [-1.5, 2.0], dict(lr=1, max_iter=20, line_search_fn="strong_wolfe")),
    ("regression_history3", regression, [0.1, 0.2, 0.3, 0.4], dict(lr=0.5, max_iter=7, history_size=3)),
    ("regression_wolfe", regression, [0.0, 0.0, 0.0, 0.0], dict(max_iter=5, line_search_fn="strong_wolfe")),
]


def run(L, fn, x0, kw, steps=2):  # Rosenbrock amplifies summation-order rounding later on
    x = L.tensor(x0, dtype=L.float64, requires_grad=True)
    opt = L.optim.LBFGS([x], **kw)
    losses = []

    def closure():
        opt.zero_grad()
        loss = fn(L, x)
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    state = opt.state[x]
    return x.detach().numpy().copy(), losses, state["func_evals"], state["n_iter"]


@pytest.mark.parametrize("name,fn,x0,kw", CASES, ids=[c[0] for c in CASES])
def test_lbfgs_matches_torch(name, fn, x0, kw):
    ex, el, ef, en = run(ember, fn, x0, kw)
    tx, tl, tf, tn = run(torch, fn, x0, kw)
    np.testing.assert_allclose(ex, tx, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(el, tl, rtol=1e-8, atol=1e-10)
    assert (ef, en) == (tf, tn)


def test_lbfgs_mistakes():
    x = ember.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="needs a closure"):
        ember.optim.LBFGS([x]).step()
    with pytest.raises(ValueError, match="strong_wolfe"):
        ember.optim.LBFGS([x], line_search_fn="wolfe")
    with pytest.raises(ValueError, match="parameter groups"):
        ember.optim.LBFGS([{"params": [x]}, {"params": [ember.zeros(1, requires_grad=True)]}])
