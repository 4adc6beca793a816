"""Softmax cross-entropy's compiled row loops (ember/ops/loss_rows.py): the primitive's values, the same
bits at any thread count, a bad target or a failing block reported at the caller."""
import numpy as np
import pytest

import ember
from ember.ops import REGISTRY, loss_rows

pytest.importorskip("numba")


@pytest.fixture
def split_small(monkeypatch):
    """Split even a tiny batch over two threads."""
    monkeypatch.setattr(loss_rows, "SPLIT_MIN", 1)
    before = ember._threads._STATE["n"]
    yield
    ember._threads._STATE["n"] = before


def _logits(rows=37, classes=50, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, classes)) * 4).astype(np.float32)
    t = rng.integers(0, classes, rows)
    t[3] = t[10] = -100  # ignored rows
    return x, t, rng


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_and_gradient_match_the_primitive_and_not_the_thread_count(split_small, reduction):
    x, t, rng = _logits()
    g = rng.standard_normal(len(t)).astype(np.float32) if reduction == "none" else np.float32(0.7)
    ref = REGISTRY["softmax_cross_entropy"].forward(np, x, t, reduction=reduction)
    gref = REGISTRY["softmax_cross_entropy_grad"].forward(np, g, x, t, reduction=reduction)
    got = {}
    for n in (1, 2):
        ember._threads._STATE["n"] = n
        got[n] = (loss_rows.cross_entropy(-100, reduction)(x, t),
                  loss_rows.cross_entropy_grad(-100, reduction)(g, x, t))
    np.testing.assert_allclose(got[1][0], ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[1][1], gref, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(got[2][0], got[1][0])  # each row by the same code; one sum on the caller
    np.testing.assert_array_equal(got[2][1], got[1][1])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_every_row_ignored_gives_what_the_primitive_gives(reduction):
    x, t, _ = _logits(rows=12)
    t[:] = -100
    with np.errstate(all="ignore"):  # 'mean' over no rows: 0 / 0, as the primitive
        ref = REGISTRY["softmax_cross_entropy"].forward(np, x, t, reduction=reduction)
        gref = REGISTRY["softmax_cross_entropy_grad"].forward(np, np.float32(1), x, t, reduction=reduction)
        got = loss_rows.cross_entropy(-100, reduction)(x, t)
        ggot = loss_rows.cross_entropy_grad(-100, reduction)(np.float32(1), x, t)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(ggot, gref)
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.cross_entropy(xt, torch.tensor(t), reduction=reduction).backward()
    np.testing.assert_array_equal(gref, xt.grad.numpy())  # 0, also for 'mean' over no rows


def test_an_out_of_range_target_raises_as_the_primitive_does(split_small):
    x, t, _ = _logits()
    t[5] = 50
    with pytest.raises(IndexError, match="target 50 is out of bounds for 50 classes"):
        loss_rows.cross_entropy(-100, "mean")(x, t)
    with pytest.raises(IndexError, match="out of bounds"):
        loss_rows.cross_entropy_grad(-100, "mean")(np.float32(1), x, t)


def test_a_failing_block_reaches_the_caller(split_small):
    ember._threads._STATE["n"] = 2

    def fn(lo, hi):
        if lo > 0:
            raise ValueError(f"bad block at row {lo}")

    with pytest.raises(ValueError, match="bad block at row 5"):
        loss_rows._over_rows(fn, 10, 10_000)


def test_compiled_training_uses_the_loops_and_matches_eager(split_small, monkeypatch):
    from ember.graph.kernels import jit_available

    if not jit_available():
        pytest.skip("EMBER_NO_JIT is set: the compiled step keeps the primitives")
    calls, loops = [], loss_rows._loops

    def counted():
        loss, grad = loops()
        return (lambda *a: calls.append("loss") or loss(*a)), (lambda *a: calls.append("grad") or grad(*a))

    monkeypatch.setattr(loss_rows, "_loops", counted)
    ember._threads._STATE["n"] = 2
    x, t, _ = _logits(rows=24, classes=9)
    runs = []
    for compiled in (False, True):
        ember.manual_seed(0)
        model = ember.nn.Linear(9, 9)
        opt = ember.optim.SGD(model.parameters(), lr=0.5)

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = ember.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = ember.compile(step) if compiled else step
        xs, ts = ember.tensor(x), ember.tensor(t)
        runs.append(([float(fn(xs, ts)) for _ in range(3)], model.weight.detach().numpy().copy()))
    assert "loss" in calls and "grad" in calls
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-5, atol=1e-6)
