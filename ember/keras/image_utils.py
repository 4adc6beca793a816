"""``keras.utils`` image files: ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img`` (Pillow, the
``vision`` extra), with Keras 3's arguments and conversions.

>>> import numpy as np
>>> from ember.keras import utils
>>> image = utils.array_to_img(np.array([[[0.0], [0.5]], [[1.0], [0.25]]]))
>>> image.mode, image.size
('L', (2, 2))
>>> utils.img_to_array(image)[:, :, 0].tolist()
[[0.0, 127.0], [255.0, 63.0]]
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings

import numpy as np

from ember._atomic import write_atomic
from ember.errors import user_errors

_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
_RESAMPLE = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError("keras.utils image functions need Pillow: pip install pillow (or ember[vision])") from exc
    return Image


def _channels_last(x, data_format):
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return np.moveaxis(x, 0, -1) if fmt == "channels_first" else x


@user_errors
def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A (height, width, channels) array (1, 3 or 4 channels) as a PIL image; ``scale`` maps
    ``[min, max]`` to ``[0, 255]`` first."""
    x = np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected an image array of rank 3, got shape {x.shape}")
    x = _channels_last(x, data_format)
    if scale:
        x = x - x.min()
        if x.max() != 0:
            x = x / x.max()
        x = x * 255
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if x.shape[2] not in modes:
        raise ValueError(f"array_to_img: expected 1, 3 or 4 channels, got shape {x.shape}")
    pixels = x.astype("uint8")
    return _pil().fromarray(pixels[:, :, 0] if x.shape[2] == 1 else pixels, modes[x.shape[2]])


@user_errors
def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a float32 (height, width, channels) array (channels first if asked)."""
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}")
    return np.moveaxis(x, -1, 0) if data_format == "channels_first" else x


@user_errors
def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Open an image file (a path or a file-like object) as a PIL image in ``color_mode`` (grayscale / rgb /
    rgba), resized to ``target_size=(height, width)`` when given (``keep_aspect_ratio`` centre-crops first)."""
    Image = _pil()
    if color_mode not in _MODES:
        raise ValueError(f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}")
    if interpolation not in _RESAMPLE:
        raise ValueError(f"load_img: interpolation must be one of {_RESAMPLE}, got {interpolation!r}")
    if isinstance(path, (str, pathlib.Path)):
        if not os.path.exists(path):
            raise FileNotFoundError(f"load_img: no image file at {str(path)!r}")
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        img = Image.open(path)
    if img.mode != _MODES[color_mode]:
        img = img.convert(_MODES[color_mode])
    if target_size is not None:
        height, width = target_size
        if keep_aspect_ratio:
            w, h = img.size
            crop_h, crop_w = min(h, int(w * height / width)), min(w, int(h * width / height))
            top, left = (h - crop_h) // 2, (w - crop_w) // 2
            img = img.crop((left, top, left + crop_w, top + crop_h))
        if img.size != (width, height):
            img = img.resize((width, height), getattr(Image.Resampling, interpolation.upper()))
    return img


@user_errors
def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write an image array (or PIL image) to ``path`` (format from the extension unless ``file_format``);
    the write is atomic."""
    img = x if hasattr(x, "save") and not hasattr(x, "shape") else array_to_img(x, data_format, scale)
    fmt = file_format or os.path.splitext(str(path))[1].lstrip(".") or "png"
    fmt = {"jpg": "jpeg"}.get(fmt.lower(), fmt.lower())
    if img.mode == "RGBA" and fmt == "jpeg":
        warnings.warn("save_img: JPEG has no alpha channel; the image is saved as RGB", stacklevel=2)
        img = img.convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kwargs)
    write_atomic(path, buffer.getvalue())
