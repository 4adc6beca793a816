"""Ember's own CPU passes over the cores: a large elementwise or row pass cut into chunks that the calling
thread and a small persistent pool of helper threads take in turn (issue 16). The pool itself is
``ember._cores`` (shared with ops); this module adds the compiled executor's split policy.

The chunks are handed out dynamically: the caller takes chunks itself and only waits for the ones a helper
has already started, so a helper that the OS does not schedule (a busy machine) costs the caller almost
nothing, it just does all the work. The chunk functions are numba loops compiled with ``nogil=True`` or
NumPy ufunc calls, which release the GIL, so helpers run them truly in parallel. Each element (each row) is
computed by the same code as before, only by another thread: results are bit-identical.

The helper count follows ``ember.set_num_threads`` (``n - 1`` helpers; none at 1 thread). Splitting is off
unless ``EMBER_SPLIT=1``: on a quiet 2-core machine it measured slower at 2 threads (see docs/internals.md);
``EMBER_SPLIT_MIN`` is the smallest pass (elements) that is split.

>>> import numpy as np
>>> from ember.graph import cores
>>> out = np.empty(100_000)
>>> cores.run_chunks(lambda s, e: np.multiply(np.arange(s, e), 2.0, out=out[s:e]), out.size, 4096)
>>> float(out[99_999])
199998.0
"""
from __future__ import annotations

import os

import numpy as np

from .._cores import _POOL, _Blocks, _helpers, _Job, even_blocks, run_blocks, run_job  # noqa: F401 (the pool's home)

ENABLED = os.environ.get("EMBER_SPLIT", "0") == "1"  # opt-in until it measures faster (internals.md)
SPLIT_MIN = int(os.environ.get("EMBER_SPLIT_MIN", 1 << 16))  # elements; below this one thread is faster
CHUNK_MIN = 1 << 14  # elements per chunk (~10-30 us of work): the hand-off costs a few us


def threads() -> int:
    """Threads a split pass uses: ``ember.get_num_threads()`` (1 when splitting is off: neither
    ``EMBER_SPLIT=1`` nor BLAS held at one thread now, see ``_threads.blas_quiet``)."""
    from .._threads import blas_quiet, cached_num_threads

    if not (ENABLED or blas_quiet()):
        return 1
    return cached_num_threads()


def run_chunks(fn, size: int, align: int = 1, unit: int = 1) -> None:
    """Call ``fn(start, stop)`` over ``[0, size)`` in chunks (multiples of ``align``), on this thread and the
    helpers; returns when every chunk is done. ``unit``: elements per index (a row's length). Small passes
    or one thread: one call on this thread."""
    n = threads()
    if n < 2 or size * unit < SPLIT_MIN:
        fn(0, size)
        return
    chunk = max(-(-CHUNK_MIN // unit), -(-size // (4 * n)))  # ~4 chunks per thread: a late helper leaves little undone
    run_job(fn, size, -(-chunk // align) * align, n)


def _same_or_apart(a, out) -> bool:
    """``a`` is ``out`` itself (an in-place update: each chunk reads what it writes) or lies apart from it: a
    shifted overlap would let one chunk read what another already wrote."""
    return not np.may_share_memory(a, out) or (
        a.__array_interface__["data"][0] == out.__array_interface__["data"][0] and a.strides == out.strides)


def split_ufunc(ufunc):
    """``ufunc(*arrays, out=)`` over per-core chunks (``cores``): flat chunks when the output and every operand
    are contiguous arrays of one shape; rows of the output's first axis when the operands broadcast (each
    operand's rows, or all of it where its first axis is broadcast: a BatchNorm's (1, C, 1, 1) mean); any
    other call (scalars, overlapping operands) goes to the ufunc whole."""

    def call(*arrays, out=None):
        if out is None or not out.flags.c_contiguous or not all(
                hasattr(a, "shape") and _same_or_apart(a, out) for a in arrays):
            return ufunc(*arrays, out=out)
        if all(a.shape == out.shape and a.flags.c_contiguous for a in arrays):
            dst, flat = out.reshape(-1), [a.reshape(-1) for a in arrays]
            run_chunks(lambda s, e: ufunc(*[a[s:e] for a in flat], out=dst[s:e]), dst.size)
            return out
        if out.ndim < 2 or out.shape[0] < 2:
            return ufunc(*arrays, out=out)
        rows = [a.ndim == out.ndim and a.shape[0] == out.shape[0] for a in arrays]
        run_chunks(lambda s, e: ufunc(*[a[s:e] if r else a for a, r in zip(arrays, rows)], out=out[s:e]),
                         out.shape[0], unit=out.size // out.shape[0])
        return out

    return call


WINOGRAD_OPS = ("winograd_conv", "winograd_wgrad", "winograd_conv_pool")  # (chosen only where numba is there)


def holds_blas(node) -> bool:
    """A node whose parallel work is Ember's pool's: a Winograd convolution, or an LSTM recurrence whose row
    blocks run as compiled loops (``ops/rnn.py``; the hold keeps OpenBLAS's worker off the helpers' cores)."""
    if node.op in WINOGRAD_OPS:
        return True
    if node.op != "lstm_seq":
        return False
    from ..ops.rnn import fused_applies

    xw = node.inputs[0]
    return xw.shape[-1] is not None and fused_applies(xw.dtype, xw.shape[-1] // 4)
