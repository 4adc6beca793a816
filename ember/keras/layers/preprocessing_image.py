"""Random image augmentation layers with Keras 3's arguments and geometry: RandomRotation, RandomZoom,
RandomTranslation (an affine resampling with ``fill_mode`` reflect / wrap / constant / nearest and
``interpolation`` bilinear / nearest), RandomCrop, RandomContrast, RandomBrightness.

They augment on a direct call and in training, and pass images through at inference (``training=False``, as
``predict`` / ``evaluate`` call them), like Keras. Numbers are drawn through ``keras.random`` with a
per-layer ``SeedGenerator``, so a compiled train step draws fresh transforms on every step.

>>> import numpy as np
>>> from ember import keras
>>> image = np.arange(12, dtype="float32").reshape(1, 3, 4, 1)
>>> rotate = keras.layers.RandomRotation((0.5, 0.5), interpolation="nearest")  # half a turn
>>> rotate(image)[0, :, :, 0].numpy().tolist()[0]
[11.0, 10.0, 9.0, 8.0]
>>> bool((rotate(image, training=False).numpy() == image).all())
True
"""

from __future__ import annotations

import math

import ember
from ember import functional as F
from ember.errors import user_errors

from .. import backend as K
from .. import random
from .base import Layer
from .preprocessing import _resize
from .symbolic import any_symbolic

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("bilinear", "nearest")


def _factor_range(layer, factor, name, low, high, symmetric_low=None):
    """Keras's factor rule: a pair ``(lower, upper)`` (sorted; it must overlap ``[low, high]``), or ``f``
    within ``[low, high]`` meaning ``(-|f|, |f|)`` (``symmetric_low`` clips the lower end: RandomContrast)."""
    if isinstance(factor, (tuple, list)) and len(factor) == 2:
        lower, upper = sorted(float(f) for f in factor)
        bad = lower > high or upper < low
    elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
        bad = not low <= factor <= high
        f = abs(float(factor))
        lower, upper = (-f if symmetric_low is None else max(-f, symmetric_low)), f
    else:
        bad = True
    if bad:
        raise ValueError(f"{layer}: {name} must be a number in [{low}, {high}] or a pair (lower, upper), "
                         f"got {factor!r}")
    return lower, upper


def _check_within(layer, *ranges):
    """RandomZoom / RandomTranslation: every end in (-1, 1] (Keras's rule for these two)."""
    for r in ranges:
        if r is not None and (r[0] <= -1.0 or r[1] > 1.0):
            raise ValueError(f"{layer}: factors must lie in (-1, 1], got {r}")


def _check_modes(layer, fill_mode, interpolation):
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"{layer}: fill_mode must be one of {_FILL_MODES}, got {fill_mode!r}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{layer}: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")


def _data_format(data_format, where="data_format"):
    return K.standardize_data_format(data_format, where)


def _fix_index(index, size, mode):
    """Keras's (scipy's) out-of-range rule on float-valued integer indices."""
    if mode in ("constant", "nearest"):
        return index.clamp(0, size - 1)
    if mode == "wrap":
        return index % size
    # reflect: (d c b a | a b c d | d c b a), a mirror of period 2*size on half-integer positions
    s = 2 * size
    mirrored = ((2 * index + 1 + s) % (2 * s) - s).abs()
    return F.floor((mirrored - 1) / 2)


def affine_resample(images, params, fill_mode, interpolation, fill_value):
    """Sample ``images`` (N, H, W, C) at ``x_in = a0*x + a1*y + a2``, ``y_in = b0*x + b1*y + b2`` for each
    output pixel; ``params`` is (N, 6) ``[a0, a1, a2, b0, b1, b2]`` (TensorFlow's transform, without the
    projective terms)."""
    n, h, w, c = images.shape
    ys = ember.arange(h, dtype=ember.float32).reshape(1, h, 1)
    xs = ember.arange(w, dtype=ember.float32).reshape(1, 1, w)
    p = [params[:, i].reshape(n, 1, 1) for i in range(6)]
    x_in = p[0] * xs + p[1] * ys + p[2]
    y_in = p[3] * xs + p[4] * ys + p[5]
    if interpolation == "nearest":
        corners = [(F.round(y_in), F.round(x_in), None)]
    else:
        y0, x0 = F.floor(y_in), F.floor(x_in)
        dy, dx = y_in - y0, x_in - x0
        corners = [(y0, x0, (1 - dy) * (1 - dx)), (y0, x0 + 1, (1 - dy) * dx),
                   (y0 + 1, x0, dy * (1 - dx)), (y0 + 1, x0 + 1, dy * dx)]
    flat = images.reshape(n, h * w, c)
    out = None
    for yi, xi, weight in corners:
        index = _fix_index(yi, h, fill_mode) * w + _fix_index(xi, w, fill_mode)
        index = index.reshape(n, h * w, 1).to(ember.int64).expand(n, h * w, c)
        value = ember.gather(flat, 1, index).reshape(n, h, w, c)
        if fill_mode == "constant":
            inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
            value = F.where(inside.unsqueeze(-1), value, ember.full_like(value, float(fill_value)))
        term = value if weight is None else value * weight.unsqueeze(-1)
        out = term if out is None else out + term
    return out


class _ImageAugmentation(Layer):
    """Shared parts: training switch, (un)batched and channels_first inputs, float32 cast, seed generator."""

    @user_errors
    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = random.SeedGenerator(seed)
        self.data_format = _data_format(data_format)

    @user_errors
    def call(self, inputs, training=None):
        if training is None:
            training = True  # Keras's augmentation layers act on direct calls; fit/predict say which
        if not training:
            return self._inference(inputs)
        x = inputs if inputs.is_floating_point() else inputs.to(ember.float32)
        if x.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected images (batch, height, width, channels) "
                             f"or one image (height, width, channels), got shape {tuple(inputs.shape)}")
        single = x.ndim == 3
        x = x.unsqueeze(0) if single else x
        if self.data_format == "channels_first":
            x = x.permute(0, 2, 3, 1)
        out = self._augment(x)
        if self.data_format == "channels_first":
            out = out.permute(0, 3, 1, 2)
        return out[0] if single else out

    def _inference(self, inputs):
        return inputs if inputs.is_floating_point() else inputs.to(ember.float32)

    def _uniform(self, n, lower, upper):
        return random.uniform((n,), lower, upper, seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class _AffineAugmentation(_ImageAugmentation):
    @user_errors
    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        _check_modes(type(self).__name__, fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    def _augment(self, x):
        return affine_resample(x, self._params(x.shape[0], x.shape[1], x.shape[2]), self.fill_mode,
                               self.interpolation, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


class RandomRotation(_AffineAugmentation):
    """Rotate each image by a random angle of ``factor`` turns about its centre: ``factor=0.1`` draws from
    [-36°, 36°], ``factor=(a, b)`` from [a*360°, b*360°] (positive: counter-clockwise)."""

    @user_errors
    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_range("RandomRotation", factor, "factor", -1.0, 1.0)

    def _params(self, n, h, w):
        angle = self._uniform(n, self.factor[0] * 360.0, self.factor[1] * 360.0) * (math.pi / 180.0)
        cos, sin = angle.cos(), angle.sin()
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        a0, a1, b0, b1 = cos, -sin, sin, cos
        return ember.stack([a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1], 1)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_AffineAugmentation):
    """Zoom each image by a random amount about its centre: ``height_factor`` ``f`` or ``(a, b)`` draws a
    scale in ``[1 + a, 1 + b]`` (positive: zoom out, negative: zoom in); ``width_factor=None`` keeps the
    aspect ratio (one scale for both axes)."""

    @user_errors
    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = _factor_range("RandomZoom", height_factor, "height_factor", -1.0, 1.0)
        self.width_factor = None if width_factor is None else _factor_range(
            "RandomZoom", width_factor, "width_factor", -1.0, 1.0)
        _check_within("RandomZoom", self.height_factor, self.width_factor)

    def _params(self, n, h, w):
        hz = self._uniform(n, 1.0 + self.height_factor[0], 1.0 + self.height_factor[1])
        wz = hz if self.width_factor is None else self._uniform(n, 1.0 + self.width_factor[0],
                                                                1.0 + self.width_factor[1])
        zero = ember.zeros_like(hz)
        return ember.stack([wz, zero, (w - 1) / 2.0 * (1 - wz), zero, hz, (h - 1) / 2.0 * (1 - hz)], 1)

    def get_config(self):
        wf = None if self.width_factor is None else list(self.width_factor)
        return {**super().get_config(), "height_factor": list(self.height_factor), "width_factor": wf}


class RandomTranslation(_AffineAugmentation):
    """Shift each image by a random fraction of its size: ``height_factor`` / ``width_factor`` ``f`` or
    ``(a, b)`` (positive: down / right)."""

    @user_errors
    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = _factor_range("RandomTranslation", height_factor, "height_factor", -1.0, 1.0)
        self.width_factor = _factor_range("RandomTranslation", width_factor, "width_factor", -1.0, 1.0)
        _check_within("RandomTranslation", self.height_factor, self.width_factor)

    def _params(self, n, h, w):
        dy = self._uniform(n, self.height_factor[0], self.height_factor[1]) * h
        dx = self._uniform(n, self.width_factor[0], self.width_factor[1]) * w
        one, zero = ember.ones_like(dy), ember.zeros_like(dy)
        return ember.stack([one, zero, -dx, zero, one, -dy], 1)

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": list(self.width_factor)}


class RandomCrop(_ImageAugmentation):
    """In training, crop a random ``(height, width)`` window (one window per batch, as Keras); an image not
    larger than that in both axes is centre-cropped to the target aspect ratio and resized. At inference the
    input passes through unchanged (Keras 3's rule)."""

    @user_errors
    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height, self.width = int(height), int(width)

    def __call__(self, *args, **kwargs):
        # a symbolic (functional / Sequential) call has Keras's output shape (height, width), though an
        # inference call passes images through: Keras 3 does the same (a Dense after it then fails in predict)
        self._symbolic = any_symbolic(args, kwargs)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self._symbolic = False

    def _inference(self, inputs):
        if getattr(self, "_symbolic", False):
            x = inputs if inputs.is_floating_point() else inputs.to(ember.float32)
            return _resize(x, self.height, self.width, "bilinear") if x.ndim == 4 else x[: self.height, : self.width]
        return inputs

    def _window(self, size, crop):
        start = F.floor(random.uniform((), 0.0, float(size - crop + 1), seed=self.seed_generator))
        return (start + ember.arange(crop, dtype=ember.float32)).clamp(max=size - 1).to(ember.int64)

    def _augment(self, x):
        h, w = x.shape[1], x.shape[2]
        if h > self.height and w > self.width:
            rows, cols = self._window(h, self.height), self._window(w, self.width)
            return x.index_select(1, rows).index_select(2, cols)
        # Keras 3: the start of the centred aspect-ratio crop, then a (height, width) slice from there
        ch = max(min(h, int(w * self.height / self.width)), 1)
        cw = max(min(w, int(h * self.width / self.height)), 1)
        top, left = (h - ch) // 2, (w - cw) // 2
        window = x[:, top : top + self.height, left : left + self.width]
        return _resize(window, self.height, self.width, "bilinear")

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomContrast(_ImageAugmentation):
    """Scale each image's deviation from its per-channel mean by a random factor, then clip to
    ``value_range``. As in Keras 3, ``factor=f`` draws from ``[1, 1 + f]`` and ``(a, b)`` from
    ``[1 - a, 1 + b]``."""

    @user_errors
    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_range("RandomContrast", factor, "factor", 0.0, 1.0, symmetric_low=0.0)
        self.value_range = tuple(value_range)

    def _augment(self, x):
        f = self._uniform(x.shape[0], 1.0 - self.factor[0], 1.0 + self.factor[1]).reshape(-1, 1, 1, 1)
        mean = x.mean(dim=(1, 2), keepdim=True)
        return ((x - mean) * f + mean).clamp(float(self.value_range[0]), float(self.value_range[1]))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomBrightness(_ImageAugmentation):
    """Add a random ``factor * (max - min)`` of ``value_range`` to each image, then clip: ``factor=f``
    draws from ``[-f, f]``, ``(a, b)`` from ``[a, b]``."""

    @user_errors
    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_range("RandomBrightness", factor, "factor", -1.0, 1.0)
        if len(value_range) != 2:
            raise ValueError(f"RandomBrightness: value_range must be (min, max), got {value_range!r}")
        self.value_range = tuple(sorted(value_range))

    def _augment(self, x):
        lo, hi = (float(v) for v in self.value_range)
        delta = self._uniform(x.shape[0], self.factor[0], self.factor[1]).reshape(-1, 1, 1, 1) * (hi - lo)
        return (x + delta).clamp(lo, hi)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}
