"""More augmentations in Keras 3's two steps: RandomShear, RandomPerspective and RandomColorJitter.

As in ``preprocessing_augment``, ``get_random_transformation(images)`` draws a dict with Keras's keys and
``transform_images(images, transformation)`` applies one, so a transformation drawn by real Keras gives
Keras's result. The warps go through ``keras.ops.image.affine_transform`` / ``perspective_transform``.

>>> import numpy as np
>>> from ember import keras
>>> shear = keras.layers.RandomShear(x_factor=0.3, seed=0)
>>> t = shear.get_random_transformation(np.zeros((2, 5, 5, 1), "float32"))
>>> sorted(t), tuple(t["shear_factor"].shape)
(['input_shape', 'shear_factor'], (2, 2))
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.errors import user_errors

from .. import backend as K
from ..ops import image as image_ops
from .preprocessing_augment import RandomHue, RandomSaturation, TransformAugmentation, keras_factor
from .preprocessing_image import _check_modes, _factor_range


def _shear_factor(factor, name):
    """Keras's rule for RandomShear: each given number within [0, 1]; ``f`` means ``(-f, f)``."""
    numbers = factor if isinstance(factor, (tuple, list)) else [factor]
    ok = (not isinstance(factor, (tuple, list)) or len(factor) == 2) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in numbers)
    if not ok:
        raise ValueError(f"RandomShear: {name} must be a number or a pair of numbers in [0, 1], got {factor!r}")
    if isinstance(factor, (tuple, list)):
        return tuple(float(v) for v in sorted(factor))
    return -abs(float(factor)), abs(float(factor))


def _plain(factor):
    return [float(v) for v in factor] if isinstance(factor, (tuple, list)) else float(factor)


class RandomShear(TransformAugmentation):
    """Shear each image along x and y: the output pixel ``(x, y)`` is read at ``(x + sx * y, y + sy * x)``
    (about the top-left corner, as Keras does), ``sx`` and ``sy`` drawn from ``x_factor`` and ``y_factor``
    and both negated for about half the images; ``fill_mode`` and ``interpolation`` as RandomRotation.

    >>> import numpy as np
    >>> from ember import keras
    >>> image = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    >>> shear = keras.layers.RandomShear(interpolation="nearest", fill_mode="constant")
    >>> shear.transform_images(image, {"shear_factor": np.array([[1.0, 0.0]])})[0, :, :, 0].numpy().tolist()
    [[0.0, 1.0, 2.0], [4.0, 5.0, 0.0], [8.0, 0.0, 0.0]]
    """

    @user_errors
    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.x_factor = _shear_factor(x_factor, "x_factor")
        self.y_factor = _shear_factor(y_factor, "y_factor")
        # the arguments as given, for get_config: Keras stores the widened pair, which its from_config refuses
        self._arguments = {"x_factor": _plain(x_factor), "y_factor": _plain(y_factor)}
        _check_modes("RandomShear", fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    def _draw(self, x, gen):
        n = x.shape[0]
        sign = ember.where(self._rand(gen, (n, 1)) > 0.5, -1.0, 1.0)
        shear_y = self._rand(gen, (n, 1), *self.y_factor)
        shear_x = self._rand(gen, (n, 1), *self.x_factor)
        return {"shear_factor": F.cat([shear_x, shear_y], 1) * sign, "input_shape": self._input_shape(x)}

    def _input_shape(self, x):
        shape = tuple(x.shape)
        return shape if self.data_format == "channels_last" else (shape[0], shape[3], shape[1], shape[2])

    def _apply(self, x, t):
        f = t["shear_factor"].to(x.dtype).reshape(-1, 2)
        one, zero = ember.ones_like(f[:, 0]), ember.zeros_like(f[:, 0])
        matrix = F.stack([one, f[:, 0], zero, f[:, 1], one, zero, zero, zero], 1)
        return image_ops.affine_transform(x, matrix, self.interpolation, self.fill_mode, self.fill_value,
                                          data_format="channels_last")

    def get_config(self):
        return {**super().get_config(), **self._arguments,
                "interpolation": self.interpolation, "fill_mode": self.fill_mode, "fill_value": self.fill_value}


class RandomPerspective(TransformAugmentation):
    """Warp each image (with probability drawn from ``factor``, as Keras draws it) so that its four corners
    move by up to ``scale / 2`` of their own coordinates (Keras's ``end = start * (1 + u)``, ``u`` uniform in
    ``[-scale/2, scale/2]``); pixels from outside become ``fill_value``.

    >>> import numpy as np
    >>> from ember import keras
    >>> image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> corners = np.array([[[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [3.0, 3.0]]])
    >>> same = {"apply_perspective": np.array([True]), "start_points": corners, "end_points": corners}
    >>> layer = keras.layers.RandomPerspective()
    >>> bool(np.allclose(layer.transform_images(image, same).numpy(), image, atol=1e-4))  # corners kept
    True
    """

    @user_errors
    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0, seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomPerspective", factor, (0, 1))
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.0 <= scale <= 1.0:
            raise ValueError(f"RandomPerspective: scale must be a number in [0, 1], got {scale!r}")
        _check_modes("RandomPerspective", "constant", interpolation)
        self.scale, self.interpolation, self.fill_value = float(scale), interpolation, float(fill_value)

    def _draw(self, x, gen):
        n, h, w, _ = x.shape
        probability = self._rand(gen, (n,), *self.factor)
        apply = self._rand(gen, (n,)) < probability
        moves = self._rand(gen, (n, 4, 2), -0.5 * self.scale, 0.5 * self.scale)
        corners = ember.tensor([[0.0, 0.0], [w - 1.0, 0.0], [0.0, h - 1.0], [w - 1.0, h - 1.0]], dtype=x.dtype)
        start = corners.unsqueeze(0).expand(n, 4, 2)
        shape = tuple(x.shape) if self.data_format == "channels_last" else (n, x.shape[3], h, w)
        return {"apply_perspective": apply, "start_points": start, "end_points": start + start * moves,
                "input_shape": shape}

    def _apply(self, x, t):
        n = x.shape[0]
        start = t["start_points"].reshape(n, 4, 2)
        end = t["end_points"].reshape(n, 4, 2)
        warped = image_ops.perspective_transform(x, start, end, self.interpolation, self.fill_value,
                                                 data_format="channels_last")
        return ember.where(t["apply_perspective"].to(ember.bool).reshape(-1, 1, 1, 1), warped, x)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomColorJitter(TransformAugmentation):
    """Keras's colour jitter: random brightness, contrast, saturation and hue, in that order, each only when
    its factor is given (the factors as RandomBrightness, RandomContrast, RandomSaturation and RandomHue take
    them, over one ``value_range``). The transformation holds one of those layers' transformations per step,
    under ``"brightness"``, ``"contrast"``, ``"saturation"`` and ``"hue"``.

    >>> import numpy as np
    >>> from ember import keras
    >>> jitter = keras.layers.RandomColorJitter(brightness_factor=0.2, contrast_factor=0.3, seed=0)
    >>> sorted(jitter.get_random_transformation(np.zeros((2, 4, 4, 3), "float32")))
    ['brightness', 'contrast']
    >>> step = {"brightness": {"rgb_delta": np.full((1, 1, 1, 1), 25.0)}}
    >>> float(jitter.transform_images(np.full((1, 2, 2, 3), 100.0, "float32"), step)[0, 0, 0, 0])
    125.0
    """

    _STEPS = ("brightness", "contrast", "saturation", "hue")

    @user_errors
    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None, saturation_factor=None,
                 hue_factor=None, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"RandomColorJitter: value_range must be (min, max), got {value_range!r}")
        self.value_range = tuple(float(v) for v in value_range)
        self.brightness_factor, self.contrast_factor = brightness_factor, contrast_factor
        self.saturation_factor, self.hue_factor = saturation_factor, hue_factor
        self._brightness = None if brightness_factor is None else _factor_range(
            "RandomColorJitter", brightness_factor, "brightness_factor", -1.0, 1.0)
        self._contrast = None if contrast_factor is None else _factor_range(
            "RandomColorJitter", contrast_factor, "contrast_factor", 0.0, 1.0, symmetric_low=0.0)
        steps = {}
        for name, cls, factor in (("saturation", RandomSaturation, saturation_factor),
                                  ("hue", RandomHue, hue_factor)):
            if factor is not None:
                try:
                    steps[name] = cls(factor, value_range=self.value_range, data_format="channels_last")
                except ValueError as err:
                    raise ValueError(f"RandomColorJitter: {name}_factor: {err}") from None
        self._color_steps = steps

    def _active(self):
        given = {"brightness": self._brightness, "contrast": self._contrast, **self._color_steps}
        return [name for name in self._STEPS if given.get(name) is not None]

    def _draw(self, x, gen):
        n, t = x.shape[0], {}
        for name in self._active():
            if name == "brightness":
                delta = self._rand(gen, (n, 1, 1, 1), *self._brightness)
                t[name] = {"rgb_delta": delta * (self.value_range[1] - self.value_range[0])}
            elif name == "contrast":
                low, high = self._contrast
                t[name] = {"contrast_factor": self._rand(gen, (n, 1, 1, 1), 1.0 - low, 1.0 + high)}
            else:
                t[name] = self._color_steps[name]._draw(x, gen)
        return t

    def _apply(self, x, t):
        low, high = self.value_range
        for name in self._STEPS:
            step = {k: v if isinstance(v, ember.Tensor) else K.convert(np.asarray(v))
                    for k, v in (t.get(name) or {}).items()}
            if not step:
                continue
            if name == "brightness":
                lo, hi = sorted((low, high))
                x = (x + step["rgb_delta"].to(x.dtype).reshape(-1, 1, 1, 1)).clamp(lo, hi)
            elif name == "contrast":
                mean = x.mean(dim=(1, 2), keepdim=True)
                x = ((x - mean) * step["contrast_factor"].to(x.dtype).reshape(-1, 1, 1, 1) + mean).clamp(low, high)
            else:
                x = self._color_steps[name]._apply(x, step)
        return x

    @user_errors
    def transform_images(self, images, transformation, training=True):
        """Apply the steps in ``transformation`` (each one a Keras sub-layer's dict) in Keras's order."""
        x, single = self._to_nhwc(images)
        if training and transformation:
            x = self._apply(x, transformation)
        return self._from_nhwc(x, single)

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range),
                "brightness_factor": _listed(self.brightness_factor), "contrast_factor": _listed(self.contrast_factor),
                "saturation_factor": _listed(self.saturation_factor), "hue_factor": _listed(self.hue_factor)}


def _listed(value):
    return list(value) if isinstance(value, tuple) else value
