"""The small-batch Winograd F(2x2, 3x3) inference convolution (``ember/ops/layers/conv_winograd_infer.py``) and
its split over the cores (``ember/graph/winograd_split*.py``): a table of shapes against PyTorch's conv (+ relu,
+ 2x2 max pool), the split's blocks equal to the one-thread form bit for bit, and the executor's BLAS hold."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
from _train_step import classifier_step

import ember
from ember import nn
from ember.graph import executor

pytest.importorskip("numba")
torch = pytest.importorskip("torch")

from ember.graph import blas_calls, winograd_split, winograd_split_loops  # noqa: E402
from ember.graph.infer_loops import _FORMS, loop  # noqa: E402
from ember.ops.layers.conv_winograd_infer import WinogradConvKernel  # noqa: E402

# (batch, in channels, out channels, height, width, ((top, bottom), (left, right)) padding, bias, relu, pool)
ROWS = [
    (1, 32, 64, 26, 26, ((0, 0), (0, 0)), True, True, True),  # the bench cnn's conv2
    (1, 8, 8, 9, 9, ((0, 0), (0, 0)), True, False, False),  # odd output: a spare row and column dropped
    (2, 8, 16, 12, 10, ((1, 1), (1, 1)), False, True, False),
    (3, 13, 9, 11, 14, ((1, 0), (2, 1)), True, True, True),  # odd pooled sizes, uneven channel blocks
    (1, 8, 8, 4, 4, ((1, 1), (1, 1)), True, False, True),
    (2, 16, 8, 7, 8, ((0, 2), (0, 0)), False, False, False),
]
IDS = [f"n{r[0]}_c{r[1]}_o{r[2]}_{r[3]}x{r[4]}{'_pool' if r[8] else ''}" for r in ROWS]


def _case(row, seed=0):
    n, c, o, h, w, pad, bias, relu, pool = row
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    return x, wt, b


def _reference(row, x, wt, b):
    (pt, pb), (pl, pr) = row[5]
    t = torch.nn.functional.pad(torch.tensor(x, dtype=torch.float64), (pl, pr, pt, pb))
    y = torch.nn.functional.conv2d(t, torch.tensor(wt, dtype=torch.float64),
                                   None if b is None else torch.tensor(b, dtype=torch.float64))
    y = torch.relu(y) if row[7] else y
    return (torch.nn.functional.max_pool2d(y, 2) if row[8] else y).numpy()


def _kernel(row, split):
    def helpers(name):
        if name == "winograd_split":
            return winograd_split.planner() if split else None
        return loop(name) if name in _FORMS else None

    return WinogradConvKernel(row[5], row[7], helpers, fallback=None, pool2=row[8], cout=row[2])


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_matches_pytorch(row):
    x, wt, b = _case(row)
    got, ref = _kernel(row, split=False)(np, x, wt, b), _reference(row, x, wt, b)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=2e-6 * np.abs(ref).max())


@pytest.mark.skipif(blas_calls.find() is None, reason="NumPy's BLAS is not an OpenBLAS with cblas_sgemm found")
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_split_blocks_equal_the_one_thread_form(monkeypatch, row):
    """Every stage cut into 1-4 blocks, run on this thread, and the pool's own split at 2 threads: the bits
    of the one-thread form (the same sums: channel blocks and GEMM blocks do not reorder them)."""
    x, wt, b = _case(row, seed=1)
    alone = _kernel(row, split=False)(np, x, wt, b)
    monkeypatch.setattr(winograd_split, "cached_num_threads", lambda: 2)
    kernel = _kernel(row, split=True)
    for _ in range(3):  # the pool's helpers (woken by the first call) may take blocks of the later ones
        np.testing.assert_array_equal(kernel(np, x, wt, b), alone)
    # the blocks themselves, on this thread, into scratch filled with NaN (every value must be written)
    one = _kernel(row, split=False)
    one(np, x, wt, b)
    _, xpad, v, m, _ = one.plan
    (pt, _), (pl, _) = row[5]
    xpad[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]] = x
    th, tw = (xpad.shape[2] - 2) // 2, (xpad.shape[3] - 2) // 2
    sgemm, width = blas_calls.find()[:2]
    plan = winograd_split.SplitPlan(v, one.filter[1], m, xpad.shape, row[8], row[7], sgemm, width)
    L, words = winograd_split_loops, plan.words
    for blocks in (1, 3, 4):
        out = np.full((x.shape[0], row[2]) + ((th, tw) if row[8] else (2 * th, 2 * tw)), np.nan, np.float32)
        v[...], m[...] = np.nan, np.nan
        words[L.X], words[L.OUT] = xpad.ctypes.data, out.ctypes.data
        words[L.B], words[L.HAS_B] = (0, 0) if b is None else (b.ctypes.data, 1)
        with blas_calls.Held():
            for stage in range(3):
                for i in range(blocks):
                    L.wino_block(words.ctypes.data, stage, blocks, i)
        np.testing.assert_array_equal(out[:, :, :alone.shape[2], :alone.shape[3]], alone)


def _program():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2)).eval()
    buf = io.BytesIO()
    ember.export.save(ember.export.export(model, (ember.randn(2, 8, 12, 12),), dynamic_batch=True), buf)
    buf.seek(0)
    return ember.export.load(buf)


@pytest.mark.skipif(blas_calls.find() is None, reason="NumPy's BLAS is not an OpenBLAS with cblas_sgemm found")
def test_executor_holds_blas_only_for_batches_the_conv_splits(monkeypatch):
    exe = executor.build(_program().graph, jit=True, inference=True)
    kernel = next(f for f in exe._gen.ns.values() if isinstance(f, WinogradConvKernel))
    assert exe._hold_batch == kernel.split_batch((8, 12, 12)) > 1
    calls = []
    real = blas_calls.hold
    monkeypatch.setattr(blas_calls, "hold", lambda: calls.append(1) or real())
    rng = np.random.default_rng(0)
    exe(rng.standard_normal((1, 8, 12, 12)).astype(np.float32))
    assert calls  # held for the call (and by the split inside it, where the machine has 2 threads)
    calls.clear()
    exe(rng.standard_normal((exe._hold_batch + 1, 8, 12, 12)).astype(np.float32))
    assert not calls  # a batch past the split's scratch runs the columns form with BLAS's own threads


def test_blas_calls_take_numpys_own_openblas_whatever_the_listing_order():
    """SciPy ships an OpenBLAS of its own, and threadpoolctl may list it first: holding that one left NumPy's
    at two threads (its worker spinning on the core Ember's helpers use)."""
    site = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    scipy_lib = os.path.join(site, "scipy.libs", "libscipy_openblas-x.so")
    numpy_lib = os.path.join(site, "numpy.libs", "libscipy_openblas64_-x.so")
    assert blas_calls._numpys([scipy_lib, numpy_lib]) == [numpy_lib]
    assert blas_calls._numpys([scipy_lib]) == []  # not NumPy's BLAS: nothing to hold or call
    found = blas_calls.find()
    if found is not None:
        setter, getter = blas_calls._python_controls()
        from ember._threads import blas_controllers

        numpys = [c for c in blas_controllers() if blas_calls._numpys([c.filepath])]
        with blas_calls.Held():
            assert getter() == 1 and all(c.get_num_threads() == 1 for c in numpys)


def test_training_steps_with_winograd_hold_blas_for_the_whole_call(monkeypatch):
    from ember.ops import winograd

    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 10 * 10, 3))
    step = classifier_step(model, ember.optim.SGD(model.parameters(), lr=0.1), ember.randn(4, 8, 12, 12),
                           ember.tensor([0, 1, 2, 0]))
    calls = []
    real = blas_calls.hold
    monkeypatch.setattr(blas_calls, "hold", lambda: calls.append(1) or real())
    with winograd.forced(True):
        compiled = ember.compile(step)
        compiled()
        compiled()
    (entry,) = compiled._entries
    assert entry.exe._hold_all and entry.exe.graph.meta["blas_hold"]
    assert any(n.op == "winograd_conv" for n in entry.exe.graph.nodes)
    assert calls, "the compiled step with Winograd convolutions ran without holding BLAS"


def test_a_held_step_splits_its_large_gemms_and_equals_eager(monkeypatch):
    """Under the step's hold, GEMMs from ``gemm_split.SPLIT_MIN`` multiply-adds run in blocks over Ember's pool
    (a conv + large dense step measured 27 steps/s held without it, 39 with it, 41 unheld); the losses equal
    the eager step's."""
    from ember._threads import cached_num_threads
    from ember.graph import gemm_split
    from ember.ops import linalg, winograd

    monkeypatch.setattr(gemm_split, "SPLIT_MIN", 1 << 12)  # the small test GEMMs split too
    jobs, run_job = [], linalg.run_job
    monkeypatch.setattr(linalg, "run_job", lambda *a: jobs.append(1) or run_job(*a))
    losses = []
    for compiled in (False, True):
        ember.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 64), nn.ReLU(),
                              nn.Linear(64, 3))
        x, y = ember.randn(16, 8, 10, 10), ember.randint(0, 3, (16,))
        step = classifier_step(model, ember.optim.SGD(model.parameters(), lr=0.1), x, y)
        with winograd.forced(True):
            fn = ember.compile(step) if compiled else step
            losses.append([fn().item() for _ in range(4)])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    assert jobs or cached_num_threads() < 2  # (one core: nothing to split over)


def test_a_hold_before_the_thread_count_is_known_does_not_make_it_one(monkeypatch):
    """Ember's split decisions read ``cached_num_threads()``; found first inside a hold, BLAS would answer 1
    and no convolution would split for the rest of the process."""
    from ember import _threads

    truth = _threads.get_num_threads()
    monkeypatch.setitem(_threads._STATE, "found", None)
    monkeypatch.setitem(_threads._STATE, "n", None)
    with blas_calls.Held():
        assert _threads.cached_num_threads() == truth
