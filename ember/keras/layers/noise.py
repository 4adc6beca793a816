"""Noise layers: GaussianNoise (adds ``N(0, stddev^2)`` noise) and GaussianDropout (multiplies by
``N(1, rate / (1 - rate))`` noise), active in training only, drawn through ``keras.random`` (the ``normal``
primitive, so a compiled step draws fresh noise each call).

>>> from ember import keras
>>> layer = keras.layers.GaussianNoise(0.1)
>>> x = keras.ops.ones((2, 3))
>>> bool((layer(x) == x).all()), bool((layer(x, training=True) != x).any())
(True, True)
"""

from __future__ import annotations

import math

from .. import backend as K
from .. import random
from .base import Layer


class GaussianNoise(Layer):
    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= stddev <= 1:
            raise ValueError(f"GaussianNoise: stddev must be in [0, 1], got {stddev}")
        self.stddev, self.seed = float(stddev), seed
        self.seed_generator = random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        return inputs + random.normal(tuple(inputs.shape), 0.0, self.stddev, inputs.dtype.name, self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"GaussianDropout: rate must be in [0, 1], got {rate}")
        self.rate, self.seed = float(rate), seed
        self.seed_generator = random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or not 0 < self.rate < 1:
            return inputs
        std = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * random.normal(tuple(inputs.shape), 1.0, std, inputs.dtype.name, self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Layer):
    """Dropout that keeps a SELU network's mean and variance: dropped units take SELU's negative saturation
    value and an affine correction follows (``nn.functional.alpha_dropout``); identity in inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) <= 1:
            raise ValueError(f"AlphaDropout: rate must be in [0, 1], got {rate!r}")
        if noise_shape is not None:
            raise NotImplementedError("AlphaDropout(noise_shape=...) is not supported in Ember")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        from ember.nn import functional as NF

        return NF.alpha_dropout(inputs, self.rate, training=True)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class _SpatialDropout(Layer):
    """Drop whole feature maps: one keep/drop draw per (sample, channel), shared over the other axes; the
    channels axis is last, or axis 1 with ``data_format="channels_first"`` (2-D and 3-D; SpatialDropout1D is
    always channels_last, as in Keras)."""

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = "channels_last" if isinstance(self, SpatialDropout1D) else \
            K.standardize_data_format(data_format, type(self).__name__)
        if not 0 <= rate <= 1:
            raise ValueError(f"{type(self).__name__}: rate must be in [0, 1], got {rate}")
        self.rate, self.seed = float(rate), seed
        self.seed_generator = random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        ones = (1,) * (inputs.ndim - 2)
        if self.data_format == "channels_first":
            noise_shape = (inputs.shape[0], inputs.shape[1]) + ones
        else:
            noise_shape = (inputs.shape[0],) + ones + (inputs.shape[-1],)
        return random.dropout(inputs, self.rate, noise_shape, seed=self.seed_generator)

    def get_config(self):
        config = {**super().get_config(), "rate": self.rate, "seed": self.seed}
        return config if isinstance(self, SpatialDropout1D) else {**config, "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, None, seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    pass


class SpatialDropout3D(_SpatialDropout):
    pass


class ActivityRegularization(Layer):
    """Identity that adds ``(l1 * sum|x| + l2 * sum x^2) / batch_size`` to the model's losses (Keras 3
    divides activity regularisation by the batch size)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def call(self, inputs):
        loss = 0.0
        if self.l1:
            loss = loss + self.l1 * inputs.abs().sum()
        if self.l2:
            loss = loss + self.l2 * (inputs * inputs).sum()
        if self.l1 or self.l2:
            self.add_loss(loss / float(inputs.shape[0]) if inputs.ndim else loss)
        return inputs

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
