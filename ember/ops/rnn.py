"""Fused RNN primitives (the composite cell loop is too slow in eager NumPy; see bench/).

- ``lstm_seq(xw, w_hh, h0, c0)``: the LSTM recurrence over all time steps, ``xw`` (T, B, 4H) being the
  input projections plus both biases (PyTorch's gate order i, f, g, o); the output (2, T, B, H) stacks every h
  and every c. Its vjp calls ``lstm_seq_grad``, a hand-written backward through time (first order only), and
  computes the weight gradient with one matmul over all steps.
"""
from __future__ import annotations

import weakref

import numpy as np

from .._cores import even_blocks, run_blocks
from .._jit_math import numba_or_none
from .._state import STATE
from .._threads import blas_quiet, cached_num_threads, hold_blas_lingering
from ..backend import numpy
from . import _onnx, _tflite, rnn_loops
from ._core import Aval, Unsupported, apply, register, register_lowering, unsupported
from ._rules import dadd, differ, dprod

# -- fused LSTM recurrence ---------------------------------------------------------------------------------
# The forward keeps its gate activations for the backward (as PyTorch saves them), in a cache keyed by the
# output array and dropped with it; when the entry is missing (another executor ran the forward) the backward
# recomputes them with one matmul over all steps.
_SAVED: dict = {}


def _remember(out, act):
    key = id(out)
    try:
        ref = weakref.ref(out, lambda _r, key=key: _SAVED.pop(key, None))
    except TypeError:  # an array type without weak references: the backward recomputes
        return
    _SAVED[key] = (ref, act)


def _recall(out):
    """The saved activations, dropped once used (a retained graph's second backward recomputes them)."""
    entry = _SAVED.pop(id(out), None)
    return entry[1] if entry is not None and entry[0]() is out else None


def _whole(fn, rows):
    fn(0, rows)


# The time loops of a block of batch rows as one compiled call each (``rnn_loops``: the per-step products by
# its numba GEMM, no weight packing per call; the cell's tanh its vectorized float32 form) where it measured
# faster than the NumPy/OpenBLAS loop: float32, the products' K a multiple of 16 (the GEMM's vector width:
# H = 200's K ran 89 against OpenBLAS's 76 us), at most 64 rows a block. The batch is cut into blocks of at
# least 16 rows over Ember's pool: one hand-off per sequence, each core its rows' whole time loop (as Python
# loops, two blocks traded the GIL at each of a step's six calls: slower than one).
FUSED_ROWS = (16, 64)


def fused_applies(dtype, k) -> bool:
    """Whether a product of inner size ``k`` in ``dtype`` can run in the compiled time loop (see above)."""
    try:
        single = np.dtype(dtype) == np.float32
    except TypeError:  # not a NumPy dtype (a graph's symbolic one): not float32
        return False
    return single and k % 16 == 0 and rnn_loops.available()


def _fused_blocks(xp, dtype, k, b) -> int:
    """How many row blocks the compiled time loop runs in, or 0 where it does not apply (see above).

    At 2+ threads the blocks need BLAS held at one thread: a compiled step with such LSTMs holds it
    (``graph/cores.holds_blas``); eagerly ``_over_blocks`` takes the lingering hold that Winograd convolutions
    take (``_threads.hold_blas_lingering``; the step's other large GEMMs then split over the pool themselves,
    ``linalg.gemm``). Without a hold, OpenBLAS's worker, spinning after the GEMM before, shared the helper's
    core: the forward split in two took 16 ms after a threaded GEMM, 9.4 ms without one."""
    if xp is not numpy or not fused_applies(dtype, k):
        return 0
    threads = cached_num_threads()
    n = max(1, min(threads, b // FUSED_ROWS[0]))
    if -(-b // n) > FUSED_ROWS[1]:
        return 0
    if n < 2 and threads > 1 and not blas_quiet():
        return 0  # one block at 2+ threads with BLAS threaded: OpenBLAS's threaded per-step GEMMs
    return n


def _over_blocks(fn, rows, n):
    """``fn(lo, hi)`` over ``n`` blocks of rows on the calling thread and the pool's helpers, BLAS held at one
    thread meanwhile (a compiled step's hold, else the eager lingering one taken here; see above)."""
    if n > 1 and not blas_quiet():
        hold_blas_lingering()
    run_blocks(fn, even_blocks(rows, n), n)


# Every batch row of an LSTM is its own recurrence (h[t] of row r needs only row r of h[t-1]), so the forward
# and its backward run in blocks of batch rows: ``rows(fn, b)`` calls ``fn(lo, hi)`` over blocks covering
# [0, b). Eagerly one block; the compiled executor hands the blocks to its cores (``graph/rnn_rows.py``), one
# hand-off per sequence instead of a threaded small GEMM and single-threaded cell passes per time step.
def _lstm_seq_fwd(xp, xw, w_hh, h0, c0, rows=_whole):
    t_len, b, h4 = xw.shape
    hsz = h4 // 4
    out = xp.empty((2, t_len, b, hsz), dtype=xw.dtype)
    act = xp.empty((t_len, b, h4), dtype=xw.dtype)
    # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5: halve the i, f, o columns up front, then one tanh per step
    half = xp.ones(h4, dtype=xw.dtype)
    half[:2 * hsz] = half[3 * hsz:] = 0.5
    tcs = xp.empty((t_len, b, hsz), dtype=xw.dtype)  # tanh(c) per step, kept for the backward
    blocks = _fused_blocks(xp, xw.dtype, hsz, b)
    if blocks:
        args = [xp.ascontiguousarray(v) for v in (xw, half, w_hh * half[:, None], h0, c0)]
        _over_blocks(lambda lo, hi: rnn_loops.forward_block(*args, out, act, tcs, lo, hi), b, blocks)
    else:
        w_t = xp.ascontiguousarray(w_hh.T * half)
        rows(lambda lo, hi: _lstm_fwd_rows(xp, xw[:, lo:hi] * half, w_t, h0[lo:hi], c0[lo:hi], out[:, :, lo:hi],
                                           act[:, lo:hi], tcs[:, lo:hi]), b)
    if STATE.grad_enabled:
        _remember(out, (act, tcs))
    return out


def _lstm_fwd_rows(xp, xs, w_t, h, c, out, act, tcs):
    """The recurrence for one block of batch rows (every array already sliced to it)."""
    hsz = c.shape[-1]
    tmp = xp.empty(c.shape, dtype=xs.dtype)
    cell = _jit_kernels()[1] if xp is numpy and xs.dtype.char in "fd" else None
    for t in range(xs.shape[0]):
        z = act[t]
        xp.matmul(h, w_t, out=z)
        z += xs[t]
        xp.tanh(z, out=z)
        c_new, h_new = out[1, t], out[0, t]
        if cell is not None:
            cell(z, c, c_new)
        else:
            for sl in (z[:, :2 * hsz], z[:, 3 * hsz:]):
                sl *= 0.5
                sl += 0.5
            xp.multiply(z[:, hsz:2 * hsz], c, out=c_new)
            xp.multiply(z[:, :hsz], z[:, 2 * hsz:3 * hsz], out=tmp)
            c_new += tmp
        xp.tanh(c_new, out=tcs[t])
        xp.multiply(z[:, 3 * hsz:], tcs[t], out=h_new)
        h, c = h_new, c_new


def _lstm_gates(xp, out, xw, w_hh, h0):
    """Recompute all gate activations from the saved h sequence: one matmul for every time step."""
    hprev = xp.concatenate([h0[None], out[0, :-1]], axis=0)
    z = xw + hprev @ w_hh.T
    hsz = h0.shape[-1]
    act = 0.5 * xp.tanh(0.5 * z) + 0.5
    act[..., 2 * hsz:3 * hsz] = xp.tanh(z[..., 2 * hsz:3 * hsz])
    return act


def _jit_kernels():
    """numba forms of ``_lstm_factors`` (one pass instead of ~15) and of the forward's gate/cell update (one
    call instead of 7; the tanh calls stay NumPy's, which are SIMD and ~10x faster than numba's scalar tanh),
    or Nones without numba. (One backward step's elementwise work is ``rnn_loops.cell_grads``, shared with the
    compiled time loop.)"""
    if not _JIT:
        fns, numba = (None, None), numba_or_none()
        if numba is not None:
            @numba.njit(cache=False, nogil=True)  # nogil: row blocks run on several cores
            def factors(act, cs, tc, c0, a, bo):
                t_len, b, hsz = cs.shape
                for t in range(t_len):
                    for r in range(b):
                        for j in range(hsz):
                            i = act[t, r, j]
                            f = act[t, r, hsz + j]
                            g = act[t, r, 2 * hsz + j]
                            o = act[t, r, 3 * hsz + j]
                            cp = c0[r, j] if t == 0 else cs[t - 1, r, j]
                            tcv = tc[t, r, j]
                            a[t, r, j] = g * i * (1 - i)
                            a[t, r, hsz + j] = cp * f * (1 - f)
                            a[t, r, 2 * hsz + j] = i * (1 - g * g)
                            a[t, r, 3 * hsz + j] = tcv * o * (1 - o)
                            bo[t, r, j] = o * (1 - tcv * tcv)

            @numba.njit(cache=False, nogil=True)  # nogil: row blocks run on several cores
            def cell_step(z, c, c_new):  # z holds tanh(pre-activations): sigmoid for i, f, o; c update
                b, hsz = c.shape
                for r in range(b):
                    for j in range(hsz):
                        i = 0.5 * z[r, j] + 0.5
                        f = 0.5 * z[r, hsz + j] + 0.5
                        o = 0.5 * z[r, 3 * hsz + j] + 0.5
                        z[r, j] = i
                        z[r, hsz + j] = f
                        z[r, 3 * hsz + j] = o
                        c_new[r, j] = f * c[r, j] + i * z[r, 2 * hsz + j]

            fns = (factors, cell_step)
        _JIT.append(fns)
    return _JIT[0]


_JIT: list = []


def _lstm_factors(xp, act, out, c0, tc=None):
    """Factors that do not depend on the incoming gradient: dz = [dc, dc, dc, dh] * a and dc += dh * bo.

    Written with in-place ops over whole sequences (each a single pass, no temporaries); one numba loop when
    numba is installed. ``tc``: tanh of the cell states, when the forward kept it."""
    hsz = c0.shape[-1]
    if xp is numpy and act.dtype.char in "fd":
        fn = _jit_kernels()[0]
        if fn is not None:
            tc = numpy.tanh(out[1]) if tc is None else tc
            a, bo = numpy.empty_like(act), numpy.empty_like(tc)
            fn(act, numpy.ascontiguousarray(out[1]), numpy.ascontiguousarray(tc), numpy.ascontiguousarray(c0), a, bo)
            return a, bo, act[..., hsz:2 * hsz]
    i, f, g, o = (act[..., k * hsz:(k + 1) * hsz] for k in range(4))
    cs = out[1]
    a = xp.empty_like(act)
    ai, af, ag, ao = (a[..., k * hsz:(k + 1) * hsz] for k in range(4))
    xp.subtract(1, i, out=ai)  # g * i * (1 - i)
    ai *= i
    ai *= g
    xp.subtract(1, f, out=af)  # c_prev * f * (1 - f)
    af *= f
    af[0] *= c0
    af[1:] *= cs[:-1]
    xp.multiply(g, g, out=ag)  # i * (1 - g^2)
    xp.subtract(1, ag, out=ag)
    ag *= i
    tc = xp.tanh(cs) if tc is None else tc
    xp.subtract(1, o, out=ao)  # tanh(c) * o * (1 - o)
    ao *= o
    bo = xp.multiply(tc, tc)  # o * (1 - tanh(c)^2)
    xp.subtract(1, bo, out=bo)
    bo *= o
    ao *= tc
    return a, bo, f


def _lstm_seq_grad_fwd(xp, g, out, xw, w_hh, h0, c0, rows=_whole):
    """(T+1, B, 4H): rows 0..T-1 the gradients of the gate pre-activations, row T = [dh0 | dc0 | 0 | 0]."""
    t_len, b, h4 = xw.shape
    hsz = h4 // 4
    saved = _recall(out)
    act, tc = (_lstm_gates(xp, out, xw, w_hh, h0), None) if saved is None else saved
    res = xp.empty((t_len + 1, b, h4), dtype=xw.dtype)
    res[t_len, :, 2 * hsz:] = 0
    blocks = _fused_blocks(xp, xw.dtype, h4, b)
    if blocks:
        g, act, w_t = xp.ascontiguousarray(g), xp.ascontiguousarray(act), xp.ascontiguousarray(w_hh.T)

        def block(lo, hi):
            tcb = None if tc is None else tc[:, lo:hi]
            a, bo, _ = _lstm_factors(xp, act[:, lo:hi], out[:, :, lo:hi], c0[lo:hi], tcb)
            rnn_loops.backward_block(g, a, bo, act, w_t, res, lo, hi)

        _over_blocks(block, b, blocks)
        return res
    rows(lambda lo, hi: _lstm_bptt_rows(xp, g[:, :, lo:hi], out[:, :, lo:hi], act[:, lo:hi], w_hh, c0[lo:hi],
                                        None if tc is None else tc[:, lo:hi], res[:, lo:hi]), b)
    return res


def _lstm_bptt_rows(xp, g, out, act, w_hh, c0, tc, res):
    """The backward through time for one block of batch rows (every array already sliced to it)."""
    t_len, b, h4 = act.shape
    hsz = h4 // 4
    a, bo, f = _lstm_factors(xp, act, out, c0, tc)
    dh, dc = xp.zeros_like(c0), xp.zeros_like(c0)
    if xp is numpy and res.dtype.char in "fd" and rnn_loops.available():  # the step's elementwise work in one call
        for t in range(t_len - 1, -1, -1):
            rnn_loops.cell_grads(dh, dc, g[0, t], g[1, t], bo[t], a[t], xp.ascontiguousarray(act[t]), res[t])
            xp.matmul(res[t], w_hh, out=dh)
        res[t_len, :, :hsz], res[t_len, :, hsz:2 * hsz] = dh, dc
        return
    a3 = a[..., :3 * hsz].reshape(t_len, b, 3, hsz)
    tmp = xp.empty_like(dh)
    for t in range(t_len - 1, -1, -1):
        dh += g[0, t]
        dc += g[1, t]
        xp.multiply(dh, bo[t], out=tmp)
        dc += tmp
        dz = res[t]
        xp.multiply(a3[t], dc[:, None, :], out=dz[:, :3 * hsz].reshape(b, 3, hsz))
        xp.multiply(a[t, :, 3 * hsz:], dh, out=dz[:, 3 * hsz:])
        dh = dz @ w_hh
        dc *= f[t]
    res[t_len, :, :hsz], res[t_len, :, hsz:2 * hsz] = dh, dc


def _lstm_seq_vjp(g, out, xw, w_hh, h0, c0):
    t_len, b, h4 = xw.shape
    hsz = h4 // 4
    # with create_graph this records an lstm_seq_grad node whose own vjp raises a clear error if it is reached
    packed = apply("lstm_seq_grad", g, out, xw, w_hh, h0, c0)
    dz = packed[:t_len]
    dw = None
    if w_hh.requires_grad:
        hprev = apply("cat", h0.reshape(1, b, hsz), out[0, :t_len - 1], axis=0)
        dw = dz.reshape(t_len * b, h4).mT @ hprev.reshape(t_len * b, hsz)
    return (dz if xw.requires_grad else None, dw,
            packed[t_len, :, :hsz] if h0.requires_grad else None,
            packed[t_len, :, hsz:2 * hsz] if c0.requires_grad else None)


def _lstm_seq_rule(xw, w_hh, h0, c0):
    ok = xw.ndim == 3 and w_hh.ndim == 2 and h0.ndim == 2 and c0.ndim == 2
    ok = ok and not differ(xw.shape[2], w_hh.shape[0]) and not differ(w_hh.shape[0], dprod((4, w_hh.shape[1])))
    ok = ok and not any(differ(a, b) for a, b in zip(h0.shape + h0.shape, c0.shape + (xw.shape[1], w_hh.shape[1])))
    if not ok or (xw.shape[0] is not None and xw.shape[0] < 1):
        raise RuntimeError(f"lstm_seq: expected xw (T, B, 4H), w_hh (4H, H), h0 and c0 (B, H), got "
                           f"{xw.shape}, {w_hh.shape}, {h0.shape}, {c0.shape}")
    return Aval((2,) + tuple(xw.shape[:2]) + (w_hh.shape[1],), xw.dtype, xw.device)


def _no_second_order(*_args, **_kw):
    raise RuntimeError("lstm_seq_grad: the fused LSTM kernel supports first-order gradients only; for "
                       "gradients of gradients run the LSTM with fused=False (the cell-by-cell composite)")


register("lstm_seq", _lstm_seq_fwd, vjp=_lstm_seq_vjp, infer=_lstm_seq_rule, saves=(0, 1, 2, 3),
         saves_out=True, kind="nn")
register("lstm_seq_grad", _lstm_seq_grad_fwd, vjp=_no_second_order, kind="nn",
         infer=lambda g, out, xw, *a: Aval((dadd(xw.shape[0], 1),) + tuple(xw.shape[1:]), xw.dtype, xw.device))
unsupported("lstm_seq_grad", "onnx", "the LSTM's backward; ONNX export covers inference graphs")


# -- ONNX: one LSTM node. ONNX's LSTM gives every h but only the last c, so the (2, T, B, H) output is exact
# where its readers look (h at any step, c at the last step: what nn.LSTM and keras.layers.LSTM read); other
# readers get an Unsupported. xw already holds the input projection: ONNX's W is a gate permutation.
def _reads_only_h_or_last_c(ctx, node):
    t_len = node.inputs[0].shape[0]
    for user in ctx.users(node.outputs[0]):
        idx = user.attrs.get("index", ()) if user.op == "getitem" else None
        if not idx or idx[0] is None or idx[0][0] != "int":
            return False
        if idx[0][1] == 1 and (len(idx) < 2 or idx[1] is None or idx[1][0] != "int" or
                               idx[1][1] not in (-1, None if t_len is None else t_len - 1)):
            return False
    return True


@register_lowering("lstm_seq", "onnx")
def _lstm_seq_onnx(ctx, node):
    if not _reads_only_h_or_last_c(ctx, node):
        raise Unsupported("the fused LSTM's cell states are read at steps ONNX's LSTM does not output",
                          "read the hidden states and the last cell state only (as nn.LSTM does)")
    h4 = node.inputs[1].shape[0]
    hsz = h4 // 4
    order = np.concatenate([np.arange(g * hsz, (g + 1) * hsz) for g in (0, 3, 1, 2)])  # i f g o -> i o f c
    w = np.eye(h4, dtype=ctx.np_dtype(node.inputs[0].dtype))[order][None]
    r = _onnx.unsqueeze(ctx, ctx.emit("Gather", [ctx.input(node, 1), ctx.ints(order)], axis=0), [0])
    h0, c0 = (_onnx.unsqueeze(ctx, ctx.input(node, i), [0]) for i in (2, 3))
    y, _, yc = ctx.emit("LSTM", [ctx.input(node, 0), ctx.const(w), r, "", "", h0, c0], 3, hidden_size=hsz)
    hs = ctx.emit("Squeeze", [y, ctx.ints([1])])  # (T, 1, B, H) -> (T, B, H)
    cs = ctx.emit("Expand", [yc, ctx.emit("Shape", [hs])])  # the last c at every step: only its last is read
    ctx.emit("Concat", [_onnx.unsqueeze(ctx, hs, [0]), _onnx.unsqueeze(ctx, cs, [0])], [ctx.output(node)], axis=0)


_tflite.mark(["lstm_seq"], "the primitive form of an LSTM: TFLite gets the layer node (nn.LSTM); export the model "
             "with ember.export.tflite, which keeps layer nodes")
_tflite.mark(["lstm_seq_grad"], _tflite.TRAINING)
