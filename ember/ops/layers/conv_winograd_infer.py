"""Winograd F(2x2, 3x3) for the inference ``conv`` kernel at small batch (a loaded ``model.ember`` on the CPU).

At batch 1 the columns form's one GEMM is small and OpenBLAS runs it far from peak; Winograd's 16 GEMMs
``U_k (Cout, C) @ V_k (C, tiles)`` do 2.25x fewer multiplies and skip the column matrix. The filter transform
``U = G w G^T`` is made once per weight array (a loaded program's weights are constants), the tile transforms
are numba loops (``ember/graph/infer_winograd_loops.py``, given by the executor), and a folded 2x2 max pooling
is taken per tile. The cnn's conv2 (32 -> 64 channels, 26x26, batch 1), one thread: 164 us with its pooling
against 285 for the columns form without it (numbers in docs/internals.md).

Chosen for 3x3, stride 1, undilated, ungrouped 2-D float32 convolutions with at least ``MIN_CHANNELS`` input
and output channels whose transform-domain scratch stays under ``MAX_SCRATCH`` (small batches; a large batch's
one big GEMM runs near peak in the columns form). Inputs or weights with NaN or inf go to the columns form
(Winograd's transforms would spread a NaN over a whole 2x2 tile). Results differ from the columns form by
rounding only (~2e-7 of the output's scale on the bench shapes), as the training path's Winograd does.

>>> import numpy as np
>>> from ember.graph.infer_loops import loop, _FORMS as FORMS
>>> k = WinogradConvKernel(((1, 1), (1, 1)), relu=False, loops=lambda name: loop(name) if name in FORMS else None,
...                        fallback=None)
>>> x = np.ones((1, 8, 4, 4), np.float32); w = np.ones((8, 8, 3, 3), np.float32)
>>> k(np, x, w)[0, 0].tolist()
[[32.0, 48.0, 48.0, 32.0], [48.0, 72.0, 72.0, 48.0], [48.0, 72.0, 72.0, 48.0], [32.0, 48.0, 48.0, 32.0]]
"""
from __future__ import annotations

import numpy as np

MIN_CHANNELS = 8  # fewer input channels: the GEMMs are too thin for the transforms to pay (the cnn's conv1: 1)
MAX_SCRATCH = 1 << 22  # bytes of the (16, C, tiles) and (16, Cout, tiles) planes together
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def suits(x_shape, w_shape, dtype, stride, padding, dilation, groups) -> bool:
    """Whether this kernel takes a convolution of these static facts (the batch is checked per call)."""
    return (len(w_shape) == 4 and tuple(w_shape[2:]) == (3, 3) and groups == 1 and dtype == "float32"
            and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and all(p >= 0 for side in padding for p in side)
            and w_shape[1] >= MIN_CHANNELS and w_shape[0] >= MIN_CHANNELS)


def _scratch(c, cout, th, tw) -> int:
    """Bytes of one image's transform planes (V and M, float32) for ``th`` x ``tw`` tiles."""
    return max(16 * (c + cout) * th * tw * 4, 1)


class WinogradConvKernel:
    """``conv(x, w[, b])`` of one node by Winograd F(2x2, 3x3), bias and relu (and a 2x2 pooling) fused in the
    output transform; ``fallback`` (the columns kernel) runs non-finite inputs and batches too large."""

    def __init__(self, padding, relu, loops, fallback, pool2=False, cout=0):  # cout: output channels
        (self.pt, self.pb), (self.pl, self.pr) = padding
        self.cout = cout  # (``split_batch``'s scratch estimate, before any weight is seen)
        self.relu, self.pool2, self.fallback = relu, pool2, fallback
        self.input_tf = loops("winograd_input")
        self.output_tf = loops("winograd_output_pool2" if pool2 else "winograd_output")
        self.planner = loops("winograd_split")  # the stages over the cores (float32), or None
        self.filter = None  # (the weight array, U (16, Cout, C) or None for a non-finite one)
        self.plan = None  # (x shape, padded input buffer, v, m, the split's plan or None) for the last shape

    def __call__(self, xp, x, w, b=None):
        n, c, h, wd = x.shape
        (oh, ow), (th, tw) = self._sizes(h, wd)
        u = self._filter(w)
        # a sum is finite only when every value is (an overflow of finite values also sends it to the columns)
        too_big = n * _scratch(c, 0 if u is None else u.shape[1], th, tw) > MAX_SCRATCH
        if u is None or too_big or oh < 1 or ow < 1 or not np.isfinite(x.sum()):
            return self.fallback(xp, x, w, b)
        if self.plan is None or self.plan[0] != x.shape:
            xpad, v = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), x.dtype), np.empty((16, c, n * th * tw), x.dtype)
            m = np.empty((16, u.shape[1], n * th * tw), x.dtype)
            split = self.planner and self.planner(v, u, m, xpad.shape, self.pool2, self.relu)
            self.plan = (x.shape, xpad, v, m, split)
        _, xpad, v, m, split = self.plan
        if xpad.shape == x.shape and x.flags.c_contiguous:  # unpadded, whole tiles: read x itself
            xpad = x
        else:
            xpad[:, :, self.pt:self.pt + h, self.pl:self.pl + wd] = x  # borders stay zero (written once)
        cout = u.shape[1]
        out = np.empty((n, cout, th, tw) if self.pool2 else (n, cout, 2 * th, 2 * tw), x.dtype)
        if not (split and split(xpad, b, out)):  # one thread: the stages here, the GEMMs by np.matmul
            self.input_tf(xpad, v, th, tw, 0, c)
            np.matmul(u, v, out=m)
            bias, zero = m[0, 0, :0] if b is None else b, x.dtype.type(0)
            self.output_tf(m, bias, out, th, tw, b is not None, self.relu, zero, 0, cout)
        # whole tiles were written: a spare row or column (odd sizes) is dropped
        keep = (oh // 2, ow // 2) if self.pool2 else (oh, ow)
        return out if keep == out.shape[2:] else out[:, :, :keep[0], :keep[1]].copy()

    def split_batch(self, x_shape) -> int:
        """The largest batch of inputs shaped ``(N, *x_shape)`` that this kernel splits over the cores (0: never:
        no split helper, or too large even at batch 1)."""
        if self.planner is None:
            return 0
        c, h, wd = x_shape
        return MAX_SCRATCH // _scratch(c, self.cout, *self._sizes(h, wd)[1])

    def _sizes(self, h, wd):
        """((output rows, columns), (tile rows, columns)) for an input plane of ``h`` x ``wd``."""
        oh, ow = h + self.pt + self.pb - 2, wd + self.pl + self.pr - 2
        return (oh, ow), (-(-oh // 2), -(-ow // 2))

    def _filter(self, w):
        """U = G w G^T as (16, Cout, C), or None when ``w`` holds NaN or inf; made once per weight array (kept
        with a reference to it, so a new array, never an id reused, makes a new one)."""
        if self.filter is None or self.filter[0] is not w:
            u = None
            if np.isfinite(w).all():
                u = np.einsum("ik,ockl,jl->ijoc", _G, w.astype(np.float64), _G).reshape(16, w.shape[0], w.shape[1])
                u = np.ascontiguousarray(u, dtype=w.dtype)
            self.filter = (w, u)
        return self.filter[1]
