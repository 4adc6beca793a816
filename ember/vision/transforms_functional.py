"""``torchvision.transforms.functional``: the deterministic image operations behind the transforms.

Images are NumPy arrays (HxW or HxWxC), ember tensors ([..., C, H, W]) or PIL images, and come back as the
same kind. Colour adjustments follow torchvision's formulas: on tensors/arrays its tensor formulas
(``_blend`` with a black, mean-grey or greyscale image; hue through HSV), on PIL images PIL's ``ImageEnhance``
as torchvision does.

>>> import numpy as np
>>> adjust_brightness(np.full((2, 2, 3), 100, np.uint8), 1.5)[0, 0].tolist()
[150, 150, 150]
"""
from __future__ import annotations

import numpy as np

from . import _pil
from .transforms import InterpolationMode, Resize, ToTensor, _crop, _pad, _unwrap, _wrap

__all__ = ["to_tensor", "pil_to_tensor", "to_pil_image", "normalize", "resize", "crop", "center_crop",
           "resized_crop", "hflip", "vflip", "pad", "rgb_to_grayscale", "adjust_brightness", "adjust_contrast",
           "adjust_saturation", "adjust_hue", "get_dimensions", "convert_image_dtype"]


def to_tensor(pic):
    return ToTensor()(pic)


def pil_to_tensor(pic):
    """PIL image -> uint8 (or the mode's) tensor CxHxW without scaling."""
    import ember

    if not _pil.is_pil(pic):
        raise TypeError(f"pil_to_tensor: expected a PIL image, got {type(pic).__name__}")
    arr = np.asarray(pic)  # mode '1' stays bool, as in torchvision
    return ember.from_numpy(np.ascontiguousarray(arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)))


def to_pil_image(pic, mode=None):
    """A CxHxW tensor (float in [0, 1] or uint8) or an HxW[xC] array as a PIL image."""
    import ember

    if isinstance(pic, ember.Tensor):
        arr = pic.detach().cpu().numpy()
        if arr.ndim == 3:
            arr = np.moveaxis(arr, 0, -1)
        elif arr.ndim != 2:
            raise ValueError(f"to_pil_image: expected a 2-D or 3-D tensor, got shape {tuple(pic.shape)}")
        if arr.dtype.kind == "f":
            arr = (arr * 255).astype(np.uint8)  # torchvision: pic.mul(255).byte() truncates
    elif isinstance(pic, np.ndarray):
        arr = pic
    else:
        raise TypeError(f"to_pil_image: expected a tensor or a NumPy array, got {type(pic).__name__}")
    img = _pil.from_array(arr)
    return img.convert(mode) if mode is not None and img.mode != mode else img


def normalize(tensor, mean, std, inplace=False):
    from .transforms import Normalize

    return Normalize(mean, std, inplace)(tensor)


def get_dimensions(img):
    """``[channels, height, width]``."""
    arr, kind, hax = _unwrap(img)
    channels = (arr.shape[hax - 1] if hax >= 1 else 1) if kind is True else (arr.shape[2] if arr.ndim == 3 else 1)
    return [channels, arr.shape[hax], arr.shape[hax + 1]]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    return Resize(size, interpolation, max_size, antialias)(img)


def crop(img, top, left, height, width):
    """The ``height x width`` window at (``top``, ``left``); parts outside the image are zero, as in
    torchvision."""
    arr, kind, hax = _unwrap(img)
    h, w = arr.shape[hax], arr.shape[hax + 1]
    pt, pl = max(-top, 0), max(-left, 0)
    pb, pr = max(top + height - h, 0), max(left + width - w, 0)
    if pt or pl or pb or pr:
        arr = _pad(arr, hax, pl, pt, pr, pb)
        top, left = top + pt, left + pl
    return _wrap(_crop(arr, hax, top, left, height, width), kind)


def center_crop(img, output_size):
    from .transforms import CenterCrop

    return CenterCrop(output_size)(img)


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def _flip(img, axis_offset):
    from ember import backend

    arr, kind, hax = _unwrap(img)
    xp = backend.xp_of(arr)
    return _wrap(xp.ascontiguousarray(xp.flip(arr, axis=hax + axis_offset)), kind)


def hflip(img):
    return _flip(img, 1)


def vflip(img):
    return _flip(img, 0)


def pad(img, padding, fill=0, padding_mode="constant"):
    from .transforms import _padding_ltrb

    arr, kind, hax = _unwrap(img)
    return _wrap(_pad(arr, hax, *_padding_ltrb(padding), fill=fill, mode=padding_mode), kind)


# -- colour ---------------------------------------------------------------------------------------------------
def _chw(img):
    """``(float CxHxW... array, restore)``: the image with channels first (tensor layout) and a function that
    turns a result back into the input's kind and dtype (clamped to its range)."""
    from ember import backend

    arr, kind, hax = _unwrap(img)
    xp = backend.xp_of(arr)
    dtype = arr.dtype
    if kind is True:
        work = arr
    else:
        work = arr[None] if arr.ndim == 2 else xp.moveaxis(arr, -1, 0)
    bound = 1.0 if dtype.kind == "f" else float(np.iinfo(dtype).max)

    def restore(out, clamp=True):
        if clamp:
            out = xp.clip(out, 0, bound)
        out = out.astype(dtype) if dtype.kind != "f" else out.astype(dtype, copy=False)
        if kind is not True:
            out = out[0] if arr.ndim == 2 else xp.moveaxis(out, 0, -1)
        return _wrap(xp.ascontiguousarray(out), kind)

    return work.astype(np.float32 if dtype != np.float64 else np.float64), restore, dtype, bound


def _gray(x):
    """ITU-R 601 luma of a float [..., 3, H, W] array, keeping the channel dim (size 1)."""
    if x.shape[-3] == 1:
        return x
    r, g, b = x[..., 0:1, :, :], x[..., 1:2, :, :], x[..., 2:3, :, :]
    return 0.2989 * r + 0.587 * g + 0.114 * b


def _blend(a, b, ratio, bound):
    return ratio * a + (1.0 - ratio) * b  # clamped to [0, bound] and cast back by the caller's restore


def _check_factor(name, factor):
    if factor < 0:
        raise ValueError(f"{name}: the factor must be non-negative, got {factor}")


def rgb_to_grayscale(img, num_output_channels=1):
    if _pil.is_pil(img):
        out = img.convert("L")
        return out if num_output_channels == 1 else _pil.require_pil("rgb_to_grayscale").merge("RGB", [out] * 3)
    x, restore, dtype, _ = _chw(img)
    g = _gray(x)
    if dtype.kind != "f":
        g = np.trunc(g)  # torchvision casts the float luma back with .to(uint8): truncation
    return restore(np.repeat(g, num_output_channels, axis=-3) if num_output_channels > 1 else g, clamp=False)


def adjust_brightness(img, brightness_factor):
    _check_factor("adjust_brightness", brightness_factor)
    if _pil.is_pil(img):
        from PIL import ImageEnhance

        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    x, restore, dtype, bound = _chw(img)
    return restore(_blend(x, 0.0, brightness_factor, bound))


def adjust_contrast(img, contrast_factor):
    _check_factor("adjust_contrast", contrast_factor)
    if _pil.is_pil(img):
        from PIL import ImageEnhance

        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    x, restore, dtype, bound = _chw(img)
    gray = _gray(x)
    if dtype.kind != "f":
        gray = np.trunc(gray)
    mean = gray.mean(axis=(-3, -2, -1), keepdims=True)
    return restore(_blend(x, mean, contrast_factor, bound))


def adjust_saturation(img, saturation_factor):
    _check_factor("adjust_saturation", saturation_factor)
    if _pil.is_pil(img):
        from PIL import ImageEnhance

        return ImageEnhance.Color(img).enhance(saturation_factor)
    x, restore, dtype, bound = _chw(img)
    gray = _gray(x)
    if dtype.kind != "f":
        gray = np.trunc(gray)
    return restore(_blend(x, gray, saturation_factor, bound))


def adjust_hue(img, hue_factor):
    """Rotate the hue by ``hue_factor`` turns (in [-0.5, 0.5])."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) is not in [-0.5, 0.5]")
    if _pil.is_pil(img):
        Image = _pil.require_pil("adjust_hue")
        if img.mode in ("L", "1", "I", "F"):
            return img
        h, s, v = img.convert("HSV").split()
        np_h = np.array(h, dtype=np.uint8)
        with np.errstate(over="ignore"):
            np_h += np.int32(hue_factor * 255).astype(np.uint8)
        return Image.merge("HSV", (Image.fromarray(np_h, "L"), s, v)).convert(img.mode)
    x, restore, dtype, bound = _chw(img)
    if x.shape[-3] == 1:
        return img
    x = x / bound
    h, s, v = _rgb2hsv(x)
    h = np.mod(h + hue_factor, 1.0)
    out = _hsv2rgb(h, s, v)
    # uint8 goes back as torchvision's convert_image_dtype does: x * (255 + 1 - 1e-3), truncated
    return restore(out * bound if dtype.kind == "f" else np.trunc(out * (bound + 1.0 - 1e-3)))


def _rgb2hsv(img):
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = np.ones_like(maxc)
    s = cr / np.where(eqc, ones, maxc)
    cr_divisor = np.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_divisor, (maxc - g) / cr_divisor, (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.mod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return h, s, maxc


def _hsv2rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros((3,) + h.shape, dtype=h.dtype)
    for k, (a, b, c) in enumerate(table):
        m = i == k
        out[0][m], out[1][m], out[2][m] = a[m], b[m], c[m]
    return np.moveaxis(out, 0, -3)


def convert_image_dtype(image, dtype):
    """uint8 <-> float image tensors with torchvision's scaling (float images are in [0, 1])."""
    import ember

    src, dst = image.dtype, ember.dtypes.as_dtype(dtype)
    if src == dst:
        return image
    if src.is_floating_point and dst.is_floating_point:
        return image.to(dst)
    if not src.is_floating_point and dst.is_floating_point:
        return image.to(dst) / float(np.iinfo(src.np).max)
    if src.is_floating_point:
        top = float(np.iinfo(dst.np).max)
        return (image * (top + 1.0 - 1e-3)).to(dst)
    raise NotImplementedError(f"convert_image_dtype: integer to integer ({src.name} -> {dst.name}) is not supported")
