"""batch_norm, layer_norm, group_norm, normalize (torch.nn.functional), composites of Ember primitives.

>>> import ember
>>> import ember.nn.functional as F
>>> y = F.layer_norm(ember.randn(2, 5), (5,))
>>> bool(y.mean(-1).abs().max() < 1e-5)
True
"""
from __future__ import annotations

import numpy as np

from ..._autocast import autocast_op
from ...autograd import no_grad
from ...errors import mark, with_user_line
from ...ops import apply, composite
from . import _layer_binds as _binds

__all__ = ["batch_norm", "layer_norm", "group_norm", "normalize", "instance_norm", "rms_norm"]


def _moments(x, axes):
    """Mean and biased variance over ``axes`` (kept dims)."""
    n = 1
    for a in axes:
        n *= x.shape[a]
    mean = apply("sum", x, axis=axes, keepdims=True) / n
    d = x - mean
    var = apply("sum", d * d, axis=axes, keepdims=True) / n
    return mean, d, var, n


def _mixed_dtype(input, *params):
    """A 16-bit float input with float32 affine parameters (a norm under autocast): PyTorch computes in float32
    and returns the input's dtype. Returns that dtype, or None when the dtypes are not mixed so."""
    dt = input._data.dtype
    if dt.itemsize == 2 and input.is_floating_point() and any(
            p is not None and p._data.dtype == np.float32 for p in params):
        return input.dtype
    return None


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * (weight.reshape(shape) if tuple(weight.shape) != shape else weight)
    if bias is not None:
        y = y + (bias.reshape(shape) if tuple(bias.shape) != shape else bias)
    return y


@composite("batch_norm", _binds.batch_norm)
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise over every dim but the channel dim 1. In training, batch statistics are used and the running
    statistics are updated in place (unbiased variance, like PyTorch); otherwise the running ones are used.

    >>> x = ember.tensor([[1.0, 10.0], [3.0, 30.0]])    # (N, C)
    >>> mean, var = ember.zeros(2), ember.ones(2)
    >>> F.batch_norm(x, mean, var, training=True)
    tensor([[-1.0000, -1.0000],
            [ 1.0000,  1.0000]])
    >>> mean    # updated in place with momentum 0.1
    tensor([0.2000, 2.0000])
    """
    if input.ndim < 2:
        raise mark(with_user_line(ValueError(
            f"batch_norm: expected an input with at least 2 dims (N, C, ...), got {tuple(input.shape)}"),
            2))
    c = input.shape[1]
    shape = (1, c) + (1,) * (input.ndim - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != c:
            raise mark(with_user_line(RuntimeError(
                f"batch_norm: {name} has {t.numel()} elements but the input {tuple(input.shape)} has {c} "
                "channels (dim 1); build the layer with num_features equal to the channel count"), 2))
    mixed = _mixed_dtype(input, running_mean, running_var, weight, bias)
    if mixed is not None:  # float32 statistics and parameters with a 16-bit input: compute in float32
        return batch_norm(input.float(), running_mean, running_var, weight, bias, training, momentum, eps).to(mixed)
    if training:
        n = input.numel() // max(c, 1)
        if n <= 1:
            raise mark(with_user_line(ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input size "
                f"{tuple(input.shape)}. Train on batches of more than one sample (or larger inputs), or call "
                "model.eval() to predict"), 2))
        if running_mean is not None and running_var is not None:
            with no_grad():
                moments = apply("batch_moments", input)
            _update_running(running_mean, running_var, moments[0], moments[1], n, momentum)
        # one primitive (ops/batch_stats.py): three passes forward and four backward, not ~8 and ~12
        y = apply("batch_standardize", input, eps=float(eps))
    else:
        if running_mean is None or running_var is None:
            raise mark(with_user_line(RuntimeError(
                "batch_norm: running_mean and running_var are needed when training=False"), 2))
        y = (input - running_mean.reshape(shape)) / apply("sqrt", running_var.reshape(shape) + eps)
    return _affine(y, weight, bias, shape)


def _update_running(running_mean, running_var, mean, var, n, momentum):
    """running = (1 - m) * running + m * batch statistic, in place (``momentum`` may be a 0-d tensor: the
    cumulative average of ``momentum=None``); the unbiased variance, like PyTorch."""
    m = 0.0 if momentum is None else momentum
    with no_grad():
        bm, bv = mean.reshape(-1), var.reshape(-1) * (n / (n - 1))
        for run, stat in ((running_mean, bm), (running_var, bv)):
            new = run * (1 - m) + stat * m
            run.copy_(new)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its spatial dims: (N, C, *) -> same shape; with
    ``use_input_stats=False`` the running statistics are used instead.

    >>> F.instance_norm(ember.tensor([[[1.0, 3.0], [0.0, 4.0]]]))
    tensor([[[-1.0000,  1.0000],
             [-1.0000,  1.0000]]])
    """
    axes = tuple(range(2, input.ndim))
    mean, d, var, _ = _moments(input, axes)
    y = d / apply("sqrt", var + eps)
    return _affine(y, weight, bias, (1, input.shape[1]) + (1,) * (input.ndim - 2))


@autocast_op
@composite("layer_norm", _binds.layer_norm)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift elementwise.

    >>> F.layer_norm(ember.tensor([[1.0, 2.0, 3.0]]), (3,))
    tensor([[-1.2247,  0.0000,  1.2247]])
    """
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(input.shape[input.ndim - k:]) != normalized_shape or k > input.ndim:
        raise mark(with_user_line(RuntimeError(
            f"layer_norm: normalized_shape {list(normalized_shape)} does not match the trailing dims of the "
            f"input {tuple(input.shape)}; expected input of shape "
            f"[*, {', '.join(map(str, normalized_shape))}]"), 2))
    mixed = _mixed_dtype(input, weight, bias)
    y = apply("standardize", input if mixed is None else input.float(), ndim=k, eps=float(eps))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y if mixed is None else y.to(mixed)


@autocast_op
@composite("group_norm", _binds.group_norm)
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels into ``num_groups`` groups and normalise each group over (C/G, *spatial).

    >>> F.group_norm(ember.arange(8.0).reshape(1, 4, 2), 2).shape
    ember.Size([1, 4, 2])
    """
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise mark(with_user_line(RuntimeError(
            f"group_norm: expected an input (N, C, ...) with C divisible by num_groups={num_groups}, got "
            f"shape {tuple(input.shape)}"), 2))
    n, c = input.shape[0], input.shape[1]
    mixed = _mixed_dtype(input, weight, bias)
    x = (input if mixed is None else input.float()).reshape(n, num_groups, -1)
    mean, d, var, _ = _moments(x, (2,))
    y = (d / apply("sqrt", var + eps)).reshape(*input.shape)
    y = _affine(y, weight, bias, (1, c) + (1,) * (input.ndim - 2))
    return y if mixed is None else y.to(mixed)


@autocast_op
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims (no centring), then an
    elementwise ``weight``: ``x / sqrt(mean(x**2) + eps) * weight``; ``eps=None`` is the dtype's machine epsilon
    (as torch's).

    >>> F.rms_norm(ember.tensor([[3.0, 4.0]]), (2,))
    tensor([[0.8485, 1.1314]])
    """
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if k > input.ndim or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise mark(with_user_line(RuntimeError(
            f"rms_norm: normalized_shape {list(normalized_shape)} does not match the trailing dims of the input "
            f"{tuple(input.shape)}; expected input of shape [*, {', '.join(map(str, normalized_shape))}]"), 2))
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps) if input.dtype.is_floating_point else 1e-6
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * (input * input).mean(dims, keepdim=True).add(eps).rsqrt()
    return y if weight is None else y * weight


@autocast_op
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along ``dim``.

    >>> F.normalize(ember.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / denom
