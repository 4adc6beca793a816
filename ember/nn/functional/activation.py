"""Activation functions (torch.nn.functional names), composites of Ember primitives.

>>> import ember
>>> import ember.nn.functional as F
>>> F.relu(ember.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""
from __future__ import annotations

import math

from ... import dtypes as ember_dtypes
from ..._autocast import autocast_op
from ..._state import STATE
from ...errors import mark, with_user_line
from ...functional import linalg as _linalg
from ...functional.math import cast
from ...ops import apply, composite
from ...tensor import Tensor
from . import _layer_binds as _binds

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "sigmoid", "tanh",
           "softmax", "log_softmax", "softmin", "softplus", "hardtanh", "mish", "prelu", "softsign",
           "hardswish",            "hardsigmoid", "logsigmoid", "glu", "threshold", "tanhshrink"]


def _check(x, name, integers=False):
    """A tensor, floating point (``integers``: or integer, not bool, as PyTorch's clamping activations take)."""
    if not isinstance(x, Tensor):
        raise mark(with_user_line(TypeError(
            f"{name}: expected an ember.Tensor as input, got {type(x).__name__}; convert it with "
            "ember.tensor(...)"),
            3))
    if not x.is_floating_point() and not (integers and x._data.dtype.kind in "iu"):
        raise mark(with_user_line(TypeError(
            f"{name}: expected a floating-point input, got {x.dtype.name} of shape {tuple(x.shape)}; "
            "convert it with x.float()"), 3))


def _inplace(x, out, inplace):
    """``inplace=True`` writes into ``x`` (``copy_``: versioned and traced) when no gradient is being recorded
    (else the result is returned out of place, which gives the same values and correct gradients)."""
    if inplace and not (STATE.grad_enabled and (x.requires_grad or out.requires_grad)):
        return x.copy_(out)
    return out


def relu(input, inplace=False):
    """max(0, x); ``inplace=True`` overwrites ``input`` (recorded for autograd, like ``x.relu_()``).

    >>> F.relu(ember.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    _check(input, "relu", integers=True)
    if inplace:
        return input.relu_()
    return apply("relu", input)


def relu_(input):
    """``relu`` in place: ``input`` is overwritten and returned.

    >>> x = ember.tensor([-1.0, 2.0])
    >>> F.relu_(x)
    tensor([0., 2.])
    >>> x
    tensor([0., 2.])
    """
    return relu(input, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp into [min_val, max_val]; the gradient is zero outside the open interval (like PyTorch).

    >>> F.hardtanh(ember.tensor([-3.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    _check(input, "hardtanh", integers=True)
    if min_val > max_val:
        raise mark(with_user_line(ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                                             f"({max_val})"), 2))
    floating = input.is_floating_point()  # an integer input clamps at the bounds cast to its dtype, as PyTorch
    lo, hi = (input._scalar(float(v) if floating else int(v)) for v in (min_val, max_val))
    out = apply("where", apply("le", input, lo), lo, apply("where", apply("ge", input, hi), hi, input))
    return _inplace(input, out, inplace)


def relu6(input, inplace=False):
    """``min(max(0, x), 6)``, elementwise.

    >>> F.relu6(ember.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` where positive, else ``negative_slope * x``.

    >>> F.leaky_relu(ember.tensor([-2.0, 2.0]), negative_slope=0.1)
    tensor([-0.2000,  2.0000])
    """
    _check(input, "leaky_relu")
    out = apply("where", apply("gt", input, input._scalar(0.0)), input, input * negative_slope)
    return _inplace(input, out, inplace)


def elu(input, alpha=1.0, inplace=False):
    """``x`` where positive, else ``alpha * (exp(x) - 1)``.

    >>> F.elu(ember.tensor([-1.0, 1.0]))
    tensor([-0.6321,  1.0000])
    """
    _check(input, "elu")
    neg = apply("expm1", input.clamp(max=0.0)) * alpha  # the clamped value never overflows; expm1 keeps tiny x
    return _inplace(input, apply("where", apply("gt", input, input._scalar(0.0)), input, neg), inplace)


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with SELU's fixed constants (alpha ~ 1.6733, scale ~ 1.0507).

    >>> F.selu(ember.tensor([-1.0, 1.0]))
    tensor([-1.1113,  1.0507])
    """
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return _inplace(input, elu(input, alpha) * scale, inplace)


def celu(input, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    >>> F.celu(ember.tensor([-1.0, 1.0]), alpha=2.0)
    tensor([-0.7869,  1.0000])
    """
    _check(input, "celu")
    neg = apply("expm1", input.clamp(max=0.0) / alpha) * alpha
    return _inplace(input, apply("where", apply("gt", input, input._scalar(0.0)), input, neg), inplace)


@composite("gelu", _binds.gelu)
def gelu(input, approximate="none"):
    """x * Phi(x) (``approximate='none'``) or the tanh approximation (``approximate='tanh'``).

    >>> F.gelu(ember.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.1587,  0.0000,  0.8413])
    >>> F.gelu(ember.tensor([1.0]), approximate="tanh")
    tensor([0.8412])
    """
    _check(input, "gelu")
    if approximate == "none":  # one primitive (ops/gelu.py): one pass forward, one backward
        return apply("gelu_erf", input)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (1 + apply("tanh", inner))
    raise mark(with_user_line(ValueError(
        f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}"), 2))


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (also called swish).

    >>> F.silu(ember.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.2689,  0.0000,  0.7311])
    """
    _check(input, "silu")
    return _inplace(input, input * apply("sigmoid", input), inplace)


def sigmoid(input):
    """``1 / (1 + exp(-x))``, elementwise.

    >>> F.sigmoid(ember.tensor([0.0]))
    tensor([0.5000])
    """
    return apply("sigmoid", cast(input, "float32") if not input.is_floating_point() else input)


def tanh(input):
    """The hyperbolic tangent, elementwise.

    >>> F.tanh(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7616])
    """
    return apply("tanh", cast(input, "float32") if not input.is_floating_point() else input)


@autocast_op
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed stably); ``dtype`` casts the input first.

    >>> F.softmax(ember.tensor([[1.0, 1.0], [0.0, 2.0]]), dim=1)
    tensor([[0.5000, 0.5000],
            [0.1192, 0.8808]])
    """
    return _linalg.softmax(input, dim, dtype)


@autocast_op
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x))`` along ``dim``, computed stably.

    >>> F.log_softmax(ember.tensor([1.0, 1.0]), dim=0)
    tensor([-0.6931, -0.6931])
    """
    return _linalg.log_softmax(input, dim, dtype)


@autocast_op
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x)`` along ``dim``: the smallest entries get the largest weights.

    >>> F.softmin(ember.tensor([0.0, 2.0]), dim=0)
    tensor([0.8808, 0.1192])
    """
    return _linalg.softmax(-input, dim, dtype)


@autocast_op
def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed stably; linear above ``threshold``.

    >>> F.softplus(ember.tensor([-1.0, 0.0, 30.0]))
    tensor([ 0.3133,  0.6931, 30.0000])
    """
    _check(input, "softplus")
    bx = input * beta if beta != 1 else input
    soft = apply("maximum", bx, bx._scalar(0.0)) + apply("log1p", (-bx.abs()).exp())
    if beta != 1:
        soft = soft / beta
    return apply("where", apply("gt", bx, bx._scalar(float(threshold))), input, soft)


def logsigmoid(input):
    """``log(sigmoid(x))``, computed stably.

    >>> F.logsigmoid(ember.tensor([-100.0, 0.0]))
    tensor([-100.0000,   -0.6931])
    """
    _check(input, "logsigmoid")
    # min(x, 0) - log1p(exp(-|x|)): six passes where -softplus(-x) made ten, and logsigmoid(inf) is +0.0 (as
    # PyTorch's), not the negated softplus's -0.0; the gradient at 0 is 1/2 (minimum's tie rule), 1 - sigmoid(0)
    return apply("minimum", input, input._scalar(0.0)) - apply("log1p", (-input.abs()).exp())


def mish(input, inplace=False):
    """``x * tanh(softplus(x))``.

    >>> F.mish(ember.tensor([-1.0, 1.0]))
    tensor([-0.3034,  0.8651])
    """
    return _inplace(input, input * apply("tanh", softplus(input)), inplace)


def softsign(input):
    """``x / (1 + |x|)``.

    >>> F.softsign(ember.tensor([-3.0, 1.0]))
    tensor([-0.7500,  0.5000])
    """
    _check(input, "softsign")
    return input / (1 + input.abs())


def hardsigmoid(input, inplace=False):
    """A piecewise-linear sigmoid: 0 below -3, 1 above 3, ``x / 6 + 1 / 2`` between.

    >>> F.hardsigmoid(ember.tensor([-4.0, 0.0, 1.5]))
    tensor([0.0000, 0.5000, 0.7500])
    """
    return _inplace(input, relu6(input + 3.0) / 6.0, inplace)


def hardswish(input, inplace=False):
    """``x * hardsigmoid(x)``.

    >>> F.hardswish(ember.tensor([-4.0, 1.0, 4.0]))
    tensor([-0.0000,  0.6667,  4.0000])
    """
    return _inplace(input, input * relu6(input + 3.0) / 6.0, inplace)


def tanhshrink(input):
    """``x - tanh(x)``.

    >>> F.tanhshrink(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.2384])
    """
    x = input if input.is_floating_point() else input.to(ember_dtypes.get_default_dtype())  # as PyTorch's
    return x - apply("tanh", x)


def threshold(input, threshold, value, inplace=False):
    """``x`` where ``x > threshold``, else ``value``.

    >>> F.threshold(ember.tensor([0.5, 1.0, 2.0]), 1.0, -1.0)
    tensor([-1., -1.,  2.])
    """
    _check(input, "threshold")
    out = apply("where", apply("gt", input, input._scalar(float(threshold))), input,
                input._scalar(float(value)))
    return _inplace(input, out, inplace)


@autocast_op
def prelu(input, weight):
    """max(0, x) + weight * min(0, x) with one weight per channel (dim 1) or a single shared weight.

    >>> F.prelu(ember.tensor([[-2.0, 2.0], [-4.0, 4.0]]), ember.tensor([0.5, 0.25]))
    tensor([[-1.,  2.],
            [-2.,  4.]])
    """
    _check(input, "prelu")
    n = weight.numel()
    if n != 1:
        if input.ndim < 2 or input.shape[1] != n:
            raise mark(with_user_line(RuntimeError(
                f"prelu: weight has {n} elements but the input {tuple(input.shape)} has "
                f"{input.shape[1] if input.ndim > 1 else 1} channels (dim 1); use num_parameters=1 or the "
                "channel count"), 2))
        weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return apply("where", apply("gt", input, input._scalar(0.0)), input, input * weight)


def glu(input, dim=-1):
    """Gated linear unit: ``input`` halved along ``dim`` into ``a`` and ``b``, then ``a * sigmoid(b)``.

    >>> F.glu(ember.tensor([[1.0, 2.0, 0.0, 100.0]])).shape
    ember.Size([1, 2])
    """
    if input.shape[dim] % 2:
        raise mark(with_user_line(RuntimeError(
            f"glu: halving dimension must be even, but dimension {dim} is size {input.shape[dim]}"), 2))
    a, b = input.chunk(2, dim)
    return a * apply("sigmoid", b)
