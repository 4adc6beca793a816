"""Colour augmentation layers with Keras 3's arguments and draws: RandomGrayscale, RandomInvert, Solarization,
RandomPosterization, RandomColorDegeneration (random per image in training, identity at inference) and
AutoContrast (always applied). Images are ``(batch, height, width, channels)`` or one image, channels_last
unless ``data_format`` says otherwise; pixel values are read in ``value_range``.
>>> import numpy as np
>>> from ember import keras
>>> image = np.array([[[10.0, 20.0, 30.0], [50.0, 60.0, 70.0]]], "float32")  # one 1x2 RGB image
>>> keras.layers.RandomInvert(factor=(1.0, 1.0))(image)[0, 0].numpy().tolist()
[245.0, 235.0, 225.0]
>>> keras.layers.AutoContrast()(image)[0, 1].numpy().tolist()
[255.0, 255.0, 255.0]
"""

from __future__ import annotations

import ember
from ember.errors import user_errors

from .. import random
from .preprocessing_image import _ImageAugmentation

_GRAY = (0.2989, 0.5870, 0.1140)  # ITU-R 601 luma weights, as Keras's rgb_to_grayscale


def _factor_pair(layer, factor, name, bounds=(0.0, 1.0), scalar=lambda f: (0.0, f), unit="a number"):
    """Keras's factor rule: a pair is sorted, each end within ``bounds``; a single number ``f`` (itself within
    ``bounds``) means ``scalar(f)`` — ``(0, f)`` for most colour layers."""
    low, high = bounds
    is_pair = isinstance(factor, (tuple, list))
    numbers = tuple(factor) if is_pair else (factor,)
    if (is_pair and len(numbers) != 2) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high for v in numbers):
        raise ValueError(f"{layer}: {name} must be {unit} in [{low:g}, {high:g}] or a pair of them, got {factor!r}")
    pair = numbers if len(numbers) == 2 else scalar(numbers[0])
    return tuple(sorted(pair))


def _unit_factor(layer, factor, name):
    return tuple(float(v) for v in _factor_pair(layer, factor, name))


def _value_range(layer, value_range):
    if len(value_range) != 2 or value_range[0] >= value_range[1]:
        raise ValueError(f"{layer}: value_range must be (min, max) with min < max, got {value_range!r}")
    return float(value_range[0]), float(value_range[1])


class RandomGrayscale(_ImageAugmentation):
    """Turn each image grey (its luma in every channel) with probability ``factor``."""

    @user_errors
    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 <= factor <= 1:
            raise ValueError(f"RandomGrayscale: factor must be a probability in [0, 1], got {factor!r}")
        self.factor = float(factor)

    def _augment(self, x):
        if x.shape[-1] != 3:
            raise ValueError(f"RandomGrayscale {self.name!r}: expected 3 (RGB) channels, got {x.shape[-1]}")
        gray = (x * ember.tensor(_GRAY, dtype=x.dtype)).sum(-1, keepdim=True)
        apply = (self._uniform(x.shape[0], 0.0, 1.0) < self.factor).reshape(-1, 1, 1, 1)
        return ember.where(apply, gray.expand_as(x), x)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomInvert(_ImageAugmentation):
    """Invert each image (``max - x`` of ``value_range``) when a uniform draw falls below a probability that is
    itself drawn from ``factor`` (Keras's two draws: ``factor=1.0`` inverts about half the images,
    ``factor=(1.0, 1.0)`` all of them)."""

    @user_errors
    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_factor("RandomInvert", factor, "factor")
        self.value_range = _value_range("RandomInvert", value_range)

    def _augment(self, x):
        n = x.shape[0]
        probability = self._uniform(n, *self.factor)
        apply = (self._uniform(n, 0.0, 1.0) < probability).reshape(-1, 1, 1, 1)
        return ember.where(apply, self.value_range[1] - x, x)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class Solarization(_ImageAugmentation):
    """On the 0-255 scale: add a random amount (drawn from ``addition_factor[0]`` to ``addition_factor[1] *
    255``, as Keras draws), clip, and invert every pixel at or above a random threshold (drawn likewise from
    ``threshold_factor``). The defaults (both 0) invert every pixel."""

    @user_errors
    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = _unit_factor("Solarization", addition_factor, "addition_factor")
        self.threshold_factor = _unit_factor("Solarization", threshold_factor, "threshold_factor")
        self.value_range = _value_range("Solarization", value_range)

    def _augment(self, x):
        lo, hi = self.value_range
        n = x.shape[0]
        addition = self._uniform(n, self.addition_factor[0], self.addition_factor[1] * 255).reshape(-1, 1, 1, 1)
        threshold = self._uniform(n, self.threshold_factor[0], self.threshold_factor[1] * 255).reshape(-1, 1, 1, 1)
        pixels = ((x - lo) * (255.0 / (hi - lo)) + addition).clamp(0.0, 255.0)
        solarized = ember.where(pixels < threshold, pixels, 255.0 - pixels)
        return solarized * ((hi - lo) / 255.0) + lo

    def get_config(self):
        return {**super().get_config(), "addition_factor": list(self.addition_factor),
                "threshold_factor": list(self.threshold_factor), "value_range": list(self.value_range)}


class AutoContrast(_ImageAugmentation):
    """Stretch each channel of each image so its darkest pixel maps to ``value_range``'s min and its brightest
    to the max; applied at inference too (Keras does). A flat channel (nothing to stretch) is left as it is."""

    @user_errors
    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = _value_range("AutoContrast", value_range)

    def _inference(self, inputs):
        return self.call(inputs, training=True)

    def _augment(self, x):
        lo, hi = self.value_range
        missing = x.isnan()  # NaN pixels stay NaN and do not set the stretch (Keras's result)
        low = ember.where(missing, float("inf"), x).amin(dim=(1, 2), keepdim=True)
        span = ember.where(missing, float("-inf"), x).amax(dim=(1, 2), keepdim=True) - low
        flat = (span == 0) | ~span.isfinite()
        stretched = ((x - low) / ember.where(flat, ember.ones_like(span), span) * (hi - lo) + lo).clamp(lo, hi)
        return ember.where(flat | missing, x, stretched)

    def get_config(self):
        config = {**super().get_config(), "value_range": list(self.value_range)}
        config.pop("seed", None)
        config.pop("data_format", None)
        return config


class RandomPosterization(_ImageAugmentation):
    """Keep only the top ``bits`` bits of each 8-bit pixel value, ``bits`` drawn per image from ``[lower,
    upper)`` of ``factor`` (``f`` means ``(1, f)``; equal ends fix it), as Keras does."""

    @user_errors
    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        pair = _factor_pair("RandomPosterization", factor, "factor", (1, 8), lambda f: (1, f), "a number of bits")
        self.factor = tuple(int(v) for v in pair)
        self.value_range = _value_range("RandomPosterization", value_range)

    def _augment(self, x):
        lo, hi = self.value_range
        low, high = self.factor
        bits = (random.randint((x.shape[0],), low, high, seed=self.seed_generator).to(x.dtype) if low != high
                else ember.full((x.shape[0],), float(low), dtype=x.dtype))
        step = (2.0 ** (8 - bits)).reshape(-1, 1, 1, 1)  # a right then left shift by 8 - bits zeroes the low bits
        pixels = ((x - lo) * (255.0 / (hi - lo))).clamp(0.0, 255.0).floor()  # the uint8 cast
        return (pixels / step).floor() * step * ((hi - lo) / 255.0) + lo

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomColorDegeneration(_ImageAugmentation):
    """Move each image towards its greyscale version by a random amount drawn from ``factor`` (``f`` means
    ``(-f, f)``: a negative amount saturates), then clip to ``value_range``."""

    @user_errors
    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        pair = _factor_pair("RandomColorDegeneration", factor, "factor", (-1.0, 1.0), lambda f: (-abs(f), abs(f)))
        self.factor = tuple(float(v) for v in pair)
        self.value_range = _value_range("RandomColorDegeneration", value_range)

    def _augment(self, x):
        if x.shape[-1] != 3:
            raise ValueError(f"RandomColorDegeneration {self.name!r}: expected 3 (RGB) channels, got {x.shape[-1]}")
        amount = self._uniform(x.shape[0], *self.factor).reshape(-1, 1, 1, 1)
        gray = (x * ember.tensor(_GRAY, dtype=x.dtype)).sum(-1, keepdim=True)
        return (x + amount * (gray - x)).clamp(*self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}
