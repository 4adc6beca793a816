"""The LSTM recurrence's numba step product (ember/ops/rnn_loops.py) and the row blocks it runs in: the same
products as BLAS to float rounding, the same LSTM as the BLAS path and as PyTorch, the same bits per thread
count."""
import numpy as np
import pytest

import ember
from ember.ops import REGISTRY, rnn, rnn_loops

pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(not rnn_loops.available(), reason="numba loops turned off")


@pytest.mark.parametrize("m, k, n", [(1, 16, 1), (4, 16, 4), (5, 32, 7), (3, 17, 5), (32, 256, 1024), (33, 48, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_nt_is_a_times_w_transposed(m, k, n, dtype):
    rng = np.random.default_rng(m * k * n)
    a, w = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    rnn_loops.matmul_nt(a, w, out)
    np.testing.assert_allclose(out, a.astype(np.float64) @ w.T.astype(np.float64), rtol=1e-5, atol=1e-5 * k)


@pytest.fixture
def threads():
    before = ember._threads._STATE["n"]
    yield
    ember._threads._STATE["n"] = before


def _seq_and_grad(xw, w, h0, c0, g, **rows):
    out = REGISTRY["lstm_seq"].forward(np, xw, w, h0, c0, **rows)
    return out, REGISTRY["lstm_seq_grad"].forward(np, g, out, xw, w, h0, c0, **rows)


@pytest.mark.parametrize("n_threads, split, kernel", [(1, False, True), (2, False, False), (2, True, True)])
def test_kernel_runs_where_blocks_are_one_thread_and_matches_blas(threads, monkeypatch, n_threads, split, kernel):
    """One thread, or blocks of a batch split over the cores (BLAS held at one thread): the numba product; a
    whole batch at two threads: OpenBLAS's threaded GEMM. Both give the BLAS path's result to rounding."""
    from ember.graph import rnn_rows

    rng = np.random.default_rng(3)
    t_len, b, hsz = 5, 32, 16
    xw = rng.standard_normal((t_len, b, 4 * hsz)).astype(np.float32)
    w, h0, c0 = (0.3 * rng.standard_normal(s).astype(np.float32) for s in ((4 * hsz, hsz), (b, hsz), (b, hsz)))
    g = rng.standard_normal((2, t_len, b, hsz)).astype(np.float32)
    ember._threads._STATE["n"] = n_threads
    monkeypatch.setattr(rnn_rows, "ROWS_MIN", 16)
    rows = {"rows": rnn_rows.rows_over_cores} if split else {}
    calls, matmul_nt = [], rnn_loops.matmul_nt
    monkeypatch.setattr(rnn_loops, "matmul_nt", lambda *a: calls.append(a[0].shape) or matmul_nt(*a))
    got = _seq_and_grad(xw, w, h0, c0, g, **rows)
    per, blocks = (16, 2) if split else (32, 1)  # rows of a block, blocks: forward, then backward steps
    assert sorted(calls) == (sorted([(per, hsz), (per, 4 * hsz)] * t_len * blocks) if kernel else [])
    assert [a.tobytes() for a in _seq_and_grad(xw, w, h0, c0, g, **rows)] == [a.tobytes() for a in got]
    monkeypatch.setattr(rnn, "KERNEL_MAX_ROWS", 0)  # the BLAS path
    for a, want in zip(got, _seq_and_grad(xw, w, h0, c0, g)):
        np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)


def test_kernel_applies_where_it_measured_faster(threads):
    ember._threads._STATE["n"] = 1
    assert rnn._use_kernel(np, np.float32, 256, 32, 32)
    assert not rnn._use_kernel(np, np.float32, 200, 20, 20)  # K not a multiple of 16
    assert not rnn._use_kernel(np, np.float64, 256, 32, 32)
    assert not rnn._use_kernel(np, np.float32, 256, 128, 128)  # over 64 rows: OpenBLAS
    ember._threads._STATE["n"] = 2
    assert not rnn._use_kernel(np, np.float32, 256, 32, 32)  # a whole batch: OpenBLAS's threads
    assert rnn._use_kernel(np, np.float32, 256, 32, 64)  # a block of a split batch


def test_lstm_on_the_kernel_path_matches_pytorch(threads):
    torch = pytest.importorskip("torch")
    ember._threads._STATE["n"] = 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 24, 8)).astype(np.float32)
    ours, theirs = ember.nn.LSTM(8, 32), torch.nn.LSTM(8, 32)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(getattr(ours, name).detach().numpy()))
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = ours(xe)[0], theirs(xt)[0]
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight_hh_l0.grad.numpy(), theirs.weight_hh_l0.grad.numpy(), rtol=1e-4, atol=1e-4)
