"""A small-batch 3x3 convolution of a loaded program split over the cores in Winograd bands
(``ember/graph/conv_bands.py``, run by ``infer_pool``'s helpers and ``conv_band_loops``): equal to the
columns form it replaces (rtol/atol 1e-5: the transforms reassociate the sums), with NaN/inf giving the columns
form's exact bits, OpenBLAS's thread count restored, and the same results when the pool is busy."""

from __future__ import annotations

import io

import numpy as np
import pytest

import ember
from ember import nn
from ember.graph import executor

pytest.importorskip("numba")
blas_calls = pytest.importorskip("ember.graph.blas_calls")
if blas_calls.find() is None:
    pytest.skip("OpenBLAS's cblas_sgemm not found by address (no threadpoolctl or another BLAS)",
                allow_module_level=True)

from ember.graph import conv_bands, infer_pool  # noqa: E402
from ember.graph.conv_bands import WinogradBands  # noqa: E402
from ember.graph.infer_loops import loop  # noqa: E402
from ember.ops.layers.conv_infer import ConvKernel  # noqa: E402


def _threads(n):
    return lambda kernel, xpad, w: WinogradBands.make(kernel, xpad, w, lambda: n)


TWO = _threads(2)  # the executor's helper, at two threads

# (batch, in, out, size, padding, 2x2 pool folded, relu, bias)
ROWS = [
    (1, 32, 64, 26, 0, True, True, True),  # the benchmark cnn's conv2
    (1, 32, 64, 26, 0, False, True, True),
    (1, 16, 16, 13, 1, False, False, False),  # odd output: a cropped last tile row and column
    (1, 16, 24, 15, 0, True, True, True),  # odd before pooling: the last tile row has no pooled row
    (1, 16, 16, 6, 2, False, True, True),  # more padding than the kernel's overlap
    (3, 16, 16, 8, 1, False, True, False),  # images split over the cores
    (5, 16, 32, 10, 1, True, False, True),
]


def _kernel(pad, pool, relu, bands):
    return ConvKernel((1, 1), ((pad, pad), (pad, pad)), (1, 1), relu,
                      loop("conv_epilogue_pool" if pool else "conv_epilogue"), pool=((2, 2), (2, 2)) if pool else None,
                      epilogue2=loop("conv_epilogue_pool2") if pool else None, bands=bands)


def _case(row, seed=0):
    n, c, o, size, pad, pool, relu, bias = row
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, size, size)).astype(np.float32)
    w = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    return x, w, b


@pytest.mark.parametrize("row", ROWS, ids=[f"n{r[0]}_c{r[1]}_o{r[2]}_s{r[3]}_p{r[4]}_pool{int(r[5])}" for r in ROWS])
def test_bands_equal_the_columns_form(monkeypatch, row):
    monkeypatch.setattr(conv_bands, "SPLIT_MIN", 0)
    x, w, b = _case(row)
    pad, pool, relu = row[4:7]
    columns, split = _kernel(pad, pool, relu, None), _kernel(pad, pool, relu, TWO)
    want = columns(np, x, w, b)
    for _ in range(3):  # the plan is made once; the addresses are written on every call
        got = split(np, x, w, b)
        assert type(split.plan[1]) is WinogradBands
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    x2 = x[::-1].copy()  # another input of the same shape: the same bands, new data
    np.testing.assert_allclose(split(np, x2, w, b), columns(np, x2, w, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("pool", [True, False])
def test_non_finite_input_gives_the_columns_forms_bits(monkeypatch, bad, pool):
    monkeypatch.setattr(conv_bands, "SPLIT_MIN", 0)
    x, w, b = _case((1, 16, 16, 12, 1, pool, True, True))
    x[0, 3, 5, 7] = bad
    want = _kernel(1, pool, True, None)(np, x, w, b)
    got = _kernel(1, pool, True, TWO)(np, x, w, b)
    np.testing.assert_array_equal(got, want)


def test_bands_only_where_they_apply(monkeypatch):
    x, w, b = _case((1, 32, 64, 26, 0, False, True, True))
    one = _kernel(0, False, True, _threads(1))
    one(np, x, w, b)
    assert type(one.plan[1]) is tuple  # one thread: the columns form
    small = _kernel(0, False, True, TWO)
    xs, ws, bs = _case((1, 8, 8, 10, 0, False, True, True))
    small(np, xs, ws, bs)
    assert type(small.plan[1]) is tuple  # fewer than MIN_CHANNELS
    many = _kernel(0, False, True, TWO)
    xm = np.repeat(x, conv_bands.SPLIT_BATCH_MAX + 1, axis=0)
    many(np, xm, w, b)
    assert type(many.plan[1]) is tuple  # a large batch: one GEMM on BLAS's own threads
    monkeypatch.setattr(conv_bands, "SPLIT", False)
    off = _kernel(0, False, True, TWO)
    off(np, x, w, b)
    assert type(off.plan[1]) is tuple  # EMBER_CONV_BANDS=0


def test_busy_pool_runs_every_band_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(conv_bands, "SPLIT_MIN", 0)
    x, w, b = _case(ROWS[0])
    want = _kernel(0, True, True, None)(np, x, w, b)
    pool = infer_pool.pool(2)
    assert pool.lock.acquire(blocking=False)
    try:
        np.testing.assert_allclose(_kernel(0, True, True, TWO)(np, x, w, b), want, rtol=1e-5, atol=1e-5)
    finally:
        pool.lock.release()


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 16, 3), nn.Conv2d(16, 32, 3)
        self.head = nn.Linear(32 * 7 * 7, 5)

    def forward(self, x):
        x = ember.relu(self.conv2(ember.relu(self.conv1(x))))
        return self.head(nn.functional.max_pool2d(x, 2).flatten(1))


def test_loaded_program_equals_eager_and_restores_blas_threads(monkeypatch):
    monkeypatch.setattr(conv_bands, "SPLIT_MIN", 0)
    monkeypatch.setattr(executor, "cached_num_threads", lambda: 2)
    ember.manual_seed(0)
    model = Cnn().eval()
    buf = io.BytesIO()
    ember.export.save(ember.export.export(model, (ember.randn(2, 1, 18, 18),), dynamic_batch=True), buf)
    buf.seek(0)
    prog = ember.export.load(buf)
    assert prog._executable()._hold_small  # a conv that may run in bands: small calls hold OpenBLAS at one
    mlp = ember.export.export(nn.Sequential(nn.Linear(4, 3)), (ember.randn(2, 4),))
    assert not mlp._executable()._hold_small
    threads_before = blas_calls._python_controls()[1]()
    for batch in (1, 3, 12):  # 12: more than SPLIT_BATCH_MAX, the columns form
        x = ember.randn(batch, 1, 18, 18)
        with ember.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(prog.run([x.numpy()])[0], want, rtol=1e-5, atol=1e-5)
        assert blas_calls._python_controls()[1]() == threads_before
        kernels = [k for k in prog._exe._fn.__globals__.values() if type(k) is ConvKernel]
        assert len(kernels) == 2 and {type(k.plan[1]).__name__ for k in kernels} == (
            {"WinogradBands", "tuple"} if batch <= conv_bands.SPLIT_BATCH_MAX else {"tuple"})


def test_blas_holds_nest_across_threads():
    import threading

    get = blas_calls._python_controls()[1]
    before = get()
    first = blas_calls.hold()
    assert first and get() == 1
    second = {}
    worker = threading.Thread(target=lambda: second.update(held=blas_calls.hold()))
    worker.start()
    worker.join()
    blas_calls.unhold(first)  # the other thread's hold is still on
    assert get() == 1
    blas_calls.unhold(second["held"])
    assert get() == before
