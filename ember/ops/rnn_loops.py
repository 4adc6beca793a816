"""A numba GEMM for the LSTM recurrence's per-step products (``lstm_seq``, ``ember/ops/rnn.py``; issue 16).

Each time step multiplies a few batch rows by a whole weight: h (B, H) @ W.T, W (4H, H), forward, and dz (B, 4H)
@ W_hh, backward. OpenBLAS packs the weight into its panel layout on every call, so for B = 32 the packing is a
large share of the call, and a call over half the rows costs nearly what the whole does (one thread: (16, 256)
@ (256, 1024) 181-197 us, (32, ...) 262 us).

``matmul_nt(a, w, out)``: ``out = a @ w.T`` with both operands read in their row-major layout (each output
element is a dot product of a row of ``a`` and a row of ``w``, contiguous in memory). Blocks of 4 x 4 outputs
keep 16 sums in registers; the k loop is vectorized (numba with ``fastmath`` reassociation: the sums' order is
fixed by the compiled code, not the data); the weight is read once per call, four rows at a time, while the
block's rows of ``a`` stay in cache. Measured, one thread, float32 (this machine; OpenBLAS's call in brackets):
(32, 256) @ (256, 1024) 229 us (262), (32, 1024) @ (1024, 256) 179 us (217), (16, 256) @ (256, 1024) 98 us
(190). So the compiled executor now splits a batch of 32 over two cores (``graph/rnn_rows.py``).

Results agree with a BLAS product to float rounding (its sums are blocked differently).

>>> import numpy as np
>>> from ember.ops import rnn_loops
>>> a, w = np.arange(6.0).reshape(2, 3), np.ones((5, 3))
>>> out = np.empty((2, 5))
>>> rnn_loops.matmul_nt(a, w, out) or out[:, 0].tolist()
[3.0, 12.0]
"""
from __future__ import annotations

from .._jit_math import loop_jit


def _matmul_nt(a, w, out):
    m, kk = a.shape
    n = w.shape[0]
    zero = out.dtype.type(0)
    m4, n4 = m - m % 4, n - n % 4
    for c in range(0, n4, 4):  # the weight's rows read once each, four at a time
        b0, b1, b2, b3 = w[c], w[c + 1], w[c + 2], w[c + 3]
        for r in range(0, m4, 4):
            a0, a1, a2, a3 = a[r], a[r + 1], a[r + 2], a[r + 3]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
            for k in range(kk):
                x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
                y0, y1, y2, y3 = b0[k], b1[k], b2[k], b3[k]
                s00 += x0 * y0
                s01 += x0 * y1
                s02 += x0 * y2
                s03 += x0 * y3
                s10 += x1 * y0
                s11 += x1 * y1
                s12 += x1 * y2
                s13 += x1 * y3
                s20 += x2 * y0
                s21 += x2 * y1
                s22 += x2 * y2
                s23 += x2 * y3
                s30 += x3 * y0
                s31 += x3 * y1
                s32 += x3 * y2
                s33 += x3 * y3
            o0, o1, o2, o3 = out[r], out[r + 1], out[r + 2], out[r + 3]
            o0[c], o0[c + 1], o0[c + 2], o0[c + 3] = s00, s01, s02, s03
            o1[c], o1[c + 1], o1[c + 2], o1[c + 3] = s10, s11, s12, s13
            o2[c], o2[c + 1], o2[c + 2], o2[c + 3] = s20, s21, s22, s23
            o3[c], o3[c + 1], o3[c + 2], o3[c + 3] = s30, s31, s32, s33
    for r in range(m):  # the rows and columns left over from the 4 x 4 blocks, one dot product each
        for c in range(n4 if r < m4 else 0, n):
            ar, bc = a[r], w[c]
            s = zero
            for k in range(kk):
                s += ar[k] * bc[k]
            out[r, c] = s


_JIT: dict = {}


def _kernel():
    if "nt" not in _JIT:
        _JIT["nt"] = loop_jit(_matmul_nt, reassoc=True, contract=True)
    return _JIT["nt"]


def available() -> bool:
    """Whether the compiled loop exists (numba installed, JIT not turned off)."""
    return _kernel() is not None


def matmul_nt(a, w, out) -> None:
    """``out = a @ w.T`` for C-contiguous 2-D float arrays of one dtype: ``a`` (M, K), ``w`` (N, K), ``out``
    (M, N)."""
    _kernel()(a, w, out)
