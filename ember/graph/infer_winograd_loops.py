"""Compiled loops (numba) of the small-batch Winograd F(2x2, 3x3) inference convolution
(``ember/ops/layers/conv_winograd_infer.py``), handed to it by the CPU executor through ``infer_loops.loop``.

Tiles are numbered image by image, row by row: tile ``t = (i * th + ty) * tw + tx`` covers output rows
``2ty, 2ty+1`` and columns ``2tx, 2tx+1`` of image ``i``; its 4x4 input tile starts at ``(2ty, 2tx)`` of the
zero-padded input. ``v`` and ``m`` hold the 16 transform-domain planes as ``(16, channels, tiles)``, so the
products are 16 GEMMs ``U_k (Cout, C) @ v_k (C, tiles)`` whose result rows are contiguous over tiles (the
output loops read along them).

``winograd_input``: ``v = B^T d B`` for every channel and tile. ``winograd_output``: ``A^T m A`` + bias,
relu, written into the NCHW output (an odd output size drops the spare row or column of the last tiles).
Each loop takes a range of (input or output) channels: ``winograd_split`` runs blocks of them on several
cores.
``winograd_output_pool2``: the same with a 2x2 stride-2 max pooling folded in: each pooling window is
exactly one output tile, so the maximum of the tile's four values is taken before the bias and relu (both
monotone, so the same values). Inputs are finite (the kernel checks), so no NaN reaches ``max``.

>>> import numpy as np
>>> from ember.graph import infer_loops
>>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
>>> v = np.empty((16, 1, 1), np.float32)
>>> infer_loops.loop("winograd_input")(x, v, 1, 1, 0, 1)
>>> float(v[5, 0, 0])  # (d11 + d21) + (d12 + d22): the middle 2x2 of the tile, summed
30.0
"""
from __future__ import annotations


def _winograd_input(x, v, th, tw, c0, c1):
    """v[:, c, t] = B^T d B for the 4x4 tile d of channel c in [c0, c1) at tile t (x: padded (N, C, >= 2th+2,
    >= 2tw+2))."""
    n = x.shape[0]
    for i in range(n):
        for c in range(c0, c1):
            xc = x[i, c]
            for ty in range(th):
                y0 = 2 * ty
                r0, r1, r2, r3 = xc[y0], xc[y0 + 1], xc[y0 + 2], xc[y0 + 3]
                base = (i * th + ty) * tw
                for tx in range(tw):
                    t, x0 = base + tx, 2 * tx
                    # B^T d: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3), per column of the tile
                    a0, a1, a2, a3 = (r0[x0] - r2[x0], r0[x0 + 1] - r2[x0 + 1], r0[x0 + 2] - r2[x0 + 2],
                                      r0[x0 + 3] - r2[x0 + 3])
                    b0, b1, b2, b3 = (r1[x0] + r2[x0], r1[x0 + 1] + r2[x0 + 1], r1[x0 + 2] + r2[x0 + 2],
                                      r1[x0 + 3] + r2[x0 + 3])
                    e0, e1, e2, e3 = (r2[x0] - r1[x0], r2[x0 + 1] - r1[x0 + 1], r2[x0 + 2] - r1[x0 + 2],
                                      r2[x0 + 3] - r1[x0 + 3])
                    d0, d1, d2, d3 = (r1[x0] - r3[x0], r1[x0 + 1] - r3[x0 + 1], r1[x0 + 2] - r3[x0 + 2],
                                      r1[x0 + 3] - r3[x0 + 3])
                    # (...) B: the same combination along each row
                    v[0, c, t], v[1, c, t], v[2, c, t], v[3, c, t] = a0 - a2, a1 + a2, a2 - a1, a1 - a3
                    v[4, c, t], v[5, c, t], v[6, c, t], v[7, c, t] = b0 - b2, b1 + b2, b2 - b1, b1 - b3
                    v[8, c, t], v[9, c, t], v[10, c, t], v[11, c, t] = e0 - e2, e1 + e2, e2 - e1, e1 - e3
                    v[12, c, t], v[13, c, t], v[14, c, t], v[15, c, t] = d0 - d2, d1 + d2, d2 - d1, d1 - d3


def _tile_sums(m, o, t):
    """A^T m A of tile t for output channel o: its four outputs (top-left, top-right, bottom-left, ...)."""
    p0 = m[0, o, t] + m[4, o, t] + m[8, o, t]
    p1 = m[1, o, t] + m[5, o, t] + m[9, o, t]
    p2 = m[2, o, t] + m[6, o, t] + m[10, o, t]
    p3 = m[3, o, t] + m[7, o, t] + m[11, o, t]
    q0 = m[4, o, t] - m[8, o, t] - m[12, o, t]
    q1 = m[5, o, t] - m[9, o, t] - m[13, o, t]
    q2 = m[6, o, t] - m[10, o, t] - m[14, o, t]
    q3 = m[7, o, t] - m[11, o, t] - m[15, o, t]
    return p0 + p1 + p2, p1 - p2 - p3, q0 + q1 + q2, q1 - q2 - q3


# The tile-row loops run to ``th``, the count the tile index is made of: with another bound (the pooled rows,
# or a size read from ``out``) LLVM did not vectorise the tile loop (2.5x slower, measured); spare rows and
# columns are dropped by the caller.
def _winograd_output(m, b, out, th, tw, has_bias, relu, zero, o0, o1):
    """out[i, o, 2ty + r, 2tx + s] = relu?((A^T m A)[r, s] + b[o]); out is (N, Cout, 2th, 2tw) (the caller
    drops a spare row or column)."""
    n = out.shape[0]
    for i in range(n):
        for o in range(o0, o1):
            bias = b[o] if has_bias else zero
            for ty in range(th):
                base = (i * th + ty) * tw
                for tx in range(tw):
                    y00, y01, y10, y11 = _tile_sums(m, o, base + tx)
                    if has_bias:
                        y00, y01, y10, y11 = y00 + bias, y01 + bias, y10 + bias, y11 + bias
                    if relu:
                        y00, y01 = (zero if y00 < zero else y00), (zero if y01 < zero else y01)
                        y10, y11 = (zero if y10 < zero else y10), (zero if y11 < zero else y11)
                    r, c = 2 * ty, 2 * tx  # interleaved stores: ~110 us for the cnn's conv2 map, the pool ~33
                    out[i, o, r, c], out[i, o, r, c + 1], out[i, o, r + 1, c], out[i, o, r + 1, c + 1] = \
                        y00, y01, y10, y11


def _winograd_output_pool2(m, b, out, th, tw, has_bias, relu, zero, o0, o1):
    """out[i, o, r, s] = relu?(max of tile (r, s)'s four outputs + b[o]): a 2x2 stride-2 max pooling of the
    conv's output, whose windows are the tiles; out is (N, Cout, th, tw) (the caller drops a spare row or
    column: the pooled size rounds down)."""
    n = out.shape[0]
    for i in range(n):
        for o in range(o0, o1):
            bias = b[o] if has_bias else zero
            for ty in range(th):
                base = (i * th + ty) * tw
                for tx in range(tw):
                    y00, y01, y10, y11 = _tile_sums(m, o, base + tx)
                    val = max(max(y00, y01), max(y10, y11))
                    if has_bias:
                        val = val + bias
                    out[i, o, ty, tx] = zero if relu and val < zero else val


def jit_helpers(numba) -> None:
    """Compile the helper the loops call: numba resolves it as a global when a loop is compiled (inlined)."""
    global _tile_sums
    if not hasattr(_tile_sums, "py_func"):
        _tile_sums = numba.njit(inline="always", nogil=True, boundscheck=False)(_tile_sums)


FORMS = {"winograd_input": _winograd_input, "winograd_output": _winograd_output,
         "winograd_output_pool2": _winograd_output_pool2}
