"""Fused RNN primitives (the composite cell loop is too slow in eager NumPy; see bench/).

- ``lstm_seq(xw, w_hh, h0, c0)``: the LSTM recurrence over all time steps, ``xw`` (T, B, 4H) being the
  input projections plus both biases (PyTorch's gate order i, f, g, o); the output (2, T, B, H) stacks every h
  and every c. Its vjp calls ``lstm_seq_grad``, a hand-written backward through time (first order only), and
  computes the weight gradient with one matmul over all steps.
"""
from __future__ import annotations

import contextlib
import weakref

from .. import backend
from .._state import STATE
from ._core import Aval, apply, register

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


def _serial(xp):
    """One BLAS thread for the per-step GEMMs on CPU (see ``backend.serial_blas``)."""
    return backend.serial_blas() if xp is backend.numpy else contextlib.nullcontext()


def _lstm_seq_fwd(xp, xw, w_hh, h0, c0):
    with _serial(xp):
        out, act = _lstm_seq_loop(xp, xw, w_hh, h0, c0)
    if STATE.grad_enabled:
        _remember(out, act)
    return out


def _lstm_seq_loop(xp, xw, w_hh, h0, c0):
    t_len, b, h4 = xw.shape
    hsz = h4 // 4
    out = xp.empty((2, t_len, b, hsz), dtype=xw.dtype)
    act = xp.empty((t_len, b, h4), dtype=xw.dtype)
    # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5: halve the i, f, o columns up front, then one tanh per step
    half = xp.ones(h4, dtype=xw.dtype)
    half[:2 * hsz] = half[3 * hsz:] = 0.5
    xs = xw * half
    w_t = xp.ascontiguousarray(w_hh.T * half)
    tmp = xp.empty((b, hsz), dtype=xw.dtype)
    h, c = h0, c0
    for t in range(t_len):
        z = act[t]
        xp.matmul(h, w_t, out=z)
        z += xs[t]
        xp.tanh(z, out=z)
        for sl in (z[:, :2 * hsz], z[:, 3 * hsz:]):
            sl *= 0.5
            sl += 0.5
        c_new, h_new = out[1, t], out[0, t]
        xp.multiply(z[:, hsz:2 * hsz], c, out=c_new)
        xp.multiply(z[:, :hsz], z[:, 2 * hsz:3 * hsz], out=tmp)
        c_new += tmp
        xp.tanh(c_new, out=tmp)
        xp.multiply(z[:, 3 * hsz:], tmp, out=h_new)
        h, c = h_new, c_new
    return out, act


def _lstm_gates(xp, out, xw, w_hh, h0):
    """Recompute all gate activations from the saved h sequence: one matmul for every time step."""
    hprev = xp.concatenate([h0[None], out[0, :-1]], axis=0)
    z = xw + hprev @ w_hh.T
    hsz = h0.shape[-1]
    act = 0.5 * xp.tanh(0.5 * z) + 0.5
    act[..., 2 * hsz:3 * hsz] = xp.tanh(z[..., 2 * hsz:3 * hsz])
    return act


def _lstm_factors(xp, act, out, c0):
    """Factors that do not depend on the incoming gradient: dz = [dc, dc, dc, dh] * a and dc += dh * bo.

    Written with in-place ops over whole sequences (each a single pass, no temporaries)."""
    hsz = c0.shape[-1]
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
    tc = xp.tanh(cs)
    xp.subtract(1, o, out=ao)  # tanh(c) * o * (1 - o)
    ao *= o
    bo = xp.multiply(tc, tc)  # o * (1 - tanh(c)^2)
    xp.subtract(1, bo, out=bo)
    bo *= o
    ao *= tc
    return a, bo, f


def _lstm_seq_grad_fwd(xp, g, out, xw, w_hh, h0, c0):
    """(T+1, B, 4H): rows 0..T-1 the gradients of the gate pre-activations, row T = [dh0 | dc0 | 0 | 0]."""
    t_len, b, h4 = xw.shape
    hsz = h4 // 4
    act = _recall(out)
    if act is None:
        act = _lstm_gates(xp, out, xw, w_hh, h0)
    a, bo, f = _lstm_factors(xp, act, out, c0)
    a3 = a[..., :3 * hsz].reshape(t_len, b, 3, hsz)
    res = xp.empty((t_len + 1, b, h4), dtype=xw.dtype)
    res[t_len, :, 2 * hsz:] = 0
    with _serial(xp):
        _lstm_bptt(xp, g, a, a3, bo, f, res, w_hh)
    return res


def _lstm_bptt(xp, g, a, a3, bo, f, res, w_hh):
    t_len, b, h4 = res.shape[0] - 1, res.shape[1], res.shape[2]
    hsz = h4 // 4
    dh = xp.zeros((b, hsz), dtype=res.dtype)
    dc = xp.zeros_like(dh)
    tmp = xp.empty_like(dh)
    for t in range(t_len - 1, -1, -1):
        dh += g[0, t]
        dc += g[1, t]
        xp.multiply(dh, bo[t], out=tmp)
        dc += tmp
        dz = res[t]
        xp.multiply(a3[t], dc[:, None, :], out=dz[:, :3 * hsz].reshape(b, 3, hsz))
        xp.multiply(a[t, :, 3 * hsz:], dh, out=dz[:, 3 * hsz:])
        xp.matmul(dz, w_hh, out=dh)
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
    ok = xw.ndim == 3 and w_hh.ndim == 2 and h0.ndim == 2
    ok = ok and xw.shape[2] == w_hh.shape[0] == 4 * w_hh.shape[1]
    if not ok or h0.shape != c0.shape or h0.shape != (xw.shape[1], w_hh.shape[1]) or xw.shape[0] < 1:
        raise RuntimeError(f"lstm_seq: expected xw (T, B, 4H), w_hh (4H, H), h0 and c0 (B, H), got "
                           f"{xw.shape}, {w_hh.shape}, {h0.shape}, {c0.shape}")
    return Aval((2,) + tuple(xw.shape[:2]) + (w_hh.shape[1],), xw.dtype, xw.device)


def _no_second_order(*_args, **_kw):
    raise RuntimeError("lstm_seq_grad: the fused LSTM kernel supports first-order gradients only; for "
                       "gradients of gradients run the LSTM with fused=False (the cell-by-cell composite)")


register("lstm_seq", _lstm_seq_fwd, vjp=_lstm_seq_vjp, infer=_lstm_seq_rule, saves=(0, 1, 2, 3),
         saves_out=True, kind="nn")
register("lstm_seq_grad", _lstm_seq_grad_fwd, vjp=_no_second_order, kind="nn",
         infer=lambda g, out, xw, *a: Aval((xw.shape[0] + 1,) + tuple(xw.shape[1:]), xw.dtype, xw.device))
