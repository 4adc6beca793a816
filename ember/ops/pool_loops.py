"""numba loops for max pooling's backward where the windows tile the input (kernel == stride, no padding or
dilation, 2-D: the common ``MaxPool2d(k)``): ``pool_scatter_at`` writes each window once, the gradient at the
kept argmax and zeros elsewhere, in one pass (the NumPy form makes k*k strided passes of compare and product).

The written values are ``where(arg == offset, g, 0)``: a zero is +0.0 (the NumPy form's product of a
negative gradient and False gives -0.0; sums downstream do not see the difference).

>>> import numpy as np
>>> from ember.ops import pool_loops
>>> g, arg = np.array([[[[5.0]]]]), np.array([[[[3.0]]]])
>>> out = np.empty((1, 1, 2, 2))
>>> pool_loops.scatter_tiles(g, arg, out, (2, 2)) and out[0, 0].tolist()
[[0.0, 0.0], [0.0, 5.0]]
"""
from __future__ import annotations

from .._jit_math import numba_or_none


def _scatter(g, arg, out, kh, kw):
    n_img, n_ch, ph, pw = g.shape
    height, width = out.shape[2], out.shape[3]
    zero = out.dtype.type(0)
    for n in range(n_img):
        for c in range(n_ch):
            plane, gp, ap = out[n, c], g[n, c], arg[n, c]
            for py in range(ph):
                if kh == 2 and kw == 2:  # the common pool, spelled out (contiguous stores: vectorized)
                    r0, r1, gr, ar = plane[2 * py], plane[2 * py + 1], gp[py], ap[py]
                    for s in range(2 * pw):
                        a, v, odd = ar[s >> 1], gr[s >> 1], s & 1
                        r0[s] = v if a == odd else zero
                        r1[s] = v if a == 2 + odd else zero
                else:
                    for i in range(kh):
                        row = plane[py * kh + i]
                        for px in range(pw):
                            hit, v = int(ap[py, px]) - i * kw, gp[py, px]
                            for j in range(kw):
                                row[px * kw + j] = v if hit == j else zero
                for i in range(kh):  # columns past the last whole window
                    plane[py * kh + i, pw * kw:] = zero
            for r in range(ph * kh, height):  # rows past the last whole window
                plane[r, :] = zero


_JIT: dict = {}


def _loop():
    if "scatter" not in _JIT:
        numba = numba_or_none()
        fn = None
        if numba is not None:
            try:  # a cached build saves the compile per process; a read-only install cannot cache
                fn = numba.njit(cache=True, nogil=True, boundscheck=False)(_scatter)
            except RuntimeError:
                fn = numba.njit(nogil=True, boundscheck=False)(_scatter)
        _JIT["scatter"] = fn
    return _JIT["scatter"]


def applies(kernel) -> bool:
    """Whether ``scatter_tiles`` runs for this kernel: 2-D, with numba (not under ``EMBER_NO_JIT``)."""
    return len(kernel) == 2 and _loop() is not None


def scatter_tiles(g, arg, out, kernel) -> bool:
    """Write max pooling's gradient into ``out`` (N, C, H, W), C-contiguous, from ``g`` and the window offsets
    ``arg`` (N, C, PH, PW) (any strides); True (False, ``out`` untouched, where ``applies`` is False)."""
    if not applies(kernel):
        return False
    _loop()(g, arg, out, kernel[0], kernel[1])
    return True
