"""Winograd F(2x2, 3x3) convolutions (Lavin & Gray, 2016): 3x3, stride-1, undilated, ungrouped 2-D convolutions
without the column matrix, for training.

Each output tile of 2x2 is ``A^T [(G g G^T) . (B^T d B)] A`` for the 4x4 input tile ``d`` around it; summed over
input channels, the 16 element-wise products become 16 GEMMs ``U_k (O, C) @ V_k (C, P)`` over the P tiles of the
batch (2.25x fewer multiplies than im2col's GEMM). The tile transforms are numba loops (the ``jit`` extra: one
pass over each image plane, kept in cache) or NumPy passes without numba (correct, much slower).

Two primitives, each with its vjp in the other two forms, so gradients of any order stay Winograd:

- ``winograd_conv(x, w; padding, transposed)``: ``padding`` ((top, bottom), (left, right)) (any ints: a
  negative one crops). ``transposed=False``: the convolution of x (N, C, H, W) with w (O, C, 3, 3) ->
  (N, O, H + top + bottom - 2, ...). ``transposed=True``: with w (C, O, 3, 3) turned by 180 degrees and its
  first two axes swapped (the input gradient of the plain form: ``dx = winograd_conv(g, w; 2 - padding,
  transposed=True)``).
- ``winograd_wgrad(x, g; padding, transposed)``: the weight gradient ``sum_{n, q} g[n, o, q] x_pad[n, c, q +
  (i, j)]`` -> (O, C, 3, 3) (``transposed``: in the transposed form's weight layout).

VJPs: ``conv(x, w; p, t)``: dx = conv(G, w; 2 - p, not t), dw = wgrad(x, G; p, t); ``wgrad(x, g; p, t)``:
dx = conv(g, H; 2 - p, not t), dg = conv(x, H; p, t).

``use_winograd(x, w, ...)`` is the choice the ``conv`` composite makes (measured threshold, see
docs/internals.md); ``forced(mode)`` overrides it (tests). The export formats read the ``conv`` layer node, so
these primitives never reach ONNX/TFLite.

NaN/inf in an input spread over the whole 2x2 output tile (the transforms mix the tile), where im2col limits
them to the windows that read them.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from .._cores import even_blocks, run_blocks
from .._jit_math import loop_jit, numba_or_none
from .._threads import cached_num_threads, hold_blas_lingering
from . import _tflite
from ._core import Aval, apply, register, unsupported
from ._rules import differ

# B^T, G and A^T of F(2x2, 3x3); only G appears as a matrix here (the loops spell B^T and A^T out)
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_BT = np.array([[1.0, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
_AT = np.array([[1.0, 1, 1, 0], [0, 1, -1, -1]])


class _Geom:
    """Tile geometry of one convolution: input (N, C, H, W), padding, output size, tiles per image."""

    def __init__(self, shape, padding):
        self.n, self.c, self.h, self.w = shape
        (self.pt, self.pb), (self.pl, self.pr) = padding
        self.oh, self.ow = self.h + self.pt + self.pb - 2, self.w + self.pl + self.pr - 2
        self.th, self.tw = -(-self.oh // 2), -(-self.ow // 2)
        self.tiles = self.n * self.th * self.tw


# -- numba loops (compiled on first use, cached on disk) ------------------------------------------------------
# Tiles are numbered per image row by row with ``tw + 1`` tiles a row (one spare tile a row, computed and
# thrown away): every 4x4 tile element d[i, j] is then the same flat shift of one of four parity planes
# (``par[2 * (r % 2) + s % 2, (r // 2) * (tw + 1) + s // 2]`` = padded input [r, s]), so each transform is a few
# long unit-stride loops over all the tiles of a plane, each reading at most four rows of one array: LLVM
# vectorizes those (loops over one 12-tile row, or with more than ~8 arrays to check for overlap, it did not:
# 3x slower). ``v`` / ``m`` hold the tiles of images n0, n0 + 1, ...: the caller runs a block of images at a
# time so that they stay in cache between the transforms and the GEMMs.
def _parity_fill(src, par, pt, pl, hv, wv, tw1):
    """The parity planes of one zero-padded plane (``par`` must be zero; rows past hv / columns past wv, the
    padded extent, stay zero)."""
    height, width = src.shape
    rows = par.shape[1] // tw1
    for h in range(height):
        r = h + pt
        if r < 0 or r >= hv or r >= 2 * rows:
            continue
        row = src[h]
        for e in range(2):  # even, then odd padded columns
            dst = par[2 * (r & 1) + e, (r >> 1) * tw1:(r >> 1) * tw1 + tw1]
            k0 = max(0, (pl - e + 1) >> 1)  # first k with 2k + e - pl >= 0
            k1 = min(tw1, (min(wv, width + pl) - e + 1) >> 1)
            for k in range(k0, k1):
                dst[k] = row[2 * k + e - pl]


def _input_tf(x, n0, v, pt, pl, hv, wv, th, tw1, par, bt):
    """V[a * 4 + b, c, tile] = (B^T d B)[a, b] for the 4x4 tile d of every 2x2 output tile. ``bt``: the two
    (index, coefficient) pairs of each row of B^T."""
    n_ch = x.shape[1]
    per = th * tw1
    for n in range(v.shape[2] // per):
        for c in range(n_ch):
            par[:, :] = 0
            _parity_fill(x[n0 + n, c], par, pt, pl, hv, wv, tw1)
            for a in range(4):
                ia, ib, ca, cb = int(bt[a, 0]), int(bt[a, 1]), bt[a, 2], bt[a, 3]
                for b in range(4):
                    ja, jb, da, db = int(bt[b, 0]), int(bt[b, 1]), bt[b, 2], bt[b, 3]
                    q0 = par[2 * (ia & 1) + (ja & 1), (ia >> 1) * tw1 + (ja >> 1):]
                    q1 = par[2 * (ia & 1) + (jb & 1), (ia >> 1) * tw1 + (jb >> 1):]
                    q2 = par[2 * (ib & 1) + (ja & 1), (ib >> 1) * tw1 + (ja >> 1):]
                    q3 = par[2 * (ib & 1) + (jb & 1), (ib >> 1) * tw1 + (jb >> 1):]
                    c0, c1, c2, c3 = ca * da, ca * db, cb * da, cb * db
                    dst = v[4 * a + b, c, n * per:(n + 1) * per]
                    for f in range(per):
                        dst[f] = (c0 * q0[f] + c1 * q1[f]) + (c2 * q2[f] + c3 * q3[f])


def _tile_outputs(m, o, q, per, tmp):
    """tmp[8 + 2 * row + column] = that output of each 2x2 tile A^T M A, for the ``per`` tiles of M[:, o] from
    ``q``: sums of three rows (tmp[0:8]: the column sums first)."""
    for b in range(4):
        s, d = tmp[b], tmp[4 + b]
        r0, r1 = m[b, o, q:q + per], m[4 + b, o, q:q + per]
        r2, r3 = m[8 + b, o, q:q + per], m[12 + b, o, q:q + per]
        for f in range(per):
            s[f] = r0[f] + r1[f] + r2[f]
        for f in range(per):
            d[f] = r1[f] - r2[f] - r3[f]
    for k in range(2):
        u0, u1, u2, u3 = tmp[4 * k], tmp[4 * k + 1], tmp[4 * k + 2], tmp[4 * k + 3]
        ye, yo = tmp[8 + 2 * k], tmp[9 + 2 * k]
        for f in range(per):
            ye[f] = u0[f] + u1[f] + u2[f]
        for f in range(per):
            yo[f] = u1[f] - u2[f] - u3[f]


def _output_tf(m, out, n0, th, tw1, tmp):
    """out[n0 + n, o] = the 2x2 tiles A^T M A of M[:, o, tile] (``_tile_outputs``, ``tmp`` (12, tiles)),
    cropped to the output size and interleaved into the plane."""
    _, n_out, oh, ow = out.shape
    per = th * tw1
    for n in range(m.shape[2] // per):
        q = n * per
        for o in range(n_out):
            _tile_outputs(m, o, q, per, tmp)
            half = ow >> 1
            for r in range(oh):
                dst, base = out[n0 + n, o, r], (r >> 1) * tw1
                ye, yo = tmp[8 + 2 * (r & 1)], tmp[9 + 2 * (r & 1)]
                for tx in range(half):
                    dst[2 * tx] = ye[base + tx]
                    dst[2 * tx + 1] = yo[base + tx]
                if ow & 1:
                    dst[ow - 1] = ye[base + half]


def _grad_tf(g, n0, dm, th, tw1, par, am):
    """dM[a * 4 + b, o, tile] = (A Y A^T)[a, b] for the 2x2 tile Y of ``g`` (zero past the output's edge and on
    the spare tiles): the adjoint of the output transform. ``am``: A (4, 2)."""
    _, n_out, oh, ow = g.shape
    per = th * tw1
    for n in range(dm.shape[2] // per):
        for o in range(n_out):
            par[:, :] = 0
            _parity_fill(g[n0 + n, o], par, 0, 0, oh, ow, tw1)
            y00, y01, y10, y11 = par[0, :per], par[1, :per], par[2, :per], par[3, :per]
            for a in range(4):
                for b in range(4):
                    c0, c1 = am[a, 0] * am[b, 0], am[a, 0] * am[b, 1]
                    c2, c3 = am[a, 1] * am[b, 0], am[a, 1] * am[b, 1]
                    dst = dm[4 * a + b, o, n * per:(n + 1) * per]
                    for f in range(per):
                        dst[f] = (c0 * y00[f] + c1 * y01[f]) + (c2 * y10[f] + c3 * y11[f])


_JIT: dict = {}


def _loops():
    """The three loops compiled with numba, or None (no numba, ``EMBER_NO_JIT`` set)."""
    if "loops" not in _JIT:
        fns = None
        if numba_or_none() is not None:
            global _parity_fill, _tile_outputs  # the loops call them: numba must find compiled functions there
            _parity_fill, _tile_outputs = loop_jit(_parity_fill), loop_jit(_tile_outputs)
            fns = (loop_jit(_input_tf), loop_jit(_output_tf), loop_jit(_grad_tf))
        _JIT["loops"] = fns
    return _JIT["loops"]


def available() -> bool:
    """Whether the compiled transforms are there (numba installed, ``EMBER_NO_JIT`` unset)."""
    return _loops() is not None


# -- the transforms on arrays ---------------------------------------------------------------------------------
BLOCK_BYTES = 1 << 20  # the transformed tiles of one block of images (V and M): measured, docs/internals.md


def _blocks(geom, channels, itemsize):
    """(first image, number of images) blocks whose V and M (``channels`` = C + O rows of 16 tiles each)
    take about ``BLOCK_BYTES``."""
    per_image = 16 * channels * geom.th * (geom.tw + 1) * itemsize
    step = max(1, min(geom.n, BLOCK_BYTES // max(per_image, 1)))
    return [(n0, min(step, geom.n - n0)) for n0 in range(0, geom.n, step)]


_BT_ROWS = np.array([[0, 2, 1, -1], [1, 2, 1, 1], [1, 2, -1, 1], [1, 3, 1, -1]])  # B^T's two entries per row
_A = _AT.T.copy()


def _scratch(geom, dt):
    """The parity planes of one padded plane (see the loops)."""
    return np.empty((4, (geom.th + 2) * (geom.tw + 1)), dtype=dt)


def _input_block(x, geom, n0, count, v=None):
    dt, tw1 = x.dtype, geom.tw + 1
    if v is None or v.shape[2] != count * geom.th * tw1:
        v = np.empty((16, geom.c, count * geom.th * tw1), dtype=dt)
    hv, wv = geom.h + geom.pt + geom.pb, geom.w + geom.pl + geom.pr
    _loops()[0](x, n0, v, geom.pt, geom.pl, hv, wv, geom.th, tw1, _scratch(geom, dt), _BT_ROWS.astype(dt))
    return v


def _numpy_input(x, geom):
    """The input transform as NumPy passes (no numba): (16, C, tiles)."""
    dt = x.dtype
    hv, wv = geom.h + geom.pt + geom.pb, geom.w + geom.pl + geom.pr
    pad = np.zeros((geom.n, geom.c, 2 * geom.th + 2, 2 * geom.tw + 2), dtype=dt)
    r0, r1 = max(0, geom.pt), min(pad.shape[2], geom.h + geom.pt, hv)
    s0, s1 = max(0, geom.pl), min(pad.shape[3], geom.w + geom.pl, wv)
    pad[:, :, r0:r1, s0:s1] = x[:, :, r0 - geom.pt:r1 - geom.pt, s0 - geom.pl:s1 - geom.pl]
    st = pad.strides
    tiles = np.lib.stride_tricks.as_strided(pad, (geom.n, geom.c, geom.th, geom.tw, 4, 4),
                                            st[:2] + (2 * st[2], 2 * st[3]) + st[2:])
    bt = _BT.astype(dt)
    t = np.einsum("ai,ncyxij,bj->abcnyx", bt, tiles, bt, optimize=True)
    return np.ascontiguousarray(t).reshape(16, geom.c, geom.tiles)


def _numpy_output(m, geom, n_out):
    at = _AT.astype(m.dtype)
    t = m.reshape(4, 4, n_out, geom.n, geom.th, geom.tw)
    y = np.einsum("ia,abonyx,jb->noyixj", at, t, at, optimize=True)
    return np.ascontiguousarray(y.reshape(geom.n, n_out, 2 * geom.th, 2 * geom.tw)[:, :, :geom.oh, :geom.ow])


def _numpy_grad(g, geom):
    n_out = g.shape[1]
    pad = np.zeros((geom.n, n_out, 2 * geom.th, 2 * geom.tw), dtype=g.dtype)
    pad[:, :, :geom.oh, :geom.ow] = g
    tiles = pad.reshape(geom.n, n_out, geom.th, 2, geom.tw, 2)
    at = _AT.astype(g.dtype)
    t = np.einsum("ia,noyixj,jb->abonyx", at, tiles, at, optimize=True)
    return np.ascontiguousarray(t).reshape(16, n_out, geom.tiles)


def _groups(blocks, threads):
    """The image blocks cut into contiguous groups, one ``fn(lo, hi)`` call each on the ``_cores`` pool: one
    group at one thread (the loop as before), else two per thread (a helper the OS runs late leaves at most
    half its share to the caller). The cut depends only on ``threads``: the weight gradient sums its groups'
    partial sums in group order, so a given thread count always gives the same bits."""
    if threads < 2 or len(blocks) < 2:
        return [(0, len(blocks))]
    return even_blocks(len(blocks), 2 * threads)


def _conv_tiles(x, u, geom, threads=1):
    """The convolution from the transformed filter ``u`` (16, O, C) (see ``transform_blocks``)."""
    n_out = u.shape[1]
    loops = _loops()
    if loops is None:
        return _numpy_output(np.matmul(u, _numpy_input(x, geom)), geom, n_out)
    out = np.empty((geom.n, n_out, geom.oh, geom.ow), dtype=x.dtype)
    transform_blocks(x, u, geom, threads, lambda m, n0, tmp: loops[1](m, out, n0, geom.th, geom.tw + 1, tmp))
    return out


def transform_blocks(x, u, geom, threads, finish):
    """Per block of images, the input transform and 16 GEMMs (one batched matmul) into M (16, O, tiles),
    then ``finish(m, n0, tmp)`` (an output transform; ``tmp`` (12, tiles a plane) its scratch); groups of blocks
    run on ``threads`` cores, each with its own transform buffers (images are independent: the same bits at
    any count)."""
    n_out = u.shape[1]
    blocks = _blocks(geom, geom.c + n_out, x.dtype.itemsize)

    def group(lo, hi):
        tmp = np.empty((12, geom.th * (geom.tw + 1)), dtype=x.dtype)
        v = m = None
        for n0, count in blocks[lo:hi]:
            v = _input_block(x, geom, n0, count, v)
            if m is None or m.shape[2] != v.shape[2]:
                m = np.empty((16, n_out, v.shape[2]), dtype=x.dtype)
            np.matmul(u, v, out=m)
            finish(m, n0, tmp)

    run_blocks(group, _groups(blocks, threads), threads)


def _wgrad_tiles(x, g, geom, threads=1):
    """sum over tiles of dM (16, O, tiles) @ V^T (16, tiles, C), block by block: (16, O, C). Each group of
    blocks sums into its own partial on its core; the partials are added in group order."""
    loops = _loops()
    if loops is None:
        return np.matmul(_numpy_grad(g, geom), _numpy_input(x, geom).transpose(0, 2, 1))
    n_out = g.shape[1]
    blocks = _blocks(geom, geom.c + n_out, x.dtype.itemsize)
    groups = _groups(blocks, threads)
    partials = [np.zeros((16, n_out, geom.c), dtype=x.dtype) for _ in groups]
    am = _A.astype(x.dtype)

    def group(lo, hi):
        du, par = partials[groups.index((lo, hi))], _scratch(geom, x.dtype)
        part = np.empty_like(du)
        v = dm = None
        for n0, count in blocks[lo:hi]:
            v = _input_block(x, geom, n0, count, v)
            if dm is None or dm.shape[2] != v.shape[2]:
                dm = np.empty((16, n_out, v.shape[2]), dtype=x.dtype)
            loops[2](g, n0, dm, geom.th, geom.tw + 1, par, am)
            du += np.matmul(dm, v.transpose(0, 2, 1), out=part)

    run_blocks(group, groups, threads)
    du = partials[0]
    for p in partials[1:]:
        du += p
    return du


def _filter_transform(w, transposed):
    """U (16, O, C) = G w G^T per (output, input) channel pair; ``transposed``: of w turned and swapped."""
    g = _G.astype(w.dtype)
    if transposed:  # w (C_in, C_out, 3, 3) turned by 180 degrees: the flipped G reads the kernel backwards
        g = g[:, ::-1]
        u = np.einsum("ai,coij,bj->aboc", g, w, g, optimize=True)
    else:
        u = np.einsum("ai,ocij,bj->aboc", g, w, g, optimize=True)
    return np.ascontiguousarray(u.reshape(16, u.shape[2], u.shape[3]))


# -- the primitives -------------------------------------------------------------------------------------------
def _numpy_only(op, xp):
    if getattr(xp, "__name__", "") != "numpy":
        raise RuntimeError(f"{op}: Winograd convolutions run on CPU (NumPy) arrays only; on {xp.__name__} "
                           "convolutions use im2col (EMBER_CONV_WINOGRAD=1 does not apply there)")


# The GEMMs of one block are small (the cnn's conv2: 16 of 64x32x312): with OpenBLAS threaded, each call pays
# a hand-off to its worker threads, and on a busy machine a wait for a worker the OS has not scheduled (the
# resnet block's eager step at 2 threads: 25 s instead of ~2 s). So BLAS runs at one thread for these
# primitives (threadpoolctl, when installed; ``hold_blas_lingering`` gives the count back a while after the
# last one), and the cores are used by spreading groups of image blocks over Ember's pool (``_cores``), each
# core running its own single-threaded GEMMs.


def _threads():
    """Cores a Winograd call spreads its image blocks over: ``ember.get_num_threads()`` (``EMBER_CONV_THREADS``
    caps it; 1 keeps every call on the calling thread). Calls with one block of images stay on one core
    anyway (``_groups``)."""
    cap = os.environ.get("EMBER_CONV_THREADS", "")
    n = cached_num_threads()
    return min(n, int(cap)) if cap.isdigit() and int(cap) > 0 else n


def _conv_fwd(xp, x, w, padding, transposed=False):
    _numpy_only("winograd_conv", xp)
    x = np.ascontiguousarray(x)  # one layout for the loops (a compiled graph may hand over a strided view)
    threads = _threads()
    hold_blas_lingering()
    return _conv_tiles(x, _filter_transform(w, transposed), _Geom(x.shape, padding), threads)


def _wgrad_fwd(xp, x, g, padding, transposed=False):
    _numpy_only("winograd_wgrad", xp)
    x, g = np.ascontiguousarray(x), np.ascontiguousarray(g)
    threads = _threads()
    hold_blas_lingering()
    du = _wgrad_tiles(x, g, _Geom(x.shape, padding), threads)
    gm = _G.astype(x.dtype)
    dw = np.einsum("ai,abk,bj->kij", gm, du.reshape(4, 4, -1), gm, optimize=True)
    dw = dw.reshape(du.shape[1], du.shape[2], 3, 3)
    if transposed:  # back to the transposed form's weight layout (C_in, C_out, 3, 3), turned
        dw = dw[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dw)


def _flip_pad(padding):
    return tuple((2 - a, 2 - b) for a, b in padding)


def _conv_vjp(g, out, x, w, padding, transposed=False):
    dx = apply("winograd_conv", g, w, padding=_flip_pad(padding), transposed=not transposed)
    dw = apply("winograd_wgrad", x, g, padding=padding, transposed=transposed)
    return dx, dw


def _wgrad_vjp(h, out, x, g, padding, transposed=False):
    dx = apply("winograd_conv", g, h, padding=_flip_pad(padding), transposed=not transposed)
    dg = apply("winograd_conv", x, h, padding=padding, transposed=transposed)
    return dx, dg


def _out_hw(x, padding):
    return tuple(None if s is None else s + a + b - 2 for s, (a, b) in zip(x.shape[2:], padding))


def _check(op, x, other, padding):
    if x.ndim != 4 or other.ndim != 4 or x.dtype != other.dtype:
        raise RuntimeError(f"{op}: expected 4-D inputs of one dtype, got {x.shape} {x.dtype} and {other.shape} "
                           f"{other.dtype}")
    outs = _out_hw(x, padding)
    if any(o is not None and o < 1 for o in outs):
        raise RuntimeError(f"{op}: input {x.shape} with padding {padding} is smaller than the 3x3 kernel")
    return outs


def _conv_rule(x, w, padding, transposed=False):
    outs = _check("winograd_conv", x, w, padding)
    c_in, c_out = (w.shape[0], w.shape[1]) if transposed else (w.shape[1], w.shape[0])
    if tuple(w.shape[2:]) != (3, 3) or differ(x.shape[1], c_in):
        raise RuntimeError(f"winograd_conv: input {x.shape} and weight {w.shape} (transposed={transposed}): "
                           f"expected a 3x3 kernel over {x.shape[1]} input channels")
    return Aval((x.shape[0], c_out) + outs, x.dtype, x.device)


def _wgrad_rule(x, g, padding, transposed=False):
    outs = _check("winograd_wgrad", x, g, padding)
    if differ(x.shape[0], g.shape[0]) or any(differ(a, b) for a, b in zip(outs, g.shape[2:])):
        raise RuntimeError(f"winograd_wgrad: gradient {g.shape} does not match the output of input {x.shape} "
                           f"with padding {padding}")
    shape = (x.shape[1], g.shape[1]) if transposed else (g.shape[1], x.shape[1])
    return Aval(shape + (3, 3), x.dtype, x.device)


register("winograd_conv", _conv_fwd, vjp=_conv_vjp, infer=_conv_rule, saves=(0, 1), kind="nn")
register("winograd_wgrad", _wgrad_fwd, vjp=_wgrad_vjp, infer=_wgrad_rule, saves=(0, 1), kind="nn")
for _name in ("winograd_conv", "winograd_wgrad"):
    unsupported(_name, "onnx", "a training-time form of a convolution: ONNX gets the Conv layer node (export "
                "traces without gradients, where convolutions are not Winograd)")
_tflite.mark(["winograd_conv", "winograd_wgrad"], _tflite.TRAINING)


# -- the choice ------------------------------------------------------------------------------------------------
_FORCED: list = []  # a stack of True / False / None (auto) set by ``forced``
# measured (docs/internals.md): thinner GEMMs or fewer tiles per plane do not pay for the transforms
MIN_CHANNELS, MIN_SIZE = 8, 12


@contextlib.contextmanager
def forced(mode):
    """Within the block, ``True``: every convolution Winograd can compute takes it; ``False``: none; ``None``:
    the measured choice (also ``EMBER_CONV_WINOGRAD=1/0``).

    >>> import ember
    >>> from ember.ops import winograd
    >>> with winograd.forced(True):  # Winograd even for one channel (numba's loops, or NumPy passes without it)
    ...     ember.nn.functional.conv2d(ember.ones(1, 1, 5, 5), ember.ones(1, 1, 3, 3)).sum()
    tensor(81.)
    """
    _FORCED.append(mode)
    try:
        yield
    finally:
        _FORCED.pop()


def geometry_ok(x, w, stride, padding, dilation, groups) -> bool:
    """Whether Winograd F(2x2, 3x3) computes this convolution: 2-D, 3x3, stride 1, dilation 1, groups 1,
    padding 0-2, float32/64 NumPy arrays with known shapes."""
    return (len(stride) == 2 and tuple(w.shape[2:]) == (3, 3) and stride == (1, 1) and dilation == (1, 1)
            and groups == 1 and all(0 <= p <= 2 for pair in padding for p in pair)
            and x._data.dtype.char in "fd" and type(x._data) is np.ndarray and type(w._data) is np.ndarray
            and None not in x.shape)


def use_winograd(x, w, stride, padding, dilation, groups, training) -> bool:
    """The ``conv`` composite's choice: Winograd where it computes the convolution and, unless forced, in
    training (``training``: a gradient will be taken), with the compiled transforms, on enough channels."""
    if not geometry_ok(x, w, stride, padding, dilation, groups):
        return False
    mode = _FORCED[-1] if _FORCED else {"1": True, "0": False}.get(os.environ.get("EMBER_CONV_WINOGRAD", ""))
    if mode is not None:
        return mode
    c_out, c_in = w.shape[0], w.shape[1]
    outs = [s + a + b - 2 for s, (a, b) in zip(x.shape[2:], padding)]
    return training and min(c_in, c_out) >= MIN_CHANNELS and min(outs) >= MIN_SIZE and available()
