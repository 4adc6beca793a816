"""``keras.ops.nn``: activations, normalizations, attention, encodings, losses, convolutions and pooling.

>>> from ember.keras import ops
>>> ops.convert_to_numpy(ops.nn.hard_tanh([-2.0, 0.5, 3.0])).tolist()
[-1.0, 0.5, 1.0]
"""

from __future__ import annotations

import math as _math

import numpy as np

import ember
from ember import functional as F

from ._common import axes_of, edtype, fail, floatx, public_names, t, tf
from ._nn_conv import (  # noqa: F401
    adaptive_average_pool,
    adaptive_max_pool,
    average_pool,
    conv,
    conv_transpose,
    depth_to_space,
    depthwise_conv,
    fold,
    max_pool,
    separable_conv,
    space_to_depth,
    unfold,
)
from ._nn_ctc import ctc_decode, ctc_loss  # noqa: F401


# -- activations ------------------------------------------------------------------------------------------------
def relu(x):
    return F.relu(tf(x))


def relu6(x):
    return F.clamp(tf(x), 0.0, 6.0)


def sigmoid(x):
    return F.sigmoid(tf(x))


def softplus(x):
    x = tf(x)
    return F.relu(x) + F.log1p(F.exp(-F.abs(x)))


def softsign(x):
    x = tf(x)
    return x / (1.0 + F.abs(x))


def silu(x):
    x = tf(x)
    return x * F.sigmoid(x)


swish = silu


def log_sigmoid(x):
    return -softplus(-tf(x))


def leaky_relu(x, negative_slope=0.2):
    x = tf(x)
    return F.where(x >= 0, x, x * negative_slope)


def hard_sigmoid(x):
    return F.clamp(tf(x) / 6.0 + 0.5, 0.0, 1.0)


def hard_silu(x):
    x = tf(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def elu(x, alpha=1.0):
    x = tf(x)
    return F.where(x > 0, x, alpha * F.expm1(F.minimum(x, ember.zeros_like(x))))


def selu(x):
    return 1.0507009873554805 * elu(x, 1.6732632423543772)


def celu(x, alpha=1.0):
    x = tf(x)
    return F.relu(x) + F.minimum(ember.zeros_like(x), alpha * F.expm1(F.minimum(x, ember.zeros_like(x)) / alpha))


def gelu(x, approximate=True):
    x = tf(x)
    if approximate:
        return 0.5 * x * (1.0 + F.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + F.erf(x * 0.7071067811865476))


def glu(x, axis=-1):
    x = tf(x)
    if x.shape[axis] % 2:
        raise fail("glu", f"axis {axis} must have an even size, got shape {tuple(x.shape)}")
    a, b = F.chunk(x, 2, axis)
    return a * F.sigmoid(b)


def hard_tanh(x):
    return F.clamp(tf(x), -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    x = tf(x)
    return F.where(F.abs(x) > threshold, x, x * 0)


def soft_shrink(x, threshold=0.5):
    x = tf(x)
    return F.where(x > threshold, x - threshold, F.where(x < -threshold, x + threshold, x * 0))


def tanh_shrink(x):
    x = tf(x)
    return x - F.tanh(x)


def threshold(x, threshold, default_value):
    x = tf(x)
    return F.where(x > threshold, x, ember.full_like(x, default_value))


def squareplus(x, b=4):
    x = tf(x)
    return (x + F.sqrt(x * x + b)) * 0.5


def sparse_plus(x):
    x = tf(x)
    mid = (x + 1.0) ** 2 * 0.25
    return F.where(x <= -1.0, x * 0, F.where(x >= 1.0, x, mid))


def sparse_sigmoid(x):
    x = tf(x)
    return F.clamp((x + 1.0) * 0.5, 0.0, 1.0)


def _axis_last(x, axis):
    """``x`` with ``axis`` (an int or a tuple) flattened into the last axis, and the inverse."""
    axes = axes_of(x, axis)
    rest = [i for i in range(x.ndim) if i not in axes]
    order = rest + list(axes)
    moved = x.permute(*order)
    flat = moved.reshape(tuple(moved.shape[: len(rest)]) + (-1,))
    inverse = list(np.argsort(order))

    def back(y):
        return y.reshape(tuple(moved.shape)).permute(*inverse)

    return flat, back


def _over_axis(fn, name):
    """``fn(x, dim)`` over Keras's ``axis``: an int, or None / a tuple (those axes flattened into the last)."""
    def over(x, axis=-1):
        x = tf(x)
        if axis is None or not isinstance(axis, int):
            flat, back = _axis_last(x, axis)
            return back(fn(flat, -1))
        return fn(x, axis)
    over.__name__ = over.__qualname__ = name
    return over


softmax, log_softmax = _over_axis(F.softmax, "softmax"), _over_axis(F.log_softmax, "log_softmax")


def sparsemax(x, axis=-1):
    """The Euclidean projection of ``x`` onto the simplex along ``axis`` (sparse probabilities)."""
    x = tf(x)
    z = F.movedim(x, axis, -1)
    srt = F.sort(z, -1, descending=True).values
    n = z.shape[-1]
    k = ember.arange(1, n + 1, dtype=z.dtype)
    cum = F.cumsum(srt, -1)
    support = (1.0 + k * srt > cum).to(z.dtype)
    k_z = F.sum(support, -1, True)
    tau = (F.sum(srt * support, -1, True) - 1.0) / k_z
    return F.movedim(F.relu(z - tau), -1, axis)


# -- normalization ----------------------------------------------------------------------------------------------
def moments(x, axes, keepdims=False, synchronized=False):
    x = tf(x)
    axes = axes_of(x, axes)
    mean_ = F.mean(x, axes, True)
    var_ = F.mean(F.square(x - mean_), axes, keepdims)
    return (mean_ if keepdims else F.mean(x, axes, False)), var_


def _along(v, x, axis):
    """A per-channel vector ``v`` shaped to broadcast along ``axis`` of ``x``."""
    v = t(v).to(x.dtype)
    if v.ndim == 1 and x.ndim > 1:
        return v.reshape(tuple(-1 if i == axis % x.ndim else 1 for i in range(x.ndim)))
    return v


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = tf(x)
    out = (x - _along(mean, x, axis)) * F.rsqrt(_along(variance, x, axis) + epsilon)
    if scale is not None:
        out = out * _along(scale, x, axis)
    if offset is not None:
        out = out + _along(offset, x, axis)
    return out


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    x = tf(x)
    eps = 1e-7 if epsilon is None else epsilon
    axes = axes_of(x, axis)
    mean_ = F.mean(x, axes, True)
    var_ = F.mean(F.square(x - mean_), axes, True)
    out = (x - mean_) * F.rsqrt(var_ + eps)
    if gamma is not None:
        out = out * t(gamma).to(x.dtype)
    if beta is not None:
        out = out + t(beta).to(x.dtype)
    return out


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    x = tf(x)
    eps = 1e-7 if epsilon is None else epsilon
    out = x * F.rsqrt(F.mean(F.square(x), axes_of(x, axis), True) + eps)
    return out if scale is None else out * t(scale).to(x.dtype)


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm along ``axis``, the norm bounded below by ``epsilon``."""
    if not isinstance(order, int) or order < 1:
        raise fail("normalize", f"order must be an int >= 1, got {order!r}")
    x = tf(x)
    if x.ndim == 0:
        x = x.reshape(1)
    eps = 1e-7 if epsilon is None else epsilon
    if order == 2:
        inv = F.rsqrt(F.sum(F.square(x), axis, True))
        return x * F.minimum(inv, ember.full_like(inv, 1.0 / eps))
    norm = F.sum(F.abs(x) ** order, axis, True) ** (1.0 / order)
    return x / F.maximum(norm, ember.full_like(norm, eps))


# -- encodings --------------------------------------------------------------------------------------------------
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    if sparse:
        raise fail("one_hot", "sparse=True is not supported (Ember has no sparse Keras tensors)", NotImplementedError)
    idx = t(x)
    if idx.is_floating_point():
        idx = idx.to(edtype("int64"))
    classes = ember.arange(num_classes, dtype=idx.dtype)
    out = (idx.unsqueeze(-1) == classes).to(edtype(dtype or floatx()))
    return F.movedim(out, -1, axis) if axis != -1 else out


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    num_classes = kwargs.pop("num_tokens", num_classes)
    if num_classes is None:
        raise fail("multi_hot", "num_classes is required")
    idx = t(inputs)
    hot = one_hot(idx, num_classes, -1, dtype, sparse)
    out = F.amax(hot, -2 if idx.ndim > 1 else 0, False) if idx.ndim else hot
    return F.movedim(out, -1, axis) if axis != -1 else out


# -- attention --------------------------------------------------------------------------------------------------
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Attention over ``(batch, seq, heads, head_dim)`` inputs (Keras's layout); ``key`` / ``value`` may have
    fewer heads (grouped-query attention). ``mask`` is boolean, True where attention is allowed."""
    q, k, v = tf(query), tf(key), tf(value)
    if q.ndim not in (3, 4) or k.ndim != q.ndim or v.ndim != q.ndim:
        raise fail("dot_product_attention", f"query, key and value must all be 3-D or 4-D (batch, seq, heads, "
                                            f"dim), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if flash_attention:
        raise fail("dot_product_attention", "flash_attention=True is not available in Ember", NotImplementedError)
    squeeze = q.ndim == 3
    if squeeze:
        q, k, v = q.unsqueeze(2), k.unsqueeze(2), v.unsqueeze(2)
    heads, kv_heads = q.shape[2], k.shape[2]
    if heads % kv_heads:
        raise fail("dot_product_attention", f"query heads {heads} are not a multiple of key heads {kv_heads}")
    if kv_heads != heads:
        k = F.repeat_interleave(k, heads // kv_heads, 2)
        v = F.repeat_interleave(v, heads // kv_heads, 2)
    scale = 1.0 / _math.sqrt(q.shape[-1]) if scale is None else scale
    logits = F.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + t(bias).to(logits.dtype)
    if attn_logits_soft_cap is not None:
        logits = F.tanh(logits / attn_logits_soft_cap) * attn_logits_soft_cap
    allowed = None if mask is None else t(mask).to(ember.bool)
    if is_causal:
        causal = t(np.tril(np.ones((q.shape[1], k.shape[1]), dtype=bool)))
        allowed = causal if allowed is None else allowed & causal
    if allowed is not None:
        logits = F.where(allowed, logits, ember.full_like(logits, float(np.finfo(np.float32).min)))
    probs = F.softmax(logits, -1)
    out = F.einsum("bnts,bsnh->btnh", probs, v)
    return out.squeeze(2) if squeeze else out


# -- losses and metrics -----------------------------------------------------------------------------------------
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (no reduction); probabilities are clipped to [eps, 1 - eps]."""
    tgt, out = tf(target), tf(output)
    if tuple(tgt.shape) != tuple(out.shape):
        raise fail("binary_crossentropy", f"target {tuple(tgt.shape)} and output {tuple(out.shape)} differ in shape")
    tgt = tgt.to(out.dtype)
    if from_logits:
        return F.relu(out) - out * tgt + F.log1p(F.exp(-F.abs(out)))
    eps = 1e-7
    out = F.clamp(out, eps, 1.0 - eps)
    return -(tgt * F.log(out) + (1.0 - tgt) * F.log(1.0 - out))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from .. import losses

    return losses.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    from .. import losses

    return losses.sparse_categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio in dB: ``20 log10(max_val) - 10 log10(mse)``."""
    a, b = tf(x1), tf(x2)
    if tuple(a.shape) != tuple(b.shape):
        raise fail("psnr", f"inputs must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    mse = F.mean(F.square(a - b))
    return 20.0 * _math.log10(max_val) - 10.0 * F.log10(mse)


def polar(abs_, angle):
    raise fail("polar", "complex results are not available: the Keras ops keep tensors real (compute abs_ * "
                        "cos(angle) and abs_ * sin(angle) as two real tensors, or use ember.polar outside Keras)",
               NotImplementedError)



__all__ = public_names(globals(), __name__, "ember.keras.ops._nn_conv", "ember.keras.ops._nn_ctc")
