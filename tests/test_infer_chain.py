"""``ember/graph/infer_chain.py``: runs of small-batch ``linear`` layers of a loaded program in one compiled
call. Which nodes form a chain (a table of graphs), and that a chain's output equals the layers run one by
one with the same loop, bit for bit, split or alone, at every row count, dtype, layout and thread count
(a table), with BLAS's path past ``ROWS_MAX`` rows and for weights too large for the loop."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest

import ember
from ember import nn
from ember.graph import executor, infer_chain, infer_linear, infer_pool, kernels

pytestmark = pytest.mark.skipif(not kernels.jit_available("cpu"), reason="numba is not installed")


class Residual(nn.Module):
    """The first linear's output is read twice: no chain through it."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(6, 6), nn.Linear(6, 6), nn.Linear(6, 2)

    def forward(self, x):
        h = self.a(x)
        return self.c(self.b(h) + h)


class Returned(nn.Module):
    """The middle linear's output is also a graph output: the chain stops there."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(6, 6), nn.Linear(6, 5), nn.Linear(5, 2)

    def forward(self, x):
        h = self.b(self.a(x))
        return h, self.c(h)


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 8), nn.ReLU(),
                         nn.Linear(8, 3))


# (name, model, example input, layers of each chain in graph order)
GRAPHS = [
    ("mlp", lambda: nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)),
     (2, 12), [3]),
    ("two_linears_no_relu", lambda: nn.Sequential(nn.Linear(12, 16), nn.Linear(16, 3)), (2, 12), [2]),
    ("one_linear", lambda: nn.Linear(12, 3), (2, 12), []),
    ("tanh_between", lambda: nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3)), (2, 12), []),
    ("residual", Residual, (2, 6), []),  # a's output is read twice, b's by the add
    ("returned_middle", Returned, (2, 6), [2]),  # a -> b; c starts again (b's output is returned)
    ("cnn_head", _cnn, (2, 1, 8, 8), [2]),
]


def _program(model, shape):
    buf = io.BytesIO()
    ember.export.save(ember.export.export(model.eval(), (ember.randn(*shape),), dynamic_batch=True), buf)
    buf.seek(0)
    return ember.export.load(buf)


@pytest.mark.parametrize("name, build, shape, layers", GRAPHS, ids=[g[0] for g in GRAPHS])
def test_chains_are_runs_of_linears_each_read_once_by_the_next(name, build, shape, layers):
    ember.manual_seed(0)
    model = build()
    prog = _program(model, shape)
    exe = executor.build(prog.graph, inference=True)
    runs, _ = infer_chain.chains(exe.graph)
    assert [len(r) for r in runs.values()] == layers, exe.source
    x = ember.randn(*shape)
    with ember.no_grad():
        want = model(x)
    want = [t.numpy() for t in (want if isinstance(want, tuple) else (want,))]
    for got, ref in zip(prog.run([x.numpy()]), want):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_chains_only_in_inference_graphs_for_the_cpu_with_numba(monkeypatch):
    prog = _program(GRAPHS[0][1](), (2, 12))
    assert len(infer_chain.chains(executor.build(prog.graph, inference=True).graph)[0]) == 1
    assert infer_chain.chains(executor.build(prog.graph, inference=True, jit=False).graph) == ({}, set())
    assert infer_chain.chains(executor.build(prog.graph).graph) == ({}, set())
    assert infer_chain.chains(executor.build(prog.graph, inference=True).graph, "cuda") == ({}, set())
    monkeypatch.setattr(infer_chain, "ENABLED", False)  # EMBER_INFER_CHAIN=0
    exe = executor.build(prog.graph, inference=True)
    assert infer_chain.chains(exe.graph) == ({}, set())
    assert len(re.findall(r"\bL\d+\(", exe.source)) == 3 and not re.search(r"\bK\d+\(", exe.source)


def _layers(widths, dtype=np.float32, relus=None, seed=0):
    rng = np.random.default_rng(seed)
    relus = relus or [True] * (len(widths) - 2) + [False]
    return [((rng.standard_normal((n, k)) / np.sqrt(k)).astype(dtype), rng.standard_normal(n).astype(dtype), r)
            for k, n, r in zip(widths[:-1], widths[1:], relus)]


def _one_by_one(x, layers):
    from ember.graph.infer_loops import loop

    h = x.reshape(-1, x.shape[-1])
    for w, b, relu in layers:
        out = np.empty((h.shape[0], w.shape[0]), x.dtype)
        loop("linear_rows")(np.ascontiguousarray(h), w, b, out, 0, w.shape[0], relu, x.dtype.type(0))
        h = out
    return h.reshape(x.shape[:-1] + (h.shape[-1],))


def _x(shape, dtype=np.float32, layout="c"):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    return np.asfortranarray(x) if layout == "f" else x


# (name, layer widths, dtype, input shape, threads, input layout, exact: equal bits to the one-by-one loop)
CASES = [
    ("mlp_batch_1", (784, 512, 256, 10), np.float32, (1, 784), 2, "c", True),
    ("mlp_batch_16", (784, 512, 256, 10), np.float32, (16, 784), 2, "c", True),
    ("mlp_batch_17_blas", (784, 512, 256, 10), np.float32, (17, 784), 2, "c", False),
    ("float64", (300, 256, 130, 7), np.float64, (2, 300), 2, "c", True),
    ("three_threads", (512, 400, 256), np.float32, (1, 512), 3, "c", True),
    ("one_thread", (784, 512, 256, 10), np.float32, (1, 784), 1, "c", True),
    ("leading_dims", (64, 640, 600, 5), np.float32, (2, 3, 64), 2, "c", True),
    ("fortran_input", (96, 512, 300, 4), np.float32, (4, 96), 2, "f", True),
    ("too_large_for_the_loop", (9216, 128, 10), np.float32, (1, 9216), 2, "c", False),
]


@pytest.mark.parametrize("name, widths, dtype, shape, threads, layout, exact", CASES, ids=[c[0] for c in CASES])
def test_chain_equals_the_layers_one_by_one(monkeypatch, name, widths, dtype, shape, threads, layout, exact):
    monkeypatch.setattr(infer_chain, "cached_num_threads", lambda: threads)
    monkeypatch.setattr(infer_pool, "SHARED_CORE_NAP", False)  # on a busy (or 1-core) machine: still split
    layers = _layers(widths, dtype)
    x = _x(shape, dtype, layout)
    ref = _one_by_one(x, layers)
    run = infer_chain.small_chain(layers)
    for _ in range(3 * infer_linear.PROBE_EVERY):  # split and alone calls (the probes), helpers or not
        got = run(x)
        assert got.shape == ref.shape and got.dtype == ref.dtype
        if exact:
            np.testing.assert_array_equal(got, ref)
        else:
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    out = np.full(ref.shape, np.nan, dtype)
    assert run(x, out=out) is out
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_a_split_chain_has_the_helpers_run_blocks_of_split_layers(monkeypatch):
    monkeypatch.setattr(infer_pool, "SHARED_CORE_NAP", False)
    layers = _layers((784, 512, 256, 10))
    x = _x((1, 784))
    ref = _one_by_one(x, layers)
    hs = [np.empty((1, w.shape[0]), np.float32) for w, _, _ in layers[:-1]]
    meta = infer_pool.chain_meta(layers, hs + [None], 1, 2, [256, 128, 10])  # two blocks, two, one
    assert meta.reshape(3, -1)[:, 3:].tolist() == [[512, 784, 1, 2, 256], [256, 512, 1, 2, 128], [10, 256, 0, 1, 10]]
    pool = infer_pool.pool(2)
    deadline, helped = time.monotonic() + 20, 0  # on a busy machine the helper may need a while to get a core
    while helped == 0 and time.monotonic() < deadline:
        out = np.full((1, 10), np.nan, np.float32)
        helped = infer_pool.linear_chain(x, meta, out, 2, True)
        assert 0 <= helped <= 2  # at most one block of each split layer
        np.testing.assert_array_equal(out, ref)
    assert helped > 0, "the helper never took a block"
    with pool.lock:  # another caller holds the pool: the whole chain runs here
        out = np.empty((1, 10), np.float32)
        assert infer_pool.linear_chain(x, meta, out, 2, True) == 0
        np.testing.assert_array_equal(out, ref)


def test_a_second_thread_on_a_busy_chain_runs_layer_by_layer():
    layers = _layers((64, 32, 8))
    x = _x((2, 64))
    run = infer_chain.small_chain(layers)
    ref = run(x)
    np.testing.assert_array_equal(ref, _one_by_one(x, layers))
    plans = next(c.cell_contents for c in run.__closure__ if isinstance(c.cell_contents, dict))
    plan = next(iter(plans.values()))
    with plan.lock:  # this input shape's buffers in use by another call
        np.testing.assert_allclose(run(x), ref, rtol=1e-5, atol=1e-5)  # (BLAS's sums: last bits may differ)
