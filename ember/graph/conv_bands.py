"""A small-batch 3x3 convolution of an inference executor split over the cores: Winograd F(2x2, 3x3) in bands.

Why (issue 11, batch-1 latency at 2 threads): the benchmark cnn's conv2 (32 -> 64 channels, 26x26) was ~60% of
a batch-1 call, one GEMM (64 x 288 x 622) on OpenBLAS's two threads. Three costs measured there: the GEMM
itself (OpenBLAS ~60-75% of this machine's per-core peak on that shape), its columns (written by the calling
core, half of them then read by OpenBLAS's other thread: ~90 us more than the GEMM alone), and OpenBLAS's
workers spinning after each call on the core where Ember's own helpers run the next layer.

So the call is cut into bands (tile rows of one image, or images), each run by one core start to end:
the band's Winograd input transform (``v`` (16, C, tiles)), 16 GEMMs ``U[k] (O, C) @ v[k]`` (2.25x fewer
multiply-adds than the columns GEMM) on that core, and the output transform with the epilogue (bias, relu, a
2x2 max pooling at stride 2) into the band's output rows (``conv_band_loops``). The bands run on
``infer_pool``'s helpers and the calling thread (``WinogradBands.__call__``: a ~1 us hand-off, OpenBLAS held
at one thread for the job), so every core reads what it wrote. The filter transform ``U = G w G^T`` is made
once per weight array. Measured (2026-12-03, idle 2-core machine, conv2 alone, alternating in one process):
one GEMM on OpenBLAS's two threads 320 us, columns split into bands 271, Winograd bands 181.

Used for float32, 3x3, stride 1, undilated convolutions (groups 1, as ``ConvKernel``) with at least
``MIN_CHANNELS`` in and out, at most ``SPLIT_BATCH_MAX`` images and ``SPLIT_MIN`` multiply-adds, at two
threads or more (at one thread a single band measured ~0.8x the columns form alone, but no faster inside the
cnn: 1000-1070 us against 780-980 per call, so one thread keeps the columns form), with numba and OpenBLAS
found by address (``blas_calls``); anything else runs ``ConvKernel``'s columns form
(``ember/ops/layers/conv_infer.py``; the executor hands ``WinogradBands.make`` to the kernel).

Numerics: the transforms reassociate the sums (float32 results within a few units in the last place of the
output's magnitude of the columns form; tests compare with rtol/atol 1e-5). An input with NaN or inf would
spread over a whole 2x2 tile, so a band that meets a non-finite value flags it and the call runs the columns
form instead (NaN stays in the windows that read it).
"""
from __future__ import annotations

import math
import os

import numpy as np

from .._threads import cached_num_threads
from ..ops.conv import out_sizes
from ..ops.layers.conv_infer import SPLIT_BATCH_MAX, _Padder
from ..ops.winograd import _filter_transform
from . import conv_band_loops as cb
from .blas_calls import find

SPLIT_MIN = int(os.environ.get("EMBER_CONV_SPLIT_MIN", 1 << 21))  # multiply-adds from which a call is split
MIN_CHANNELS = 16  # in and out: smaller convolutions measured no faster split (e.g. 16 -> 24 at 9x9: equal)
SPLIT = os.environ.get("EMBER_CONV_BANDS", "1") != "0"  # EMBER_CONV_BANDS=0: always the columns form


def qualifies(node) -> bool:
    """Whether a ``conv`` layer node of an inference graph may run in bands (its shape rule, not its size: the
    executor then holds OpenBLAS at one thread for small-batch calls, see ``Executable``)."""
    x, w = node.inputs[0], node.inputs[1]
    a = node.attrs
    return (SPLIT and w.ndim == 4 and tuple(w.shape[2:]) == (3, 3) and tuple(a.get("stride", ())) == (1, 1)
            and tuple(a.get("dilation", ())) == (1, 1) and a.get("groups") == 1 and x.dtype == w.dtype == "float32"
            and None not in w.shape[:2] and min(w.shape[:2]) >= MIN_CHANNELS)


class WinogradBands:
    """The bands of one input shape: an int64 descriptor (one row per band, ``conv_band_loops``' layout)
    pointing into scratch arrays kept here; the input, weight, bias and output addresses written per call."""

    __slots__ = ("desc", "final", "offsets", "scratch", "extra", "threads", "u_of")

    def __init__(self, desc, final, offsets, scratch, extra, threads):
        self.desc, self.final, self.offsets, self.scratch, self.extra = desc, final, offsets, scratch, extra
        self.threads = threads  # the thread count now (a function)
        self.u_of = (None, None)  # (the weight array U was made from, U)

    @staticmethod
    def make(kernel, xpad, w, threads_now=cached_num_threads):
        """The bands of ``kernel`` (a ``ConvKernel``) for this (padded) input shape, or None where the call is not
        split (the executor hands this to the kernel as its ``bands``)."""
        threads = threads_now()
        n, c = xpad.shape[:2]
        pool = kernel.pool_args
        if (not SPLIT or threads < 2 or not kernel.wide or w.ndim != 4 or tuple(w.shape[2:]) != (3, 3)
                or kernel.dilation != (1, 1) or n > SPLIT_BATCH_MAX or xpad.dtype != np.float32
                or w.dtype != np.float32 or min(w.shape[:2]) < MIN_CHANNELS or (pool and pool != (2, 2, 2, 2))):
            return None
        spatial = tuple(s - b - a for s, (b, a) in zip(xpad.shape[2:], kernel.padding))
        outs = out_sizes(spatial, (3, 3), (1, 1), kernel.padding, (1, 1))
        if min(outs) < 2 or n * w.size * math.prod(outs) < SPLIT_MIN:
            return None
        k = 2 if pool else 1
        final = (n, w.shape[0], outs[0] // k, outs[1] // k)
        th, tw = -(-outs[0] // 2), -(-outs[1] // 2)
        if n == 1:  # (first image, last, first tile row, last)
            parts = [(0, 1, lo, hi) for lo, hi in _even(th, threads)]
        else:
            parts = [(lo, hi, 0, th) for lo, hi in _even(n, threads)]
        return WinogradBands._describe(kernel, xpad, w, outs, final, parts, (th, tw, k), threads_now)

    @staticmethod
    def _describe(kernel, xpad, w, outs, final, parts, geometry, threads_now):
        sgemm, width = find()[:2]
        (th, tw, k), c, o = geometry, xpad.shape[1], w.shape[0]
        # whole 4x4 tiles: one more zero row / column when the output size is odd
        extra = _Padder(((0, 2 * th + 2 - xpad.shape[2]), (0, 2 * tw + 2 - xpad.shape[3])), 0)
        hp, wp = 2 * th + 2, 2 * tw + 2
        desc = np.zeros((len(parts), cb.D_SIZE), np.int64)
        scratch, offsets = [], []
        for row, (i0, i1, t0, t1) in zip(desc, parts):
            tiles = (i1 - i0) * (t1 - t0) * tw
            v, m, y = _skewed(c * tiles), _skewed(o * tiles), np.empty((4, tiles), np.float32)
            scratch += [v, m, y]
            values = {cb.D_V: v.ctypes.data, cb.D_VSTEP: v.strides[0] // 4, cb.D_M: m.ctypes.data,
                      cb.D_MSTEP: m.strides[0] // 4, cb.D_TMP: y.ctypes.data, cb.D_C: c, cb.D_O: o,
                      cb.D_NIMG: i1 - i0, cb.D_TY0: t0, cb.D_TH: t1 - t0, cb.D_TW: tw, cb.D_OH: outs[0],
                      cb.D_HP: hp, cb.D_WP: wp, cb.D_OCS: final[2] * final[3], cb.D_OIS: o * final[2] * final[3],
                      cb.D_FW: final[3], cb.D_RELU: int(kernel.relu), cb.D_POOL: k, cb.D_SGEMM: sgemm,
                      cb.D_WIDTH: width}
            for key, value in values.items():
                row[key] = value
            offsets.append((i0 * c * hp * wp * 4, i0 * o * final[2] * final[3] * 4))
        return WinogradBands(desc, final, offsets, scratch, extra, threads_now)

    def __call__(self, xp, xpad, w, b):
        """The convolution (with the kernel's epilogue) of ``xpad``, or None when a band met NaN or inf."""
        from .infer_pool import conv_bands  # (infer_pool's loops compile these bands in)

        made_from, u = self.u_of
        if made_from is not w:
            u = np.ascontiguousarray(_filter_transform(w, False), dtype=np.float32)
            self.u_of = (w, u)
        xpad = self.extra(xp, xpad)
        out = xp.empty(self.final, dtype=np.float32)
        desc, x0, o0 = self.desc, xpad.ctypes.data, out.ctypes.data
        desc[:, cb.D_U] = u.ctypes.data
        desc[:, cb.D_B] = 0 if b is None else b.ctypes.data
        for row, (dx, dout) in zip(desc, self.offsets):
            row[cb.D_X], row[cb.D_OUT] = x0 + dx, o0 + dout
        conv_bands(desc, self.threads())
        return None if desc[:, cb.D_BAD].any() else out


def _skewed(size):
    """A (16, size) float32 scratch whose rows start 320 bytes apart modulo 4 KB: a transform touches one element
    of each row per tile, and rows a multiple of 4 KB apart share L1 cache sets (measured on a (1, 64, 34, 34)
    input: 1.45 ms for the input transform with 64 KB between rows, against ~0.2)."""
    stride = (-(-size * 4 // 4096) * 4096 + 320) // 4
    return np.lib.stride_tricks.as_strided(np.empty(15 * stride + size, np.float32), (16, size), (stride * 4, 4))


def _even(size, parts):
    """[0, size) in at most ``parts`` contiguous pieces of nearly equal length."""
    step = -(-size // parts)
    return [(lo, min(lo + step, size)) for lo in range(0, size, step)]
