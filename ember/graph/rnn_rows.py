"""The compiled executor's LSTM recurrences split over the cores by batch rows (issue 16).

Each batch row of an LSTM is its own recurrence, so ``lstm_seq`` and ``lstm_seq_grad`` (``ember/ops/rnn.py``)
take a ``rows`` runner that calls ``fn(lo, hi)`` over blocks of batch rows. Here the blocks go to the pool of
``cores.run_blocks`` with every BLAS held at one thread for the call: each core runs the whole time loop of its
rows (its small GEMM per step on one thread, the cell's elementwise work beside it), one hand-off per sequence.
Without this, every time step ran OpenBLAS's threaded (B, H) @ (H, 4H) GEMM, whose workers then spin, and the
cell's passes on one core.

float32 LSTMs whose sizes suit ``ops/rnn_loops.py`` (its GEMM's K a multiple of 16) do not come here: their
time loops are compiled code that splits the rows itself, with BLAS held for the whole step
(``cores.holds_blas``).

Blocks are at least ``ROWS_MIN`` rows (``EMBER_RNN_ROWS_MIN``, default 64): OpenBLAS's GEMM of a few rows
costs nearly what one of twice the rows does (it packs the whole (H, 4H) weight each call: (16, 256) @ (256, 1024)
248 us against 282 us for 32 rows, one thread), so halving a small batch halves little. Measured (lstm_seq
forward, 64 steps, H = 256, 2 threads, machine near idle for the run, medians of 7, ms, whole with OpenBLAS
at 2 threads / split in two): B = 32: 33.7 / 42.0; B = 64: 47.8 / 80.1; B = 128: 96.2 / 75.4; B = 128, H = 512:
312 / 258. Fewer rows, one thread, or no ``threadpoolctl`` (BLAS could not be held at one thread): the whole
batch on the calling thread, as eagerly. ``EMBER_SPLIT_RNN=0`` turns it off. Each block's GEMM is a one-thread
GEMM over its rows: results agree with the unsplit step to float rounding (as they already differ between
OpenBLAS thread counts), and are the same for a given thread count.

>>> from ember.graph.rnn_rows import row_blocks
>>> row_blocks(256, 2)
[(0, 128), (128, 256)]
"""
from __future__ import annotations

import functools
import os

import numpy as np

from .._threads import blas_controllers, cached_num_threads, hold_blas_at_one_thread, release_blas
from . import cores

ENABLED = os.environ.get("EMBER_SPLIT_RNN", "1") == "1"
ROWS_MIN = int(os.environ.get("EMBER_RNN_ROWS_MIN", 64))  # rows per block: see the module doc


def row_blocks(rows: int, n: int) -> list:
    """``[(lo, hi)]``: ``rows`` cut into at most ``n`` near-equal blocks of at least ``ROWS_MIN`` rows."""
    k = max(1, min(n, rows // max(ROWS_MIN, 1)))
    return [(rows * i // k, rows * (i + 1) // k) for i in range(k)]


def rows_over_cores(fn, rows: int) -> None:
    """``fn(lo, hi)`` over blocks of ``rows`` on the calling thread and the pool's helpers, BLAS held at one
    thread meanwhile; one call over all rows when there is one block."""
    n = cached_num_threads() if ENABLED else 1
    blocks = row_blocks(rows, n) if n > 1 and blas_controllers() else [(0, rows)]
    if len(blocks) < 2:
        fn(0, rows)
        return
    held = hold_blas_at_one_thread()
    try:
        cores.run_blocks(fn, blocks, len(blocks))
    finally:
        release_blas(held)


def _row_split(op):
    from ..ops import REGISTRY

    return lambda node: functools.partial(REGISTRY[op].forward, np, rows=rows_over_cores)


def _register():
    from ..ops import register_lowering

    for op in ("lstm_seq", "lstm_seq_grad"):
        register_lowering(op, "cpu_loop", _row_split(op))


_register()
