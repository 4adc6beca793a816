"""Inference kernels of the ``conv`` and ``max_pool`` layer ops (the lowering ``"inference"``).

An executor building an inference graph (a loaded ``model.ember``: layer nodes kept, no backward) runs these
instead of the layer's decomposition. The decomposition is written for training (im2col with the batch folded,
a permute back to NCHW, a separate bias add and relu); at batch 1 its fixed costs (a strided im2col copy with
24-element inner runs, a permuted bias add, Python work per pooling call) were ~40% of the benchmark cnn's
CPU time (everything but its two GEMMs).

Protocol: ``lowering(node, loops=None) -> fn(xp, *arrays) | None`` (``None``: the node's dtypes or attrs are
not handled, run the decomposition); ``loops(name)`` gives the executor's helpers or None: ``"gemm"`` (large
GEMMs split over the cores, ``ember.graph.gemm_split``) and, with numba, ``"conv_epilogue"``
(``ember.graph.infer_loops``' one-pass form of the epilogue). ``node.meta["activation"] == "relu"`` asks
for relu in the epilogue (the executor folds a following relu into the node). Each call returns a fresh output
array; scratch arrays (the columns, the GEMM result, a zero-padded copy of the input) are kept for the last
input shape and reused when they total at most ``KEEP_BYTES`` (16 MB), as the executor's own buffers are (an
executable is not reentrant).

- conv (groups=1, float16/32/64): with unit strides, "wide" columns: row (c, k) of the columns is one
  contiguous run of the flattened padded input, shifted by the kernel offset, covering every position of the
  padded grid's rows (the ``k-1`` positions past each output row's end are computed and dropped). The copy
  is then a row memcpy, and one GEMM ``w (Cout, C*K) @ cols (C*K, N*L)`` gives the output; the epilogue adds
  the bias and applies relu, and writes the valid positions into the NCHW output (one compiled pass, or three
  NumPy ones). Other strides: the usual strided windows. The same dot products of length C*K as the
  decomposition, summed in the BLAS's order.
- conv with a max pooling folded in (``node.meta["pool"]``, set by the executor's ``fold_pool`` for a pool
  that is the conv's only reader: 1d/2d, whole windows): the compiled epilogue writes the pooled map
  (``conv_epilogue_pool2`` for 2x2 windows at stride 2, ``conv_epilogue_pool`` otherwise or when NaN is
  seen); without it, ``MaxPoolKernel`` runs on the conv's output.
- max_pool: a running maximum over the kernel offsets (strided slices precomputed per input shape), on a
  ``-inf``-padded copy when there is padding: the decomposition's arithmetic, so the same bits.

>>> import numpy as np
>>> from ember.graph.ir import Graph
>>> from ember.ops import REGISTRY
>>> g = Graph(); x = g.add_input((1, 1, 4, 4), "float32"); w = g.add_input((2, 1, 3, 3), "float32")
>>> node = g.add_node("conv", [x, w], dict(stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1))
>>> conv = REGISTRY["conv"].lowering("inference")(g.producer(node))
>>> conv(np, np.ones((1, 1, 4, 4), np.float32), np.ones((2, 1, 3, 3), np.float32)).tolist()[0][0]
[[9.0, 9.0], [9.0, 9.0]]
"""
from __future__ import annotations

import math

from .._core import register_lowering
from ..conv import out_sizes
from ..linalg import gemm
from ..nn import relu_array
from . import conv_winograd_infer as winograd
from .conv import pool_out_size

FLOATS = ("float16", "float32", "float64")
KEEP_BYTES = 1 << 24  # scratch kept between calls up to this size (a batch-1 call's); larger is made per call


def _strides_view(xp, base, shape, strides):
    return xp.lib.stride_tricks.as_strided(base, shape=shape, strides=strides)


class _Padder:
    """A copy of ``x`` inside a ``fill``-padded array kept for the last shape (the border is written once).
    ``always``: copy even without padding (a stable buffer that a precomputed strided view reads)."""

    def __init__(self, padding, fill, always=False):
        self.padding, self.fill, self.buf = tuple(tuple(p) for p in padding), fill, None
        self.always = always

    def __call__(self, xp, x):
        if not self.always and not any(b or a for b, a in self.padding):
            return x
        shape = x.shape[:2] + tuple(s + b + a for s, (b, a) in zip(x.shape[2:], self.padding))
        if self.buf is None or self.buf.shape != shape or self.buf.dtype != x.dtype:
            self.buf = xp.full(shape, self.fill, dtype=x.dtype)
        inner = (slice(None), slice(None)) + tuple(slice(b, b + s) for s, (b, _) in zip(x.shape[2:], self.padding))
        xp.copyto(self.buf[inner], x)
        return self.buf


class ConvKernel:
    """``conv(x, w[, b])`` of one node: columns + one GEMM + a bias (and relu) epilogue into NCHW."""

    def __init__(self, stride, padding, dilation, relu, epilogue=None, gemm=gemm, pool=None, epilogue2=None):
        self.stride, self.dilation, self.relu = tuple(stride), tuple(dilation), relu
        self.epilogue = epilogue  # the executor's compiled one-pass epilogue (numba), or None
        # with a 2x2 stride-2 pool: its faster loop (returns True when it saw NaN: then ``epilogue`` runs)
        self.epilogue2 = epilogue2 if pool is not None and tuple(pool[0]) == tuple(pool[1]) == (2, 2) else None
        # pool: (kernel, stride) of a max pooling folded in (no padding or dilation): the compiled epilogue's
        # window arguments (rows, cols, row step, col step), else a MaxPoolKernel run on the conv's output
        self.pool, self.pool_args = None, ()
        if pool is not None:
            k, st = (tuple(pool[0]), tuple(pool[1])) if len(pool[0]) == 2 else ((1,) + tuple(pool[0]),
                                                                                (1,) + tuple(pool[1]))
            self.pool_args = k + st
            self.pool = MaxPoolKernel(pool[0], pool[1], (0,) * len(pool[0]), (1,) * len(pool[0]), False)
        self.gemm = gemm  # gemm(xp, a, b, out): the executor's (split over the cores) or ops.linalg's
        self.padding = tuple(tuple(p) for p in padding)
        self.wide = all(s == 1 for s in self.stride)
        self.pad = _Padder(self.padding, 0, always=True)  # the columns' view is made once, on its buffer
        self.plan = None  # ((x shape, dtype, w shape), (cols, its N-d view, window view, y, result view, out shape,
        # epilogue geometry or None)) for the last input shape

    def __call__(self, xp, x, w, b=None):
        xpad = self.pad(xp, x)
        key = (x.shape, x.dtype, w.shape)
        if self.plan is None or self.plan[0] != key:
            self.plan = (key, self._make_plan(xp, xpad, w))
        _, (cols, cols_dst, window, y, result, out_shape, geom) = self.plan
        xp.copyto(cols_dst, window)
        self.gemm(xp, w.reshape(w.shape[0], -1), cols, out=y)
        if geom is not None:  # one compiled pass: bias, relu (and the pooling), the valid positions into NCHW
            out = xp.empty(geom[3], dtype=x.dtype)
            args = (y, y[0, :0] if b is None else b, out.reshape(geom[0]), geom[1], geom[2], b is not None,
                    self.relu, y.dtype.type(0))
            if self.epilogue2 is None or self.epilogue2(*args):  # (2x2 windows: the faster loop, unless NaN)
                self.epilogue(*args, *self.pool_args)
        else:
            out = xp.empty(out_shape, dtype=x.dtype)
            if b is not None:  # on the GEMM's contiguous result: a fast inner loop (2.5x the strided add measured)
                xp.add(y, b.reshape(-1, 1), out=y)
            if self.relu:
                relu_array(xp, y, out=y)
            xp.copyto(out, result)  # the valid positions, in NCHW order
            if self.pool is not None:
                out = self.pool(xp, out)
        if cols.nbytes + y.nbytes + xpad.nbytes > KEEP_BYTES:  # a large batch's scratch is not kept alive
            self.plan = self.pad.buf = None
        return out

    def _make_plan(self, xp, xpad, w):
        n, c = xpad.shape[:2]
        cout, kernel = w.shape[0], tuple(w.shape[2:])
        spatial = tuple(s - b - a for s, (b, a) in zip(xpad.shape[2:], self.padding))
        outs = out_sizes(spatial, kernel, self.stride, self.padding, self.dilation)
        it, nd, ck = xpad.itemsize, len(kernel), c * math.prod(kernel)
        if self.wide:  # row (c, k) = xpad's flat plane from offset(k), length L: every position of the rows
            pitch = [math.prod(xpad.shape[3 + d:]) for d in range(nd)]  # elements per step along dim d
            length = sum((o - 1) * p for o, p in zip(outs, pitch)) + 1
            shape = (c,) + kernel + (n, length)
            strides = (xpad.strides[1],) + tuple(dl * p * it for dl, p in zip(self.dilation, pitch)) \
                + (xpad.strides[0], it)
            y = xp.empty((cout, n * length), dtype=xpad.dtype)
            result = _strides_view(xp, y, (n, cout) + tuple(outs),
                                   (length * it, n * length * it) + tuple(p * it for p in pitch))
            geom = (length, pitch[0]) if nd == 2 else (length, length) if nd == 1 else None
        else:  # strided windows (N, C, *K, *O) -> (C, *K, N, *O)
            st = xpad.strides
            shape = (c,) + kernel + (n,) + tuple(outs)
            strides = (st[1],) + tuple(st[2 + d] * self.dilation[d] for d in range(nd)) + (st[0],) \
                + tuple(st[2 + d] * self.stride[d] for d in range(nd))
            y = xp.empty((cout, n * math.prod(outs)), dtype=xpad.dtype)
            result = y.reshape((cout, n) + tuple(outs)).swapaxes(0, 1)
            geom = (math.prod(outs), outs[-1]) if nd <= 2 else None
        cols = xp.empty((ck, math.prod(shape[1 + nd:])), dtype=xpad.dtype)
        final = (n, cout) + tuple(outs)
        if self.pool_args:  # the pooled output's sizes (no padding: whole windows only)
            k, st = self.pool_args[:2][-nd:], self.pool_args[2:][-nd:]
            final = (n, cout) + tuple((o - kk) // s + 1 for o, kk, s in zip(outs, k, st))
        if geom is not None and self.epilogue is not None and xpad.dtype.name in ("float32", "float64"):
            # the loop (no float16 in numba) sees the output as (N, Cout, rows, cols)
            geom = ((n, cout) + ((1,) + final[2:] if nd == 1 else final[2:]),) + geom + (final,)
        else:
            geom = None
        return cols, cols.reshape(shape), _strides_view(xp, xpad, shape, strides), y, result, \
            (n, cout) + tuple(outs), geom


def _conv_inference(node, loops=None):
    x, w = node.inputs[0], node.inputs[1]
    a = node.attrs
    if a.get("groups") != 1 or x.dtype not in FLOATS or any(v.dtype != x.dtype for v in node.inputs):
        return None
    if w.ndim < 3 or None in w.shape or x.ndim != w.ndim:
        return None
    helper = loops or (lambda name: None)
    pool = node.meta.get("pool")  # a max pooling folded in by the executor (``fold_pool``)
    if pool is not None and not _foldable_pool(pool, w.ndim - 2):
        return None
    relu = node.meta.get("activation") == "relu"
    columns = ConvKernel(a["stride"], a["padding"], a["dilation"], relu,
                         helper("conv_epilogue_pool" if pool else "conv_epilogue"), helper("gemm") or gemm,
                         pool and (pool["kernel"], pool["stride"]), pool and helper("conv_epilogue_pool2"))
    pool2 = pool is not None and tuple(pool["kernel"]) == tuple(pool["stride"]) == (2, 2)
    if (helper("winograd_input") is None or (pool is not None and not pool2)
            or not winograd.suits(x.shape, w.shape, x.dtype, a["stride"], a["padding"], a["dilation"], 1)):
        return columns
    return winograd.WinogradConvKernel(a["padding"], relu, helper, columns, pool2=pool2, cout=w.shape[0])


def _foldable_pool(attrs, nd) -> bool:
    """A max pooling the conv kernel can apply in its epilogue: 1d/2d, whole windows (no padding, dilation
    or ceil mode)."""
    return (nd in (1, 2) and len(attrs["kernel"]) == nd and not any(attrs["padding"])
            and all(d == 1 for d in attrs.get("dilation") or (1,) * nd) and not attrs.get("ceil_mode", False))


class MaxPoolKernel:
    """``max_pool(x)`` of one node: a running maximum over the kernel offsets' strided slices."""

    def __init__(self, kernel, stride, padding, dilation, ceil_mode):
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.ints, self.ceil_mode = tuple(padding), bool(ceil_mode)
        self.pad = None
        self.plan = None  # (x shape, dtype) -> (out shape, [slices per offset])

    def __call__(self, xp, x):
        key = (x.shape, x.dtype)
        if self.plan is None or self.plan[0] != key:
            self.plan = (key, self._make_plan(xp, x))
        _, (out_shape, keys) = self.plan
        src = self.pad(xp, x)
        out = xp.empty(out_shape, dtype=x.dtype)
        xp.copyto(out, src[keys[0]])
        for k in keys[1:]:
            xp.maximum(out, src[k], out=out)  # propagates NaN, as the decomposition's running maximum
        return out

    def _make_plan(self, xp, x):
        outs, pads = [], []
        for size, k, s, p, d in zip(x.shape[2:], self.kernel, self.stride, self.ints, self.dilation):
            o = pool_out_size(size, k, s, p, d, self.ceil_mode)
            outs.append(o)
            pads.append((p, p + max((o - 1) * s + d * (k - 1) + 1 - (size + 2 * p), 0)))  # ceil_mode's extra
        fill = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        self.pad = _Padder(pads, fill)
        keys = []
        for offset in _offsets(self.kernel):
            keys.append((slice(None), slice(None)) + tuple(
                slice(i * d, i * d + s * (o - 1) + 1, s) for i, s, d, o in zip(offset, self.stride, self.dilation,
                                                                                outs)))
        return x.shape[:2] + tuple(outs), keys


def _offsets(kernel):
    import itertools

    return list(itertools.product(*[range(k) for k in kernel]))


def _max_pool_inference(node, loops=None):
    x = node.inputs[0]
    if x.dtype not in FLOATS and not x.dtype.startswith(("int", "uint")):
        return None
    a = node.attrs
    nd = len(a["kernel"])
    return MaxPoolKernel(a["kernel"], a["stride"], a["padding"], a.get("dilation") or (1,) * nd,
                         a.get("ceil_mode", False))


_conv_inference.activations = ("relu",)  # epilogues the kernel applies (node.meta["activation"])
_conv_inference.pools = _foldable_pool  # max poolings it applies after the activation (node.meta["pool"])
register_lowering("conv", "inference", _conv_inference)
register_lowering("max_pool", "inference", _max_pool_inference)
