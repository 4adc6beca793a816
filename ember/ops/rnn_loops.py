"""The LSTM's time loops as compiled code (``lstm_seq`` and its backward, ``ember/ops/rnn.py``; issue 16).

Each time step multiplies a few batch rows by a whole weight: h (B, H) @ W.T, W (4H, H), forward, and dz (B, 4H)
@ W_hh, backward. OpenBLAS packs the weight into its panel layout on every call, so for B = 32 the packing is a
large share of the call, and a call over half the rows costs nearly what the whole does (one thread: (16, 256)
@ (256, 1024) 163-197 us, (32, ...) 262 us).

- ``matmul_nt(a, w, out)``: ``out = a @ w.T`` with both read row-major (each output a dot product of two
  contiguous rows). Blocks of 4 x 4 outputs keep 16 sums in registers, the k loop is vectorized (fast-math
  reassociation and FMA contraction: the sums' order is fixed by the compiled code, not the data), the weight
  is read once per call while the block's rows stay in cache. One thread, float32 (OpenBLAS in brackets):
  (32, 256) @ (256, 1024) 186 us (265), (32, 1024) @ (1024, 256) 159 us (189), (16, 256) @ (256, 1024) 96 us
  (163); with K = 200 (not a multiple of its 16-wide vectors) 89 us (76): not used there.
- ``forward_block`` / ``backward_block``: a block of batch rows' whole time loop in one call (GEMM, gates,
  cell), so that two blocks run on two cores with one hand-off per sequence; as Python loops they traded the
  GIL at each of a step's six calls. The forward's tanh is ``_tanh32``, a vectorized float32 form (NumPy's
  SIMD tanh cannot be called from compiled code, and numba's is a scalar libm call, ~10x slower).

Results agree with the NumPy/BLAS loop to float rounding (products blocked differently, tanh within a few ulp).

>>> import numpy as np
>>> from ember.ops import rnn_loops
>>> a, w = np.arange(6.0).reshape(2, 3), np.ones((5, 3))
>>> out = np.empty((2, 5))
>>> not rnn_loops.available() or (rnn_loops.matmul_nt(a, w, out), out[:, 0].tolist())[1] == [3.0, 12.0]
True
"""
from __future__ import annotations

import numpy as np

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


# -- whole step loops per block of rows ------------------------------------------------------------------------
# Two row blocks on two cores gain only when each block's time loop is one compiled call: as Python loops (six
# calls a step) they trade the GIL at every call. Inside compiled code the cell's tanh cannot be NumPy's SIMD
# loop, and numba's tanh is a scalar libm call (~10x slower), hence ``tanh32``.
_F32 = np.float32
P1, P3, P5, P7 = _F32(4.89352455891786e-03), _F32(6.37261928875436e-04), _F32(1.48572235717979e-05), _F32(
    5.12229709037114e-08)
P9, P11, P13 = _F32(-8.60467152213735e-11), _F32(2.00018790482477e-13), _F32(-2.76076847742355e-16)
Q0, Q2, Q4, Q6 = _F32(4.89352518554385e-03), _F32(2.26843463243900e-03), _F32(1.18534705686654e-04), _F32(
    1.19825839466702e-06)
CLAMP, TINY, ONE, NINE = _F32(7.90531110763549805), _F32(4e-4), _F32(1), _F32(9)


def _tanh32(x):
    """float32 tanh without libm calls or data-dependent branches (so the loops around it vectorize): a
    rational approximation x P(x^2) / Q(x^2) of the clamped input, within 6 ulp of the true value (4.6 in the
    LSTM loops, which fuse multiply-adds; NumPy's: 1.4; 2M points in [-10, 10]); tiny inputs give themselves,
    |x| >= 9 gives +-1, NaN itself."""
    c = min(max(x, -CLAMP), CLAMP)
    x2 = c * c
    p = ((((((P13 * x2 + P11) * x2 + P9) * x2 + P7) * x2 + P5) * x2 + P3) * x2 + P1) * c
    q = ((Q6 * x2 + Q4) * x2 + Q2) * x2 + Q0
    r = p / q
    r = x if abs(x) < TINY else r
    r = (ONE if x > 0 else -ONE) if abs(x) >= NINE else r  # float32 tanh is +-1 from 9 on
    return x if x != x else r


HALF = _F32(0.5)


def _forward_block(xw, half, w_half, h0, c0, out, act, tcs, lo, hi):
    """``lstm_seq``'s time loop for batch rows [lo, hi): every array whole and C-contiguous (see rnn.py)."""
    hsz = h0.shape[1]
    h, c = h0[lo:hi], c0[lo:hi]
    for t in range(xw.shape[0]):
        z, xt = act[t, lo:hi], xw[t, lo:hi]
        _matmul_nt_jit(h, w_half, z)
        for r in range(hi - lo):
            zr, xr = z[r], xt[r]
            for col in range(4 * hsz):
                zr[col] = _tanh32_jit(zr[col] + xr[col] * half[col])
        h_new, c_new, tc = out[0, t, lo:hi], out[1, t, lo:hi], tcs[t, lo:hi]
        for r in range(hi - lo):
            zr, cr, nr, tr, hr = z[r], c[r], c_new[r], tc[r], h_new[r]
            for j in range(hsz):
                i = HALF * zr[j] + HALF
                f = HALF * zr[hsz + j] + HALF
                g = zr[2 * hsz + j]
                o = HALF * zr[3 * hsz + j] + HALF
                zr[j], zr[hsz + j], zr[3 * hsz + j] = i, f, o
                cv = f * cr[j] + i * g
                tv = _tanh32_jit(cv)
                nr[j], tr[j], hr[j] = cv, tv, o * tv
        h, c = h_new, c_new


def _cell_grads(dh, dc, g_h, g_c, bo, a, act, dz):
    """One backward step's elementwise work for a block of rows: ``dz`` (rows, 4H), the gate pre-activations'
    gradients, from the incoming ``g_h``, ``g_c`` and the carried ``dh``, ``dc``; ``dc`` carried one step back
    through the forget gate (``act``: the step's gate activations). ``a``, ``bo``: the step's factors."""
    rows, hsz = dh.shape
    for r in range(rows):
        for j in range(hsz):
            hv = dh[r, j] + g_h[r, j]
            cv = dc[r, j] + g_c[r, j] + hv * bo[r, j]
            dz[r, j] = a[r, j] * cv
            dz[r, hsz + j] = a[r, hsz + j] * cv
            dz[r, 2 * hsz + j] = a[r, 2 * hsz + j] * cv
            dz[r, 3 * hsz + j] = a[r, 3 * hsz + j] * hv
            dc[r, j] = cv * act[r, hsz + j]


def _backward_block(g, a, bo, act, w_t, res, lo, hi):
    """``lstm_seq_grad``'s time loop for batch rows [lo, hi): ``a``, ``bo`` the block's factors (rnn.py's
    ``_lstm_factors``), the other arrays whole and C-contiguous; ``w_t`` is W_hh.T."""
    t_len, rows, h4 = a.shape
    hsz = h4 // 4
    dh, dc = np.zeros((rows, hsz), a.dtype), np.zeros((rows, hsz), a.dtype)
    for t in range(t_len - 1, -1, -1):
        dz = res[t, lo:hi]
        _cell_grads_jit(dh, dc, g[0, t, lo:hi], g[1, t, lo:hi], bo[t], a[t], act[t, lo:hi], dz)
        _matmul_nt_jit(dz, w_t, dh)
    res[t_len, lo:hi, :hsz] = dh
    res[t_len, lo:hi, hsz:2 * hsz] = dc


_JIT: dict = {}
_matmul_nt_jit = _tanh32_jit = _cell_grads_jit = None  # set by _compiled() before the loops compile (they call them)


def _compiled() -> dict:
    """The compiled loops, made on first use (numba is imported then, not with ember), or {} without numba."""
    global _matmul_nt_jit, _tanh32_jit, _cell_grads_jit
    if "loops" not in _JIT:
        _JIT["loops"] = {}
        nt = loop_jit(_matmul_nt, reassoc=True, contract=True)
        if nt is not None:  # the helpers first: the block loops find them as globals when they compile
            _matmul_nt_jit, _tanh32_jit = nt, loop_jit(_tanh32, inline=True, numpy_errors=True)
            _cell_grads_jit = loop_jit(_cell_grads, inline=True)
            flags = dict(reassoc=True, contract=True, numpy_errors=True)
            _JIT["loops"] = dict(nt=nt, cell_grads=_cell_grads_jit, forward=loop_jit(_forward_block, **flags),
                                 backward=loop_jit(_backward_block, **flags))
    return _JIT["loops"]


def available() -> bool:
    """Whether the compiled loops exist (numba installed, JIT not turned off)."""
    return bool(_compiled())


def matmul_nt(a, w, out) -> None:
    """``out = a @ w.T`` for C-contiguous 2-D float arrays of one dtype: ``a`` (M, K), ``w`` (N, K), ``out``
    (M, N)."""
    _compiled()["nt"](a, w, out)


def cell_grads(dh, dc, g_h, g_c, bo, a, act, dz) -> None:
    """``_cell_grads`` compiled (the NumPy/BLAS loop's backward step; call only where ``available()``)."""
    _compiled()["cell_grads"](dh, dc, g_h, g_c, bo, a, act, dz)


def forward_block(xw, half, w_half, h0, c0, out, act, tcs, lo, hi) -> None:
    """``lstm_seq``'s time loop for batch rows [lo, hi), compiled (see ``_forward_block``)."""
    _compiled()["forward"](xw, half, w_half, h0, c0, out, act, tcs, lo, hi)


def backward_block(g, a, bo, act, w_t, res, lo, hi) -> None:
    """``lstm_seq_grad``'s time loop for batch rows [lo, hi), compiled (see ``_backward_block``)."""
    _compiled()["backward"](g, a, bo, act, w_t, res, lo, hi)
