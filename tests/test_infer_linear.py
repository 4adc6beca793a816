"""The small-batch ``linear`` of an inference executor (``ember/graph/infer_linear.py``): a compiled row loop
split over the cores in fixed blocks (``infer_pool``'s helpers). Its results equal ``x @ w.T + b`` (relu'd)
within float rounding over a table of shapes, thread counts and dtypes, and through loaded programs equal
eager Ember. Programs that use the split survive a fork (the child runs them too) and concurrent runs from
several threads."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from fork_util import run_forked

import ember
from ember import nn
from ember.graph import executor, infer_linear

pytestmark = pytest.mark.skipif(not executor.kernels.jit_available("cpu"), reason="numba is not installed")

# (name, x shape, (N, K), dtype, relu, threads, SPLIT_MIN)
ROWS = [
    ("gemv", (1, 784), (512, 784), "float32", True, 2, None),
    ("gemv_one_thread", (1, 784), (512, 784), "float32", True, 1, None),
    ("batch3_odd", (3, 13), (37, 13), "float32", False, 2, 1),
    ("batch8_three_parts", (8, 40), (100, 40), "float32", True, 3, 1),
    ("batch17_blas", (17, 40), (100, 40), "float32", True, 2, 1),  # above ROWS_MAX: the BLAS form
    ("batch16", (16, 40), (100, 40), "float32", True, 2, 1),
    ("rows_3d", (2, 3, 24), (33, 24), "float32", False, 2, 1),
    ("float64", (2, 50), (70, 50), "float64", True, 2, 1),
    ("tiny_out", (1, 256), (10, 256), "float32", False, 2, 1),  # fewer rows than one aligned block
    ("float16_blas", (1, 16), (8, 16), "float16", False, 2, 1),
]


@pytest.mark.parametrize("name, xs, ws, dtype, relu, threads, split_min", ROWS, ids=[r[0] for r in ROWS])
def test_row_loop_equals_blas(monkeypatch, name, xs, ws, dtype, relu, threads, split_min):
    monkeypatch.setattr(infer_linear, "cached_num_threads", lambda: threads)
    if split_min is not None:
        monkeypatch.setattr(infer_linear, "SPLIT_MIN", split_min)
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1]))
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + b
    ref = np.maximum(ref, 0) if relu else ref
    fallback = executor._linear(np, relu)
    lin = infer_linear.small_linear(relu, fallback=fallback)
    tol = 1e-2 if dtype == "float16" else 1e-5
    got = lin(x, w, b)
    assert got.dtype == x.dtype and got.shape == xs[:-1] + ws[:1]
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    out = np.full(got.shape, np.nan, dtype)  # a planned output buffer is written in place
    assert lin(x, w, b, out) is out
    np.testing.assert_allclose(out, got, rtol=tol, atol=tol)


def test_blocks_follow_the_thread_count():
    assert infer_linear.parts_for(512, 784, 2) == 2
    assert infer_linear.parts_for(512, 784, 1) == 1
    assert infer_linear.parts_for(10, 256, 2) == 1  # one aligned block of rows
    assert infer_linear.parts_for(64, 64, 4) == 1  # too few weights to pay for the hand-off


def _mlp():
    return nn.Sequential(nn.Linear(300, 200), nn.ReLU(), nn.Linear(200, 70), nn.Linear(70, 5))


def _loaded(model, x):
    buf = io.BytesIO()
    ember.export.save(ember.export.export(model, (ember.tensor(x),), dynamic_batch=True), buf)
    buf.seek(0)
    return ember.export.load(buf)


@pytest.fixture
def split_program(monkeypatch):
    """A loaded MLP whose linears run split in two blocks, its input and eager Ember's output by batch."""
    monkeypatch.setattr(infer_linear, "SPLIT_MIN", 1)
    monkeypatch.setattr(infer_linear, "cached_num_threads", lambda: 2)
    ember.manual_seed(0)
    model = _mlp().eval()
    xs = {b: np.random.default_rng(b).standard_normal((b, 300)).astype(np.float32) for b in (1, 3, 64)}
    with ember.no_grad():
        eager = {b: model(ember.tensor(x)).numpy() for b, x in xs.items()}
    return _loaded(model, xs[1]), xs, eager


def test_program_equals_eager_at_batch_1_3_64(split_program):
    prog, xs, eager = split_program
    for b, x in xs.items():
        np.testing.assert_allclose(prog.run([x])[0], eager[b], rtol=1e-5, atol=1e-5)


def _run_in_child(prog, x, ref, conn):
    try:
        conn.send(bool(np.allclose(prog.run([x])[0], ref, rtol=1e-5, atol=1e-5)))
    finally:
        conn.close()


def test_program_runs_in_a_forked_child(split_program):
    """The parent's helper threads do not exist in the child: the pool is rebuilt there, no hang."""
    prog, xs, eager = split_program
    assert np.allclose(prog.run([xs[1]])[0], eager[1], rtol=1e-5, atol=1e-5)  # the helpers are started
    assert run_forked(_run_in_child, prog, xs[1], eager[1], what="the forked child running the program") is True


def test_concurrent_runs_from_threads(split_program):
    prog, xs, eager = split_program
    other = _loaded(_mlp().eval(), xs[1])  # a second program: the two run at the same time
    other_ref = other.run([xs[3]])[0]
    errors = []

    def work(p, x, ref):
        try:
            for _ in range(200):
                np.testing.assert_allclose(p.run([x])[0], ref, rtol=1e-5, atol=1e-5)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=args) for args in
               [(prog, xs[1], eager[1]), (prog, xs[3], eager[3]), (other, xs[3], other_ref), (other, xs[3], other_ref)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads) and not errors, errors


@pytest.mark.parametrize("n", [1, 2, 3])
def test_run_blocks_runs_every_block_once_and_reraises(n):
    from ember.graph import cores

    seen = []
    blocks = [(0, 5), (5, 9), (9, 20), (20, 21)]
    cores.run_blocks(lambda lo, hi: seen.append((lo, hi)), blocks, n)
    assert sorted(seen) == blocks

    def fail(lo, hi):
        if lo == 9:
            raise ValueError("block 9")

    with pytest.raises(ValueError, match="block 9"):
        cores.run_blocks(fail, blocks, n)


def test_nan_and_inf_pass_through_as_in_numpy():
    """No no-NaN fast-math: a NaN input gives NaN outputs (relu keeps them, as np.maximum does), inf stays."""
    w, b = np.ones((40, 6), np.float32), np.zeros(40, np.float32)
    x = np.float32([[1, np.nan, 0, 0, 0, 0], [1, np.inf, 0, 0, 0, 0]])
    got = infer_linear.small_linear(True, executor._linear(np, True))(x, w, b)
    assert np.isnan(got[0]).all() and np.isposinf(got[1]).all()


@pytest.mark.parametrize("split_faster", [True, False])
def test_each_layer_runs_the_way_it_measured_faster(monkeypatch, split_faster):
    """Both ways timed at first, then the faster one, the other once every PROBE_EVERY calls."""
    from ember.graph import infer_pool

    monkeypatch.setattr(infer_linear, "cached_num_threads", lambda: 2)
    monkeypatch.setattr(infer_linear, "SPLIT_MIN", 1)
    ways, linear_split, clock = [], infer_pool.linear_split, {"t": 0.0, "start": True}

    def split(*args):
        ways[-1] = "split"
        return linear_split(*args)

    def perf_counter():  # a call takes 1 (split faster) or 3 time units split, 2 alone
        if clock["start"]:
            ways.append("alone")
        else:
            clock["t"] += (1.0 if split_faster else 3.0) if ways[-1] == "split" else 2.0
        clock["start"] = not clock["start"]
        return clock["t"]

    monkeypatch.setattr(infer_pool, "linear_split", split)
    woken = []  # calls that woke the helpers: the one before each probe of a split that measured slower
    monkeypatch.setattr(infer_pool, "wake", lambda n: woken.append(len(ways)))
    monkeypatch.setattr(infer_linear.time, "perf_counter", perf_counter)
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((1, 40), (64, 40), (64,)))
    lin = infer_linear.small_linear(False, fallback=executor._linear(np, False))
    calls = 3 * infer_linear.PROBE_EVERY
    for _ in range(calls):
        np.testing.assert_allclose(lin(x, w, b), x @ w.T + b, rtol=1e-5, atol=1e-5)
    assert len(ways) == calls and ways[:2] == ["split", "alone"]
    probes = [ways[i] for i in range(infer_linear.PROBE_EVERY - 1, calls, infer_linear.PROBE_EVERY)]
    assert probes == ["alone" if split_faster else "split"] * 3
    assert ways.count("split") == (calls - 4 if split_faster else 4), ways
    every = infer_linear.PROBE_EVERY
    assert woken == ([] if split_faster else [every - 2, 2 * every - 2, 3 * every - 2]), woken
