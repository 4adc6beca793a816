"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ (in place on ``p.grad``, like PyTorch).

Everything is computed with tensor ops and written with the in-place methods, so clipping inside a compiled
training step (``ember.compile``) is part of its graph.

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

from ...autograd import no_grad
from ...functional import math as M
from ...functional import reduce as R
from ...functional import shape as S
from ...ops import apply
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type`` norm of all ``tensors`` together (as if concatenated), a 0-d tensor.

    >>> import ember
    >>> from ember import nn
    >>> float(nn.utils.get_total_norm([ember.full((4,), 3.0), ember.zeros(2)]))
    6.0
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        from ...creation import tensor

        return tensor(0.0)
    with no_grad():
        per = [R.norm(t.detach(), norm_type) for t in tensors]
        total = per[0] if len(per) == 1 else R.norm(S.stack(per), norm_type)
        if error_if_nonfinite:  # checked by a graph op, so a compiled step checks every call
            apply("assert_all", M.isfinite(total), message=(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                "anyway, set `error_if_nonfinite=False`"))
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)) in place.

    >>> import ember
    >>> from ember import nn
    >>> p = nn.Parameter(ember.ones(2)); p.grad = ember.full((2,), 4.0)
    >>> nn.utils.clip_grads_with_norm_([p], 1.0, ember.tensor(8.0)); p.grad
    tensor([0.5000, 0.5000])
    """
    grads = _grads(parameters)
    if not grads:
        return
    with no_grad():
        if not isinstance(total_norm, Tensor):
            total_norm = grads[0]._scalar(float(total_norm))
        coef = M.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)  # a tensor: no value read in Python
        for g in grads:
            g.mul_(coef if coef.dtype == g.dtype else coef.to(g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale gradients so their total ``norm_type`` norm is at most ``max_norm``; returns the total norm
    before clipping (a 0-d tensor)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient into [-clip_value, clip_value] in place.

    >>> import ember
    >>> from ember import nn
    >>> p = nn.Parameter(ember.ones(3)); p.grad = ember.tensor([-5.0, 0.5, 9.0])
    >>> nn.utils.clip_grad_value_([p], 1.0); p.grad
    tensor([-1.0000,  0.5000,  1.0000])
    """
    c = float(clip_value)
    if math.isnan(c):
        raise ValueError("clip_grad_value_: clip_value is NaN")
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-c, c)
