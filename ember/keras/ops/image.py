"""``keras.ops.image``: resize, patches, colour spaces, padding / cropping, affine sampling, blurs and edges.

Images are ``(batch, height, width, channels)`` (or one image without the batch axis); ``data_format=
'channels_first'`` takes ``(batch, channels, height, width)``. Everything is computed with Ember ops, so
gradients flow back to the images.

>>> from ember.keras import ops
>>> x = ops.reshape(ops.arange(16.0), (1, 4, 4, 1))
>>> tuple(ops.image.resize(x, (2, 2)).shape), ops.convert_to_numpy(ops.image.resize(x, (2, 2)))[0, :, :, 0].tolist()
((1, 2, 2, 1), [[2.5, 4.5], [10.5, 12.5]])
"""

from __future__ import annotations

import itertools

import numpy as np

import ember
from ember import functional as F

from ._common import check_data_format, const_like, edtype, fail, public_names, t, tf, to_numpy
from ._nn_conv import same_pads
from ._resize import INTERPOLATIONS, crop_box, gaussian_kernel1d, pad_box, resize_matrix, scale_translate_matrix


def _batched(op, images, data_format, ranks=(3, 4)):
    """``(images as batched channels_last, undo)`` where ``undo`` restores the caller's layout and rank."""
    x = t(images)
    fmt = check_data_format(op, data_format)
    if x.ndim not in ranks:
        raise fail(op, f"expects images of rank {' or '.join(map(str, ranks))} ((batch,) height, width, channels), "
                       f"got shape {tuple(x.shape)}")
    single = len(ranks) > 1 and x.ndim == min(ranks)
    if single:
        x = x.unsqueeze(0)
    if fmt == "channels_first":
        x = x.permute(0, *range(2, x.ndim), 1)

    def undo(y):
        if fmt == "channels_first":
            y = y.permute(0, y.ndim - 1, *range(1, y.ndim - 1))
        return y.squeeze(0) if single else y

    return x, undo


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Resize to ``size = (height, width)`` with Keras's modes ('bilinear', 'nearest', 'bicubic', 'lanczos3',
    'lanczos5', 'area'); integer images are resized in float32 and rounded back."""
    if interpolation not in INTERPOLATIONS:
        raise fail("resize", f"unknown interpolation {interpolation!r}; expected one of {INTERPOLATIONS}")
    if fill_mode != "constant":
        raise fail("resize", f"fill_mode must be 'constant', got {fill_mode!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise fail("resize", "only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    if len(tuple(size)) != 2:
        raise fail("resize", f"size must be (height, width), got {size!r}")
    out_h, out_w = (int(v) for v in size)
    x, undo = _batched("resize", images, data_format)
    in_dtype, in_float = x.dtype, x.is_floating_point()
    x = tf(x)
    n, h, w, c = x.shape
    if crop_to_aspect_ratio:
        top, left, ch, cw = crop_box(h, w, out_h, out_w)
        x, h, w = x[:, top:top + ch, left:left + cw, :], ch, cw
    elif pad_to_aspect_ratio:
        ph, pw = pad_box(h, w, out_h, out_w)
        if ph or pw:
            x = F.pad(x, [0, 0, pw, pw, ph, ph], value=float(fill_value))
            h, w = h + 2 * ph, w + 2 * pw
    if (h, w) != (out_h, out_w) or interpolation.startswith("lanczos"):
        rows = const_like(resize_matrix(h, out_h, interpolation, antialias), x)
        cols = const_like(resize_matrix(w, out_w, interpolation, antialias), x)
        x = F.einsum("ih,nhwc->niwc", rows, x)
        x = F.einsum("jw,niwc->nijc", cols, x)
    if not in_float:
        x = F.round(x)
        if in_dtype.name == "uint8":
            x = F.clamp(x, 0, 255)
        x = x.to(in_dtype)
    return undo(x)


def _patches(x, size, strides, dilation, padding):
    """Patches of a channels_last ``x`` (any spatial rank): the last axis holds window-position-major,
    channel-minor values."""
    rank = x.ndim - 2
    if padding == "same":
        pads = [same_pads(x.shape[1 + i], size[i], strides[i], dilation[i]) for i in range(rank)]
        x = F.pad(x, [0, 0] + [v for b, a in reversed(pads) for v in (b, a)])
    outs = [(x.shape[1 + i] - (size[i] - 1) * dilation[i] - 1) // strides[i] + 1 for i in range(rank)]
    if any(o <= 0 for o in outs):
        raise fail("extract_patches", f"images of spatial size {tuple(x.shape[1:-1])} are smaller than the "
                                      f"(dilated) patch {tuple(size)}; use padding='same'")
    cols = []
    for offs in itertools.product(*[range(k) for k in size]):
        idx = tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, n, s in zip(offs, dilation, outs, strides))
        cols.append(x[(slice(None),) + idx + (slice(None),)])
    return F.cat(cols, -1) if len(cols) > 1 else cols[0]


def _patch_args(op, size, strides, dilation_rate, padding, rank):
    size = (size,) * rank if isinstance(size, int) else tuple(size)
    if len(size) != rank:
        raise fail(op, f"size must be an int or {rank} ints, got {size!r}")
    strides = size if strides is None else (strides,) * rank if isinstance(strides, int) else tuple(strides)
    dilation = (dilation_rate,) * rank if isinstance(dilation_rate, int) else tuple(dilation_rate)
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise fail(op, f"padding must be 'valid' or 'same', got {padding!r}")
    if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
        raise fail(op, f"strides {strides} > 1 with dilation_rate {dilation} > 1 is not supported (as in Keras)")
    return size, strides, dilation, padding


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """``(batch, out_h, out_w, size_h * size_w * channels)`` patches (channels innermost)."""
    size, strides, dilation, padding = _patch_args("extract_patches", size, strides, dilation_rate, padding, 2)
    x, undo = _batched("extract_patches", images, data_format)
    return undo(_patches(x, size, strides, dilation, padding))


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    size, strides, dilation, padding = _patch_args("extract_patches_3d", size, strides, dilation_rate, padding, 3)
    x, undo = _batched("extract_patches_3d", volumes, data_format, ranks=(4, 5))
    return undo(_patches(x, size, strides, dilation, padding))


# -- colour spaces ----------------------------------------------------------------------------------------------
def rgb_to_grayscale(images, data_format=None):
    """ITU-R 601 luma (0.2989 R + 0.587 G + 0.114 B), keeping a channels axis of size 1."""
    x, undo = _batched("rgb_to_grayscale", images, data_format)
    if x.shape[-1] not in (1, 3):
        raise fail("rgb_to_grayscale", f"expects 3 (RGB) or 1 channels, got shape {tuple(t(images).shape)}")
    if x.shape[-1] == 1:
        return undo(F.clone(x))
    gray = x[..., 0:1] * 0.2989 + x[..., 1:2] * 0.587 + x[..., 2:3] * 0.114
    return undo(gray.to(x.dtype))


def _float_images(op, images, data_format):
    x, undo = _batched(op, images, data_format)
    if not x.is_floating_point():
        raise fail(op, f"expects float images, got {x.dtype.name}")
    if x.shape[-1] != 3:
        raise fail(op, f"expects 3 channels, got shape {tuple(t(images).shape)}")
    return x, undo


def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] to HSV in [0, 1] (hue as a fraction of a turn)."""
    x, undo = _float_images("rgb_to_hsv", images, data_format)
    eps = float(np.finfo(x.dtype.name).eps)
    x = F.where(F.abs(x) < eps, x * 0, x)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    value = F.maximum(F.maximum(r, g), b)
    spread = value - F.minimum(F.minimum(r, g), b)
    one = ember.ones_like(value)
    sat = F.where(value > 0, spread / F.where(value > 0, value, one), value * 0)
    inv = 1.0 / (6.0 * F.where(spread > 0, spread, one))
    hue = F.where(value == g, (b - r) * inv + 2.0 / 6.0, (r - g) * inv + 4.0 / 6.0)
    hue = F.where(value == r, (g - b) * inv, hue)
    hue = F.where(spread > 0, hue, hue * 0)
    hue = hue + (hue < 0).to(hue.dtype)
    return undo(F.stack([hue, sat, value], -1))


def hsv_to_rgb(images, data_format=None):
    x, undo = _float_images("hsv_to_rgb", images, data_format)
    h, s, v = x[..., 0], x[..., 1], x[..., 2]
    sector = F.remainder(h, 1.0) * 6.0
    red = F.clamp(F.abs(sector - 3.0) - 1.0, 0.0, 1.0)
    green = F.clamp(2.0 - F.abs(sector - 2.0), 0.0, 1.0)
    blue = F.clamp(2.0 - F.abs(sector - 4.0), 0.0, 1.0)
    grey = 1.0 - s
    return undo(F.stack([v * (grey + s * red), v * (grey + s * green), v * (grey + s * blue)], -1))


# -- padding and cropping ---------------------------------------------------------------------------------------
def _box(op, size, before, after, target, what):
    given = [before, after, target].count(None)
    if given != 1:
        raise fail(op, f"give exactly two of {what[0]}, {what[1]} and {what[2]} (got {what[0]}={before}, "
                       f"{what[1]}={after}, {what[2]}={target})")
    return before, after, target


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Zero-pad to a box: give two of (top, bottom, target height) and two of (left, right, target width)."""
    x, undo = _batched("pad_images", images, data_format)
    h, w = x.shape[1], x.shape[2]
    top, bottom, th = _box("pad_images", h, top_padding, bottom_padding, target_height,
                           ("top_padding", "bottom_padding", "target_height"))
    left, right, tw = _box("pad_images", w, left_padding, right_padding, target_width,
                           ("left_padding", "right_padding", "target_width"))
    top = th - bottom - h if top is None else top
    bottom = th - top - h if bottom is None else bottom
    left = tw - right - w if left is None else left
    right = tw - left - w if right is None else right
    if min(top, bottom, left, right) < 0:
        raise fail("pad_images", f"the target is smaller than the images {(h, w)} (padding top={top}, "
                                 f"bottom={bottom}, left={left}, right={right}); use crop_images")
    return undo(F.pad(x, [0, 0, left, right, top, bottom]))


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Crop a box: give two of (top, bottom, target height) and two of (left, right, target width)."""
    x, undo = _batched("crop_images", images, data_format)
    h, w = x.shape[1], x.shape[2]
    top, bottom, th = _box("crop_images", h, top_cropping, bottom_cropping, target_height,
                           ("top_cropping", "bottom_cropping", "target_height"))
    left, right, tw = _box("crop_images", w, left_cropping, right_cropping, target_width,
                           ("left_cropping", "right_cropping", "target_width"))
    th = h - top - bottom if th is None else th
    top = h - bottom - th if top is None else top
    tw = w - left - right if tw is None else tw
    left = w - right - tw if left is None else left
    if top < 0 or left < 0 or th <= 0 or tw <= 0 or top + th > h or left + tw > w:
        raise fail("crop_images", f"the crop (top={top}, left={left}, height={th}, width={tw}) does not fit in "
                                  f"images of size {(h, w)}")
    return undo(x[:, top:top + th, left:left + tw, :])


# -- sampling ---------------------------------------------------------------------------------------------------
def _fix_index(index, size, mode):
    """Out-of-range integer indices mapped back inside ``[0, size)`` by ``mode`` (NumPy arrays)."""
    if mode in ("constant", "nearest"):
        return np.clip(index, 0, size - 1)
    if mode == "wrap":
        return np.mod(index, size)
    if mode == "mirror":
        period = max(size - 1, 1)
        return np.abs(np.mod(index + period, 2 * period) - period) if size > 1 else index * 0
    # reflect: the edge pixel repeated (period 2 * size)
    return np.floor_divide(_fix_index(2 * index + 1, 2 * size + 1, "mirror") - 1, 2)


_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Sample ``inputs`` at fractional ``coordinates`` (one array per input axis), ``order`` 0 (nearest) or
    1 (linear); out-of-range samples follow ``fill_mode``. Differentiable in ``inputs`` and ``coordinates``."""
    x = t(inputs)
    coords = [t(c) for c in coordinates]
    if len(coords) != x.ndim:
        raise fail("map_coordinates", f"needs one coordinate array per input axis ({x.ndim}), got {len(coords)}")
    if fill_mode not in _FILL_MODES:
        raise fail("map_coordinates", f"unknown fill_mode {fill_mode!r}; expected one of {_FILL_MODES}")
    if order not in (0, 1):
        raise fail("map_coordinates", f"order must be 0 or 1, got {order!r}", NotImplementedError)
    axes = []
    for c, size in zip(coords, x.shape):
        if order == 0:
            raw = np.round(to_numpy(c)).astype(np.int64)
            nodes = [(raw, None)]
        else:
            c = c if c.is_floating_point() else c.to(edtype("float32"))
            low = F.floor(c).detach()
            raw = to_numpy(low).astype(np.int64)
            upper = c - low
            nodes = [(raw, 1.0 - upper), (raw + 1, upper)]
        axes.append([(_fix_index(i, size, fill_mode), (i >= 0) & (i < size), w) for i, w in nodes])
    total = None
    for combo in itertools.product(*axes):
        idx = tuple(t(i) for i, _, _ in combo)
        part = x[idx]
        if fill_mode == "constant":
            valid = np.logical_and.reduce([v for _, v, _ in combo])
            if not valid.all():
                part = F.where(t(valid), part, ember.full_like(part, fill_value))
        for _, _, w in combo:
            if w is not None:
                part = part * w.to(part.dtype) if part.is_floating_point() else part.to(w.dtype) * w
        total = part if total is None else total + part
    if not x.is_floating_point():
        total = F.round(total).to(x.dtype) if total.is_floating_point() else total
    return total


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Sample each output pixel ``(x, y)`` at input ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
    ``k = c0 x + c1 y + 1``, from ``transform = [a0, a1, a2, b0, b1, b2, c0, c1]`` (one per image)."""
    orders = {"nearest": 0, "bilinear": 1}
    if interpolation not in orders:
        raise fail("affine_transform", f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if fill_mode not in _FILL_MODES:
        raise fail("affine_transform", f"unknown fill_mode {fill_mode!r}; expected one of {_FILL_MODES}")
    x, undo = _batched("affine_transform", images, data_format)
    tr = to_numpy(transform).astype(np.float64)
    if tr.ndim not in (1, 2) or tr.shape[-1] != 8:
        raise fail("affine_transform", f"transform must be (8,) or (batch, 8), got shape {tr.shape}")
    tr = np.broadcast_to(tr.reshape(-1, 8), (x.shape[0], 8))
    n, h, w, c = x.shape
    yy, xx, cc = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    outs = []
    for i in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = tr[i]
        k = c0 * xx + c1 * yy + 1.0
        src_x, src_y = (a0 * xx + a1 * yy + a2) / k, (b0 * xx + b1 * yy + b2) / k
        coords = [const_like(src_y, x), const_like(src_x, x), const_like(cc.astype(np.float64), x)]
        outs.append(map_coordinates(x[i], coords, orders[interpolation], fill_mode, fill_value))
    return undo(F.stack(outs, 0))


# -- filters ----------------------------------------------------------------------------------------------------
def _depthwise(x, kernel2d, pad_hw):
    """A channels_last depthwise 2-D convolution with one constant kernel and zero padding."""
    c = x.shape[-1]
    weight = const_like(np.broadcast_to(kernel2d, (c, 1) + kernel2d.shape).copy(), x)
    xc = x.permute(0, 3, 1, 2)
    out = ember.nn.functional.conv2d(xc, weight, padding=pad_hw, groups=c)
    return out.permute(0, 2, 3, 1)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Gaussian blur with zero padding ``kernel_size // 2`` ('same' size for odd kernels)."""
    ks = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(int(k) for k in to_numpy(kernel_size))
    sg = (float(sigma),) * 2 if np.ndim(to_numpy(sigma)) == 0 else tuple(float(s) for s in to_numpy(sigma))
    if len(ks) != 2 or len(sg) != 2 or min(sg) <= 0:
        raise fail("gaussian_blur", f"kernel_size and sigma need 2 positive values each, got {kernel_size!r}, "
                                    f"{sigma!r}")
    x, undo = _batched("gaussian_blur", images, data_format)
    x = tf(x)
    kernel = np.outer(gaussian_kernel1d(ks[1], sg[1]), gaussian_kernel1d(ks[0], sg[0]))
    return undo(_depthwise(x, kernel, (ks[1] // 2, ks[0] // 2)))


def sobel_edges(images, data_format=None):
    """Sobel gradients ``(..., channels, 2)``: ``[..., 0]`` vertical (d/dy), ``[..., 1]`` horizontal (d/dx)."""
    x, undo = _batched("sobel_edges", images, data_format, ranks=(4,))
    x = tf(x)
    kx = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    edges = F.stack([_depthwise(x, kx.T, (1, 1)), _depthwise(x, kx, (1, 1))], -1)
    if data_format == "channels_first":
        return edges.permute(0, 3, 1, 2, 4)
    return edges


def _homography(start, end):
    """The 8 projective coefficients mapping each output point in ``end`` to its input point in ``start``."""
    rows, rhs = [], []
    for (sx, sy), (ex, ey) in zip(start, end):
        rows.append([ex, ey, 1.0, 0.0, 0.0, 0.0, -sx * ex, -sx * ey])
        rows.append([0.0, 0.0, 0.0, ex, ey, 1.0, -sy * ex, -sy * ey])
        rhs += [sx, sy]
    return np.linalg.solve(np.array(rows), np.array(rhs))


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Warp so that the four ``start_points`` (x, y) land on ``end_points`` (``(4, 2)`` or ``(batch, 4, 2)``)."""
    start = to_numpy(start_points).astype(np.float64)
    end = to_numpy(end_points).astype(np.float64)
    if start.shape[-2:] != (4, 2) or start.ndim not in (2, 3) or start.shape != end.shape:
        raise fail("perspective_transform", f"start_points and end_points must both be (4, 2) or (batch, 4, 2), "
                                            f"got {start.shape} and {end.shape}")
    coeffs = np.stack([_homography(s, e) for s, e in zip(start.reshape(-1, 4, 2), end.reshape(-1, 4, 2))])
    return affine_transform(images, coeffs.astype(np.float32) if coeffs.shape[0] > 1 else coeffs[0].astype(
        np.float32), interpolation, "constant", fill_value, data_format)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """Structural similarity per image: local Gaussian-weighted statistics ('valid' filtering), the SSIM map
    averaged over space, then over channels."""
    a, undo = _batched("ssim", image1, data_format)
    b, _ = _batched("ssim", image2, data_format)
    if tuple(a.shape) != tuple(b.shape):
        raise fail("ssim", f"images differ in shape: {tuple(t(image1).shape)} and {tuple(t(image2).shape)}")
    a, b = tf(a), tf(b).to(tf(a).dtype)
    if min(a.shape[1], a.shape[2]) < filter_size:
        raise fail("ssim", f"images {tuple(a.shape[1:3])} are smaller than filter_size {filter_size}")
    g = gaussian_kernel1d(filter_size, filter_sigma)
    kernel = np.outer(g, g)

    def blur(v):
        return _depthwise(v, kernel, (0, 0))

    mu1, mu2 = blur(a), blur(b)
    var1, var2, cov = blur(a * a) - mu1 * mu1, blur(b * b) - mu2 * mu2, blur(a * b) - mu1 * mu2
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    ssim_map = (2.0 * mu1 * mu2 + c1) * (2.0 * cov + c2) / ((mu1 * mu1 + mu2 * mu2 + c1) * (var1 + var2 + c2))
    per_image = F.mean(ssim_map, (1, 2, 3))
    return per_image[0] if t(image1).ndim == 3 else per_image


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                      seed=None, data_format=None):
    """Random elastic distortion: per-image displacement fields drawn from ``keras.random.normal`` (scaled by
    ``sigma``), smoothed by a Gaussian of ``sigma`` (kernel ``int(6 sigma) | 1``), times ``alpha``; the images are
    resampled there with ``map_coordinates``. ``seed`` as in ``keras.random``."""
    from .. import random as krandom

    orders = {"nearest": 0, "bilinear": 1}
    if interpolation not in orders:
        raise fail("elastic_transform", f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if fill_mode not in _FILL_MODES:
        raise fail("elastic_transform", f"unknown fill_mode {fill_mode!r}; expected one of {_FILL_MODES}")
    x, undo = _batched("elastic_transform", images, data_format)
    x = tf(x)
    n, h, w, c = x.shape
    size = int(6 * float(sigma)) | 1
    fields = krandom.normal((n, h, w, 2), dtype=x.dtype.name, seed=seed) * float(sigma)
    fields = gaussian_blur(fields, (size, size), (float(sigma), float(sigma))) * float(alpha)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    outs = []
    for i in range(n):
        src_y = const_like(yy.astype(np.float64), x) + fields[i, :, :, 0]
        src_x = const_like(xx.astype(np.float64), x) + fields[i, :, :, 1]
        chans = [map_coordinates(x[i, :, :, ch], [src_y, src_x], orders[interpolation], fill_mode, fill_value)
                 for ch in range(c)]
        outs.append(F.stack(chans, -1))
    return undo(F.stack(outs, 0))


_METHODS = {"linear": "linear", "bilinear": "linear", "trilinear": "linear", "triangle": "linear",
            "cubic": "cubic", "bicubic": "cubic", "tricubic": "cubic", "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    """Resample each of ``spatial_dims`` to ``output_shape`` sampling input ``(out + 0.5 - translation) / scale
    - 0.5`` with ``method``'s kernel (widened when downscaling with ``antialias``); integer images are rounded."""
    if method not in _METHODS:
        raise fail("scale_and_translate", f"unknown method {method!r}; expected one of {sorted(_METHODS)}")
    x = t(images)
    scale, translation = to_numpy(scale).reshape(-1), to_numpy(translation).reshape(-1)
    if len(scale) != len(spatial_dims) or len(translation) != len(spatial_dims):
        raise fail("scale_and_translate", f"scale {scale.tolist()} and translation {translation.tolist()} need one "
                                          f"entry per spatial dim {tuple(spatial_dims)}")
    is_int = not x.is_floating_point()
    out = tf(x)
    for i, d in enumerate(spatial_dims):
        d %= x.ndim
        m = const_like(scale_translate_matrix(x.shape[d], int(output_shape[d]), _METHODS[method], float(scale[i]),
                                              float(translation[i]), antialias), out)
        out = F.movedim(F.matmul(F.movedim(out, d, -1), m.swapaxes(0, 1)), -1, d)
    if is_int:
        out = F.clamp(F.round(out), float(to_numpy(x).min()), float(to_numpy(x).max())).to(x.dtype)
    return out


__all__ = public_names(globals(), __name__)
