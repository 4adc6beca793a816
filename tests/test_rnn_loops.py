"""The LSTM's compiled time loops (ember/ops/rnn_loops.py): the numba GEMM and tanh against NumPy, the loops
against the NumPy/BLAS path and PyTorch, where they run (one thread; row blocks over the cores only while
BLAS is held), the same bits for a given thread count, and compiled LSTM steps holding BLAS."""
import numpy as np
import pytest

import ember
from ember import _threads
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


def test_tanh32_is_within_six_ulp_and_keeps_the_edges():
    import numba

    tanh = rnn_loops._tanh32_jit

    @numba.njit
    def apply(x, out):
        for i in range(x.size):
            out[i] = tanh(x[i])

    x = np.concatenate([np.linspace(-10, 10, 200_001, dtype=np.float32),
                        np.float32([0.0, -0.0, 1e-8, 3e-4, 9.0, 30.0, -30.0, np.inf, -np.inf, np.nan])])
    out = np.empty_like(x)
    apply(x, out)
    exact = np.tanh(x.astype(np.float64))
    finite = ~np.isnan(exact)
    ulp = np.spacing(np.abs(exact[finite]).astype(np.float32)).astype(np.float64)
    assert (np.abs(out[finite] - exact[finite]) <= 6 * ulp).all()
    assert out[-10:-1].tolist() == [0.0, -0.0, np.float32(1e-8), np.float32(3e-4), 1.0, 1.0, -1.0, 1.0, -1.0]
    assert np.signbit(out[-9]) and np.isnan(out[-1])


@pytest.fixture
def threads():
    before = _threads._STATE["n"]
    _threads.release_lingering_hold(force=True)  # nor a hold an earlier test in this worker left (1 s linger)
    yield
    _threads._STATE["n"] = before
    _threads.release_lingering_hold(force=True)  # an eager split's hold must not outlive the test


def _seq_and_grad(xw, w, h0, c0, g):
    out = REGISTRY["lstm_seq"].forward(np, xw, w, h0, c0)
    return out, REGISTRY["lstm_seq_grad"].forward(np, g, out, xw, w, h0, c0)


def _operands(b, hsz, t_len=5, seed=3):
    rng = np.random.default_rng(seed)
    xw = rng.standard_normal((t_len, b, 4 * hsz)).astype(np.float32)
    w, h0, c0 = (0.3 * rng.standard_normal(s).astype(np.float32) for s in ((4 * hsz, hsz), (b, hsz), (b, hsz)))
    return xw, w, h0, c0, rng.standard_normal((2, t_len, b, hsz)).astype(np.float32)


@pytest.mark.parametrize("n_threads, held, blocks", [(1, False, [[(0, 32)]] * 2), (2, False, [[(0, 16), (16, 32)]] * 2),
                                                     (2, True, [[(0, 16), (16, 32)]] * 2)])
def test_loops_run_where_they_gain_and_match_the_blas_path(threads, monkeypatch, n_threads, held, blocks):
    """One thread: one block; two threads: two row blocks, BLAS held at one thread (a compiled step's hold, or
    eagerly a lingering one taken here). The loops give the NumPy/BLAS loop's result to float rounding, and
    the same bits again."""
    args = _operands(32, 16)
    _threads._STATE["n"] = n_threads
    seen, over = [], rnn._over_blocks
    monkeypatch.setattr(rnn, "_over_blocks",
                        lambda fn, rows, n: seen.append(rnn.even_blocks(rows, n)) or over(fn, rows, n))
    if held:
        monkeypatch.setitem(_threads.QUIET, "holds", _threads.QUIET["holds"] + 1)  # as a compiled step's hold
    got = _seq_and_grad(*args)
    assert seen == blocks  # forward, then backward
    assert _threads.lingering_hold() == (n_threads > 1 and not held)
    assert [a.tobytes() for a in _seq_and_grad(*args)] == [a.tobytes() for a in got]
    monkeypatch.setattr(rnn, "FUSED_ROWS", (16, 0))  # the NumPy/BLAS loop
    for a, want in zip(got, _seq_and_grad(*args)):
        np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)


def test_loops_apply_to_float32_with_k_a_multiple_of_16(threads):
    _threads._STATE["n"] = 1
    assert rnn._fused_blocks(np, np.float32, 256, 32) == 1
    assert rnn._fused_blocks(np, np.float32, 200, 20) == 0  # K not a multiple of 16: OpenBLAS measured faster
    assert rnn._fused_blocks(np, np.float64, 256, 32) == 0
    assert rnn._fused_blocks(np, np.float32, 256, 128) == 0  # blocks over 64 rows: OpenBLAS


def test_compiled_lstm_step_holds_blas_and_runs_row_blocks(threads, monkeypatch):
    _threads._STATE["n"] = 2
    seen, over = [], rnn._over_blocks
    monkeypatch.setattr(rnn, "_over_blocks", lambda fn, rows, n: seen.append(n) or over(fn, rows, n))
    lstm = ember.nn.LSTM(8, 16)
    x = ember.tensor(np.random.default_rng(0).standard_normal((4, 32, 8)).astype(np.float32))

    @ember.compile
    def step(x):
        lstm.zero_grad()
        loss = lstm(x)[0].square().mean()
        loss.backward()
        return loss

    step(x)  # (traced)
    seen.clear()
    step(x)
    assert step._entries[0].exe.graph.meta["blas_hold"]
    assert seen == [2, 2]  # forward and backward, two row blocks each


def test_lstm_on_the_loops_matches_pytorch(threads):
    torch = pytest.importorskip("torch")
    _threads._STATE["n"] = 1
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
