"""numba loops for max pooling in training where the windows tile the input (kernel == stride, no padding or
dilation, 2-D: the common ``MaxPool2d(k)``), one pass each where the NumPy forms make k*k strided passes:
``pool_max_arg`` reads each window once for its max and argmax; ``pool_scatter_at`` writes each window once,
the gradient at the kept argmax and zeros elsewhere.

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

from .._jit_math import loop_jit


def _scatter(g, arg, out, kh, kw):
    n_img, n_ch, ph, pw = g.shape
    height = out.shape[2]
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


def first_max4(v0, v1, v2, v3):
    """(max, flat offset) of a 2x2 window's values in row-major order: the first maximum, or the last NaN
    (``conv._running_argmax``'s choice); selects, not branches (random data mispredicted them: 3.5 ms against
    0.44 for the cnn's pool). Shared with the pooled Winograd output transform (``winograd_pool``)."""
    t = (v1 > v0) | (v1 != v1)
    best, arg = (v1 if t else v0), (1 if t else 0)
    t = (v2 > best) | (v2 != v2)
    best, arg = (v2 if t else best), (2 if t else arg)
    t = (v3 > best) | (v3 != v3)
    return (v3 if t else best), (3 if t else arg)


def _max_arg(x, packed, kh, kw):
    """packed[0] = the max over each window, packed[1] = its flat offset: the first maximum, or the last NaN
    (``conv._running_argmax``'s choice)."""
    _, n_img, n_ch, ph, pw = packed.shape
    for n in range(n_img):
        for c in range(n_ch):
            plane, best_p, arg_p = x[n, c], packed[0, n, c], packed[1, n, c]
            for py in range(ph):
                best_r, arg_r = best_p[py], arg_p[py]
                if kh == 2 and kw == 2:  # the common pool, spelled out
                    r0, r1 = plane[2 * py], plane[2 * py + 1]
                    for px in range(pw):
                        best_r[px], arg_r[px] = first_max4(r0[2 * px], r0[2 * px + 1], r1[2 * px], r1[2 * px + 1])
                else:
                    for px in range(pw):
                        best, arg = plane[py * kh, px * kw], 0
                        for k in range(1, kh * kw):
                            v = plane[py * kh + k // kw, px * kw + k % kw]
                            if v > best or v != v:
                                best, arg = v, k
                        best_r[px], arg_r[px] = best, arg


_JIT: dict = {}


def _compiled(fn):
    if fn.__name__ not in _JIT:
        global first_max4  # the loops call it: numba must find the compiled function here
        first_max4 = compiled_first_max4() or first_max4
        _JIT[fn.__name__] = loop_jit(fn)
    return _JIT[fn.__name__]


def compiled_first_max4():
    """``first_max4`` compiled with numba (None without it), for loops that call it."""
    if "first_max4" not in _JIT:
        _JIT["first_max4"] = loop_jit(first_max4, inline=True)
    return _JIT["first_max4"]


def _loop():
    return _compiled(_scatter)


def applies(kernel) -> bool:
    """Whether ``scatter_tiles`` runs for this kernel: 2-D, with numba (not under ``EMBER_NO_JIT``)."""
    return len(kernel) == 2 and _loop() is not None


def max_arg_tiles(x, packed, kernel) -> bool:
    """``pool_max_arg``'s packed (max, argmax) of ``x`` (N, C, H, W) into ``packed`` (2, N, C, PH, PW) (any
    strides); True (False, ``packed`` untouched, where ``applies`` is False)."""
    if not applies(kernel):
        return False
    _compiled(_max_arg)(x, packed, kernel[0], kernel[1])
    return True


def scatter_tiles(g, arg, out, kernel) -> bool:
    """Write max pooling's gradient into ``out`` (N, C, H, W), C-contiguous, from ``g`` and the window offsets
    ``arg`` (N, C, PH, PW) (any strides); True (False, ``out`` untouched, where ``applies`` is False)."""
    if not applies(kernel):
        return False
    _loop()(g, arg, out, kernel[0], kernel[1])
    return True
