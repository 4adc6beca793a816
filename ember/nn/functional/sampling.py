"""``F.affine_grid`` and ``F.grid_sample`` (spatial transformer networks, flow warping) for 2-D images, as
composites of gathers and elementwise ops: the gradient reaches the image and the sampling grid.

>>> import ember
>>> import ember.nn.functional as F
>>> theta = ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # the identity
>>> img = ember.arange(16.0).reshape(1, 1, 4, 4)
>>> bool((F.grid_sample(img, F.affine_grid(theta, (1, 1, 4, 4)), align_corners=False) - img).abs().max() < 1e-5)
True
"""
from __future__ import annotations

from ...errors import mark, with_user_line
from ...functional.math import cast, where
from ...ops import apply

__all__ = ["affine_grid", "grid_sample"]


def _err(kind, message):
    return mark(with_user_line(kind(message), 3))


def _base(n, align_corners, like):
    """The normalised coordinates of ``n`` pixel centres (or edges' centres with ``align_corners``) in [-1, 1]."""
    from ...creation import arange

    steps = arange(n, dtype=like.dtype, device=like.device)
    if n == 1:
        return steps * 0
    return steps * (2.0 / (n - 1)) - 1.0 if align_corners else (steps * 2.0 + 1.0) / n - 1.0


def affine_grid(theta, size, align_corners=False):
    """The (N, H, W, 2) sampling grid of the affine maps ``theta`` (N, 2, 3) for an output of ``size``
    (N, C, H, W), in ``grid_sample``'s normalised coordinates.

    >>> F.affine_grid(ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), (1, 1, 2, 2), align_corners=True)[0, 0]
    tensor([[-1., -1.],
            [ 1., -1.]])
    """
    if len(size) != 4 or tuple(theta.shape) != (size[0], 2, 3):
        raise _err(NotImplementedError if len(size) == 5 else ValueError,
                   f"affine_grid: expected theta (N, 2, 3) and a 4-D size (N, C, H, W), got theta "
                   f"{tuple(theta.shape)} and size {tuple(size)} (volumetric grids are not supported)")
    if not theta.is_floating_point():
        raise _err(ValueError, f"affine_grid: expected a floating-point theta, got {theta.dtype.name}")
    from ...functional.shape import stack

    n, _, h, w = size
    xs = _base(w, align_corners, theta).reshape(1, w).expand(h, w)
    ys = _base(h, align_corners, theta).reshape(h, 1).expand(h, w)
    points = stack([xs, ys, xs * 0 + 1.0], -1).reshape(1, h * w, 3)  # [x, y, 1] per output pixel
    return (points @ theta.mT).reshape(n, h, w, 2)


def _unnormalise(coord, size, align_corners):
    return (coord + 1.0) * ((size - 1) / 2.0) if align_corners else ((coord + 1.0) * size - 1.0) / 2.0


def _reflect(coord, low, high):
    """``coord`` reflected into [low, high] (twice the span is one period)."""
    span = high - low
    if span <= 0:
        return coord * 0 + low
    shifted = (coord - low).abs()
    flips = apply("floor", shifted / span)
    extra = shifted - flips * span
    even = apply("eq", apply("remainder", flips, flips._scalar(2.0)), flips._scalar(0.0))
    return where(even, extra + low, span - extra + low)


def _place(coord, size, padding_mode, align_corners):
    if padding_mode == "border":
        return coord.clamp(0.0, size - 1.0)
    if padding_mode == "reflection":
        reflected = _reflect(coord, 0.0, size - 1.0) if align_corners else _reflect(coord, -0.5, size - 0.5)
        return reflected.clamp(0.0, size - 1.0)
    return coord


def _gather(flat, ix, iy, w, h, valid_only):
    """``flat`` (N, C, H*W) read at integer pixels (ix, iy) (N, Ho, Wo); pixels outside read 0."""
    n, c = flat.shape[:2]
    inside = apply("logical_and", apply("logical_and", apply("ge", ix, ix._scalar(0.0)),
                                        apply("le", ix, ix._scalar(w - 1.0))),
                   apply("logical_and", apply("ge", iy, iy._scalar(0.0)), apply("le", iy, iy._scalar(h - 1.0))))
    index = cast(iy.clamp(0.0, h - 1.0) * w + ix.clamp(0.0, w - 1.0), "int64")
    out_shape = tuple(ix.shape)
    picked = flat.gather(2, index.reshape(n, 1, -1).expand(n, c, index[0].numel()))
    picked = picked.reshape((n, c) + out_shape[1:])
    return where(inside.unsqueeze(1), picked, 0.0) if valid_only else picked


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """``input`` (N, C, H, W) sampled at ``grid`` (N, Ho, Wo, 2) of normalised (x, y) in [-1, 1]:
    ``mode`` "bilinear" or "nearest", ``padding_mode`` "zeros", "border" or "reflection" for points outside,
    ``align_corners`` as PyTorch (False by default).

    >>> img = ember.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    >>> F.grid_sample(img, ember.zeros(1, 1, 1, 2), align_corners=True)  # the centre: the mean
    tensor([[[[1.5000]]]])
    """
    align_corners = bool(align_corners)
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise _err(NotImplementedError if input.ndim == 5 else ValueError,
                   f"grid_sample: expected input (N, C, H, W) and grid (N, Ho, Wo, 2), got {tuple(input.shape)} and "
                   f"{tuple(grid.shape)} (volumetric sampling is not supported)")
    if mode not in ("bilinear", "nearest"):
        raise _err(ValueError, f"grid_sample: mode must be 'bilinear' or 'nearest' (bicubic is not supported), "
                               f"got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise _err(ValueError, f"grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got "
                               f"{padding_mode!r}")
    n, c, h, w = input.shape
    grid = cast(grid, input.dtype)
    ix = _place(_unnormalise(grid[..., 0], w, align_corners), w, padding_mode, align_corners)
    iy = _place(_unnormalise(grid[..., 1], h, align_corners), h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)
    zeros = padding_mode == "zeros"
    if mode == "nearest":
        return _gather(flat, apply("round", ix), apply("round", iy), w, h, zeros)
    x0, y0 = apply("floor", ix), apply("floor", iy)
    wx, wy = (ix - x0).unsqueeze(1), (iy - y0).unsqueeze(1)
    top = _gather(flat, x0, y0, w, h, zeros) * (1 - wx) + _gather(flat, x0 + 1, y0, w, h, zeros) * wx
    bottom = _gather(flat, x0, y0 + 1, w, h, zeros) * (1 - wx) + _gather(flat, x0 + 1, y0 + 1, w, h, zeros) * wx
    return top * (1 - wy) + bottom * wy
