"""``torchvision.transforms.v2``: the same transforms under their v2 names, plus ``ToImage`` (image -> uint8
tensor CxHxW) and ``ToDtype`` (with ``scale=True`` uint8 [0, 255] -> float [0, 1]), which replace ToTensor.

>>> import numpy as np, ember
>>> from ember.vision.transforms import v2
>>> t = v2.Compose([v2.ToImage(), v2.ToDtype(ember.float32, scale=True)])
>>> t(np.full((2, 2, 3), 255, np.uint8)).shape
ember.Size([3, 2, 2])
"""
from __future__ import annotations

import numpy as np

from . import _pil
from . import transforms_functional as F
from .transforms import (
    CenterCrop,
    Compose,
    InterpolationMode,
    Lambda,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    Resize,
    ToTensor,
)
from .transforms_more import (
    ColorJitter,
    Grayscale,
    Pad,
    RandomApply,
    RandomGrayscale,
    RandomResizedCrop,
    RandomVerticalFlip,
    ToPILImage,
)

__all__ = ["Compose", "Lambda", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Resize", "CenterCrop",
           "InterpolationMode", "ColorJitter", "Grayscale", "Pad", "RandomApply", "RandomGrayscale",
           "RandomResizedCrop", "RandomVerticalFlip", "ToPILImage", "ToTensor", "ToImage", "ToDtype",
           "ToPureTensor", "Identity"]


class ToImage:
    """A PIL image or HxW[xC] array -> a tensor CxHxW of the same dtype (no scaling); tensors pass through."""

    def __call__(self, inpt):
        import ember

        if isinstance(inpt, ember.Tensor):
            return inpt
        if _pil.is_pil(inpt):
            return F.pil_to_tensor(inpt)
        if isinstance(inpt, np.ndarray):
            arr = inpt[None] if inpt.ndim == 2 else np.moveaxis(inpt, -1, 0)
            return ember.from_numpy(np.ascontiguousarray(arr))
        raise TypeError(f"ToImage: expected a PIL image, a NumPy array or a tensor, got {type(inpt).__name__}")


class ToDtype:
    """Cast image tensors to ``dtype``; ``scale=True`` rescales between integer and float value ranges."""

    def __init__(self, dtype, scale=False):
        self.dtype, self.scale = dtype, scale

    def __call__(self, inpt):
        if isinstance(self.dtype, dict):
            raise NotImplementedError("ToDtype: per-type dtype dicts are not supported; pass one dtype")
        return F.convert_image_dtype(inpt, self.dtype) if self.scale else inpt.to(self.dtype)


class ToPureTensor:
    def __call__(self, inpt):
        return inpt


class Identity:
    def __call__(self, inpt):
        return inpt
