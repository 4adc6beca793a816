"""Compiled loops (numba) for the inference kernels of ``conv`` (``ember/ops/layers/conv_infer.py``) and of
``linear`` at small batch (``ember/graph/infer_linear.py``), handed to them by the CPU executor when numba is
there (the ``jit`` extra). Each is a plain one-thread loop compiled with ``nogil=True``: the split over the
cores, where there is one, is Ember's own (``infer_linear``), not numba's parallel layer.

``conv_epilogue``: the GEMM's (Cout, N*L) result -> NCHW output, bias added and relu applied, in one pass
(the NumPy form makes three: bias, relu, the copy of the valid positions; on the cnn's conv2 at batch 1,
CPU time on a busy machine, 21 us against ~60). The same float additions as the NumPy form, and relu keeps
NaN and -0.0 as ``np.maximum(v, 0)`` does: the same bits.

``conv_epilogue_pool``: the same, with a max pooling (whole windows: no padding, dilation or ceil mode) folded
in: the full-size map is never written (cnn conv2 at batch 1, 1 thread, best of 300 blocks on the busy
machine: the general loop ~54 us, ``conv_epilogue_pool2`` for 2x2 windows at stride 2 ~30 us, against 16
for the plain epilogue + ~32 for the NumPy pool kernel).

``linear_rows``: ``out[:, lo:hi] = relu?(x @ w[lo:hi].T + b[lo:hi])`` for a few rows of ``x`` (GEMV-like
calls): each weight row is read once for all rows of ``x``; ``fastmath`` lets LLVM vectorise the dot
products (the sums are reassociated: results differ from BLAS's in the last bits).

Measured and not used: a max-pool loop (2x2 windows of the cnn's (1, 64, 24, 24) map): 64-160 us in three
loop orders against 55 for NumPy's four strided ``maximum`` passes.

>>> import numpy as np
>>> from ember.graph import infer_loops
>>> out = np.empty((1, 2, 1, 2), np.float32)
>>> y, b = np.float32([[1, -2, 9], [3, 4, 9]]), np.float32([1, 1])
>>> infer_loops.loop("conv_epilogue")(y, b, out, 3, 3, True, True, np.float32(0))
>>> out.ravel().tolist()
[2.0, 0.0, 4.0, 5.0]
"""
from __future__ import annotations

import numpy as np

from .infer_winograd_loops import FORMS as WINOGRAD_FORMS
from .infer_winograd_loops import jit_helpers as winograd_jit_helpers

_LOOPS: dict = {}


def _conv_epilogue(y, b, out, length, pitch, has_bias, relu, zero):
    """out[i, co, r, c] = relu?(y[co, i*length + r*pitch + c] + b[co]); ``zero``: 0 in y's dtype."""
    n, cout, oh, ow = out.shape
    for i in range(n):
        for co in range(cout):
            bias = b[co] if has_bias else zero
            for r in range(oh):
                start = i * length + r * pitch
                src, dst = y[co, start:start + ow], out[i, co, r]
                for c in range(ow):
                    v = src[c] + bias if has_bias else src[c]
                    if relu and v < zero:  # NaN and -0.0 stay, as in ops.nn.relu_array
                        v = zero
                    dst[c] = v


def _conv_epilogue_pool(y, b, out, length, pitch, has_bias, relu, zero, kh, kw, sh, sw):
    """out[i, co, r, c] = relu?(max over the (kh, kw) window at (r*sh, c*sw) of y + b[co]). The maximum is
    taken first (adding the bias and relu are monotone, float rounding too: the same values as maxing the
    relu'd map, with a quarter of the adds for a 2x2 window); per output row the window's rows are maxed into
    one row, then its columns. NaN propagates as in NumPy's running ``maximum``."""
    n, cout, oh, ow = out.shape
    width = (ow - 1) * sw + kw
    row = np.empty(width, y.dtype)
    for i in range(n):
        for co in range(cout):
            yc = y[co]
            bias = b[co] if has_bias else zero
            for r in range(oh):
                start = i * length + r * sh * pitch
                for c in range(width):
                    row[c] = yc[start + c]
                for dr in range(1, kh):
                    other = start + dr * pitch
                    for c in range(width):
                        v, m = yc[other + c], row[c]
                        row[c] = v if (v > m) | (v != v) else m  # NaN wins, and stays
                dst = out[i, co, r]
                for c in range(ow):
                    m = row[c * sw]
                    for dc in range(1, kw):
                        v = row[c * sw + dc]
                        m = v if (v > m) | (v != v) else m
                    if has_bias:
                        m = m + bias
                    if relu and m < zero:  # NaN and -0.0 stay, as in ops.nn.relu_array
                        m = zero
                    dst[c] = m


def _conv_epilogue_pool2(y, b, out, length, pitch, has_bias, relu, zero):
    """``_conv_epilogue_pool`` for 2x2 windows at stride 2 (constant steps: LLVM vectorises the loads, ~2x the
    general loop). Returns whether a NaN was seen: its ``max`` does not keep NaN as NumPy's does, so the
    caller then runs the general loop."""
    n, cout, oh, ow = out.shape
    bad = False
    for i in range(n):
        for co in range(cout):
            yc = y[co]
            bias = b[co] if has_bias else zero
            for r in range(oh):
                top = i * length + 2 * r * pitch
                low = top + pitch
                dst = out[i, co, r]
                for c in range(ow):
                    a0, a1, a2, a3 = yc[top + 2 * c], yc[top + 2 * c + 1], yc[low + 2 * c], yc[low + 2 * c + 1]
                    bad |= (a0 != a0) | (a1 != a1) | (a2 != a2) | (a3 != a3)
                    m = max(max(a0, a1), max(a2, a3))
                    if has_bias:
                        m = m + bias
                    if relu and m < zero:
                        m = zero
                    dst[c] = m
    return bad


def _linear_rows(x, w, b, out, lo, hi, relu, zero):
    """out[m, n] = relu?(dot(x[m], w[n]) + b[n]) for n in [lo, hi): four weight rows at a time share each
    load of x (1 thread, batch 1, best of 300 blocks on the busy machine: 784x512 29 us against 31 for
    OpenBLAS's sgemv and 36 one row at a time; 9216x128 211 against 244)."""
    rows, k = x.shape
    n = lo
    while n + 4 <= hi:
        w0, w1, w2, w3 = w[n], w[n + 1], w[n + 2], w[n + 3]
        for m in range(rows):
            xm = x[m]
            a0 = a1 = a2 = a3 = zero
            for j in range(k):
                v = xm[j]
                a0 += v * w0[j]
                a1 += v * w1[j]
                a2 += v * w2[j]
                a3 += v * w3[j]
            v = a0 + b[n]
            out[m, n] = zero if relu and v < zero else v
            v = a1 + b[n + 1]
            out[m, n + 1] = zero if relu and v < zero else v
            v = a2 + b[n + 2]
            out[m, n + 2] = zero if relu and v < zero else v
            v = a3 + b[n + 3]
            out[m, n + 3] = zero if relu and v < zero else v
        n += 4
    for r in range(n, hi):
        wr = w[r]
        for m in range(rows):
            xm = x[m]
            acc = zero
            for j in range(k):
                acc += xm[j] * wr[j]
            v = acc + b[r]
            out[m, r] = zero if relu and v < zero else v  # NaN, -0.0 stay as in np.maximum


_FORMS = {"conv_epilogue": _conv_epilogue, "conv_epilogue_pool": _conv_epilogue_pool,
          "conv_epilogue_pool2": _conv_epilogue_pool2, "linear_rows": _linear_rows, **WINOGRAD_FORMS}
# reassociated sums (vectorised dot products); not the no-NaN/no-inf flags, under which LLVM may turn the relu
# select into a maxnum that drops NaN
_FASTMATH = {"linear_rows": {"reassoc", "contract"}}


def loop(name: str):
    """The compiled loop ``name`` (one of ``_FORMS``), compiled on first use."""
    if name not in _LOOPS:
        import numba

        if name in WINOGRAD_FORMS:
            winograd_jit_helpers(numba)
        _LOOPS[name] = cached_njit(_FORMS[name], fastmath=_FASTMATH.get(name, False))
    return _LOOPS[name]


def cached_njit(fn, **opts):
    """``numba.njit(nogil=True, boundscheck=False, **opts)`` with a disk cache where numba finds a place for
    one: a cached build saves compiling in every process; a read-only install without a user cache directory
    compiles per process."""
    import numba

    opts = dict(nogil=True, boundscheck=False, **opts)
    try:
        return numba.njit(cache=True, **opts)(fn)
    except RuntimeError:  # no cache locator
        return numba.njit(**opts)(fn)
