"""Adam and AdamW (PyTorch's update rule, including amsgrad, maximize and decoupled weight decay)."""
from __future__ import annotations

from ..tensor import update_
from .optimizer import TENSOR_KERNELS, Optimizer, check_hyper, step_state, zeros_state

__all__ = ["Adam", "AdamW"]


def adam_kernel(K, p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, betas, eps, weight_decay, amsgrad,
                maximize, decoupled_weight_decay, eps_before_bias_correction=False):
    """One Adam(W) update: returns (new_param, exp_avg, exp_avg_sq, max_exp_avg_sq or None).

    ``step`` is a Python number (arrays) or a 0-d tensor; ``Adam`` itself runs ``adam_update_``.
    ``eps_before_bias_correction``: divide by ``(sqrt(v) + eps) / sqrt(1 - beta2^t)`` (the paper's "epsilon
    hat", Keras's and TensorFlow's placement) instead of PyTorch's ``sqrt(v) / sqrt(1 - beta2^t) + eps``."""
    beta1, beta2 = betas
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    exp_avg = K.lerp(exp_avg, g, 1 - beta1)
    exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    if amsgrad:
        max_exp_avg_sq = K.maximum(max_exp_avg_sq, exp_avg_sq)
    root = K.sqrt(max_exp_avg_sq if amsgrad else exp_avg_sq)
    if eps_before_bias_correction:
        denom = (root + eps) / bias_correction2_sqrt
    else:
        denom = root / bias_correction2_sqrt + eps
    return p + (-step_size) * exp_avg / denom, exp_avg, exp_avg_sq, max_exp_avg_sq


def adam_update_(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, betas, eps, weight_decay, amsgrad,
                 maximize, decoupled_weight_decay, eps_before_bias_correction=False):
    """``adam_kernel``'s rule applied to ``p`` and its moments in place: the ``adam_step`` update primitive
    (``ops/optim.py``: one kernel eagerly), traced as ``adam_kernel`` in Ember ops so the compiler fuses it;
    returns (exp_avg, exp_avg_sq, max_exp_avg_sq or None)."""
    states = [p, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    update_("adam_step", states, g, step, graph_form=_adam_graph_form, lr=float(lr), beta1=float(betas[0]),
            beta2=float(betas[1]), eps=float(eps), weight_decay=float(weight_decay), amsgrad=bool(amsgrad),
            maximize=bool(maximize), decoupled_weight_decay=bool(decoupled_weight_decay),
            eps_before_bias_correction=bool(eps_before_bias_correction))
    return exp_avg, exp_avg_sq, max_exp_avg_sq


def _adam_graph_form(p, exp_avg, exp_avg_sq, *rest, beta1, beta2, amsgrad, **hyper):
    """``adam_step`` in Ember ops: the bias corrections in float64 from the step, as the kernel's Python floats."""
    max_exp_avg_sq, g, step = rest if amsgrad else (None, *rest)
    new = adam_kernel(TENSOR_KERNELS, p.detach(), g, exp_avg, exp_avg_sq, max_exp_avg_sq, step=step.double(),
                      betas=(beta1, beta2), amsgrad=amsgrad, **hyper)
    return new if amsgrad else new[:3]


class Adam(Optimizer):
    """Adam: bias-corrected running averages of the gradient and its square.

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.Adam(model.parameters(), lr=1e-3)
    >>> model(ember.ones(1, 2)).sum().backward()
    >>> opt.step()
    >>> sorted(opt.state[model.weight])
    ['exp_avg', 'exp_avg_sq', 'step']
    """

    _state_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay",
              "eps_before_bias_correction")
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=None, eps_before_bias_correction=False):
        check_hyper("lr", lr, what="learning rate")
        check_hyper("eps", eps, what="epsilon value")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        check_hyper("weight_decay", weight_decay, what="weight_decay value")
        decoupled = self._decoupled if decoupled_weight_decay is None else decoupled_weight_decay
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused, "decoupled_weight_decay": decoupled,
                    "eps_before_bias_correction": bool(eps_before_bias_correction)}
        super().__init__(params, defaults)

    def _init_state(self, p, group):
        state = {"step": step_state(p), "exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_state(p)
        return state

    _update_fn = staticmethod(adam_update_)


class AdamW(Adam):
    """Adam with decoupled weight decay (default ``weight_decay=0.01``): p *= 1 - lr * weight_decay each step.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.AdamW(nn.Linear(2, 1).parameters())
    >>> opt.param_groups[0]["weight_decay"]
    0.01
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None,
                 eps_before_bias_correction=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True, eps_before_bias_correction=eps_before_bias_correction)
