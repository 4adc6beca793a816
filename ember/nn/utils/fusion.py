"""Folding an evaluation-mode BatchNorm into the convolution or linear layer before it (``nn.utils.fusion``):
one layer computes what the two did, with PyTorch's formulas.

>>> import ember
>>> from ember import nn
>>> conv, bn = nn.Conv2d(3, 4, 3).eval(), nn.BatchNorm2d(4).eval()
>>> fused = nn.utils.fuse_conv_bn_eval(conv, bn)
>>> x = ember.randn(1, 3, 5, 5)
>>> bool((fused(x) - bn(conv(x))).abs().max() < 1e-5)
True
"""
from __future__ import annotations

import copy

from ... import creation
from ...errors import mark, with_user_line
from ..modules.module import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _eval_only(what, *modules):
    if any(m.training for m in modules):
        raise mark(with_user_line(AssertionError(f"{what}: fusion is for evaluation; call .eval() on both modules "
                                                 "first (BatchNorm then uses its running statistics)"), 3))


def _bn_defaults(bn_rm, bn_w, bn_b):
    return (creation.ones_like(bn_rm) if bn_w is None else bn_w,
            creation.zeros_like(bn_rm) if bn_b is None else bn_b)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` whose weight and bias include ``bn``'s normalisation (both in eval mode)."""
    _eval_only("fuse_conv_bn_eval", conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """``(weight, bias)`` parameters of the convolution that also applies the normalisation; ``transpose``:
    the weight of a transposed convolution (output channels in dim 1)."""
    w_dtype = conv_w.dtype
    b_dtype = conv_b.dtype if conv_b is not None else w_dtype
    conv_b = creation.zeros_like(bn_rm) if conv_b is None else conv_b
    bn_w, bn_b = _bn_defaults(bn_rm, bn_w, bn_b)
    scale = (bn_rv + bn_eps).rsqrt()
    shape = ([1, -1] if transpose else [-1, 1]) + [1] * (conv_w.ndim - 2)
    fused_w = (conv_w * (bn_w * scale).reshape(shape)).to(w_dtype)
    fused_b = ((conv_b - bn_rm) * scale * bn_w + bn_b).to(b_dtype)
    return Parameter(fused_w.detach(), conv_w.requires_grad), Parameter(fused_b.detach(), conv_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` whose weight and bias include ``bn``'s normalisation (both in eval mode).

    >>> import ember
    >>> from ember import nn
    >>> fc, bn = nn.Linear(3, 2).eval(), nn.BatchNorm1d(2).eval()
    >>> tuple(nn.utils.fuse_linear_bn_eval(fc, bn).weight.shape)
    (2, 3)
    """
    _eval_only("fuse_linear_bn_eval", linear, bn)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise mark(with_user_line(AssertionError(
            f"fuse_linear_bn_eval: linear.out_features ({linear.out_features}) must equal bn.num_features "
            f"({bn.num_features}), or bn.num_features must be 1"), 2))
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """``(weight, bias)`` parameters of the linear layer that also applies the normalisation."""
    linear_b = creation.zeros_like(bn_rm) if linear_b is None else linear_b
    bn_w, bn_b = _bn_defaults(bn_rm, bn_w, bn_b)
    scale = bn_w * (bn_rv + bn_eps).rsqrt()
    fused_w = linear_w * scale.unsqueeze(-1)
    fused_b = (linear_b - bn_rm) * scale + bn_b
    return Parameter(fused_w.detach(), linear_w.requires_grad), Parameter(fused_b.detach(), linear_b.requires_grad)
