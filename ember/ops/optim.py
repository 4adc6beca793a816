"""Optimizer update primitives (a measured eager fast path that stays one node in compiled graphs).

``adam_update(p, exp_avg, exp_avg_sq, step; lr, beta1, beta2, eps)`` is Adam's parameter update after the
moments are updated: ``p - lr / (1 - beta1^t) * exp_avg / (sqrt(exp_avg_sq) / sqrt(1 - beta2^t) + eps)``
with ``t`` the 0-d ``step`` array. The bias corrections are Python floats computed when the op runs (not when
a graph is traced), as in PyTorch's default (non-capturable) Adam; as Ember ops they were ~14 dispatches per
parameter, 3x the eager cost of the old array-only update on small models (see ``optim/adam.py``).
"""
from __future__ import annotations

from ._core import Aval, register


def _adam_update_fwd(xp, p, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps):
    t = float(step)
    step_size = lr / (1 - beta1 ** t)
    bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
    denom = xp.sqrt(exp_avg_sq)
    denom /= bias_correction2_sqrt
    denom += eps
    update = xp.multiply(exp_avg, -step_size)
    update /= denom
    update += p
    return update


def _adam_update_rule(p, exp_avg, exp_avg_sq, step, **_):
    if not (p.shape == exp_avg.shape == exp_avg_sq.shape) or len(step.shape) != 0:
        raise ValueError(f"adam_update: expected a parameter and two moments of one shape and a 0-d step, got "
                         f"{p.shape}, {exp_avg.shape}, {exp_avg_sq.shape} and {step.shape}")
    return Aval(p.shape, p.dtype, p.device)


register("adam_update", _adam_update_fwd, infer=_adam_update_rule, kind="other")
