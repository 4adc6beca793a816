"""A chain of ``linear`` layers of an inference executor (an MLP's ``linear -> relu -> linear -> ...``, each
output used only by the next layer) run at small batch in one compiled call (``infer_pool.linear_chain``).

Why (issue 11, the mlp's batch-1 latency at 2 threads): run layer by layer (``infer_linear.small_linear``),
each layer paid its Python wrapper, its own hand-off to the helpers from Python and its own alone/split
estimate. Measured (2026-12-03, 2-core machine, another process busy, medians of 5000 interleaved calls, us):
the generated code 101-122 against 29-32 for the same three kernels called split by hand; the layers' own
estimates kept the first layer alone (63 us alone with the other layers' weights in the same L2, 28 split).
In one call the helpers stay awake between layers and the chain times itself as a whole: split (every layer of
more than one block split over the helpers) or alone, the faster by a running estimate, the other way every
``PROBE_EVERY``-th call. A call that found no helper awake counts as alone (it ran alone), so a sleeping
helper no longer makes splitting look slow. Measured (same day, busy machine, best of 7 x 3000 calls): the
mlp's chain 38 us split, 95 alone (its 2.1 MB of weights overflow one core's 2 MB L2: the split keeps half in
each), 2.6 us of Python around it (4.9 with a tuple of arrays per call and new intermediates); the bench's
artifact/onnxruntime at batch 1, 2 threads: 1.02-1.28x where the layer-by-layer code measured 1.55-2.2x in the
same runs.

Chains hold only layers whose weight and bias are graph constants (bound here at build time: no per-call
checks of them), whose weights fit ``WEIGHT_BYTES_MAX`` (larger ones run layer by layer: BLAS's threaded GEMV
streams them faster than the loop alone), at most ``ROWS_MAX`` rows of input; anything else (batch 64, another
dtype) runs layer by layer through ``small_linear`` as before.

>>> import numpy as np
>>> from ember.graph.infer_chain import small_chain
>>> w0, b0 = np.float32([[1, 2], [-1, -2]]), np.float32([0, 1])
>>> w1, b1 = np.float32([[1, 1]]), np.float32([0.5])
>>> run = small_chain([(w0, b0, True), (w1, b1, False)])
>>> run(np.float32([[1, 1]])).tolist()
[[3.5]]
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np

from .._threads import cached_num_threads
from . import infer_pool
from .gemm_split import linear_kernel
from .infer_linear import _DTYPES, ALIGN, ROWS_MAX, WEIGHT_BYTES_MAX, choose_split, fold, parts_for, small_linear

MIN_LAYERS = 2  # a chain of one layer is small_linear's
ENABLED = os.environ.get("EMBER_INFER_CHAIN", "1") != "0"  # EMBER_INFER_CHAIN=0: layer by layer (small_linear)


def chains(graph, device: str = "cpu") -> tuple[dict, set]:
    """``({id(last node): [nodes]}, {id(node) of the other nodes})``: the runs of ``linear`` nodes (constant
    weight and bias) in which each node's output is used once, by the next node's input, and is no graph
    output; none unless ``graph`` is an inference graph for the CPU executor with numba (``jit``)."""
    if device != "cpu" or not graph.meta.get("inference") or not graph.meta.get("jit") or not ENABLED:
        return {}, set()
    uses: dict = {}
    for node in graph.nodes:
        for v in node.inputs:
            uses[v] = uses.get(v, 0) + 1
    outputs = set(graph.outputs)
    runs, by_output = [], {}
    for node in graph.nodes:
        if (node.op != "linear" or len(node.inputs) != 3 or len(node.outputs) != 1
                or node.inputs[1] not in graph.constants or node.inputs[2] not in graph.constants):
            continue
        prev = by_output.pop(node.inputs[0], None)
        if prev is not None and uses.get(node.inputs[0]) == 1 and node.inputs[0] not in outputs:
            prev.append(node)
        else:
            prev = [node]
            runs.append(prev)
        by_output[node.outputs[0]] = prev
    runs = [run for run in runs if len(run) >= MIN_LAYERS]
    return {id(run[-1]): run for run in runs}, {id(n) for run in runs for n in run[:-1]}


def lower(gen, run, idx, name) -> None:
    """The generated line of a chain (``executor._generate``: at its last node; the others emit nothing). Its
    output is a new array, never a planned buffer: the last node's buffer may be the one the chain's input
    lives in (dead after the first node, as the memory plan sees it)."""
    layers = [(gen.ns[gen.names[n.inputs[1]]], gen.ns[gen.names[n.inputs[2]]], n.meta.get("activation") == "relu")
              for n in run]
    fn = gen.bind(f"K{idx}", small_chain(layers))
    gen.lines.append(f"{name} = {fn}({gen.names[run[0].inputs[0]]})")


class _Plan:
    """One input shape's chain: ``chain_meta``'s words, the intermediate outputs (reused by every call; a
    lock keeps a second thread off them: it runs layer by layer meanwhile), the running estimates."""

    __slots__ = ("meta", "keep", "shape", "splits", "alone", "split", "calls", "lock")

    def __init__(self, meta, keep, shape, splits):
        self.meta, self.keep, self.shape, self.splits = meta, keep, shape, splits
        self.alone = self.split = 0.0  # estimated wall seconds (0.0: not measured yet)
        self.calls = 0
        self.lock = threading.Lock()


def _plan(x, layers, threads):
    """The chain's ``_Plan`` for inputs like ``x``, or None for the layer-by-layer path."""
    if x.dtype not in _DTYPES or x.ndim < 1 or x.size // max(x.shape[-1], 1) > ROWS_MAX:
        return None
    k, steps = x.shape[-1], []
    for w, b, _ in layers:
        if (w.dtype != x.dtype or b.dtype != x.dtype or w.ndim != 2 or b.ndim != 1 or w.shape[1] != k
                or b.shape[0] != w.shape[0] or not w.flags.c_contiguous or not b.flags.c_contiguous
                or w.nbytes > WEIGHT_BYTES_MAX):
            return None
        n = w.shape[0]
        parts = parts_for(n, k, threads)
        steps.append(-(-n // parts // ALIGN) * ALIGN if parts > 1 else n)
        k = n  # the next layer's input width
    rows = x.size // x.shape[-1]
    hs = [np.empty((rows, w.shape[0]), x.dtype) for w, _, _ in layers[:-1]]
    meta = infer_pool.chain_meta(layers, hs + [None], rows, threads, steps)
    splits = any(s < w.shape[0] for s, (w, _, _) in zip(steps, layers))
    return _Plan(meta, (layers, hs), x.shape[:-1] + (k,), splits)


def small_chain(layers):
    """``fn(x, out=None)``: ``x`` through ``layers`` (``[(w, b, relu)]``, each ``relu?(h @ w.T + b)``) in one
    compiled call for float32/float64 inputs of at most ``ROWS_MAX`` rows, layer by layer through
    ``small_linear`` (its BLAS fallback included) otherwise."""
    singles = [small_linear(relu, fallback=linear_kernel(np, relu, True)) for _, _, relu in layers]
    plans: dict = {}

    def by_layer(x, out):
        for (w, b, _), fn in zip(layers[:-1], singles):
            x = fn(x, w, b)
        w, b, _ = layers[-1]
        return singles[-1](x, w, b, out)

    def chain(x, out=None):
        threads = cached_num_threads()
        key = (x.shape, x.dtype, threads)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = _plan(x, layers, threads) or False
        if plan is False or (out is not None and (out.shape != plan.shape or out.dtype != x.dtype
                                                  or not out.flags.c_contiguous)):
            return by_layer(x, out)
        if not plan.lock.acquire(blocking=False):  # another thread runs this chain: its buffers are in use
            return by_layer(x, out)
        try:
            x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            if not x2.flags.c_contiguous:
                x2 = np.ascontiguousarray(x2)
            if out is None:
                out = np.empty(plan.shape, x.dtype)
            dst = out if out.ndim == 2 else out.reshape(x2.shape[0], -1)
            if plan.splits:
                _timed_call(plan, x2, dst, threads)
            else:  # no layer splits (one thread, or small layers): nothing to choose
                infer_pool.linear_chain(x2, plan.meta, dst, threads, False)
        finally:
            plan.lock.release()
        return out

    return chain


def _timed_call(plan, x2, dst, threads) -> None:
    """Run the chain split or alone, whichever the running estimates say is faster, the other way every
    ``PROBE_EVERY``-th call; fold the call's wall time into the estimate of the way it actually ran (a split
    call that found no helper awake ran alone)."""
    use_split = choose_split(plan.alone, plan.split, plan.calls, threads)
    start = time.perf_counter()
    helped = infer_pool.linear_chain(x2, plan.meta, dst, threads, use_split)
    took = time.perf_counter() - start
    if helped:
        plan.split = fold(plan.split, took)
    else:
        plan.alone = fold(plan.alone, took)
    plan.calls += 1
