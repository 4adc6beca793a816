"""Pillow interop for images (optional: ``pip install 'ember[vision]'``). Pillow is imported only when a PIL
image is actually met or a file must be decoded, so the rest of ``ember.vision`` works without it."""
from __future__ import annotations

import sys

import numpy as np


def require_pil(what: str):
    """``PIL.Image``, or an ImportError saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{what} needs Pillow to read and write image files: pip install 'ember[vision]' "
                          "(or pip install pillow)") from None
    return Image


def is_pil(obj) -> bool:
    mod = sys.modules.get("PIL.Image")  # a PIL image can only exist once Pillow has been imported
    return mod is not None and isinstance(obj, mod.Image)


class PilKind:
    """What ``transforms._unwrap`` remembers about a PIL input, so results come back as PIL images."""

    def __init__(self, mode: str):
        self.mode = mode

    def to_pil(self, array):
        return from_array(array, self.mode)


def to_array(img) -> np.ndarray:
    """HxW (single band) or HxWxC array of a PIL image; mode '1' becomes uint8 0/255, as torchvision does."""
    arr = np.asarray(img)
    if img.mode == "1":
        arr = arr.astype(np.uint8) * 255
    return arr


def from_array(arr: np.ndarray, mode: str | None = None):
    """A PIL image of an HxW or HxWxC array (``mode`` when it still fits the array)."""
    Image = require_pil("converting to a PIL image")
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if mode in ("1", "P"):
        mode = None
    if mode is not None and Image.fromarray(arr).mode != mode:
        try:
            return Image.fromarray(arr).convert(mode)
        except ValueError:
            pass
    return Image.fromarray(arr)
