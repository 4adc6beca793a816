"""More augmentation layers in Keras 3's two steps: RandomErasing, RandomHue, RandomSaturation, RandomSharpness.

Each layer draws its random numbers in ``get_random_transformation(images)`` (a dict, with Keras's keys) and
applies them in ``transform_images(images, transformation)``; a call does both. So a transformation drawn
elsewhere (by real Keras, say) can be applied as it is, and the result is Keras's. Images are ``(batch,
height, width, channels)`` or one image, channels_last unless ``data_format`` says otherwise; transformation
entries laid out like the images (RandomErasing's masks and fill) are batched and in that layout too.

>>> import numpy as np
>>> from ember import keras
>>> images = np.full((2, 4, 4, 3), 100.0, "float32")
>>> sharpen = keras.layers.RandomSharpness(factor=0.3, seed=0)
>>> t = sharpen.get_random_transformation(images)
>>> sorted(t), tuple(t["factor"].shape)
(['factor'], (2,))
>>> float(sharpen.transform_images(images, {"factor": np.array([0.5, 0.5])})[0, 1, 1, 0])  # 0.5: no change
100.0
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.errors import user_errors
from ember.nn import functional as NF

from .. import backend as K
from .. import random
from ..ops import image as image_ops
from .preprocessing_image import _ImageAugmentation

_EPSILON = 1e-7  # keras.config.epsilon()


def keras_factor(layer, factor, bounds, name="factor"):
    """Keras's ``_set_factor``: a pair (sorted) overlapping ``bounds``, or ``f`` within them meaning
    ``(max(-|f|, low), |f|)``."""
    low, high = bounds
    if isinstance(factor, (tuple, list)) and len(factor) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in factor):
        if factor[0] > high or factor[1] < low:
            raise ValueError(f"{layer}: {name} must be a number or a pair of numbers in [{low}, {high}], got "
                             f"{factor!r}")
        return tuple(float(v) for v in sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool) and low <= factor <= high:
        return max(-abs(float(factor)), float(low)), abs(float(factor))
    raise ValueError(f"{layer}: {name} must be a number or a pair of numbers in [{low}, {high}], got {factor!r}")


def keras_value_range(layer, value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{layer}: value_range must be a tuple or list of two numbers, got {value_range!r}")
    return tuple(float(v) for v in sorted(value_range))


def _rescale(x, source, target):
    if tuple(source) == tuple(target):
        return x
    return (x - source[0]) / (source[1] - source[0]) * (target[1] - target[0]) + target[0]


class TransformAugmentation(_ImageAugmentation):
    """Base of the two-step layers: ``_draw(x, gen)`` returns the transformation for NHWC batch ``x``;
    ``_apply(x, t)`` applies it. Entries named in ``_image_keys`` are laid out like the images."""

    _image_keys = ()
    _kept_keys = ()  # entries passed to ``_apply`` as given (a seed generator, say)

    def _augment(self, x):
        return self._apply(x, self._draw(x, self.seed_generator))

    def _to_nhwc(self, images):
        x = images if isinstance(images, ember.Tensor) else K.convert(np.asarray(images))
        x = x if x.is_floating_point() else x.to(ember.float32)
        if x.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected images of rank 3 or 4, got shape "
                             f"{tuple(x.shape)}")
        single = x.ndim == 3
        x = x.unsqueeze(0) if single else x
        return (x.permute(0, 2, 3, 1) if self.data_format == "channels_first" else x), single

    def _from_nhwc(self, x, single):
        x = x.permute(0, 3, 1, 2) if self.data_format == "channels_first" else x
        return x[0] if single else x

    @user_errors
    def get_random_transformation(self, data, training=True, seed=None):
        """Draw one transformation for ``data`` (images, or a dict with ``"images"``); None when not training."""
        if not training:
            return None
        x, _ = self._to_nhwc(data["images"] if isinstance(data, dict) else data)
        gen = self.seed_generator if seed is None else (
            seed if isinstance(seed, random.SeedGenerator) else random.SeedGenerator(seed))
        t = self._draw(x, gen)
        return {k: (self._from_nhwc(v, False) if k in self._image_keys else v) for k, v in t.items()}

    @user_errors
    def transform_images(self, images, transformation, training=True):
        """Apply ``transformation`` (Keras's keys; arrays or tensors) to ``images``."""
        x, single = self._to_nhwc(images)
        if not training:
            return self._from_nhwc(x, single)
        t = {}
        for key, value in transformation.items():
            if key in self._kept_keys:
                t[key] = value
                continue
            v = value if isinstance(value, ember.Tensor) else K.convert(np.asarray(value))
            if key in self._image_keys:
                v = v.unsqueeze(0) if v.ndim == 3 else v
                v = v.permute(0, 2, 3, 1) if self.data_format == "channels_first" else v
            t[key] = v
        return self._from_nhwc(self._apply(x, t), single)

    def _rand(self, gen, shape, low=0.0, high=1.0):
        return random.uniform(shape, low, high, seed=gen)


class RandomErasing(TransformAugmentation):
    """Erase a random rectangle of each image (with probability drawn from ``factor``, as Keras draws it)
    and fill it with ``fill_value`` (a number or one per channel) or, by default, Gaussian noise scaled by
    ``value_range``'s max; the rectangle's sides are ``sqrt(s)`` of the image's, ``s`` drawn from ``scale``.

    >>> import numpy as np
    >>> from ember import keras
    >>> erase = keras.layers.RandomErasing(factor=(1.0, 1.0), scale=(0.25, 0.25), fill_value=0.0, seed=1)
    >>> float((erase(np.ones((1, 8, 8, 1), "float32")) == 0).float().mean())  # a 4x4 hole
    0.25
    """

    _image_keys = ("batch_masks", "fill_value")

    @user_errors
    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255), seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomErasing", factor, (0, 1))
        self.scale = keras_factor("RandomErasing", scale, (0, 1), "scale")
        if fill_value is not None and not (isinstance(fill_value, (int, float)) or (
                isinstance(fill_value, (tuple, list)) and len(fill_value) == 3)):
            raise ValueError(f"RandomErasing: fill_value must be a number or a list of three numbers, got "
                             f"{fill_value!r}")
        self.fill_value, self.value_range = fill_value, tuple(value_range)

    def _bounds(self, gen, n, length, ratio):
        crop = ratio * length
        start = self._rand(gen, (n,)) * (length - crop)
        return start, start + crop

    def _draw(self, x, gen):
        n, h, w, c = x.shape
        ratio = self._rand(gen, (n, 2), *self.scale).sqrt()
        x0, x1 = self._bounds(gen, n, w, ratio[:, 0])
        y0, y1 = self._bounds(gen, n, h, ratio[:, 1])
        gx = ember.arange(w, dtype=x.dtype).reshape(1, 1, w, 1)
        gy = ember.arange(h, dtype=x.dtype).reshape(1, h, 1, 1)
        box = [v.reshape(n, 1, 1, 1) for v in (x0, x1, y0, y1)]
        masks = ((gx >= box[0]) & (gx < box[1]) & (gy >= box[2]) & (gy < box[3])).expand(n, h, w, c)
        probability = self._rand(gen, (n,), *self.factor)
        apply = self._rand(gen, (n,)) < probability
        if self.fill_value is None:
            fill = random.normal((n, h, w, c), seed=gen) * self.value_range[1]
        else:
            fill = ember.tensor(np.broadcast_to(np.asarray(self.fill_value, "float32"), (n, h, w, c)).copy())
        return {"apply_erasing": apply, "batch_masks": masks,
                "fill_value": fill.clamp(float(self.value_range[0]), float(self.value_range[1]))}

    def _apply(self, x, t):
        erased = ember.where(t["batch_masks"].to(ember.bool), t["fill_value"].to(x.dtype), x)
        return ember.where(t["apply_erasing"].to(ember.bool).reshape(-1, 1, 1, 1), erased, x)

    def get_config(self):
        fill = list(self.fill_value) if isinstance(self.fill_value, (tuple, list)) else self.fill_value
        return {**super().get_config(), "factor": list(self.factor), "scale": list(self.scale), "fill_value": fill,
                "value_range": list(self.value_range)}


def _rgb(layer, x):
    if x.shape[-1] != 3:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected 3 (RGB) channels, got {x.shape[-1]}")


class RandomHue(TransformAugmentation):
    """Turn each image's hue by a random fraction of half a turn: an amount drawn from ``factor`` (``f``
    means ``(0, f)``) with a random sign, through HSV in ``value_range``.

    >>> import numpy as np
    >>> from ember import keras
    >>> red = np.array([[[255.0, 0.0, 0.0]]], "float32")  # a third of a turn: red to green
    >>> keras.layers.RandomHue(0.5).transform_images(red, {"factor": np.array([1 / 3])})[0, 0].numpy().tolist()
    [0.0, 255.0, 0.0]
    """

    @user_errors
    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomHue", factor, (0, 1))
        self.value_range = tuple(value_range)

    def _draw(self, x, gen):
        n = x.shape[0]
        sign = ember.where(self._rand(gen, (n,)) > 0.5, -1.0, 1.0)
        return {"factor": sign * self._rand(gen, (n,), *self.factor) * 0.5}

    def _apply(self, x, t):
        _rgb(self, x)
        hsv = image_ops.rgb_to_hsv(_rescale(x, self.value_range, (0, 1)), data_format="channels_last")
        hue = hsv[..., 0] + t["factor"].to(x.dtype).reshape(-1, 1, 1)
        hue = ember.where(hue > 1.0, hue - 1.0, hue)
        hue = ember.where(hue < 0.0, hue + 1.0, hue)
        rgb = image_ops.hsv_to_rgb(F.stack([hue, hsv[..., 1], hsv[..., 2]], -1), data_format="channels_last")
        return _rescale(rgb.clamp(0.0, 1.0), (0, 1), self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomSaturation(TransformAugmentation):
    """Scale each image's HSV saturation by ``f / (1 - f)``, ``f`` drawn from ``factor`` (0.5 keeps it, 0
    greys, 1 saturates fully); the saturation is clipped to ``value_range`` as Keras does.

    >>> import numpy as np
    >>> from ember import keras
    >>> pixel = np.array([[[0.8, 0.4, 0.2]]], "float32")
    >>> grey = keras.layers.RandomSaturation((0.0, 0.0), value_range=(0, 1))(pixel)
    >>> [round(v, 4) for v in grey[0, 0].numpy().tolist()]
    [0.8, 0.8, 0.8]
    """

    @user_errors
    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomSaturation", factor, (-1, 1))
        self.value_range = keras_value_range("RandomSaturation", value_range)

    def _draw(self, x, gen):
        f = self._rand(gen, (x.shape[0],), *self.factor)
        return {"factor": f / (1.0 - f + _EPSILON)}

    def _apply(self, x, t):
        _rgb(self, x)
        hsv = image_ops.rgb_to_hsv(x, data_format="channels_last")  # Keras converts the raw values
        sat = (hsv[..., 1] * t["factor"].to(x.dtype).reshape(-1, 1, 1)).clamp(*self.value_range)
        return image_ops.hsv_to_rgb(F.stack([hsv[..., 0], sat, hsv[..., 2]], -1), data_format="channels_last")

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomSharpness(TransformAugmentation):
    """Blend each image with a 3x3 smoothed copy: ``x + (1 - 2f) * (smooth - x)``, ``f`` drawn from
    ``factor`` (0.5 keeps the image, 0 blurs, 1 sharpens), then clip to ``value_range``.

    >>> import numpy as np
    >>> from ember import keras
    >>> dot = np.zeros((1, 3, 3, 1), "float32"); dot[0, 1, 1, 0] = 13.0
    >>> float(keras.layers.RandomSharpness((0.0, 0.0), value_range=(0, 13))(dot)[0, 1, 1, 0])  # blurred
    5.0
    """

    @user_errors
    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomSharpness", factor, (0, 1))
        self.value_range = keras_value_range("RandomSharpness", value_range)

    def _draw(self, x, gen):
        return {"factor": self._rand(gen, (x.shape[0],), *self.factor)}

    def _apply(self, x, t):
        c = x.shape[-1]
        kernel = ember.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]], dtype=x.dtype) / 13.0
        xc = x.permute(0, 3, 1, 2)
        smooth = NF.conv2d(xc, kernel.reshape(1, 1, 3, 3).expand(c, 1, 3, 3), padding=1, groups=c)
        amount = (1.0 - 2.0 * t["factor"].to(x.dtype)).reshape(-1, 1, 1, 1)
        return (x + amount * (smooth.permute(0, 2, 3, 1) - x)).clamp(*self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "value_range": list(self.value_range)}


class RandomGaussianBlur(TransformAugmentation):
    """Blur each image (with probability drawn from ``factor``, as Keras draws it) by a Gaussian of
    ``kernel_size`` (odd) whose two sigmas are drawn from ``sigma`` (``s`` means ``(0, s)``, at most 1, as
    Keras allows), then clip to ``value_range``.

    >>> import numpy as np
    >>> from ember import keras
    >>> dot = np.zeros((1, 3, 3, 1), "float32"); dot[0, 1, 1, 0] = 100.0
    >>> blur = keras.layers.RandomGaussianBlur(factor=(1.0, 1.0), sigma=(1.0, 1.0))
    >>> round(float(blur(dot)[0, 1, 1, 0]), 2)  # the centre weight of a 3x3 Gaussian with sigma 1
    20.42
    """

    @user_errors
    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomGaussianBlur", factor, (0, 1))
        sizes = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
        if len(sizes) != 2 or not all(isinstance(k, int) and k > 0 and k % 2 for k in sizes):
            raise ValueError(f"RandomGaussianBlur: kernel_size must be an odd number or a pair of them, got "
                             f"{kernel_size!r}")
        self.kernel_size = sizes
        self.sigma = keras_factor("RandomGaussianBlur", sigma, (0, 1), "sigma")
        self.value_range = tuple(value_range)

    def _draw(self, x, gen):
        n = x.shape[0]
        probability = self._rand(gen, (n,), *self.factor)
        apply = self._rand(gen, (n,)) < probability
        return {"should_apply_blur": apply, "blur_factor": self._rand(gen, (2,), *self.sigma) + 1e-6}

    def _apply(self, x, t):
        sigma = tuple(float(s) for s in t["blur_factor"].tolist())
        blurred = image_ops.gaussian_blur(x, self.kernel_size, sigma, data_format="channels_last")
        out = ember.where(t["should_apply_blur"].to(ember.bool).reshape(-1, 1, 1, 1), blurred, x)
        return out.clamp(float(self.value_range[0]), float(self.value_range[1]))

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "kernel_size": list(self.kernel_size),
                "sigma": list(self.sigma), "value_range": list(self.value_range)}


class Equalization(TransformAugmentation):
    """Histogram equalization of each channel (its histogram of ``bins`` bins taken over the whole batch,
    as Keras takes it) in ``value_range``; a channel with a single occupied bin is left as it is. Not random;
    like Keras it passes images through at inference.

    >>> import numpy as np
    >>> from ember import keras
    >>> image = np.array([[[10.0], [10.0], [20.0], [30.0]]], "float32")
    >>> keras.layers.Equalization()(image)[..., 0].numpy().tolist()
    [[0.0, 0.0, 128.0, 255.0]]
    """

    @user_errors
    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = keras_value_range("Equalization", value_range)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"Equalization: bins must be a positive integer, got {bins!r}")
        self.bins = bins

    def _draw(self, x, gen):
        return {}

    def _equalize(self, channel):
        bins = self.bins
        scaled = (channel - self.value_range[0]) * (255.0 / (self.value_range[1] - self.value_range[0]))
        index = (scaled * ((bins - 1) / 255.0)).trunc().clamp(0, bins - 1).to(ember.int64)
        hist = ember.bincount(index.reshape(-1), minlength=bins)
        cdf = ember.cumsum(hist, 0)
        cdf_min = (cdf + (cdf == 0).to(cdf.dtype) * cdf[-1]).amin()  # the first nonzero cumulative count
        span = cdf[-1] - cdf_min
        table = F.round((cdf - cdf_min).to(channel.dtype) * 255.0 / ember.where(span == 0, 1, span).to(channel.dtype))
        lookup = (scaled / 255.0 * (bins - 1)).clamp(0, bins - 1).trunc().to(ember.int64)
        equalized = table.clamp(0.0, 255.0)[lookup.reshape(-1)].reshape(channel.shape)
        out = ember.where((hist > 0).sum() <= 1, scaled, equalized)
        return out * ((self.value_range[1] - self.value_range[0]) / 255.0) + self.value_range[0]

    def _apply(self, x, t):
        return F.stack([self._equalize(x[..., c]) for c in range(x.shape[-1])], -1)

    def get_config(self):
        config = {**super().get_config(), "value_range": list(self.value_range), "bins": self.bins}
        config.pop("seed", None)
        return config
