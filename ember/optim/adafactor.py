"""Adafactor (PyTorch 2.5's rule: factored second moments, relative step size) and SparseAdam.

Both read Python numbers from the parameter (step count, norms) at each step, so a step traced by
``ember.compile`` breaks the graph there and runs eagerly.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_hyper, lerp_, step_state, zeros_state

__all__ = ["Adafactor", "SparseAdam"]


def _zeros(p, shape):
    return Tensor._wrap(backend.xp_of(p._data).zeros(shape, p._data.dtype))


def adafactor_update_(p, g, row_var, col_var, variance, *, step, lr, beta2_decay, eps, d, weight_decay,
                      maximize):
    """One Adafactor step on ``p`` (in place): the row and column means of g**2 (a matrix's, over its last two
    dims) or g**2 itself (a vector's) move toward the new values by ``step ** beta2_decay``; the update
    g / sqrt(estimate) is clipped to RMS ``d`` and scaled by max(eps2, RMS(p)) * min(lr, 1/sqrt(step))."""
    if maximize:
        g = -g
    eps1, eps2 = eps
    if eps1 is None:
        eps1 = float(np.finfo(p._data.dtype).eps)
    t = float(step.item())
    weight = t ** beta2_decay
    alpha = max(eps2, float(p.norm()) / math.sqrt(p.numel())) * min(lr, 1 / math.sqrt(t))
    if weight_decay != 0:
        p.mul_(1 - lr * weight_decay)
    if g.dim() > 1:
        lerp_(row_var, g.norm(dim=-1, keepdim=True).square() / g.shape[-1], weight)  # torch's rounding
        lerp_(col_var, g.norm(dim=-2, keepdim=True).square() / g.shape[-2], weight)
        estimate = (row_var @ col_var) / row_var.mean(dim=-2, keepdim=True).clamp(min=eps1)
    else:
        lerp_(variance, g * g, weight)
        estimate = variance
    update = estimate.clamp(min=eps1 * eps1).rsqrt() * g
    denom = max(1.0, float(update.norm()) / (math.sqrt(update.numel()) * d))
    p.add_(update * (-alpha / denom))
    return row_var, col_var, variance


class Adafactor(Optimizer):
    """Adafactor (``torch.optim.Adafactor``, PyTorch 2.5+): memory-light second moments for matrices.

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(3, 2)
    >>> opt = optim.Adafactor(model.parameters())
    >>> model(ember.ones(1, 3)).sum().backward(); opt.step()
    >>> sorted(opt.state[model.weight])
    ['col_var', 'row_var', 'step']
    """

    _state_keys = ("row_var", "col_var", "variance")
    _hyper = ("lr", "beta2_decay", "eps", "d", "weight_decay", "maximize")

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        check_hyper("lr", lr, what="learning rate")
        if not beta2_decay <= 0:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not eps[0] >= 0:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        check_hyper("eps2", eps[1], what="epsilon2 value")
        check_hyper("d", d, low=1.0, what="clipping threshold d value")
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": tuple(eps), "d": d, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        state = {"step": step_state(p)}
        if p.dim() > 1:
            state["row_var"] = _zeros(p, tuple(p.shape[:-1]) + (1,))
            state["col_var"] = _zeros(p, tuple(p.shape[:-2]) + (1, p.shape[-1]))
        else:
            state["variance"] = zeros_state(p)
        return state

    _update_fn = staticmethod(adafactor_update_)


def sparse_adam_update_(p, g, exp_avg, exp_avg_sq, *, step, lr, betas, eps, maximize):
    """Adam on the rows of ``p`` (entries, for a vector) whose gradient is not all zero; the other rows and
    their moments stay as they are (PyTorch's SparseAdam on the rows a sparse gradient holds)."""
    if maximize:
        g = -g
    beta1, beta2 = betas
    nz = g != 0
    rows = nz.reshape(g.shape[0], -1).any(dim=1).reshape((g.shape[0],) + (1,) * (g.dim() - 1)) if g.dim() > 1 \
        else nz
    if not bool(rows.any()):
        return exp_avg, exp_avg_sq
    exp_avg.copy_(exp_avg.where(~rows, exp_avg * beta1 + g * (1 - beta1)))
    exp_avg_sq.copy_(exp_avg_sq.where(~rows, exp_avg_sq * beta2 + g * g * (1 - beta2)))
    t = float(step.item())
    step_size = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    change = exp_avg / (exp_avg_sq.sqrt() + eps) * (-step_size)
    p.add_(change.where(rows, change * 0))
    return exp_avg, exp_avg_sq


class SparseAdam(Optimizer):
    """Lazy Adam (``torch.optim.SparseAdam``) for dense gradients: only the rows whose gradient is not all zero
    (an embedding's looked-up rows) and their moments are updated.

    Ember has no sparse gradient tensors, so it takes the dense gradient and treats its nonzero rows as the
    rows a sparse one would hold; PyTorch refuses dense gradients. One difference follows: a looked-up row
    whose gradient is exactly zero is updated by PyTorch (it is in the sparse gradient) and skipped here.

    >>> import ember
    >>> from ember import nn, optim
    >>> emb = nn.Embedding(4, 2)
    >>> opt = optim.SparseAdam(emb.parameters(), lr=0.1)
    >>> before = emb.weight.detach().clone()
    >>> emb(ember.tensor([1])).sum().backward(); opt.step()
    >>> (emb.weight != before).any(dim=1).tolist()
    [False, True, False, False]
    """

    _state_keys = ("exp_avg", "exp_avg_sq")
    _hyper = ("lr", "betas", "eps", "maximize")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("eps", eps, what="epsilon value")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize})

    def _init_state(self, p, group):
        return {"step": step_state(p), "exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}

    _update_fn = staticmethod(sparse_adam_update_)
