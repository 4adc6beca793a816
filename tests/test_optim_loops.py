"""The one-pass optimizer loops (ember/ops/optim_loops.py) against the NumPy form of the same update primitive:
equal bit for bit, on a table of rules, dtypes and sizes (chunks over two threads included), NaN and inf in
the gradient; and the optimizers that use them against PyTorch."""
import numpy as np
import pytest

import ember
from ember.ops import REGISTRY, optim_loops

pytest.importorskip("numba")
if optim_loops.numba_or_none() is None:  # EMBER_NO_JIT: the NumPy forms run (the rest of the suite covers them)
    pytest.skip("EMBER_NO_JIT is set: no one-pass loops", allow_module_level=True)

ADAM_RULES = {
    "adam": dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled_weight_decay=False),
    "adamw_amsgrad": dict(beta1=0.9, beta2=0.99, eps=1e-6, weight_decay=0.05, amsgrad=True, maximize=False,
                          decoupled_weight_decay=True),
    "coupled_maximize": dict(beta1=0.3, beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=False, maximize=True,
                             decoupled_weight_decay=False),  # beta1 < 0.5: lerp's other branch
    "eps_before": dict(beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0.0, amsgrad=False, maximize=False,
                       decoupled_weight_decay=False, eps_before_bias_correction=True),
}
SGD_RULES = {
    "plain": dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "momentum": dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "nesterov_wd": dict(momentum=0.9, dampening=0.0, weight_decay=1e-4, nesterov=True, maximize=False),
    "dampening_maximize": dict(momentum=0.5, dampening=0.3, weight_decay=0.0, nesterov=False, maximize=True),
}
SIZES = [(7,), (33, 65), (1 << 18,)]  # the last is cut into chunks over the pool


def _arrays(shape, dtype, n, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape).astype(dtype) for _ in range(n)]
    arrays[1] = np.abs(arrays[1]) if n > 3 else arrays[1]
    g = arrays[-1].reshape(-1)
    g[:3] = [np.nan, np.inf, -np.inf][: g.size]  # the loops must propagate them as NumPy does
    return arrays


def _both(name, states, operands, attrs, monkeypatch):
    """(the loop's states, the NumPy form's states) after one update of copies of ``states``."""
    op = REGISTRY[name]
    assert optim_loops.usable(*states, operands[0])  # the loop runs below
    fast = [s.copy() for s in states]
    with np.errstate(all="ignore"):  # the inf and NaN in the gradient
        op.update(np, *fast, *operands, **attrs)
        with monkeypatch.context() as m:
            m.setattr(optim_loops, "usable", lambda *a: False)
            slow = [s.copy() for s in states]
            op.update(np, *slow, *operands, **attrs)
    return fast, slow


@pytest.mark.parametrize("shape", SIZES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", ADAM_RULES)
def test_adam_loop_equals_the_numpy_form(rule, dtype, shape, monkeypatch):
    attrs = dict(ADAM_RULES[rule], lr=3e-3)
    ember._threads._STATE["n"], before = 2, ember._threads._STATE["n"]
    try:
        p, m, v, vmax, g = _arrays(shape, dtype, 5)
        v, vmax = np.abs(v), np.abs(vmax)
        states = [p, m, v] + ([vmax] if attrs["amsgrad"] else [])
        fast, slow = _both("adam_step", states, [g, np.asarray(7.0)], attrs, monkeypatch)
    finally:
        ember._threads._STATE["n"] = before
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(fast[0], p)  # the parameter moved


@pytest.mark.parametrize("shape", SIZES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", SGD_RULES)
def test_sgd_loop_equals_the_numpy_form(rule, dtype, shape, monkeypatch):
    attrs = dict(SGD_RULES[rule], lr=0.05)
    ember._threads._STATE["n"], before = 2, ember._threads._STATE["n"]
    try:
        p, buf, g = _arrays(shape, dtype, 3)
        states = [p, buf] if attrs["momentum"] else [p]
        fast, slow = _both("sgd_step", states, [g], attrs, monkeypatch)
    finally:
        ember._threads._STATE["n"] = before
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


def test_other_layouts_take_the_numpy_form():
    a = np.zeros((4, 6), np.float32)
    assert optim_loops.usable(a, a.copy())
    assert not optim_loops.usable(a, a.T.copy().T)  # not C-contiguous
    assert not optim_loops.usable(a, a.astype(np.float64))  # mixed dtypes
    assert not optim_loops.usable(a.astype(np.float16), a.astype(np.float16))


@pytest.mark.parametrize("make", [
    lambda L, ps: L.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda L, ps: L.optim.SGD(ps, lr=0.1),
    lambda L, ps: L.optim.AdamW(ps, lr=1e-2, amsgrad=True),
], ids=["sgd_nesterov", "sgd_plain", "adamw_amsgrad"])
def test_optimizers_on_the_loops_match_pytorch(make):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((300, 200)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(4)]
    got = {}
    for L in (ember, torch):
        w = L.nn.Parameter(L.tensor(w0.copy()))
        opt = make(L, [w])
        for g in grads:
            w.grad = L.tensor(g)
            opt.step()
        got[L.__name__] = w.detach().numpy()
    np.testing.assert_allclose(got["ember"], got["torch"], rtol=1e-5, atol=1e-6)


def _compiled_step(opt_name, read_after=False):
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(6, 5), ember.nn.ReLU(), ember.nn.Linear(5, 3))
    opt = (ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd"
           else ember.optim.Adam(model.parameters(), lr=1e-2))

    def step(x, y):
        opt.zero_grad()
        loss = ember.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return (loss, model(x)) if read_after else loss  # read_after: the new parameters are read again

    return model, step


@pytest.mark.parametrize("read_after", [False, True], ids=["in_place", "read_after_update"])
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_compiled_updates_run_in_place_and_equal_eager(opt_name, read_after):
    rng = np.random.default_rng(0)
    batches = [(ember.tensor(rng.standard_normal((8, 6)).astype(np.float32)), ember.tensor(rng.integers(0, 3, 8)))
               for _ in range(4)]
    results = []
    for compiled in (False, True):
        model, step = _compiled_step(opt_name, read_after)
        fn = ember.compile(step) if compiled else step
        arrays = [p._data for p in model.parameters()]
        for x, y in batches:
            fn(x, y)
        assert all(p._data is a for p, a in zip(model.parameters(), arrays))  # updated where they live
        results.append([p.detach().numpy().copy() for p in model.parameters()])
    for a, b in zip(*results):  # (the backward's sums may round differently compiled: the suite's tolerance)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    exe = fn._entries[-1].exe
    marked = [n for n in exe.graph.nodes if n.meta.get("update_in_place")]
    updates = [n for n in exe.graph.nodes if n.op in ("sgd_step", "adam_step")]
    assert len(updates) == 4
    assert len(marked) == (0 if read_after else 4)  # a parameter read after its update keeps the copy
