"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize (PyTorch's update rule)."""
from __future__ import annotations

from ..tensor import update_
from .optimizer import TENSOR_KERNELS, Optimizer, check_hyper

__all__ = ["SGD"]

def sgd_kernel(K, p, g, buf, *, step, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD update: returns (new_param, new_momentum_buffer or None)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        buf = K.copy(g) if buf is None else buf * momentum + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return p + (-lr) * g, buf


def sgd_update_(p, g, buf, *, step, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """``sgd_kernel``'s rule applied to ``p`` (and the momentum buffer) in place; returns (buffer or None,).

    After the first step, with hyper-parameters that are numbers, it is the ``sgd_step`` update primitive
    (``ops/optim.py``: one pass eagerly), traced as ``sgd_kernel`` in Ember ops so the compiler fuses it; a
    tensor learning rate (``lr=ember.tensor(0.1)``, changed in place by a scheduler) takes the ops below."""
    numbers = all(isinstance(v, (int, float)) for v in (lr, momentum, dampening, weight_decay))
    if numbers and (momentum == 0 or buf is not None):
        update_("sgd_step", [p] if momentum == 0 else [p, buf], g, graph_form=_sgd_graph_form, lr=float(lr),
                momentum=float(momentum), dampening=float(dampening), weight_decay=float(weight_decay),
                nesterov=bool(nesterov), maximize=bool(maximize))
        return (buf,)
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        if buf is None:
            buf = g.clone()
        else:
            buf.mul_(momentum).add_(g * (1 - dampening))
        g = g + momentum * buf if nesterov else buf
    p.add_(g * (-lr))
    return (buf,)


def _sgd_graph_form(p, *rest, momentum, **hyper):
    """``sgd_step`` in Ember ops (``sgd_kernel``), the new states in ``update_``'s order."""
    buf, g = rest if momentum != 0 else (None, rest[0])
    new_p, new_buf = sgd_kernel(TENSOR_KERNELS, p.detach(), g, buf, step=None, momentum=momentum, **hyper)
    return [new_p] if momentum == 0 else [new_p, new_buf]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    >>> model(ember.ones(1, 2)).sum().backward()
    >>> opt.step()
    """

    _state_keys = ("momentum_buffer",)
    _hyper = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False,
                 foreach=None, differentiable=False, fused=None):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("momentum", momentum, what="momentum value")
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    _update_fn = staticmethod(sgd_update_)

