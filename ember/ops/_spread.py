"""Batch-independent NumPy passes of ops (max pooling's forward and backward) spread over Ember's pool
(``ember._cores``) in contiguous blocks of the batch (issue 16).

Each block runs the same NumPy calls on its slice of the batch, so every element is computed as on one
thread: the results are the same bits. NumPy's ufunc loops release the GIL, so the helpers run in parallel.
Passes under ``SPREAD_MIN`` elements stay on the calling thread (the hand-off costs tens of microseconds).

>>> import numpy as np
>>> from ember.ops import _spread
>>> out = np.empty((8, 4))
>>> _spread.over_batch(np, 8, out.size, lambda lo, hi: out.__setitem__(slice(lo, hi), lo))
>>> out[:, 0].tolist()
[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
"""
from __future__ import annotations

import math
import os

import numpy as np

from .._cores import even_blocks, run_blocks
from .._threads import blas_quiet, cached_num_threads

# elements of the larger of input and output. Measured (2x2 max pool forward + backward, 2 threads against 1,
# busy 2-core machine, docs/internals.md): 2^15 elements 2.5-3x slower split, 2^17 about even, 2^19 and up
# 1.3-1.8x faster; 2^18 keeps the noisy middle on one thread.
SPREAD_MIN = int(os.environ.get("EMBER_SPREAD_MIN", 1 << 18))


def threads_for(xp, batch: int, elements: int) -> int:
    """Cores a pass over ``elements`` (batch ``batch``) on ``xp`` arrays is spread over: 1 on CuPy, for small
    passes, at one thread."""
    if xp is not np or elements < SPREAD_MIN or batch < 2 or not blas_quiet():
        return 1
    return min(cached_num_threads(), batch)


def over_batch(xp, batch: int, elements: int, fn) -> None:
    """``fn(lo, hi)`` over ``[0, batch)``: whole on this thread, or in two blocks per core on the pool (a helper
    the OS runs late leaves at most half its share to the caller)."""
    n = threads_for(xp, batch, elements)
    if n < 2:
        fn(0, batch)
        return
    run_blocks(fn, even_blocks(batch, 2 * n), n)


def _leading_part(v, lo, hi, ndim):
    """Rows [lo, hi) of an operand broadcast to ``ndim`` dims along the first axis (the whole operand where
    that axis is broadcast: missing, or of size 1)."""
    if np.ndim(v) < ndim or v.shape[0] == 1:
        return v
    return v[lo:hi]


_PLAIN = np.dtype(np.float64)


def ufunc_call(xp, fn, *args):
    """``fn(*args)`` for a NumPy ufunc ``fn`` (operands: arrays, or Python / NumPy scalars), spread over the
    pool in blocks of the result's first axis when large, each block written into its rows of one result
    (``out=``): the same bits as one call, as elementwise results do not depend on the blocking (PyTorch
    spreads its elementwise kernels over its intra-op threads the same way)."""
    # the common case first, in a few hundred ns: most calls are small, or come while BLAS is threaded
    if xp is not np or not blas_quiet() or max(a.size if a.__class__ is np.ndarray else 1 for a in args) < \
            SPREAD_MIN or fn.nout != 1:
        return fn(*args)
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    size = math.prod(shape)
    if threads_for(xp, shape[0] if shape else 1, size) < 2 or any(
            getattr(a, "dtype", _PLAIN).kind not in "biuf" for a in args):  # (bfloat16 & co: one call)
        return fn(*args)
    # Python scalars stay weak (their type, not a dtype), as in the unsplit call
    dtypes = fn.resolve_dtypes(tuple(a.dtype if hasattr(a, "dtype") else type(a) for a in args) + (None,))
    out = np.empty(shape, dtype=dtypes[-1])
    ndim = len(shape)
    over_batch(xp, shape[0], size, lambda lo, hi: fn(*[_leading_part(a, lo, hi, ndim) for a in args],
                                                     out=out[lo:hi]))
    return out
