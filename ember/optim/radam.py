"""RAdam, Rprop and ASGD with PyTorch's update rules, written with the public in-place Tensor methods (so an
eager step and a step traced by ``ember.compile`` run the same ops; values that depend on the step count are
0-d tensors, not Python numbers read from them).

>>> import ember
>>> from ember import nn, optim
>>> model = nn.Linear(2, 1)
>>> opt = optim.RAdam(model.parameters(), lr=1e-3)
>>> model(ember.ones(1, 2)).sum().backward()
>>> opt.step()
>>> sorted(opt.state[model.weight])
['exp_avg', 'exp_avg_sq', 'step']
"""
from __future__ import annotations

from ..functional.math import where
from .adamax import _check_betas
from .optimizer import Optimizer, check_hyper, step_state, zeros_state

__all__ = ["RAdam", "Rprop", "ASGD"]


def radam_update_(p, g, exp_avg, exp_avg_sq, *, step, lr, betas, eps, weight_decay, decoupled_weight_decay,
                  maximize):
    """One RAdam step in place: Adam's update scaled by the variance rectification term once the
    approximated SMA length passes 5, plain momentum SGD before."""
    beta1, beta2 = betas
    t = step.double()
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled_weight_decay:
            p.mul_(1 - lr * weight_decay)
        else:
            g = g.add(p, alpha=weight_decay)
    exp_avg.lerp_(g, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
    corrected = exp_avg / bias1.to(exp_avg.dtype)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / bias2
    rect = (((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).clamp(min=0.0)) ** 0.5
    adaptive = bias2.sqrt().to(p.dtype) / exp_avg_sq.sqrt().add_(eps)
    rectified = corrected * lr * adaptive * rect.to(p.dtype)
    p.sub_(where(rho_t > 5.0, rectified, corrected * lr))
    return exp_avg, exp_avg_sq


class RAdam(Optimizer):
    """RAdam (Liu et al., 2019): Adam whose adaptive step is rectified by its variance while few steps have
    been taken. ``decoupled_weight_decay=True`` decays the weights as AdamW does.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.RAdam(nn.Linear(2, 1).parameters(), lr=1e-3, weight_decay=0.01, decoupled_weight_decay=True)
    """

    _state_keys = ("exp_avg", "exp_avg_sq")
    _hyper = ("lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("eps", eps, what="epsilon value")
        _check_betas(betas)
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "decoupled_weight_decay": bool(decoupled_weight_decay), "foreach": foreach,
                                  "maximize": maximize, "capturable": capturable, "differentiable": differentiable})

    def _init_state(self, p, group):
        return {"step": step_state(p), "exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}

    _update_fn = staticmethod(radam_update_)


def rprop_update_(p, g, prev, step_size, *, step, lr, etas, step_sizes, maximize):
    """One Rprop step in place: each weight's step grows by ``etas[1]`` while its gradient keeps its sign,
    shrinks by ``etas[0]`` when it flips (and that step is skipped), within ``step_sizes``."""
    eta_minus, eta_plus = etas
    if maximize:
        g = -g
    if step_size is None:  # the first step: every step size starts at lr
        step_size = zeros_state(p).add_(lr)
    agreement = (g * prev).sign()
    factor = where(agreement > 0, p._scalar(eta_plus), where(agreement < 0, p._scalar(eta_minus), p._scalar(1.0)))
    step_size.mul_(factor).clamp_(min=step_sizes[0], max=step_sizes[1])
    flipped = agreement < 0
    g = where(flipped, 0.0, g)
    p.addcmul_(g.sign(), step_size, value=-1)
    prev.copy_(g)
    return prev, step_size


class Rprop(Optimizer):
    """Resilient backpropagation: per-weight step sizes driven by the signs of successive gradients (for
    full-batch training).

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.Rprop(model.parameters())
    >>> model(ember.ones(1, 2)).sum().backward()
    >>> opt.step()
    >>> sorted(opt.state[model.weight])
    ['prev', 'step', 'step_size']
    """

    _state_keys = ("prev", "step_size")
    _hyper = ("lr", "etas", "step_sizes", "maximize")

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        check_hyper("lr", lr, what="learning rate")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, {"lr": lr, "etas": tuple(etas), "step_sizes": tuple(step_sizes),
                                  "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                                  "capturable": capturable})

    def _init_state(self, p, group):
        return {"step": step_state(p), "prev": zeros_state(p)}

    _update_fn = staticmethod(rprop_update_)


def asgd_update_(p, g, eta, mu, ax, *, step, lr, lambd, alpha, t0, weight_decay, maximize):
    """One averaged-SGD step in place: SGD with a decaying rate ``eta``, and the running average ``ax`` of the
    weights from step ``t0`` on (``mu`` its weight)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g.add(p, alpha=weight_decay)
    rate = eta.to(p.dtype)
    p.mul_((1 - lambd * eta.double()).to(p.dtype))  # the decay factor rounded once, as PyTorch's Python number
    p.sub_(g * rate)
    ax.copy_(where(mu == 1, p, ax + (p - ax) * mu.to(p.dtype)))
    t = step.double()
    eta.copy_(lr / (1 + lambd * lr * t) ** alpha)
    mu.copy_(1 / (t - t0).clamp(min=1.0))
    return eta, mu, ax


class ASGD(Optimizer):
    """Averaged stochastic gradient descent (Polyak and Juditsky, 1992); ``state['ax']`` holds the averaged
    weights.

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.ASGD(model.parameters(), lr=0.01)
    >>> model(ember.ones(1, 2)).sum().backward()
    >>> opt.step()
    >>> sorted(opt.state[model.weight])
    ['ax', 'eta', 'mu', 'step']
    """

    _state_keys = ("eta", "mu", "ax")
    _hyper = ("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        super().__init__(params, {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                                  "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                                  "differentiable": differentiable, "capturable": capturable})

    def _init_state(self, p, group):
        eta, mu = step_state(p), step_state(p)
        eta.fill_(group["lr"])
        mu.fill_(1.0)
        return {"step": step_state(p), "eta": eta, "mu": mu, "ax": zeros_state(p)}

    _update_fn = staticmethod(asgd_update_)
