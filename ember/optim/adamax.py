"""Adamax and NAdam (PyTorch's update rules), each with the one option that gives Keras's variant.

Each rule is one functional kernel (``kernel(K, p, g, *state, ...) -> (new_p, *new_state)``, see
``optimizer.py``); the in-place update writes the kernel's results into the parameter and its state with
``copy_``, so the two agree bit for bit and a traced step records the same Ember ops.
"""
from __future__ import annotations

from .optimizer import TENSOR_KERNELS, Optimizer, check_hyper, step_state, zeros_state

__all__ = ["Adamax", "NAdam"]


def _check_betas(betas):
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


def adamax_kernel(K, p, g, exp_avg, exp_inf, *, step, lr, betas, eps, weight_decay, maximize,
                  eps_outside_max=False):
    """One Adamax update: returns (new_param, exp_avg, exp_inf).

    PyTorch: ``u = max(beta2 * u, |g| + eps)``, ``p -= lr / (1 - beta1^t) * m / u``. ``eps_outside_max``
    (Keras's placement): ``u = max(beta2 * u, |g|)``, ``p -= lr / (1 - beta1^t) * m / (u + eps)``."""
    beta1, beta2 = betas
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    exp_avg = K.lerp(exp_avg, g, 1 - beta1)
    a = abs(g)
    exp_inf = K.maximum(exp_inf * beta2, a if eps_outside_max else a + eps)
    denom = exp_inf + eps if eps_outside_max else exp_inf
    clr = lr / (1 - beta1 ** step)
    return p + (-clr) * exp_avg / denom, exp_avg, exp_inf


def nadam_kernel(K, p, g, exp_avg, exp_avg_sq, mu_product, *, step, lr, betas, eps, weight_decay,
                 momentum_decay, decoupled_weight_decay, maximize):
    """One NAdam update: returns (new_param, exp_avg, exp_avg_sq, mu_product).

    ``mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))`` (Keras's Nadam is ``momentum_decay=1``);
    the step mixes the gradient and the momentum with Nesterov's look-ahead ``mu_{t+1}``."""
    beta1, beta2 = betas
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = mu_product * mu
    exp_avg = K.lerp(exp_avg, g, 1 - beta1)
    exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g
    denom = K.sqrt(exp_avg_sq / (1 - beta2 ** step)) + eps
    p = p + (-lr) * (1.0 - mu) / (1.0 - mu_product) * g / denom
    p = p + (-lr) * mu_next / (1.0 - mu_product * mu_next) * exp_avg / denom
    return p, exp_avg, exp_avg_sq, mu_product


def _write(targets, values):
    for t, v in zip(targets, values):
        t.copy_(v)


def adamax_update_(p, g, exp_avg, exp_inf, *, step, **hyper):
    """``adamax_kernel`` applied in place; returns (exp_avg, exp_inf)."""
    # the step in float64, as the kernels' Python-number steps (Adam's graph form does the same)
    new = adamax_kernel(TENSOR_KERNELS, p, g, exp_avg, exp_inf, step=step.double(), **hyper)
    _write((p, exp_avg, exp_inf), new)
    return exp_avg, exp_inf


def nadam_update_(p, g, exp_avg, exp_avg_sq, mu_product, *, step, **hyper):
    """``nadam_kernel`` applied in place; returns (exp_avg, exp_avg_sq, mu_product)."""
    new = nadam_kernel(TENSOR_KERNELS, p, g, exp_avg, exp_avg_sq, mu_product, step=step.double(), **hyper)
    _write((p, exp_avg, exp_avg_sq, mu_product), new)
    return exp_avg, exp_avg_sq, mu_product


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm of past gradients in place of their root mean square.

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.Adamax(model.parameters())
    >>> model(ember.ones(1, 2)).sum().backward()
    >>> opt.step()
    >>> sorted(opt.state[model.weight])
    ['exp_avg', 'exp_inf', 'step']
    """

    _state_keys = ("exp_avg", "exp_inf")
    _hyper = ("lr", "betas", "eps", "weight_decay", "maximize", "eps_outside_max")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False, eps_outside_max=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("eps", eps, what="epsilon value")
        _check_betas(betas)
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                                  "capturable": capturable, "eps_outside_max": bool(eps_outside_max)})

    def _init_state(self, p, group):
        return {"step": step_state(p), "exp_avg": zeros_state(p), "exp_inf": zeros_state(p)}

    _update_fn = staticmethod(adamax_update_)


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and a momentum schedule (``momentum_decay``).

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.NAdam(model.parameters(), lr=1e-3)
    >>> model(ember.ones(1, 2)).sum().backward()
    >>> opt.step()
    >>> sorted(opt.state[model.weight])
    ['exp_avg', 'exp_avg_sq', 'mu_product', 'step']
    """

    _state_keys = ("exp_avg", "exp_avg_sq", "mu_product")
    _hyper = ("lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("eps", eps, what="epsilon value")
        _check_betas(betas)
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        check_hyper("momentum_decay", momentum_decay, what="momentum_decay value")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "momentum_decay": momentum_decay,
                                  "decoupled_weight_decay": bool(decoupled_weight_decay), "foreach": foreach,
                                  "maximize": maximize, "capturable": capturable,
                                  "differentiable": differentiable})

    def _init_state(self, p, group):
        mu_product = step_state(p)
        mu_product.fill_(1.0)
        return {"step": step_state(p), "mu_product": mu_product, "exp_avg": zeros_state(p),
                "exp_avg_sq": zeros_state(p)}

    _update_fn = staticmethod(nadam_update_)
