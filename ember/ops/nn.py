"""Fused nn primitives that pay for themselves in the benchmarks (each is tested against its composite).

- ``relu(x)``: max(x, 0) with PyTorch's gradient (0 at x == 0); its vjp is one ``where`` instead of the
  several ops of ``maximum``'s tie-splitting rule.
- ``softmax_cross_entropy(logits, target; ignore_index, label_smoothing, reduction)``: log-softmax + NLL over
  class indices for (N,
                     C) logits in one forward, gradient ``softmax - target_distribution``. Its vjp is written
  with Ember ops (so grads of grads and traced backward passes work); when no graph is being recorded or
  traced the same formula runs directly on the arrays.
- ``linear(x, w, b)``: x @ w.T + b in one dispatch (one matmul + in-place add); vjp = two matmuls and a sum.
"""
from __future__ import annotations

from .._state import STATE
from ..dtypes import int64
from ._core import Aval, apply, register
from ._rules import elementwise
from .linalg import _matmul_rule, gemm


# -- relu ----------------------------------------------------------------------------------------------------
def _relu_vjp(g, out, x):
    zero = g._scalar(0.0)
    return (apply("where", apply("gt", out, out._scalar(0)), g, zero),)


register("relu", lambda xp, x: xp.maximum(x, x.dtype.type(0)), vjp=_relu_vjp,
         infer=lambda x: elementwise("relu", x), saves=(), saves_out=True, kind="elementwise")


# -- softmax cross-entropy -----------------------------------------------------------------------------------
def _ce_rule(x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    if x.ndim != 2 or t.ndim != 1 or t.shape[0] != x.shape[0]:
        raise ValueError(f"softmax_cross_entropy: expected logits (N, C) and class indices (N,), got "
                         f"{x.shape} and {t.shape}")
    if t.dtype.category != 1:
        raise TypeError(f"softmax_cross_entropy: class indices must be integers, got {t.dtype.name}")
    return Aval((x.shape[0],) if reduction == "none" else (), x.dtype, x.device)


def _ce_parts(xp, x, t, ignore_index):
    """(log-probabilities, valid mask, clipped targets) as arrays."""
    z = x - x.max(axis=1, keepdims=True)
    logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))
    valid = t != ignore_index
    c = x.shape[1]
    if not bool(valid.all()):
        tc = xp.where(valid, t, 0)
    else:
        tc = t
    if tc.size and (int(tc.min()) < 0 or int(tc.max()) >= c):
        bad = int(tc.min()) if int(tc.min()) < 0 else int(tc.max())
        raise IndexError(f"cross_entropy: target {bad} is out of bounds for {c} classes (targets must lie "
                         f"in [0, {c - 1}] or equal ignore_index {ignore_index})")
    return logp, valid, tc


def _ce_fwd(xp, x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    logp, valid, tc = _ce_parts(xp, x, t, ignore_index)
    n = x.shape[0]
    loss = -logp[xp.arange(n), tc]
    if label_smoothing:
        loss = (1 - label_smoothing) * loss - label_smoothing * logp.mean(axis=1)
    loss = xp.where(valid, loss, 0).astype(x.dtype, copy=False)
    if reduction == "none":
        return loss
    total = loss.sum(dtype=x.dtype)
    if reduction == "sum":
        return xp.asarray(total)
    return xp.asarray(total / x.dtype.type(valid.sum()))


def _ce_vjp(g, out, x, t, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    if not STATE.grad_enabled and STATE.tracer is None:
        return _ce_vjp_arrays(g, x, t, ignore_index, label_smoothing, reduction), None
    from ..creation import arange
    from ..functional.linalg import softmax
    from ..functional.math import cast

    c = x.shape[1]
    onehot = cast(apply("eq", arange(c, device=x.device).reshape(1, c), t.reshape(-1, 1)), x.dtype)
    target = onehot * (1 - label_smoothing) + label_smoothing / c if label_smoothing else onehot
    valid = cast(apply("ne", t, t._scalar(ignore_index)), x.dtype)
    scale = valid * g / valid.sum() if reduction == "mean" else valid * g
    return (softmax(x, 1) - target) * scale.reshape(-1, 1), None


def _ce_vjp_arrays(g, x, t, ignore_index, label_smoothing, reduction):
    from ..tensor import Tensor, _xp

    xa, ta, ga = x._data, t._data, g._data
    xp = _xp(xa)
    z = xa - xa.max(axis=1, keepdims=True)
    e = xp.exp(z)
    grad = e / e.sum(axis=1, keepdims=True)
    valid = ta != ignore_index
    n, c = xa.shape
    tc = xp.where(valid, ta, 0)
    if label_smoothing:
        grad -= label_smoothing / c
        grad[xp.arange(n), tc] -= 1 - label_smoothing
    else:
        grad[xp.arange(n), tc] -= 1
    scale = valid.astype(xa.dtype)
    if reduction == "none":
        scale *= ga
    elif reduction == "mean":
        scale *= ga / scale.sum()
    else:
        scale *= ga
    grad *= scale[:, None]
    return Tensor._wrap(grad)


register("softmax_cross_entropy", _ce_fwd, vjp=_ce_vjp, infer=_ce_rule, saves=(0, 1), kind="other")


# -- linear --------------------------------------------------------------------------------------------------
def _linear_rule(x, w, b):
    out = _matmul_rule(x, Aval(w.shape[::-1], w.dtype, w.device))
    if b.shape != (w.shape[0],):
        raise RuntimeError(f"linear: bias of shape {b.shape} does not match the {w.shape[0]} output "
                           f"features of weight {w.shape}; it must have shape ({w.shape[0]},)")
    return out


def _linear_fwd(xp, x, w, b):
    if x.dtype != w.dtype or b.dtype != w.dtype:
        raise TypeError("dtype mismatch")
    out = gemm(xp, x, w.T)
    out += b
    return out


def _linear_vjp(g, out, x, w, b):
    gx = gw = gb = None
    if x.requires_grad:
        gx = apply("matmul", g, w)
    if w.requires_grad or b.requires_grad:
        # primitive attrs hold concrete shapes (no -1), so the IR's shape rules can check them
        g2 = g if g.ndim == 2 else apply("reshape", g, shape=(g.numel() // max(g.shape[-1], 1), g.shape[-1]))
        if w.requires_grad:
            x2 = x if x.ndim == 2 else apply("reshape", x, shape=(x.numel() // max(x.shape[-1], 1),
                                                                  x.shape[-1]))
            gw = apply("matmul", apply("permute", g2, perm=(1, 0)), x2)
        if b.requires_grad:
            gb = apply("sum", g2, axis=(0,), keepdims=False)
    return gx, gw, gb


register("linear", _linear_fwd, vjp=_linear_vjp, infer=_linear_rule, saves=(0, 1), kind="matmul")
_ = int64
