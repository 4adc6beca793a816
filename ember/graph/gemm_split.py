"""Inference executors and OpenBLAS's threads: large GEMMs run with BLAS held at one thread, GEMMs of batch
size split over the cores by Ember's pool.

Why: OpenBLAS's own threaded GEMM/GEMV waits in spin loops for its worker thread; on a machine whose cores
other processes also use, that worker is often not running, and the call takes scheduler time slices instead
of its work. Measured (2026-12-03, 2-core machine shared with others, load average 6-8, loaded artifacts,
OpenBLAS at 2 threads, wall-clock medians): cnn at batch 1 44 ms per call (1.6 ms at 1 thread; its 9216x128
GEMV alone 15 ms), at batch 64 592 ms (178 ms); mlp at batch 64 17.4 ms (4.0 ms).

So the GEMMs of an inference executor (its ``linear`` nodes and convolutions) go through ``split_gemm``: from
``EMBER_GEMM_HOLD_MIN`` multiply-adds (m*n*k, default 2^20) every BLAS is held at one thread for the call
(``OneBlasThread``; two ctypes calls each way, ~10 us on the busy machine, hence not for the small GEMVs of
an MLP, which measured no worse at 2 OpenBLAS threads under load). From ``EMBER_GEMM_SPLIT_MIN`` (default
2^23: batch-64 layers, not batch-1 ones) the GEMM is also cut along its longer output dim into blocks
(columns in multiples of 16) that the calling thread and the pool's helpers take in turn (``cores.run_job``),
each a one-thread GEMM. A helper the OS does not run costs little when it has not started a block; one
preempted inside a block makes the caller wait for it, which is why batch-1 GEMMs are not split. Measured
(alternating in one process, load ~5-7, 2 threads): cnn batch 1 OpenBLAS 44 ms / held 1.63 ms / held and split
from 2^21 1.55 ms; cnn batch 64 210 / 117 / 132 ms; mlp batch 64 12.0 / 6.6 / 5.9 ms; mlp batch 1 149 / 167
/ 167 us (held then for every GEMM). Every output element is the same dot product as before (OpenBLAS
may block it differently: results agree to float rounding, as they already differ between OpenBLAS thread
counts). Nothing changes at one thread, without ``threadpoolctl`` (the ``threads`` extra) or off NumPy.

Off by default (``EMBER_GEMM_SPLIT=1`` turns it on): on an idle machine (2026-12-03, load ~1.2, 2 threads, two
alternating runs of 7 rounds each) OpenBLAS's own threads win: cnn batch 1 ~800 us with them vs ~1220 us held,
mlp batch 64 ~0.94 ms vs ~1.23 ms; the hold pays only where other processes take the cores.

>>> import numpy as np
>>> from ember.graph.gemm_split import split_gemm
>>> from ember.ops.linalg import gemm
>>> a, b = np.ones((64, 288), np.float32), np.ones((288, 600), np.float32)
>>> float(split_gemm(gemm)(np, a, b, np.empty((64, 600), np.float32))[3, 5])
288.0
"""
from __future__ import annotations

import math
import os

from .._threads import hold_blas_at_one_thread, release_blas
from ..ops.linalg import NARROW, gemm, split_over_cores  # noqa: F401 (NARROW: tests set it here)
from ..ops.nn import relu_array

ENABLED = os.environ.get("EMBER_GEMM_SPLIT", "0") == "1"  # opt-in: see the docstring
HOLD_MIN = int(os.environ.get("EMBER_GEMM_HOLD_MIN", 1 << 20))  # m*n*k from which BLAS is held at one thread
SPLIT_MIN = int(os.environ.get("EMBER_GEMM_SPLIT_MIN", 1 << 23))  # m*n*k from which the GEMM is split
class OneBlasThread:
    """Every loaded BLAS at one thread inside the block (its count restored after); nothing to do for a library
    at one thread already, or without threadpoolctl (no controllers). Inside it, ``split_gemm`` may split."""

    __slots__ = ("held",)

    def __enter__(self):
        self.held = hold_blas_at_one_thread() if ENABLED else []
        _HELD.append(max([n for _, n in self.held], default=1))
        return self

    def __exit__(self, *exc):
        _HELD.pop()
        release_blas(self.held)


_HELD: list = []  # threads the BLAS had, for each OneBlasThread block entered (the pool uses as many)


def split_gemm(gemm):
    """``gemm(xp, a, b, out)`` run in blocks over the cores when it has at least ``SPLIT_MIN`` multiply-adds and
    is called inside ``OneBlasThread`` (``ops.linalg.split_over_cores``); any other call goes to ``gemm`` as it
    is."""

    def run(xp, a, b, out=None):
        done = split_over_cores(xp, a, b, out, _HELD[-1] if _HELD else 1, SPLIT_MIN, NARROW)
        return gemm(xp, a, b, out) if done is None else done

    return run


def gemm_size_per_row(graph) -> int:
    """The largest multiply-add count of a ``linear`` or ``conv`` node of ``graph`` per unit of its inputs'
    leading (batch) dim, unknown dims taken as 1: an executor holds BLAS at one thread for a call whose
    batch size times this reaches ``HOLD_MIN``."""
    best = 0
    for node in graph.nodes:
        if node.op not in ("linear", "conv") or len(node.inputs) < 2:
            continue
        w, shape = node.inputs[1], node.outputs[0].shape
        if node.meta.get("pool") is not None:  # a folded pool: the GEMM makes the conv's (unpooled) map
            from .opinfo import infer

            shape = infer(node.op, [(v.shape, v.dtype) for v in node.inputs], node.attrs)[0]
        per_output = math.prod(d or 1 for d in w.shape[1:])  # in features, or C/groups * kernel
        best = max(best, math.prod(d or 1 for d in shape) * per_output)
    return best


def hold_for(rows: int, per_row: int) -> bool:
    """Whether a call with ``rows`` in its batch dim holds BLAS at one thread."""
    return ENABLED and per_row and rows * per_row >= HOLD_MIN


def linear_kernel(xp, relu=False, split=False):
    """``x @ w.T + b``: one GEMM (``w.T`` is a transposed view BLAS reads directly), then an in-place add (and
    relu, when ``fold_relu`` folded one in). ``split``: a large GEMM runs split over the cores (inference)."""
    mm = split_gemm(gemm) if split else gemm

    def linear(x, w, b, out=None):
        r = mm(xp, x, w.T, out)
        r += b
        return r

    def linear_relu(x, w, b, out=None):
        r = mm(xp, x, w.T, out)
        r += b
        return relu_array(xp, r, out=r)

    return linear_relu if relu else linear
