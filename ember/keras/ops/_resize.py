"""Resampling matrices for ``keras.ops.image.resize``: each spatial axis is resized by one constant
``(out, in)`` matrix applied with a matmul, so gradients flow to the image through Ember's autograd.

The weights follow PyTorch's ``interpolate`` (what Keras's torch backend calls) with half-pixel centres
(``align_corners=False``): 'nearest' is PyTorch's 'nearest-exact'; 'bilinear' / 'bicubic' (cubic ``a = -0.75``)
clamp source indices to the edge; with ``antialias=True`` the filter (triangle, or cubic ``a = -0.5``) is widened
by the downscale factor and normalised over the pixels inside the image. 'lanczos3' / 'lanczos5' (which
Keras's torch backend refuses) use the JAX backend's rule: a windowed sinc, widened when downscaling with
``antialias``, normalised.
"""

from __future__ import annotations

import numpy as np


def _cubic(x, a):
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _triangle(x):
    return np.maximum(0.0, 1.0 - np.abs(x))


def _lanczos(radius):
    def kernel(x):
        x = np.abs(x)
        return np.where(x < radius, np.sinc(x) * np.sinc(x / radius), 0.0)

    return kernel


def _nearest(n_in, n_out):
    scale = n_in / n_out
    src = np.minimum(np.floor((np.arange(n_out) + 0.5) * scale).astype(np.int64), n_in - 1)
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), src] = 1.0
    return m


def _bilinear(n_in, n_out):
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def _bicubic(n_in, n_out):
    scale = n_in / n_out
    src = (np.arange(n_out) + 0.5) * scale - 0.5
    base = np.floor(src).astype(np.int64)
    frac = src - base
    m = np.zeros((n_out, n_in))
    for offset in (-1, 0, 1, 2):
        idx = np.clip(base + offset, 0, n_in - 1)
        np.add.at(m, (np.arange(n_out), idx), _cubic(frac - offset, -0.75))
    return m


def _antialiased(n_in, n_out, kernel, half_width):
    """PyTorch's separable antialias weights: support widened by the downscale factor, renormalised."""
    scale = n_in / n_out
    support = half_width * scale if scale >= 1.0 else half_width
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        j = np.arange(lo, hi)
        w = kernel((j - center + 0.5) * inv)
        total = w.sum()
        m[i, lo:hi] = w / total if total != 0 else w
    return m


def _jax_style(n_in, n_out, kernel, radius, antialias, scale=None, translation=0.0):
    """Half-pixel sampling at ``((i + 0.5) - translation) / scale - 0.5`` (``scale`` defaults to
    ``n_out / n_in``) with a kernel widened by the downscale factor (``antialias``), renormalised; output
    pixels whose sample falls outside the input get zero weight."""
    inv = n_in / n_out if scale is None else 1.0 / scale
    kscale = max(inv, 1.0) if antialias else 1.0
    sample = (np.arange(n_out) + 0.5) * inv - translation * inv - 0.5
    x = np.abs(sample[:, None] - np.arange(n_in)[None, :]) / kscale
    w = kernel(x)
    total = w.sum(1, keepdims=True)
    w = np.where(np.abs(total) > 1000 * np.finfo(np.float32).eps, w / np.where(total == 0, 1, total), 0.0)
    inside = (sample >= -0.5) & (sample <= n_in - 0.5)
    return w * inside[:, None]


KERNELS = {"linear": _triangle, "cubic": lambda x: _cubic(x, -0.5), "lanczos3": _lanczos(3), "lanczos5": _lanczos(5)}


def scale_translate_matrix(n_in, n_out, method, scale, translation, antialias):
    """The ``(n_out, n_in)`` matrix of ``scale_and_translate`` along one axis."""
    return _jax_style(n_in, n_out, KERNELS[method], None, antialias, scale, translation)


INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area")


def resize_matrix(n_in: int, n_out: int, interpolation: str, antialias: bool) -> np.ndarray:
    """The ``(n_out, n_in)`` float64 matrix that resizes one axis."""
    if interpolation == "nearest":
        return _nearest(n_in, n_out)
    if interpolation == "area":  # box filter over the covered input span (exact area weights)
        edges = np.arange(n_out + 1) * (n_in / n_out)
        lo, hi = edges[:-1, None], edges[1:, None]
        j = np.arange(n_in)[None, :]
        overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
        return overlap / overlap.sum(1, keepdims=True)
    if interpolation.startswith("lanczos"):
        radius = int(interpolation[-1])
        return _jax_style(n_in, n_out, _lanczos(radius), radius, antialias)
    if antialias:
        if interpolation == "bilinear":
            return _antialiased(n_in, n_out, _triangle, 1.0)
        return _antialiased(n_in, n_out, lambda x: _cubic(x, -0.5), 2.0)
    return _bilinear(n_in, n_out) if interpolation == "bilinear" else _bicubic(n_in, n_out)


def crop_box(height, width, target_h, target_w):
    """The centred crop (top, left, h, w) with the target's aspect ratio."""
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def pad_box(height, width, target_h, target_w):
    """The padding (rows, columns) added on each side to reach the target's aspect ratio."""
    pad_h = max(height, int(float(width * target_h) / target_w))
    pad_w = max(width, int(float(height * target_w) / target_h))
    return int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)


def gaussian_kernel1d(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2.0
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()

