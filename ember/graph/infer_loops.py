"""Compiled loops (numba) for the inference kernel of ``conv`` (``ember/ops/layers/conv_infer.py``), handed
to it by the CPU executor when numba is there (the ``jit`` extra).

``conv_epilogue``: the GEMM's (Cout, N*L) result -> NCHW output, bias added and relu applied, in one pass
(the NumPy form makes three: bias, relu, the copy of the valid positions; on the cnn's conv2 at batch 1,
CPU time on a busy machine, 21 us against ~60). The same float additions as the NumPy form, and relu keeps
NaN and -0.0 as ``np.maximum(v, 0)`` does: the same bits.

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
                    if relu and v < zero:  # NaN and -0.0 stay, as with np.maximum(v, 0)
                        v = zero
                    dst[c] = v


_FORMS = {"conv_epilogue": _conv_epilogue}


def loop(name: str):
    """The compiled loop ``name`` ("conv_epilogue"), compiled on first use."""
    if name not in _LOOPS:
        import numba

        fn = _FORMS[name]
        try:  # a cached build saves compiling in every process; a read-only install cannot cache
            _LOOPS[name] = numba.njit(cache=True, boundscheck=False, nogil=True)(fn)
        except RuntimeError:
            _LOOPS[name] = numba.njit(boundscheck=False, nogil=True)(fn)
    return _LOOPS[name]
