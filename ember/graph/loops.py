"""Compiled loops (numba) for nn primitives of the CPU executor: ``col2im`` over 2-D windows here; ``softmax``
over the last axis, ``standardize`` (layer norm) and its gradient from ``ops/row_loops.py`` (shared with the
eager primitives), their rows split over the cores by ``cores.run_chunks``.

The NumPy form (``ember/ops/conv.py``) makes one strided pass over the whole tensor per kernel offset; the
loop makes one pass in total, each image plane staying in cache while its windows are summed: 1.7x faster
on the cnn benchmark's conv2 (8.6 -> 5.1 ms). Used only by the compiled executor on CPU with numba (the
``jit`` extra); ``lowering(node)`` returns the function to call, or None (the NumPy primitive runs).

Measured and not used: the same treatment of max-pool backward (``pool_scatter``): branch-free loops ran
at NumPy's speed or slower (tiny runtime-sized window loops), and branching ones mispredict on real data.
"""

from __future__ import annotations

import math

import numpy as np

from ..ops import row_loops
from . import cores

FLOATS = ("float32", "float64")
INDICES = ("int32", "int64")  # class targets (loss_rows)


# Sizes are runtime arguments: with literal sizes LLVM fully unrolls the short loops and stops vectorizing
# (measured 4x slower). Rows are 1-D slices indexed by loop counters (no negative-index checks).
def _col2im_unit(cols, out, fold, geom, plane):
    """Stride 1, dilation 1: the convolution case, whose row loop vectorizes."""
    kh, kw, ph0, pw0, oh, ow = geom
    n_img, n_ch, height, width = out.shape
    length = oh * ow
    for n in range(n_img):
        for c in range(n_ch):
            plane[:, :] = 0
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    src = cols[r, n * length:(n + 1) * length] if fold else cols[(n * n_ch) * kh * kw + r]
                    for oy in range(oh):
                        row, start = plane[oy + i], oy * ow
                        for ox in range(ow):
                            row[ox + j] += src[start + ox]
            out[n, c] = plane[ph0:ph0 + height, pw0:pw0 + width]


def _col2im_any(cols, out, fold, geom, plane):
    """Any stride and dilation: the same nest with runtime multipliers, which LLVM leaves scalar (1.7x slower
    on the unit case, hence ``_col2im_unit``)."""
    kh, kw, sh, sw, dh, dw, ph0, pw0, oh, ow = geom
    n_img, n_ch, height, width = out.shape
    length = oh * ow
    for n in range(n_img):
        for c in range(n_ch):
            plane[:, :] = 0
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    src = cols[r, n * length:(n + 1) * length] if fold else cols[(n * n_ch) * kh * kw + r]
                    for oy in range(oh):
                        row, start = plane[oy * sh + i * dh, j * dw:], oy * ow
                        for ox in range(ow):
                            row[ox * sw] += src[start + ox]
            out[n, c] = plane[ph0:ph0 + height, pw0:pw0 + width]


def _col2im(attrs):
    from ..ops.conv import out_sizes

    size, kernel = attrs["size"], attrs["kernel"]
    (sh, sw), (dh, dw), ((ph0, ph1), (pw0, pw1)) = attrs["stride"], attrs["dilation"], attrs["padding"]
    outs = out_sizes(size, kernel, attrs["stride"], attrs["padding"], attrs["dilation"])
    k, length, fold = math.prod(kernel), math.prod(outs), attrs.get("fold_batch", False)
    unit = (sh, sw, dh, dw) == (1, 1, 1, 1)
    loop = row_loops.compiled(_col2im_unit if unit else _col2im_any)
    if loop is None:  # (EMBER_NO_JIT with an explicit jit=True build): the primitive's NumPy form
        return None
    geom = (kernel[0], kernel[1]) + ((ph0, pw0) if unit else (sh, sw, dh, dw, ph0, pw0)) + tuple(outs)

    def col2im(cols):  # fold: cols is (C*K, N*L), else (N, C*K, L), seen as (N*C*K, L)
        n_img = cols.shape[1] // length if fold else cols.shape[0]
        n_ch = (cols.shape[0] if fold else cols.shape[1]) // k
        if fold:  # a (C, N, ...) buffer seen as (N, C, ...), as the NumPy form: a consumer that wants the
            # channels first (the weight gradient of a previous conv) then reads it without a copy
            out = np.empty((n_ch, n_img) + tuple(size), cols.dtype).transpose(1, 0, 2, 3)
        else:
            out = np.empty((n_img, n_ch) + tuple(size), cols.dtype)
        cols = np.ascontiguousarray(cols.reshape(cols.shape[0], -1) if fold else cols.reshape(-1, length))
        loop(cols, out, fold, geom, np.empty((size[0] + ph0 + ph1, size[1] + pw0 + pw1), cols.dtype))
        return out

    return col2im


def _split(fn, rows, unit=1):  # late-bound: tests replace cores.run_chunks
    cores.run_chunks(fn, rows, unit=unit)


def lowering(node):
    """A compiled loop for ``node`` (same inputs and result as its primitive), or None when it does not apply:
    the op's ``cpu_loop`` lowering (registered below, on the op's registry entry)."""
    if any(v.dtype not in FLOATS + INDICES or None in v.shape for v in node.inputs) or any(
            v.dtype not in FLOATS or None in v.shape for v in node.outputs):
        return None
    from ..ops import REGISTRY

    prim = REGISTRY.get(node.op)
    form = None if prim is None else prim.lowering("cpu_loop")
    return None if form is None else form(node)


def _register():
    from ..ops import register_lowering

    register_lowering("col2im", "cpu_loop", lambda node: _col2im(node.attrs) if len(node.attrs["kernel"]) == 2
                      else None)
    register_lowering("standardize", "cpu_loop",
                      lambda node: row_loops.standardize(node.attrs["ndim"], node.attrs["eps"], _split))
    register_lowering("standardize_grad", "cpu_loop",
                      lambda node: row_loops.standardize_grad(node.attrs["ndim"], node.attrs["eps"], _split)
                      if len({v.dtype for v in node.inputs}) == 1 else None)
    register_lowering("softmax", "cpu_loop", lambda node: row_loops.softmax(_split)
                      if row_loops.softmax_applies(node.inputs[0].dtype, node.inputs[0].ndim, node.attrs["axis"])
                      else None)


_register()
