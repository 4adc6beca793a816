"""``torchvision.utils``: ``make_grid`` (a batch of images tiled into one image) and ``save_image`` (that
grid written as a PNG/JPEG file through Pillow, the ``ember[vision]`` extra).

>>> import ember
>>> from ember.vision.utils import make_grid
>>> make_grid(ember.zeros(10, 1, 28, 28), nrow=5).shape
ember.Size([3, 62, 152])
"""
from __future__ import annotations

import math
import os

import numpy as np

from . import _pil

__all__ = ["make_grid", "save_image"]


def _as_batch(tensor):
    import ember

    if isinstance(tensor, (list, tuple)):
        tensor = ember.stack(list(tensor), 0)
    if not isinstance(tensor, ember.Tensor):
        raise TypeError(f"make_grid: expected a tensor or a list of tensors, got {type(tensor).__name__}")
    arr = tensor.detach().cpu().numpy()
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = np.concatenate([arr] * 3, 0)[None] if arr.shape[0] == 1 else arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected images of shape (B, C, H, W), (C, H, W) or (H, W), got "
                         f"{tuple(tensor.shape)}")
    if arr.shape[1] == 1:
        arr = np.concatenate([arr] * 3, 1)
    return arr, tensor.dtype


def _normalize(arr, value_range, scale_each):
    arr = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=True)

    def norm(img):
        low, high = value_range if value_range is not None else (float(img.min()), float(img.max()))
        np.clip(img, low, high, out=img)
        img -= low
        img /= max(high - low, 1e-5)

    for img in (arr if scale_each else [arr]):
        norm(img)
    return arr


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile a batch (B, C, H, W) into one image: ``nrow`` images per row, ``padding`` pixels of ``pad_value``
    between them; ``normalize`` shifts each image (``scale_each``) or the batch into [0, 1] using
    ``value_range`` or the min and max. One-channel images become three-channel, as in torchvision."""
    import ember

    if value_range is not None and not isinstance(value_range, tuple):
        raise TypeError(f"make_grid: value_range has to be a tuple (min, max), got {value_range!r}")
    arr, dtype = _as_batch(tensor)
    if normalize:
        arr = _normalize(arr, value_range, scale_each)
    if arr.shape[0] == 1:
        return ember.tensor(arr[0], dtype=dtype)
    n, c, h, w = arr.shape
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    height, width = h + padding, w + padding
    grid = np.full((c, height * ymaps + padding, width * xmaps + padding), pad_value, dtype=arr.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:y * height + padding + h, x * width + padding:x * width + padding + w] = arr[k]
    return ember.tensor(grid, dtype=dtype)


def save_image(tensor, fp, format=None, **kwargs):
    """Write ``make_grid(tensor, **kwargs)`` (values in [0, 1]) to ``fp`` (a path or a binary file) as an image
    file; the format comes from the file name unless ``format`` is given. Writes to paths are atomic."""
    grid = make_grid(tensor, **kwargs).numpy()
    ndarr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    img = _pil.from_array(ndarr)
    if hasattr(fp, "write"):
        img.save(fp, format=format)
        return
    path = os.fspath(fp)
    fmt = format or _pil.require_pil("save_image").registered_extensions().get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise ValueError(f"save_image: cannot tell the image format from {path!r}; give the file an extension "
                         "such as .png, or pass format='PNG'")
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        img.save(tmp, format=fmt)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
