"""The compiled bands of a small-batch 3x3 convolution split over ``infer_pool`` (``conv_bands`` makes the
descriptors and says why): per band, the Winograd F(2x2, 3x3) input transform, 16
GEMMs through ``cblas_sgemm`` by address (``blas_calls``), and the output transform with the epilogue.

A band is one row of an int64 descriptor (``D_*``: addresses, sizes and steps in float32 elements). Tiles are
numbered (image of the band, tile row of the band, tile column); ``v`` is 16 rows of (C, tiles), ``m`` 16 rows
of (O, tiles), row ``4a + b`` holding element (a, b) of the transformed 4x4 tile (``ember.ops.winograd``'s
layout, whose filter transform U (16, O, C) the kernel shares). The output transform runs as unit-stride passes
over the band's tiles (LLVM vectorises them: the same transform a tile at a time with its 16 values stored
per tile measured 3-5x slower); relu keeps NaN and -0.0 as ``np.maximum(v, 0)`` does, and every value is
checked for NaN/inf (``D_BAD``: the caller then runs the columns form).

These loops are compiled into ``infer_pool_loops``' helper loop (numba caches a function with the code of
the functions it calls: editing this file in a source checkout needs the ``__pycache__`` ``*.nbi``/``*.nbc``
files of both removed; an install replaces both files, which invalidates both).
"""
from __future__ import annotations

import numba
import numpy as np

from . import atomics as at
from . import blas_calls

(D_X, D_U, D_B, D_OUT, D_V, D_VSTEP, D_M, D_MSTEP, D_TMP, D_C, D_O, D_NIMG, D_TY0, D_TH, D_TW, D_OH, D_HP, D_WP,
 D_OCS, D_OIS, D_FW, D_RELU, D_POOL, D_SGEMM, D_WIDTH, D_BAD) = range(26)
D_SIZE = 32  # words per band (a 256-byte row)


def _row_tf(x, r, q):
    """B^T along four elements of a row from ``x[r + q]``."""
    a, b, c, d = x[r + q], x[r + q + 1], x[r + q + 2], x[r + q + 3]
    return a - c, b + c, c - b, b - d


def _input_tf(x, v, c, ty0, th, tw, nimg, hp, wp):
    """v[4a + b, ci * tiles + (j * th + ty - ty0) * tw + tx] = (B^T d B)[a, b] for the 4x4 tile d of image j's
    padded plane ci at rows 2ty.., columns 2tx.. (tile rows [ty0, ty0 + th))."""
    tiles = nimg * th * tw
    for j in range(nimg):
        for ci in range(c):
            plane = (j * c + ci) * hp * wp
            for ty in range(ty0, ty0 + th):
                r0 = plane + 2 * ty * wp
                base = ci * tiles + (j * th + ty - ty0) * tw
                for tx in range(tw):
                    a0, a1, a2, a3 = _row_tf(x, r0, 2 * tx)
                    b0, b1, b2, b3 = _row_tf(x, r0 + wp, 2 * tx)
                    c0, c1, c2, c3 = _row_tf(x, r0 + 2 * wp, 2 * tx)
                    d0, d1, d2, d3 = _row_tf(x, r0 + 3 * wp, 2 * tx)
                    t = base + tx
                    v[0, t], v[1, t], v[2, t], v[3, t] = a0 - c0, a1 - c1, a2 - c2, a3 - c3
                    v[4, t], v[5, t], v[6, t], v[7, t] = b0 + c0, b1 + c1, b2 + c2, b3 + c3
                    v[8, t], v[9, t], v[10, t], v[11, t] = c0 - b0, c1 - b1, c2 - b2, c3 - b3
                    v[12, t], v[13, t], v[14, t], v[15, t] = b0 - d0, b1 - d1, b2 - d2, b3 - d3


def _tiles_out(m, o, tiles, y):
    """y[k, f] (k = 2 * row + column in the 2x2 output tile) = A^T M A of tile f of output channel o; returns
    whether a value is NaN or infinite."""
    q = o * tiles
    bad = False
    for f in range(tiles):
        i = q + f
        s0, s1 = m[0, i] + m[4, i] + m[8, i], m[1, i] + m[5, i] + m[9, i]
        s2, s3 = m[2, i] + m[6, i] + m[10, i], m[3, i] + m[7, i] + m[11, i]
        d0, d1 = m[4, i] - m[8, i] - m[12, i], m[5, i] - m[9, i] - m[13, i]
        d2, d3 = m[6, i] - m[10, i] - m[14, i], m[7, i] - m[11, i] - m[15, i]
        y0, y1, y2, y3 = s0 + s1 + s2, s1 - s2 - s3, d0 + d1 + d2, d1 - d2 - d3
        bad |= (y0 - y0 != 0) | (y1 - y1 != 0) | (y2 - y2 != 0) | (y3 - y3 != 0)
        y[0, f], y[1, f], y[2, f], y[3, f] = y0, y1, y2, y3
    return bad


def _output_tf(m, bias, out, y, has_bias, relu, pool, nimg, ty0, th, tw, n_out, ocs, ois, fw, oh):
    """The band's output rows: relu?(tile + b), or with ``pool`` 2 relu?(max of the tile + b) into the pooled
    plane (the maximum first: adding the bias and relu are monotone); returns whether NaN/inf was met."""
    zero = np.float32(0)
    tiles, bad = nimg * th * tw, False
    for o in range(n_out):
        bad |= _tiles_out(m, o, tiles, y)
        bo = bias[o] if has_bias else zero
        for k in range(1 if pool == 2 else 4):
            yk = y[k]
            for f in range(tiles):
                v = yk[f]
                if pool == 2:
                    a = v if v > y[1, f] else y[1, f]
                    e = y[2, f] if y[2, f] > y[3, f] else y[3, f]
                    v = a if a > e else e
                v = v + bo if has_bias else v
                yk[f] = zero if relu and v < zero else v
        for j in range(nimg):
            for ty in range(ty0, ty0 + th):
                src = (j * th + ty - ty0) * tw
                if pool == 2:
                    if ty < oh // 2:
                        dst = j * ois + o * ocs + ty * fw
                        for tx in range(fw):
                            out[dst + tx] = y[0, src + tx]
                    continue
                for dr in range(2):
                    r = 2 * ty + dr
                    if r < oh:
                        dst, even, odd = j * ois + o * ocs + r * fw, y[2 * dr], y[2 * dr + 1]
                        for tx in range(fw // 2):
                            out[dst + 2 * tx], out[dst + 2 * tx + 1] = even[src + tx], odd[src + tx]
                        if fw & 1:
                            out[dst + fw - 1] = even[src + fw // 2]
    return bad


def _band(desc, i):
    d = desc[i]
    c, n_out, nimg, th, tw = d[D_C], d[D_O], d[D_NIMG], d[D_TH], d[D_TW]
    tiles, vstep, mstep, hp, wp = nimg * th * tw, d[D_VSTEP], d[D_MSTEP], d[D_HP], d[D_WP]
    x = numba.carray(at.f32_at(d[D_X]), (nimg * c * hp * wp,))
    v = numba.carray(at.f32_at(d[D_V]), (16, vstep))
    m = numba.carray(at.f32_at(d[D_M]), (16, mstep))
    _input_tf(x, v, c, d[D_TY0], th, tw, nimg, hp, wp)
    for k in range(16):  # m[k] (O, tiles) = U[k] (O, C) @ v[k] (C, tiles)
        blas_calls.sgemm(d[D_SGEMM], d[D_WIDTH], n_out, tiles, c, d[D_U] + 4 * k * n_out * c, c,
                         d[D_V] + 4 * k * vstep, tiles, d[D_M] + 4 * k * mstep, tiles)
    ocs, ois = d[D_OCS], d[D_OIS]
    out = numba.carray(at.f32_at(d[D_OUT]), ((nimg - 1) * ois + n_out * ocs,))
    has_bias = d[D_B] != 0
    bias = numba.carray(at.f32_at(d[D_B] if has_bias else d[D_TMP]), (n_out,))
    y = numba.carray(at.f32_at(d[D_TMP]), (4, tiles))
    bad = _output_tf(m, bias, out, y, has_bias, d[D_RELU] != 0, d[D_POOL], nimg, d[D_TY0], th, tw, n_out, ocs,
                     ois, d[D_FW], d[D_OH])
    d[D_BAD] = 1 if bad else 0


def _bands_at(addr, bands, first, last):
    """Bands [first, last) of the descriptor at ``addr`` (``bands`` rows), on this thread."""
    desc = numba.carray(at.i64_at(addr), (bands, D_SIZE))
    for i in range(first, last):
        _band(desc, i)


def _njit(fn, **extra):
    try:
        return numba.njit(cache=True, nogil=True, boundscheck=False, **extra)(fn)
    except RuntimeError:  # no cache locator (a read-only install without a user cache directory)
        return numba.njit(nogil=True, boundscheck=False, **extra)(fn)


_row_tf = _njit(_row_tf, inline="always")
_input_tf, _tiles_out, _output_tf, _band = _njit(_input_tf), _njit(_tiles_out), _njit(_output_tf), _njit(_band)
conv_bands_at = _njit(_bands_at)
