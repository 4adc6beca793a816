"""``winograd_conv_pool``: a Winograd convolution, its bias and a 2x2 stride-2 max pool in one pass, for the
compiled training step (the graph pass ``graph/passes/conv_pool.py`` puts it where ``pool_max_arg`` reads
``winograd_conv(x, w) + b``).

F(2x2, 3x3)'s output transform yields the convolution two rows and two columns at a time: each output tile is
exactly one window of a 2x2, stride-2 pool. So the pooled maximum and its argmax are taken from the tile while
it is in registers, and the full-size convolution output (the cnn's conv2: 9.4 MB, written once and read by
the bias add and the pool) is never made.

The result is ``pool_max_arg``'s packed form, (2, N, O, OH // 2, OW // 2): the maximum of ``conv + b`` over
each window, and the window's flat offset of it (row-major, in the result's dtype): the first maximum, or
the last NaN when there is one, as ``pool_max_arg`` picks. The values are those of the three separate ops bit
for bit: the same sums in the same order, one float add of the bias, then the comparisons.

>>> import numpy as np
>>> from ember.ops import winograd_pool
>>> x, w, b = np.ones((1, 1, 6, 6), np.float32), np.ones((2, 1, 3, 3), np.float32), np.array([0, 1], np.float32)
>>> winograd_pool.conv_pool_fwd(np, x, w, b, padding=((0, 0), (0, 0)))[:, 0, :, 0, 0]  # (max, argmax) x 2
array([[ 9., 10.],
       [ 0.,  0.]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from .._jit_math import loop_jit
from .._threads import hold_blas_lingering
from . import _tflite, pool_loops, winograd
from ._core import Aval, apply, register, unsupported
from ._rules import differ
from .conv import _pool_max_arg_fwd

POOL = {"kernel": (2, 2), "stride": (2, 2), "padding": ((0, 0), (0, 0)), "dilation": (1, 1)}
_tile_outputs = winograd._tile_outputs  # these two replaced by their compiled forms in ``_loop``
first_max4 = pool_loops.first_max4


def _pooled_output_tf(m, bias, packed, n0, th, tw1, tmp):
    """packed[:, n0 + n, o] = (max, argmax) over each 2x2 tile of A^T M A + bias[o] (``winograd._tile_outputs``'s
    sums); tiles past the pooled extent (an odd output's last row or column) are not read."""
    _, _, n_out, ph, pw = packed.shape
    per = th * tw1
    for n in range(m.shape[2] // per):
        q = n * per
        for o in range(n_out):
            _tile_outputs(m, o, q, per, tmp)
            bo = bias[o]
            t00, t01, t10, t11 = tmp[8], tmp[9], tmp[10], tmp[11]
            for py in range(ph):
                best_row, arg_row, base = packed[0, n0 + n, o, py], packed[1, n0 + n, o, py], py * tw1
                for px in range(pw):
                    f = base + px
                    best_row[px], arg_row[px] = first_max4(t00[f] + bo, t01[f] + bo, t10[f] + bo, t11[f] + bo)


_JIT: dict = {}


def _loop():
    """The pooled output transform compiled with numba, or None (no numba, ``EMBER_NO_JIT`` set)."""
    if "loop" not in _JIT:
        fn = None
        if winograd.available():  # (numba there; compiles winograd's helper)
            global _tile_outputs, first_max4  # the loop calls them: numba must find compiled functions here
            _tile_outputs, first_max4 = winograd._tile_outputs, pool_loops.compiled_first_max4()
            fn = loop_jit(_pooled_output_tf)
        _JIT["loop"] = fn
    return _JIT["loop"]


def conv_pool_fwd(xp, x, w, b, padding):
    """(2, N, O, OH // 2, OW // 2): ``pool_max_arg(winograd_conv(x, w) + b[:, None, None])`` in one pass."""
    winograd._numpy_only("winograd_conv_pool", xp)
    pooled = _pooled_sizes(x, w, b, padding)
    x = np.ascontiguousarray(x)
    geom = winograd._Geom(x.shape, padding)
    u = winograd._filter_transform(w, False)
    loop = _loop()
    if loop is None:  # the three ops, as NumPy passes
        y = winograd._conv_tiles(x, u, geom) + b.reshape(-1, 1, 1)
        return _pool_max_arg_fwd(xp, y, **POOL)
    threads = winograd._threads()
    hold_blas_lingering()
    packed = np.empty((2, geom.n, w.shape[0]) + pooled, dtype=x.dtype)
    bias = np.ascontiguousarray(b, dtype=x.dtype)
    tw1 = geom.tw + 1
    winograd.transform_blocks(x, u, geom, threads, lambda m, n0, tmp: loop(m, bias, packed, n0, geom.th, tw1, tmp))
    return packed


def _pooled_sizes(x, w, b, padding):
    """The pooled output's (height, width) (None where unknown); raises on mismatched inputs."""
    outs = winograd._conv_rule(x, w, padding, False).shape[2:]
    if len(b.shape) != 1 or differ(b.shape[0], w.shape[0]) or b.dtype != x.dtype:
        raise RuntimeError(f"winograd_conv_pool: bias {tuple(b.shape)} {b.dtype} does not match weight "
                           f"{tuple(w.shape)} {x.dtype}: expected ({w.shape[0]},) {x.dtype}")
    if any(o is not None and o < 2 for o in outs):
        raise RuntimeError(f"winograd_conv_pool: the convolution's output {tuple(outs)} is smaller than the 2x2 pool")
    return tuple(None if o is None else o // 2 for o in outs)


def _rule(x, w, b, padding):
    return Aval((2, x.shape[0], w.shape[0]) + _pooled_sizes(x, w, b, padding), x.dtype, x.device)


def _vjp(g, out, x, w, b, padding):
    size = tuple(s + lo + hi - 2 for s, (lo, hi) in zip(x.shape[2:], padding))
    gy = apply("pool_scatter_at", g[0], out[1].detach(), size=size, **POOL)
    dx, dw = winograd._conv_vjp(gy, None, x, w, padding)
    return dx, dw, gy.sum(dim=(0, 2, 3))


register("winograd_conv_pool", conv_pool_fwd, vjp=_vjp, infer=_rule, saves=(0, 1), saves_out=True, kind="nn")
unsupported("winograd_conv_pool", "onnx", "a training-time form of a convolution and max pool: ONNX gets the "
            "Conv and MaxPool layer nodes")
_tflite.mark(["winograd_conv_pool"], _tflite.TRAINING)
