"""More torchvision transforms: RandomResizedCrop, ColorJitter, Grayscale, RandomGrayscale, RandomVerticalFlip,
Pad, RandomApply, ToPILImage, PILToTensor, ConvertImageDtype. Random draws come from Ember's generator
(``ember.manual_seed`` makes them reproducible); the arithmetic is in ``transforms_functional``.

>>> import numpy as np
>>> RandomResizedCrop(8)(np.zeros((32, 24, 3), np.uint8)).shape
(8, 8, 3)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from . import transforms_functional as F
from .transforms import InterpolationMode, _pair, _rng

__all__ = ["RandomResizedCrop", "ColorJitter", "Grayscale", "RandomGrayscale", "RandomVerticalFlip", "Pad",
           "RandomApply", "ToPILImage", "PILToTensor", "ConvertImageDtype"]


class RandomResizedCrop:
    """A random crop (``scale``: its share of the area, ``ratio``: its aspect ratio) resized to ``size``
    (torchvision's sampling: 10 tries, then a centre crop)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size = _pair(size, "RandomResizedCrop")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale and ratio should be (min, max), got {scale} and {ratio}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.antialias = interpolation, antialias

    @staticmethod
    def get_params(img, scale, ratio):
        """``(top, left, height, width)`` of the crop."""
        _, height, width = F.get_dimensions(img)
        area = height * width
        rng = _rng()
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(scale[0], scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        top, left, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, h, w, self.size, self.interpolation, self.antialias)

    def __repr__(self):
        return (f"{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
                f"interpolation={self.interpolation})")


def _range(name, value, center=1.0, bound=(0, float("inf")), clip_first_on_zero=True):
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"ColorJitter: if {name} is a single number, it must be non-negative, got {value}")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, Sequence) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"ColorJitter: {name} should be a number or a (min, max) pair, got {value!r}")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should be between {bound}, got {value}"
                         + ("; hue is a fraction of a full turn: give at most 0.5" if name == "hue" else ""))
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter:
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    >>> import numpy as np
    >>> ColorJitter(brightness=0.5, hue=0.1)(np.full((4, 4, 3), 128, np.uint8)).shape
    (4, 4, 3)
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = _range("brightness", brightness)
        self.contrast = _range("contrast", contrast)
        self.saturation = _range("saturation", saturation)
        self.hue = _range("hue", hue, center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """``(order, brightness, contrast, saturation, hue)``: the order of the four adjustments and each
        factor (None: that adjustment is off)."""
        rng = _rng()
        order = rng.permutation(4)
        draw = [None if r is None else float(rng.uniform(r[0], r[1])) for r in (brightness, contrast, saturation,
                                                                                  hue)]
        return (order, *draw)

    def __call__(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        ops = {0: (F.adjust_brightness, b), 1: (F.adjust_contrast, c), 2: (F.adjust_saturation, s),
               3: (F.adjust_hue, h)}
        for k in order:
            fn, factor = ops[int(k)]
            if factor is not None:
                img = fn(img, factor)
        return img

    def __repr__(self):
        return (f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class Grayscale:
    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels should be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def __repr__(self):
        return f"{type(self).__name__}(num_output_channels={self.num_output_channels})"


class RandomGrayscale:
    """Greyscale (keeping the number of channels) with probability ``p``."""

    def __init__(self, p=0.1):
        self.p = p

    def __call__(self, img):
        if not _rng().random() < self.p:
            return img
        channels = F.get_dimensions(img)[0]
        return F.rgb_to_grayscale(img, channels)


class RandomVerticalFlip:
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        return F.vflip(img) if _rng().random() < self.p else img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class Pad:
    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomApply:
    """Apply the list of ``transforms`` with probability ``p`` (all or none)."""

    def __init__(self, transforms, p=0.5):
        self.transforms, self.p = list(transforms), p

    def __call__(self, img):
        if not _rng().random() < self.p:
            return img
        for t in self.transforms:
            img = t(img)
        return img


class ToPILImage:
    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)


class PILToTensor:
    def __call__(self, pic):
        return F.pil_to_tensor(pic)


class ConvertImageDtype:
    def __init__(self, dtype):
        self.dtype = dtype

    def __call__(self, image):
        return F.convert_image_dtype(image, self.dtype)
