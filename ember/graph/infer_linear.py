"""``linear`` of an inference executor at small batch (GEMV-like calls), with numba: a compiled loop over the
weight rows (``infer_loops``' ``linear_rows``), split over the cores in fixed blocks of output rows.

Why (issue 11, batch-1 latency): a batch-1 ``linear`` reads every weight once per call and does two flops
per weight read: it is bound by how fast the weights stream in. Over two cores, each core's 2 MB L2 can keep
its half of an MLP's 2.1 MB of weights between calls if the same core gets the same rows every call; a dynamic
split (OpenBLAS's threaded GEMM at M=1, ~45 us at 1 thread and 58-65 at 2 for the mlp's 784x512) cannot.
Here the rows ``[0, N)`` are cut into ``parts`` blocks (``parts`` = ``ember.get_num_threads()``, at most one per
``SPLIT_MIN`` weights): the calling thread takes block 0, then every block nobody has started; the persistent
helpers of ``infer_pool`` (``n - 1`` threads polling atomic words in a compiled loop: a ~1 us hand-off) take
the others. The loop releases the GIL.

Thread and fork safety: no numba parallel layer is used (GNU OpenMP's ``omp`` layer aborts a process that
forks after using it; the ``workqueue`` layer aborts on concurrent calls from two threads): ``infer_pool`` is
remade in a forked child, a second thread calling meanwhile runs its layer alone, and a helper the OS does not
run costs the caller nothing but the blocks it then does itself. Measured (2026-12-03, busy 2-core machine,
load ~7, best of 2000 calls): 784x512 alone 41 us, split 19; 9216x128 193 / 72; the medians there are equal
(the helper is mostly not running) - hence the self-timing below. The Python helper threads of ``cores``
(``queue`` hand-off, ~15-20 us) measured slower split than alone even idle (mlp layer 1 81.5 / 63 us).

Whether the split pays depends on the machine's load: on the busy 2-core machine (load 12, other processes on
both cores) the mlp's batch-1 call took 420 us split against 293 on the calling thread alone (medians). So
each layer times itself: it keeps a running estimate of its wall time alone (the loop on this thread; BLAS
for weights over ``WEIGHT_BYTES_MAX``) and split (a moving average, a
spike clipped to 3x the estimate), runs the faster way, and every ``PROBE_EVERY``-th call the other way to
keep that estimate current.
``EMBER_INFER_SPLIT=0`` turns the split off (the loop then always runs on the calling thread).
A run of such layers (an MLP) runs as one compiled call instead (``infer_chain``), through this module only
past ``ROWS_MAX`` rows or for weights over ``WEIGHT_BYTES_MAX``.

Above ``ROWS_MAX`` rows ``x @ w.T`` stays with BLAS: its blocked GEMM wins there (batch 64), and its own
threads and this pool never run at the same time. Measured (1 thread, 784x512 with relu, best of 200 blocks on
the busy 2-core machine, us): rows 1: BLAS 50-60 / loop 45-54; 2: 52-62 / 67-79; 3: ~450 / 68-130 (OpenBLAS
packs the whole transposed weight for every GEMM call); 8: ~430 / 175-270; 16: 468 / 344; 32: 715 / 686;
64: 1109 / 1437.

>>> import numpy as np
>>> from ember.graph.infer_linear import small_linear
>>> lin = small_linear(relu=True)
>>> x, w, b = np.ones((1, 3), np.float32), np.float32([[1, 2, 3], [-1, -2, -3]]), np.float32([0, 1])
>>> lin(x, w, b).tolist()
[[6.0, 0.0]]
"""
from __future__ import annotations

import os
import time

import numpy as np

from .._threads import cached_num_threads
from . import infer_pool

ROWS_MAX = 16  # rows of x (the batch) up to which the loop runs; BLAS's GEMM from there (see the docstring)
WEIGHT_BYTES_MAX = 3 << 20  # larger weights: the split loop, or BLAS when alone (they do not fit the cores' L2
# caches anyway, and OpenBLAS's threaded GEMV streams them faster than the loop on one core: idle 2-core
# machine, cnn's 9216x128 at batch 1, 98 us at 2 BLAS threads, ~250 us for the loop on one core)
SPLIT_MIN = 1 << 15  # weights per block at least (a smaller block costs more in the hand-off than it saves)
ALIGN = 16  # block boundaries in output rows: whole 64-byte lines of ``out`` per core
SPLIT = os.environ.get("EMBER_INFER_SPLIT", "1") != "0"  # EMBER_INFER_SPLIT=0: the loop on the calling thread only
PROBE_EVERY = 16  # a layer runs the way it currently estimates slower once every this many calls
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def choose_split(alone: float, split: float, calls: int, threads: int) -> bool:
    """Whether this call runs split: the way the running estimates (wall seconds, 0.0 not measured yet) say
    is faster, the other way every ``PROBE_EVERY``-th call (keeping its estimate current); a call two before
    a probe of the split wakes a sleeping helper for it."""
    use_split = split < alone if alone and split else not split
    probe = calls % PROBE_EVERY
    if probe == PROBE_EVERY - 1:
        return not use_split
    if probe == PROBE_EVERY - 2 and not use_split:
        infer_pool.wake(threads)
    return use_split


def fold(estimate: float, took: float) -> float:
    """A running estimate with one more call's wall time: a moving average, a spike clipped to 3x."""
    return took if not estimate else estimate + 0.25 * (min(took, 3 * estimate) - estimate)


def parts_for(n: int, k: int, threads: int) -> int:
    """Blocks a (n x k) weight matrix is split into on ``threads`` cores."""
    return max(1, min(threads if SPLIT else 1, (n * k) // SPLIT_MIN, -(-n // ALIGN)))


def small_linear(relu: bool = False, fallback=None):
    """``fn(x, w, b, out=None)`` -> ``relu?(x @ w.T + b)``: the compiled row loop for float32/float64 inputs of
    at most ``ROWS_MAX`` rows (leading dims flattened), ``fallback`` (the BLAS form) for anything else."""
    from .infer_loops import loop

    rows_loop = loop("linear_rows")
    # (x, w, b shapes and dtypes, threads) -> [block step or None for the fallback, zero, estimated wall seconds
    # alone, split (0.0: not measured yet), calls, weights too large for the loop alone (BLAS then)]
    plans: dict = {}

    def plan(x, w, b, threads):
        if (x.dtype not in _DTYPES or w.dtype != x.dtype or b.dtype != x.dtype or w.ndim != 2 or b.ndim != 1
                or x.ndim < 1 or x.shape[-1] != w.shape[1] or b.shape[0] != w.shape[0]
                or x.size // max(x.shape[-1], 1) > ROWS_MAX):
            return [None]
        n, k = w.shape
        parts, big = parts_for(n, k, threads), w.nbytes > WEIGHT_BYTES_MAX
        if big and parts < 2:
            return [None]
        return [-(-n // parts // ALIGN) * ALIGN if parts > 1 else 0, x.dtype.type(0), 0.0, 0.0, 0, big]

    def linear(x, w, b, out=None):
        threads = cached_num_threads()
        key = (x.shape, x.dtype, w.shape, w.dtype, b.shape, b.dtype, threads)
        found = plans.get(key)
        if found is None:
            found = plans[key] = plan(x, w, b, threads)
        step = found[0]
        if step is None or not w.flags.c_contiguous or (out is not None and not out.flags.c_contiguous):
            return fallback(x, w, b, out)
        n = w.shape[0]
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        if not x2.flags.c_contiguous:
            x2 = np.ascontiguousarray(x2)
        if out is None:
            out = np.empty(x.shape[:-1] + (n,), x.dtype)
        dst = out if out.ndim == 2 else out.reshape(-1, n)  # a view: out is contiguous
        if not step:
            rows_loop(x2, w, b, dst, 0, n, relu, found[1])
            return out
        use_split = choose_split(*found[2:5], threads)
        start = time.perf_counter()
        if use_split:
            infer_pool.linear_split(x2, w, b, dst, relu, step, threads)
        elif found[5]:
            fallback(x, w, b, out)
        else:
            rows_loop(x2, w, b, dst, 0, n, relu, found[1])
        i = 3 if use_split else 2
        found[i] = fold(found[i], time.perf_counter() - start)
        found[4] += 1
        return out

    return linear
