"""The compiled LSTM recurrence split over the cores by batch rows (ember/graph/rnn_rows.py): the same
training as one thread to float rounding, every row block run once, errors re-raised at the caller."""
import os
import threading

import numpy as np
import pytest

import ember
from ember.graph import cores, rnn_rows

pytest.importorskip("numba")
pytest.importorskip("threadpoolctl")


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 2 rows, so a small test batch is split; the thread count restored after. The LSTM's compiled
    time loops (which split rows themselves: tests/test_rnn_loops.py) are off: this is the BLAS path."""
    from ember.ops import rnn_loops

    monkeypatch.setattr(rnn_loops, "available", lambda: False)
    monkeypatch.setattr(rnn_rows, "ROWS_MIN", 2)
    monkeypatch.setattr(rnn_rows, "ENABLED", True)
    before = ember._threads._STATE["n"]
    yield
    ember.set_num_threads(before or ember.get_num_threads())
    ember._threads._STATE["n"] = before


@pytest.mark.parametrize("rows, n, blocks", [
    (32, 2, [(0, 16), (16, 32)]), (20, 2, [(0, 10), (10, 20)]), (7, 4, [(0, 3), (3, 7)]), (1, 2, [(0, 1)]),
    (32, 1, [(0, 32)]), (9, 3, [(0, 3), (3, 6), (6, 9)]), (8, 3, [(0, 4), (4, 8)]),
])
def test_row_blocks(small_blocks, monkeypatch, rows, n, blocks):
    monkeypatch.setattr(rnn_rows, "ROWS_MIN", 3)
    assert rnn_rows.row_blocks(rows, n) == blocks


def _train(threads, steps=3, layers=2):
    ember.set_num_threads(threads)
    ember.manual_seed(0)
    lstm, head = ember.nn.LSTM(12, 16, layers), ember.nn.Linear(16, 5)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = ember.optim.Adam(params, lr=1e-2)
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((6, 8, 12), dtype=np.float32))  # (T, B, F): 8 batch rows
    y = ember.tensor(rng.integers(0, 5, 6 * 8))

    @ember.compile
    def step(x, y):
        opt.zero_grad()
        out, _ = lstm(x)
        loss = ember.nn.functional.cross_entropy(head(out).reshape(-1, 5), y)
        loss.backward()
        opt.step()
        return loss

    losses = [float(step(x, y)) for _ in range(steps)]
    return losses, [p.detach().numpy().copy() for p in params]


@pytest.mark.skipif(bool(os.environ.get("EMBER_NO_JIT")), reason="the split is the JIT lowering's (cpu_loop)")
def test_split_training_matches_one_thread(small_blocks, monkeypatch):
    one_losses, one_params = _train(1)
    calls, run_blocks = [], cores.run_blocks
    monkeypatch.setattr(cores, "run_blocks", lambda fn, blocks, n: calls.append(blocks) or run_blocks(fn, blocks, n))
    two_losses, two_params = _train(2)
    assert [(0, 4), (4, 8)] in calls and len(calls) >= 4  # forward and backward of both layers ran split
    np.testing.assert_allclose(two_losses, one_losses, rtol=1e-6, atol=1e-7)
    for a, b in zip(one_params, two_params):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    again_losses, again_params = _train(2)  # the same thread count gives the same bits
    assert again_losses == two_losses
    for a, b in zip(two_params, again_params):
        np.testing.assert_array_equal(a, b)


def test_eager_and_split_lstm_seq_agree(small_blocks):
    """The primitive itself with its ``rows`` runner: blocks of rows give the whole batch's result."""
    from ember.ops import REGISTRY

    rng = np.random.default_rng(1)
    xw = rng.standard_normal((5, 8, 4 * 6)).astype(np.float32)
    w, h0, c0 = (rng.standard_normal(s).astype(np.float32) for s in ((24, 6), (8, 6), (8, 6)))
    ember._threads._STATE["n"] = 2
    whole = REGISTRY["lstm_seq"].forward(np, xw, w, h0, c0)
    split = REGISTRY["lstm_seq"].forward(np, xw, w, h0, c0, rows=rnn_rows.rows_over_cores)
    np.testing.assert_allclose(split, whole, rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(whole.shape).astype(np.float32)
    grads = [REGISTRY["lstm_seq_grad"].forward(np, g, whole, xw, w, h0, c0, **kw)
             for kw in ({}, {"rows": rnn_rows.rows_over_cores})]
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


def test_every_block_runs_once_on_several_threads_and_blas_comes_back(small_blocks):
    ember._threads._STATE["n"] = 2
    seen, names = np.zeros(8, np.int64), set()

    def fn(lo, hi):
        seen[lo:hi] += 1
        names.add(threading.current_thread().name)

    before = [c.get_num_threads() for c in ember._threads.blas_controllers()]
    rnn_rows.rows_over_cores(fn, 8)
    assert (seen == 1).all()
    assert [c.get_num_threads() for c in ember._threads.blas_controllers()] == before


def test_a_block_error_reaches_the_caller(small_blocks):
    ember._threads._STATE["n"] = 2

    def fn(lo, hi):
        if lo > 0:
            raise ValueError(f"bad rows from {lo}")

    with pytest.raises(ValueError, match="bad rows from 4"):
        rnn_rows.rows_over_cores(fn, 8)


def test_one_thread_or_off_runs_the_whole_batch_on_the_caller(small_blocks, monkeypatch):
    calls = []
    ember._threads._STATE["n"] = 1
    rnn_rows.rows_over_cores(lambda lo, hi: calls.append((lo, hi)), 8)
    ember._threads._STATE["n"] = 2
    monkeypatch.setattr(rnn_rows, "ENABLED", False)
    rnn_rows.rows_over_cores(lambda lo, hi: calls.append((lo, hi)), 8)
    assert calls == [(0, 8), (0, 8)]
