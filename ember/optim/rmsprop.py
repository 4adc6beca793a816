"""RMSprop, Adagrad and Adadelta (PyTorch's update rules)."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_hyper, lerp_, step_state, zeros_state

__all__ = ["RMSprop", "Adagrad", "Adadelta"]


def rmsprop_kernel(K, p, g, square_avg, grad_avg, momentum_buffer, *, step, lr, alpha, eps, weight_decay,
                   momentum, centered, maximize, eps_inside_sqrt=False, lr_inside_momentum=False):
    """One RMSprop update: returns (new_param, square_avg, grad_avg or None, momentum_buffer or None).

    Keras's and TensorFlow's variant differs in two places, each an option: ``eps_inside_sqrt`` divides by
    ``sqrt(v + eps)`` instead of PyTorch's ``sqrt(v) + eps``; ``lr_inside_momentum`` accumulates
    ``lr * g / avg`` in the momentum buffer (so a changed learning rate does not rescale past steps) instead
    of applying ``lr`` to the buffer."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg = square_avg * alpha + (1 - alpha) * g * g
    v = square_avg
    if centered:
        grad_avg = K.lerp(grad_avg, g, 1 - alpha)
        v = square_avg + (-1) * grad_avg * grad_avg
    avg = K.sqrt(v + eps) if eps_inside_sqrt else K.sqrt(v) + eps
    if momentum > 0 and lr_inside_momentum:
        momentum_buffer = momentum_buffer * momentum + lr * g / avg
        return p + (-1) * momentum_buffer, square_avg, grad_avg, momentum_buffer
    if momentum > 0:
        momentum_buffer = momentum_buffer * momentum + g / avg
        return p + (-lr) * momentum_buffer, square_avg, grad_avg, momentum_buffer
    return p + (-lr) * g / avg, square_avg, grad_avg, momentum_buffer


def rmsprop_update_(p, g, square_avg, grad_avg, momentum_buffer, *, step, lr, alpha, eps, weight_decay,
                    momentum, centered, maximize, eps_inside_sqrt=False, lr_inside_momentum=False):
    """``rmsprop_kernel``'s rule applied in place (the same two Keras options); returns (square_avg,
    grad_avg or None, momentum_buffer or None)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg.mul_(alpha).add_((g * (1 - alpha)).mul_(g))
    if centered:
        lerp_(grad_avg, g, 1 - alpha)
        avg = (grad_avg * (-1)).mul_(grad_avg).add_(square_avg)
    else:
        avg = square_avg.clone()
    if eps_inside_sqrt:
        avg.add_(eps).sqrt_()
    else:
        avg.sqrt_().add_(eps)
    if momentum > 0 and lr_inside_momentum:
        momentum_buffer.mul_(momentum).add_((g * lr).div_(avg))
        p.add_(momentum_buffer * (-1))
    elif momentum > 0:
        momentum_buffer.mul_(momentum).add_(g / avg)
        p.add_(momentum_buffer * (-lr))
    else:
        p.add_((g * (-lr)).div_(avg))
    return square_avg, grad_avg, momentum_buffer


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square (optionally centered, with momentum).

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.RMSprop(model.parameters(), lr=0.01, momentum=0.9, centered=True)
    >>> model(ember.ones(1, 2)).sum().backward()
    >>> opt.step()
    """

    _state_keys = ("square_avg", "grad_avg", "momentum_buffer")
    _hyper = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize", "eps_inside_sqrt",
              "lr_inside_momentum")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False, *, eps_inside_sqrt=False,
                 lr_inside_momentum=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("eps", eps, what="epsilon value")
        check_hyper("momentum", momentum, what="momentum value")
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        check_hyper("alpha", alpha, what="alpha value")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize,
                    "differentiable": differentiable, "eps_inside_sqrt": bool(eps_inside_sqrt),
                    "lr_inside_momentum": bool(lr_inside_momentum)}
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        state = {"step": step_state(p), "square_avg": zeros_state(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_state(p)
        if group["centered"]:
            state["grad_avg"] = zeros_state(p)
        return state

    _update_fn = staticmethod(rmsprop_update_)


def adagrad_kernel(K, p, g, state_sum, *, step, lr, lr_decay, weight_decay, eps, maximize, eps_inside_sqrt=False):
    """One Adagrad update: returns (new_param, new_sum); ``eps_inside_sqrt`` as in ``rmsprop_kernel``."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    clr = lr / (1 + (step - 1) * lr_decay) if lr_decay else lr
    state_sum = state_sum + g * g
    denom = K.sqrt(state_sum + eps) if eps_inside_sqrt else K.sqrt(state_sum) + eps
    return p + (-clr) * g / denom, state_sum


def adagrad_update_(p, g, state_sum, *, step, lr, lr_decay, weight_decay, eps, maximize, eps_inside_sqrt=False):
    """``adagrad_kernel``'s rule applied in place; returns (sum,)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum.add_(g * g)
    std = (state_sum + eps).sqrt_() if eps_inside_sqrt else state_sum.sqrt().add_(eps)
    p.add_((g * (-clr)).div_(std))
    return (state_sum,)


class Adagrad(Optimizer):
    """Adagrad: per-coordinate learning rates from the running sum of squared gradients.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.Adagrad(nn.Linear(2, 1).parameters(), lr=0.1, initial_accumulator_value=0.1)
    >>> sorted(opt.state_dict()["state"][0])
    ['step', 'sum']
    """

    _state_keys = ("sum",)
    _hyper = ("lr", "lr_decay", "weight_decay", "eps", "maximize", "eps_inside_sqrt")

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None, eps_inside_sqrt=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("lr_decay", lr_decay, what="lr_decay value")
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        check_hyper("initial_accumulator_value", initial_accumulator_value,
                    what="initial_accumulator_value value")
        check_hyper("eps", eps, what="epsilon value")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize,
                    "differentiable": differentiable, "fused": fused, "eps_inside_sqrt": bool(eps_inside_sqrt)}
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates Adagrad's state eagerly
            for p in group["params"]:
                self.state[p] = self._init_state(p, group)

    def _init_state(self, p, group):
        xp = backend.xp_of(p._data)
        return {"step": step_state(p),
                "sum": Tensor._wrap(xp.full_like(p._data, group["initial_accumulator_value"]))}

    _update_fn = staticmethod(adagrad_update_)


def adadelta_kernel(K, p, g, square_avg, acc_delta, *, step, lr, rho, eps, weight_decay, maximize):
    """One Adadelta update: returns (new_param, square_avg, acc_delta)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg = square_avg * rho + (1 - rho) * g * g
    std = K.sqrt(square_avg + eps)
    delta = K.sqrt(acc_delta + eps) / std * g
    acc_delta = acc_delta * rho + (1 - rho) * delta * delta
    return p + (-lr) * delta, square_avg, acc_delta


def adadelta_update_(p, g, square_avg, acc_delta, *, step, lr, rho, eps, weight_decay, maximize):
    """``adadelta_kernel``'s rule applied in place; returns (square_avg, acc_delta)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg.mul_(rho).add_((g * (1 - rho)).mul_(g))
    std = (square_avg + eps).sqrt_()
    delta = (acc_delta + eps).sqrt_().div_(std).mul_(g)
    acc_delta.mul_(rho).add_((delta * (1 - rho)).mul_(delta))
    p.add_(delta * (-lr))
    return square_avg, acc_delta


class Adadelta(Optimizer):
    """Adadelta: step sizes from running averages of squared gradients and squared updates (default lr=1.0).

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.Adadelta(nn.Linear(2, 1).parameters())
    >>> opt.param_groups[0]["rho"]
    0.9
    """

    _state_keys = ("square_avg", "acc_delta")
    _hyper = ("lr", "rho", "eps", "weight_decay", "maximize")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_hyper("lr", lr, what="learning rate")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_hyper("eps", eps, what="epsilon value")
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "capturable": capturable, "foreach": foreach, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        return {"step": step_state(p), "square_avg": zeros_state(p), "acc_delta": zeros_state(p)}

    _update_fn = staticmethod(adadelta_update_)
