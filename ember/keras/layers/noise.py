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
