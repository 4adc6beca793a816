"""Optimizer update primitives: a measured eager fast path that is one node in compiled graphs.

``adam_step(p, exp_avg, exp_avg_sq[, max_exp_avg_sq], g, step; lr, beta1, beta2, eps, weight_decay, amsgrad,
maximize, decoupled_weight_decay)`` is one Adam(W) update of a parameter and its moments, PyTorch's rule with
the bias corrections computed from the 0-d ``step`` when it runs (as PyTorch's default, non-capturable Adam
does in Python floats). It is an update primitive (``tensor.update_``): eagerly its kernel writes straight into
the four buffers with two scratch arrays; in a graph its functional form returns the new states stacked.
Written as Ember ops, the update was ~20 dispatches per parameter, 2x the eager optimizer time of small models.

``sgd_step(p[, momentum_buffer], g; lr, momentum, dampening, weight_decay, nesterov, maximize)`` is the same
for SGD (the buffer only with a momentum). Eagerly both run in one pass over their arrays where numba is there
(``optim_loops``; the same bits as the NumPy form below, which runs otherwise).
"""
from __future__ import annotations

import numpy as np

from . import _tflite, optim_loops
from ._core import Aval, register_lowering, unsupported, update_primitive


def _adam_step_(xp, p, exp_avg, exp_avg_sq, *rest, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                decoupled_weight_decay, eps_before_bias_correction=False):
    """In place; the same operations in the same order as ``optim.adam.adam_kernel`` (bit-identical)."""
    max_exp_avg_sq, g, step = rest if amsgrad else (None, *rest)
    t = float(step)
    states = (p, exp_avg, exp_avg_sq, g) + ((max_exp_avg_sq,) if amsgrad else ())
    if xp is np and optim_loops.usable(*states):
        optim_loops.adam_update(p, exp_avg, exp_avg_sq, max_exp_avg_sq, g, lr=lr, beta1=beta1, beta2=beta2,
                                eps=eps, weight_decay=weight_decay, maximize=maximize,
                                decoupled_weight_decay=decoupled_weight_decay,
                                eps_before_bias_correction=eps_before_bias_correction, t=t)
        return
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled_weight_decay:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    tmp = xp.subtract(g, exp_avg)
    w = 1 - beta1
    if w < 0.5:  # PyTorch's lerp: start + w * (end - start), or end - (end - start) * (1 - w)
        tmp *= w
        exp_avg += tmp
    else:
        tmp *= 1 - w
        xp.subtract(g, tmp, out=exp_avg)
    xp.multiply(g, 1 - beta2, out=tmp)
    tmp *= g
    exp_avg_sq *= beta2
    exp_avg_sq += tmp
    step_size = lr / (1 - beta1 ** t)
    bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    xp.sqrt(max_exp_avg_sq if amsgrad else exp_avg_sq, out=tmp)
    if eps_before_bias_correction:  # Keras's / TensorFlow's placement of epsilon
        tmp += eps
        tmp /= bias_correction2_sqrt
    else:
        tmp /= bias_correction2_sqrt
        tmp += eps
    update = xp.multiply(exp_avg, -step_size)
    update /= tmp
    p += update


def _adam_step_rule(p, *rest, amsgrad, **_):
    states = (p,) + rest[:3 if amsgrad else 2]
    g, step = rest[-2:]
    if len(rest) != (5 if amsgrad else 4) or any(s.shape != p.shape for s in states + (g,)) or step.shape:
        raise ValueError(f"adam_step: expected a parameter, its {3 if amsgrad else 2} state tensors and gradient "
                         f"of one shape and a 0-d step, got shapes {[a.shape for a in (p,) + rest]}")
    return Aval((len(states),) + tuple(p.shape), p.dtype, p.device)


update_primitive("adam_step", _adam_step_, 2, infer=_adam_step_rule)


def _sgd_step_(xp, p, *rest, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """In place; the same operations in the same order as ``optim.sgd.sgd_update_`` (bit-identical)."""
    buf, g = rest if momentum != 0 else (None, rest[0])
    if xp is np and optim_loops.usable(*((p, g) if buf is None else (p, g, buf))):
        optim_loops.sgd_update(p, buf, g, lr, momentum, dampening, weight_decay, nesterov, maximize)
        return
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if buf is not None:
        buf *= momentum
        buf += g * (1 - dampening)
        g = g + momentum * buf if nesterov else buf
    p += g * (-lr)


def _sgd_step_rule(p, *rest, momentum, **_):
    want = 2 if momentum != 0 else 1
    if len(rest) != want or any(a.shape != p.shape for a in rest):
        raise ValueError(f"sgd_step: expected a parameter{', its momentum buffer' if want == 2 else ''} and its "
                         f"gradient of one shape, got shapes {[a.shape for a in (p,) + rest]}")
    return Aval((want,) + tuple(p.shape), p.dtype, p.device)


update_primitive("sgd_step", _sgd_step_, 1, infer=_sgd_step_rule)

for _name in ("adam_step", "sgd_step"):
    unsupported(_name, "onnx", "an optimizer update: ONNX export writes inference graphs (train with Ember, "
                "export the trained model in eval mode)")
    # traced whole where the one-pass loop takes the arrays: the compiled step then runs that loop in place
    # (graph/passes/updates.py) instead of the graph form's fused passes and its 0-d bias corrections
    register_lowering(_name, "record_whole",  # (the states and the gradient; not Adam's 0-d step)
                      lambda p, *rest: optim_loops.usable(p, *[a for a in rest if a.shape == p.shape]))


_tflite.mark(["adam_step", "sgd_step"], _tflite.TRAINING)
