"""Activation layers: LeakyReLU, ReLU, PReLU, ELU, Softmax (Keras 3's arguments and defaults).

>>> from ember import keras
>>> x = keras.ops.convert_to_tensor([[-2.0, 0.5]])
>>> keras.layers.LeakyReLU()(x).tolist(), keras.layers.ReLU(max_value=0.25)(x).tolist()
([[-0.6000000238418579, 0.5]], [[0.0, 0.25]])
"""

from __future__ import annotations

from ember import functional as F
from ember.nn import functional as NF

from .. import initializers
from .base import Layer


class LeakyReLU(Layer):
    """``x`` where positive, ``negative_slope * x`` elsewhere (Keras's default slope is 0.3)."""

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        negative_slope = kwargs.pop("alpha", negative_slope)  # Keras 2's name
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be a non-negative number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return NF.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ReLU(Layer):
    """``max_value``-capped ReLU with ``negative_slope`` below ``threshold`` (Keras's ``ReLU`` layer)."""

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU: max_value must be >= 0, got {max_value}")
        if negative_slope < 0:
            raise ValueError(f"ReLU: negative_slope must be >= 0, got {negative_slope}")
        self.max_value, self.negative_slope, self.threshold = max_value, float(negative_slope), float(threshold)

    def call(self, inputs):
        x = inputs
        if self.negative_slope or self.threshold:
            out = F.where(x >= self.threshold, x, (x - self.threshold) * self.negative_slope)
        else:
            out = NF.relu(x)
        if self.max_value is not None:
            out = out.clamp(max=float(self.max_value))
        return out

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class PReLU(Layer):
    """Leaky ReLU with a learned slope ``alpha`` per input unit (shared along ``shared_axes``)."""

    supports_masking = True

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = alpha_regularizer
        axes = shared_axes if shared_axes is None or isinstance(shared_axes, (list, tuple)) else [shared_axes]
        self.shared_axes = None if axes is None else [int(a) for a in axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            shape[a - 1] = 1
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, regularizer=self.alpha_regularizer,
                                     name="alpha")
        self.built = True

    def call(self, inputs):
        return NF.relu(inputs) - self.alpha * NF.relu(-inputs)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "shared_axes": self.shared_axes}


class ELU(Layer):
    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return NF.elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over ``axis``; a boolean ``mask`` (True = keep) sends masked entries to probability 0."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs + (1.0 - mask.to(inputs.dtype)) * -1e9  # Keras's large negative offset
        if isinstance(self.axis, (list, tuple)):  # several axes: exp(x - logsumexp over them)
            return (inputs - inputs.logsumexp(dim=tuple(self.axis), keepdim=True)).exp()
        return NF.softmax(inputs, dim=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
