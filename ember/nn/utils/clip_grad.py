"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ (in place on ``p.grad``, like PyTorch).

>>> import ember
>>> from ember import nn
>>> p = nn.Parameter(ember.ones(4))
>>> p.grad = ember.full((4,), 3.0)
>>> float(nn.utils.clip_grad_norm_([p], max_norm=1.0))
6.0
>>> round(float(p.grad.norm()), 4)
1.0
"""
from __future__ import annotations

import math

from ... import backend
from ...errors import mark, with_user_line
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type`` norm of all ``tensors`` together (as if concatenated), a 0-d tensor."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        from ...creation import tensor

        return tensor(0.0)
    xp = backend.xp_of(tensors[0]._data)
    if norm_type == math.inf:
        total = max(xp.abs(t._data).max() if t.numel() else 0.0 for t in tensors)
    else:
        per = [xp.linalg.norm(t._data.reshape(-1).astype(xp.float64), ord=norm_type) for t in tensors]
        total = xp.linalg.norm(xp.asarray(per), ord=norm_type)
    out = Tensor._wrap(xp.asarray(total, dtype=tensors[0]._data.dtype))
    if error_if_nonfinite and not bool(xp.isfinite(out._data)):
        raise mark(with_user_line(RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"), 3))
    return out


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)) in place."""
    grads = _grads(parameters)
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    if coef < 1.0:
        for g in grads:
            g._data *= g._data.dtype.type(coef)
            g._bump("clip_grad")


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale gradients so their total ``norm_type`` norm is at most ``max_norm``; returns the total norm
    before clipping."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient into [-clip_value, clip_value] in place."""
    c = float(clip_value)
    for g in _grads(parameters):
        backend.xp_of(g._data).clip(g._data, -c, c, out=g._data)
        g._bump("clip_grad")
