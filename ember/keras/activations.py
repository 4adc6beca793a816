"""Keras activation functions by name (``activation='relu'`` on a layer) over Ember tensors.

>>> from ember.keras import activations, ops
>>> ops.convert_to_numpy(activations.get("relu")(ops.convert_to_tensor([-1.0, 2.0]))).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

from ember import functional as F

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
}


def get(identifier):
    """An activation callable from a name, ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = ALL.get(identifier)
        if fn is None:
            raise ValueError(f"unknown activation {identifier!r}; known: {', '.join(sorted(ALL))}")
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
