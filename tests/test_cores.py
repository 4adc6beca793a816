"""The compiled executor's passes split over cores (ember/graph/cores.py): the same bits as one thread,
every chunk done, errors re-raised, and ``ember.set_num_threads(1)`` keeping everything on the caller."""
import threading

import numpy as np
import pytest

import ember
from ember import _cores
from ember.graph import cores

pytest.importorskip("numba")
pytest.importorskip("threadpoolctl")


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Split every pass into many small chunks, so a small test model exercises the split paths."""
    monkeypatch.setattr(cores, "ENABLED", True)
    monkeypatch.setattr(cores, "SPLIT_MIN", 1)
    monkeypatch.setattr(cores, "CHUNK_MIN", 64)
    before = ember._threads._STATE["n"]
    yield
    ember._threads._STATE["n"] = before


class _Block(ember.nn.Module):
    """Layer norm, per-head attention GEMMs and softmax, a float32 exp body, a GELU and Adam: every split
    lowering runs."""

    def __init__(self):
        super().__init__()
        self.norm, self.proj = ember.nn.LayerNorm(96), ember.nn.Linear(96, 96)

    def forward(self, x):
        h = self.norm(x)
        heads = h.view(4, 64, 4, 24).transpose(1, 2)  # a stack of small GEMMs, split along the batch
        attn = ember.softmax(heads @ heads.transpose(2, 3) / 8.0, dim=-1)
        h = (attn @ heads).transpose(1, 2).reshape(4, 64, 96)
        h = self.proj(h)
        return (ember.nn.functional.gelu(h) * ember.exp(-h * h)).sum()


def _train(threads, steps=3):
    ember.set_num_threads(threads)
    ember.manual_seed(0)
    model = _Block()
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    x = ember.tensor(np.random.default_rng(0).standard_normal((4, 64, 96), dtype=np.float32))

    @ember.compile
    def step(x):
        opt.zero_grad()
        loss = model(x)
        loss.backward()
        opt.step()
        return loss

    losses = [float(step(x)) for _ in range(steps)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def test_split_passes_give_the_same_bits_as_one_thread(tiny_chunks, monkeypatch):
    one_losses, one_params = _train(1)
    jobs, job_class = [], _cores._Job
    monkeypatch.setattr(_cores, "_Job", lambda *a: jobs.append(job_class(*a)) or jobs[-1])
    two_losses, two_params = _train(2)
    assert len(jobs) >= 4  # the split paths ran (Adam's loops, layer norm, softmax, fused bodies)
    assert one_losses == two_losses
    for a, b in zip(one_params, two_params):
        np.testing.assert_array_equal(a, b)



def test_splitting_off_calls_the_kernels_without_the_split_wrappers(tiny_chunks, monkeypatch):
    """With splitting off (the default) the executor calls fused bodies, block loops and GEMM stacks directly:
    their split wrappers' per-call layout checks cost ~10 us each. Same bits as the split code at 1 thread."""
    split_losses, split_params = _train(1)
    monkeypatch.setattr(cores, "ENABLED", False)
    callers, run_chunks = [], cores.run_chunks
    monkeypatch.setattr(cores, "run_chunks",
                        lambda fn, *a, **k: callers.append(fn.__qualname__) or run_chunks(fn, *a, **k))
    losses, params = _train(1)
    assert not [c for c in callers if c.startswith(("split_ufunc", "_lower_block_loop", "_matmul"))], callers
    assert losses == split_losses
    for a, b in zip(params, split_params):
        np.testing.assert_array_equal(a, b)

def test_run_chunks_covers_every_element_once(tiny_chunks):
    ember._threads._STATE["n"] = 2
    seen, starts = np.zeros(100_003, np.int64), []

    def fn(s, e):
        seen[s:e] += 1
        starts.append(s)

    cores.run_chunks(fn, seen.size, align=128)
    assert (seen == 1).all() and len(starts) > 1 and all(s % 128 == 0 for s in starts)


def test_one_thread_runs_everything_on_the_caller(tiny_chunks):
    ember._threads._STATE["n"] = 1
    calls = []
    cores.run_chunks(lambda s, e: calls.append((s, e, threading.current_thread().name)), 10_000)
    assert calls == [(0, 10_000, threading.current_thread().name)]


def test_a_chunk_error_reaches_the_caller(tiny_chunks):
    ember._threads._STATE["n"] = 2

    def fn(s, e):
        if s > 0:
            raise ValueError(f"bad chunk at {s}")

    with pytest.raises(ValueError, match="bad chunk"):
        cores.run_chunks(fn, 10_000)


def test_a_shifted_overlap_runs_whole_and_an_in_place_update_splits(tiny_chunks, monkeypatch):
    from ember.graph.cores import split_ufunc as _split_ufunc

    ember._threads._STATE["n"] = 2
    splits, run_chunks = [], cores.run_chunks
    monkeypatch.setattr(cores, "run_chunks", lambda *a, **k: splits.append(a[1]) or run_chunks(*a, **k))
    buf = np.arange(50_001, dtype=np.float64)
    expected = buf[1:] + buf[1:]
    _split_ufunc(np.add)(buf[1:], buf[1:].copy(), out=buf[:-1])  # chunks would race: one call, NumPy copies
    np.testing.assert_array_equal(buf[:-1], expected)
    assert splits == []
    _split_ufunc(np.add)(buf, buf.copy(), out=buf)  # each chunk reads only what it writes
    assert splits == [buf.size]


def test_broadcast_operands_split_by_rows(tiny_chunks, monkeypatch):
    """A BatchNorm's ``x - mean`` (a (1, C, 1, 1) operand): rows of the output's first axis, each operand's
    rows or all of it where its first axis is broadcast."""
    from ember.graph.cores import split_ufunc as _split_ufunc

    ember._threads._STATE["n"] = 2
    splits, run_chunks = [], cores.run_chunks
    monkeypatch.setattr(cores, "run_chunks", lambda *a, **k: splits.append(a[1]) or run_chunks(*a, **k))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4, 5, 7)).astype(np.float32)
    for other in (rng.standard_normal((1, 4, 1, 1)), rng.standard_normal((5, 7)), rng.standard_normal((6, 1, 5, 1))):
        other = other.astype(np.float32)
        out = np.empty_like(x)
        _split_ufunc(np.subtract)(x, other, out=out)
        np.testing.assert_array_equal(out, x - other)
    assert splits == [6, 6, 6]


def _conv_bn_train(threads):
    ember.set_num_threads(threads)
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Conv2d(8, 8, 3, padding=1), ember.nn.BatchNorm2d(8), ember.nn.ReLU())
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    x = ember.tensor(np.random.default_rng(1).standard_normal((4, 8, 14, 14), dtype=np.float32))

    @ember.compile
    def step(x):
        opt.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        return loss

    losses = [float(step(x)) for _ in range(2)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def test_a_step_holding_blas_splits_without_ember_split(tiny_chunks, monkeypatch):
    """A compiled step with Winograd convolutions holds OpenBLAS at one thread, so its workers do not spin on
    the helpers' cores: its large passes split over the pool even with ``EMBER_SPLIT`` off. Same bits."""
    from ember.graph import blas_calls
    from ember.ops import winograd

    if not winograd.available() or not blas_calls.hold():
        pytest.skip("no numba Winograd loops, or no OpenBLAS to hold")
    blas_calls.unhold(True)
    monkeypatch.setattr(cores, "ENABLED", False)
    callers, run_chunks = [], cores.run_chunks
    monkeypatch.setattr(cores, "run_chunks",
                        lambda fn, *a, **k: callers.append(fn.__qualname__) or run_chunks(fn, *a, **k))
    with winograd.forced(True):
        results = [_conv_bn_train(n) for n in (1, 2)]
    assert any(c.startswith(("split_ufunc", "_lower_block_loop")) for c in callers), callers
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)
