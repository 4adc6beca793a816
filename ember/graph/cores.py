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
