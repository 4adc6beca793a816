"""Fused RNN primitives (the composite cell loop is too slow in eager NumPy; see bench/).

- ``lstm_seq(xw, w_hh, h0, c0)``: the LSTM recurrence over all time steps, ``xw`` (T, B, 4H) being the
  input projections plus both biases (PyTorch's gate order i, f, g, o); the output (2, T, B, H) stacks every h
  and every c. Its vjp calls ``lstm_seq_grad``, a hand-written backward through time (first order only), and
  computes the weight gradient with one matmul over all steps.
"""
from __future__ import annotations

from ._core import Aval, apply, register


# -- fused LSTM recurrence ---------------------------------------------------------------------------------
def _sigmoid(xp, z):
    return 0.5 * (xp.tanh(0.5 * z) + 1)  # = 1 / (1 + exp(-z)), without overflow warnings


def _lstm_seq_fwd(xp, xw, w_hh, h0, c0):
    t_len, _, h4 = xw.shape
    hsz = h4 // 4
    out = xp.empty((2, t_len) + h0.shape, dtype=xw.dtype)
    w_t = xp.ascontiguousarray(w_hh.T)
    h, c = h0, c0
    for t in range(t_len):
        z = xw[t] + h @ w_t
        ifo = _sigmoid(xp, z[:, :2 * hsz]), _sigmoid(xp, z[:, 3 * hsz:])
        c = ifo[0][:, hsz:] * c + ifo[0][:, :hsz] * xp.tanh(z[:, 2 * hsz:3 * hsz])
        h = ifo[1] * xp.tanh(c)
        out[0, t], out[1, t] = h, c
    return out


def _lstm_gates(xp, out, xw, w_hh, h0):
    """Recompute all gate activations from the saved h sequence: one matmul for every time step."""
    hprev = xp.concatenate([h0[None], out[0, :-1]], axis=0)
    z = xw + hprev @ w_hh.T
    hsz = h0.shape[-1]
    act = _sigmoid(xp, z)
    act[..., 2 * hsz:3 * hsz] = xp.tanh(z[..., 2 * hsz:3 * hsz])
    return act


def _lstm_seq_grad_fwd(xp, g, out, xw, w_hh, h0, c0):
    """(T+1, B, 4H): rows 0..T-1 the gradients of the gate pre-activations, row T = [dh0 | dc0 | 0 | 0]."""
    t_len, b, h4 = xw.shape
    hsz = h4 // 4
    act = _lstm_gates(xp, out, xw, w_hh, h0)
    res = xp.zeros((t_len + 1, b, h4), dtype=xw.dtype)
    dh, dc = xp.zeros_like(h0), xp.zeros_like(c0)
    for t in range(t_len - 1, -1, -1):
        i, f, gg, o = (act[t, :, k * hsz:(k + 1) * hsz] for k in range(4))
        c_prev = out[1, t - 1] if t else c0
        tc = xp.tanh(out[1, t])
        dh = dh + g[0, t]
        dc = dc + g[1, t] + dh * o * (1 - tc * tc)
        dz = res[t]
        dz[:, :hsz] = dc * gg * i * (1 - i)
        dz[:, hsz:2 * hsz] = dc * c_prev * f * (1 - f)
        dz[:, 2 * hsz:3 * hsz] = dc * i * (1 - gg * gg)
        dz[:, 3 * hsz:] = dh * tc * o * (1 - o)
        dh = dz @ w_hh
        dc = dc * f
    res[t_len, :, :hsz], res[t_len, :, hsz:2 * hsz] = dh, dc
    return res


def _lstm_seq_vjp(g, out, xw, w_hh, h0, c0):
    t_len, b, h4 = xw.shape
    hsz = h4 // 4
    packed = apply("lstm_seq_grad", g, out.detach(), xw.detach(), w_hh.detach(), h0.detach(), c0.detach())
    dz = packed[:t_len]
    dw = None
    if w_hh.requires_grad:
        hprev = apply("cat", h0.detach().reshape(1, b, hsz), out.detach()[0, :t_len - 1], axis=0)
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
