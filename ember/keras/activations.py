"""Keras activation functions by name (``activation='relu'`` on a layer) over Ember tensors.

>>> from ember.keras import activations, ops
>>> ops.convert_to_numpy(activations.get("relu")(ops.convert_to_tensor([-1.0, 2.0]))).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

import ember
from ember import functional as F
from ember.errors import did_you_mean
from ember.nn import functional as NF

from . import ops


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return F.relu(x)
    y = F.where(x > threshold, x, (x - threshold) * negative_slope)
    return y if max_value is None else F.clamp(y, max=max_value)


def sigmoid(x):
    return F.sigmoid(x)


def tanh(x):
    return F.tanh(x)


def softmax(x, axis=-1):
    return F.softmax(x, axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(x, axis)


def exponential(x):
    return F.exp(x)


def gelu(x, approximate=False):
    """Exact (erf) GELU by default, as ``keras.activations.gelu``; ``keras.ops.gelu`` defaults to the tanh
    approximation instead."""
    return ops.gelu(x, approximate=approximate)


softplus, silu, elu, selu, leaky_relu, relu6, hard_sigmoid = (
    ops.softplus,
    ops.silu,
    ops.elu,
    ops.selu,
    ops.leaky_relu,
    ops.relu6,
    ops.hard_sigmoid,
)
swish = silu


def softsign(x):
    return x / (1.0 + F.abs(x))


def mish(x):
    return x * F.tanh(ops.softplus(x))


def celu(x, alpha=1.0):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return NF.celu(x, alpha=float(alpha))


def glu(x, axis=-1):
    """Gated linear unit: the first half of ``axis`` times the sigmoid of the second half."""
    if x.shape[axis] % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got shape {tuple(x.shape)}")
    return NF.glu(x, dim=axis)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return F.where(F.abs(x) > threshold, x, ember.zeros_like(x))


def soft_shrink(x, threshold=0.5):
    """``x`` moved toward 0 by ``threshold`` (0 inside ``[-threshold, threshold]``)."""
    return F.where(x > threshold, x - threshold, F.where(x < -threshold, x + threshold, ember.zeros_like(x)))


def hard_silu(x):
    """``x * relu6(x + 3) / 6`` (a.k.a. hard swish)."""
    return x * F.clamp(x + 3.0, 0.0, 6.0) / 6.0


hard_swish = hard_silu


def hard_tanh(x):
    """``x`` clipped to ``[-1, 1]``."""
    return F.clamp(x, -1.0, 1.0)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    return NF.logsigmoid(x)


def tanh_shrink(x):
    return x - F.tanh(x)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    return F.where(x > threshold, x, ember.full_like(x, float(default_value)))


def sparse_plus(x):
    """0 below -1, ``x`` above 1, ``(x + 1)^2 / 4`` between (a smooth ReLU)."""
    mid = F.square(x + 1.0) / 4.0
    return F.where(x <= -1.0, ember.zeros_like(x), F.where(x >= 1.0, x, mid))


def sparse_sigmoid(x):
    """0 below -1, 1 above 1, ``(x + 1) / 2`` between."""
    return F.clamp((x + 1.0) / 2.0, 0.0, 1.0)


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2`` (a smooth ReLU without exponentials)."""
    if b < 0:
        raise ValueError(f"squareplus: b must be >= 0, got b={b}")
    return (x + F.sqrt(F.square(x) + float(b))) / 2.0


def sparsemax(x, axis=-1):
    """The Euclidean projection of ``x`` onto the probability simplex along ``axis`` (Martins & Astudillo,
    2016): ``max(x - tau, 0)`` with ``tau`` chosen so the outputs sum to 1.

    Keras 3.15's own sparsemax computes ``tau`` from the sum of the cumulative sums over the support instead
    of the cumulative sum at its end, so its outputs do not sum to 1 once the support has two or more
    entries; this follows the paper (and gives the same result as Keras where the support has one entry)."""
    z = x.movedim(axis, -1)
    zs = F.sort(z, -1, descending=True)[0]
    cums = zs.cumsum(-1)
    r = ember.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = (1.0 + r * zs > cums).to(z.dtype)
    k = support.sum(-1, keepdim=True)
    cum_k = cums.gather(-1, (k - 1).to(ember.int64))
    tau = (cum_k - 1.0) / k
    return F.relu(z - tau).movedim(-1, axis)


ALL = {
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "exponential": exponential,
    "softplus": softplus,
    "silu": silu,
    "swish": silu,
    "gelu": gelu,
    "elu": elu,
    "selu": selu,
    "leaky_relu": leaky_relu,
    "relu6": relu6,
    "hard_sigmoid": hard_sigmoid,
    "softsign": softsign,
    "mish": mish,
    "celu": celu,
    "glu": glu,
    "hard_shrink": hard_shrink,
    "soft_shrink": soft_shrink,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "hard_tanh": hard_tanh,
    "log_sigmoid": log_sigmoid,
    "tanh_shrink": tanh_shrink,
    "threshold": threshold,
    "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid,
    "squareplus": squareplus,
    "sparsemax": sparsemax,
}


def get(identifier):
    """An activation callable from a name, ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = ALL.get(identifier)
        if fn is None:
            raise ValueError(f"unknown activation {identifier!r}{did_you_mean(identifier, ALL)}; "
                             f"known: {', '.join(sorted(ALL))}")
        return fn
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"could not interpret activation {identifier!r}")


def serialize(fn):
    """The name of a built-in activation, or the serialized form of a registered custom one."""
    for name, f in ALL.items():
        if f is fn:
            return name
    from .saving import serialize_keras_object

    return serialize_keras_object(fn)


def deserialize(config, custom_objects=None):
    """The activation named by ``config`` (a name, or the dict ``serialize`` gives for a custom one)."""
    if isinstance(config, str) and not (custom_objects and config in custom_objects):
        return get(config)
    if isinstance(config, dict) and config.get("class_name") == "function" and config.get("config") in ALL:
        return ALL[config["config"]]
    from .saving import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects)
