"""More of torch.nn.functional's pooling: max unpooling, the ``*_with_indices`` forms, 3-D adaptive pooling,
fractional max pooling and the deprecated ``upsample_nearest`` / ``upsample_bilinear``.

All are composites: unpooling scatters the pooled values into zeros; fractional max pooling gathers each
pseudo-random window and keeps its first maximum (its gradient goes there alone, as in PyTorch).

>>> import ember
>>> import ember.nn.functional as F
>>> values, indices = F.max_pool1d(ember.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2, return_indices=True)
>>> F.max_unpool1d(values, indices, 2)
tensor([[[0., 3., 0., 5.]]])
"""
from __future__ import annotations

import math
import warnings

from ..._state import STATE
from ...creation import arange, rand, zeros
from ...tensor import Tensor
from .conv import ntuple
from .pooling import _adaptive_avg, _adaptive_max, _batched, _err, interpolate, max_pool1d, max_pool2d, max_pool3d

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "adaptive_avg_pool3d", "adaptive_max_pool3d",
           "fractional_max_pool2d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
           "fractional_max_pool3d_with_indices", "upsample_nearest", "upsample_bilinear"]


# -- max unpooling -------------------------------------------------------------------------------------------
def _unpool_size(name, x, nd, kernel, stride, pad, output_size):
    """The default size (in - 1) * stride - 2 * pad + kernel, or ``output_size`` checked to be within a stride."""
    default = tuple((s - 1) * st - 2 * p + k for s, st, p, k in zip(x.shape[2:], stride, pad, kernel))
    if output_size is None:
        return default
    size = tuple(int(s) for s in output_size)
    if len(size) == nd + 2:
        size = size[2:]
    if len(size) != nd:
        raise _err(ValueError(f"{name}: output_size must have {nd} or {nd + 2} elements, got "
                              f"{tuple(output_size)}"), 5)
    for d, (s, base, st) in enumerate(zip(size, default, stride)):
        if not base - st < s < base + st:
            raise _err(ValueError(f"{name}: invalid output_size {size} (dim {d} must be between {base - st} and "
                                  f"{base + st}, exclusive, for input {tuple(x.shape)})"), 5)
    return size


def _max_unpool(name, nd, input, indices, kernel_size, stride, padding, output_size):
    x, unbatched = _batched(name, input, nd)
    if not isinstance(indices, Tensor) or indices._data.dtype.kind not in "iu":
        what = indices.dtype.name if isinstance(indices, Tensor) else type(indices).__name__
        raise _err(RuntimeError(f"{name}: indices must be an int64 tensor (from max_pool{nd}d(..., "
                                f"return_indices=True)), got {what}"))
    if tuple(indices.shape) != tuple(input.shape):
        raise _err(RuntimeError(f"{name}: indices of shape {tuple(indices.shape)} must have the shape of the "
                                f"input {tuple(input.shape)}"))
    kernel = ntuple(kernel_size, nd, name, "kernel_size")
    stride = kernel if stride is None else ntuple(stride, nd, name, "stride")
    pad = ntuple(padding, nd, name, "padding")
    size = _unpool_size(name, x, nd, kernel, stride, pad, output_size)
    n, c, plane = x.shape[0], x.shape[1], math.prod(size)
    idx = (indices.unsqueeze(0) if unbatched else indices).reshape(n, c, -1)
    if STATE.tracer is None and idx.numel() and (int(idx.max()) >= plane or int(idx.min()) < 0):
        bad = int(idx.max()) if int(idx.max()) >= plane else int(idx.min())
        raise _err(RuntimeError(f"{name}: found an invalid max index {bad} (output planes are of size "
                                f"{'x'.join(map(str, size))}); were the indices made with this kernel, stride "
                                "and padding?"))
    out = zeros(n, c, plane, dtype=x.dtype, device=x.device).scatter(2, idx, x.reshape(n, c, -1))
    out = out.reshape(n, c, *size)
    return out[0] if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool1d``: each value goes back to the position its index names, zeros
    elsewhere; the length is ``(L - 1) * stride - 2 * padding + kernel_size`` unless ``output_size`` says.

    >>> F.max_unpool1d(ember.tensor([[[3.0, 5.0]]]), ember.tensor([[[1, 3]]]), 2, output_size=[5])
    tensor([[[0., 3., 0., 5., 0.]]])
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool2d``: (N, C, H, W) values and flat per-plane indices back to a plane.

    >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)
    tensor([[[[ 0.,  0.,  0.,  0.],
              [ 0.,  5.,  0.,  7.],
              [ 0.,  0.,  0.,  0.],
              [ 0., 13.,  0., 15.]]]])
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool3d`` on (N, C, D, H, W) values and their indices.

    >>> x = ember.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2).flatten()
    tensor([0., 0., 0., 0., 0., 0., 0., 7.])
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


# -- the *_with_indices forms and 3-D adaptive pooling ---------------------------------------------------------
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool1d`` returning (values, indices) whatever ``return_indices`` says.

    >>> F.max_pool1d_with_indices(ember.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2)[1]
    tensor([[[1, 3]]])
    """
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool2d`` returning (values, indices) whatever ``return_indices`` says.

    >>> F.max_pool2d_with_indices(ember.arange(16.0).reshape(1, 1, 4, 4), 2)[1]
    tensor([[[[ 5,  7],
              [13, 15]]]])
    """
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool3d`` returning (values, indices) whatever ``return_indices`` says.

    >>> F.max_pool3d_with_indices(ember.arange(8.0).reshape(1, 1, 2, 2, 2), 2)[1].flatten()
    tensor([7])
    """
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool1d`` returning (values, indices).

    >>> F.adaptive_max_pool1d_with_indices(ember.tensor([[[1.0, 5.0, 3.0, 4.0, 2.0]]]), 2)[1]
    tensor([[[1, 3]]])
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool2d`` returning (values, indices).

    >>> F.adaptive_max_pool2d_with_indices(ember.arange(16.0).reshape(1, 1, 4, 4), (2, 1))[1]
    tensor([[[[ 7],
              [15]]]])
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool3d`` returning (values, indices).

    >>> F.adaptive_max_pool3d_with_indices(ember.arange(8.0).reshape(1, 1, 2, 2, 2), 1)[1].flatten()
    tensor([7])
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, True)


def adaptive_avg_pool3d(input, output_size):
    """Average over PyTorch's adaptive bins of (N, C, D, H, W) inputs (None in ``output_size`` keeps a dim).

    >>> F.adaptive_avg_pool3d(ember.ones(2, 3, 5, 6, 7), (1, None, 2)).shape
    ember.Size([2, 3, 1, 6, 2])
    """
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins of (N, C, D, H, W) inputs.

    >>> F.adaptive_max_pool3d(ember.arange(27.0).reshape(1, 1, 3, 3, 3), 2).flatten()
    tensor([13., 14., 16., 17., 22., 23., 25., 26.])
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


# -- fractional max pooling -------------------------------------------------------------------------------
def _window_starts(u, size, out, k):
    """PyTorch's pseudo-random window starts from one uniform sample per plane ``u`` (N, C): start i is
    floor((i + u) * alpha) - floor(u * alpha) with alpha = (size - k) / (out - 1) in the input's dtype, and
    the last window ends at the input's end."""
    n, c = u.shape
    last = zeros(n, c, 1, dtype=u.dtype, device=u.device) + (size - k)
    if out == 1:
        return last.long()
    alpha = (zeros((), dtype=u.dtype, device=u.device) + (size - k)) / (out - 1)
    i = arange(out - 1, dtype=u.dtype, device=u.device)
    u = u.unsqueeze(-1)
    starts = ((i + u) * alpha).floor() - (u * alpha).floor()
    from ...functional.shape import cat

    return cat([starts, last], -1).long()


def _fractional_sizes(name, x, nd, kernel, output_size, output_ratio):
    if output_size is None and output_ratio is None:
        raise _err(ValueError(f"{name} requires specifying either an output_size or an output_ratio"), 5)
    if output_size is None:
        ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * nd
        output_size = tuple(int(s * r) for s, r in zip(x.shape[2:], ratio))
    outs = ntuple(output_size, nd, name, "output_size")
    for d, (s, o, k) in enumerate(zip(x.shape[2:], outs, kernel)):
        if o + k - 1 > s or o < 1:
            raise _err(RuntimeError(f"{name}: kernel size {k} too large for output size {o} in dim {d} of input "
                                    f"{tuple(x.shape)} (output + kernel - 1 must be at most {s})"), 5)
    return outs


def _fractional(name, nd, input, kernel_size, output_size, output_ratio, samples):
    x, unbatched = _batched(name, input, nd)
    kernel = ntuple(kernel_size, nd, name, "kernel_size")
    outs = _fractional_sizes(name, x, nd, kernel, output_size, output_ratio)
    n, c, spatial = x.shape[0], x.shape[1], tuple(x.shape[2:])
    if samples is None:
        samples = rand(n, c, nd, dtype=x.dtype, device=x.device)
    if tuple(samples.shape) != (n, c, nd):
        raise _err(RuntimeError(f"{name}: _random_samples must have shape {(n, c, nd)}, got "
                                f"{tuple(samples.shape)}"))
    flat = None  # the flat per-plane index of every window element: (N, C, *outs, *kernel)
    for d in range(nd):
        u = samples[:, :, 1 - d if nd == 2 else d]  # PyTorch's 2-D pool reads sample 0 for the width
        pos = _window_starts(u, spatial[d], outs[d], kernel[d]).unsqueeze(-1) + arange(kernel[d], device=x.device)
        shape = [n, c] + [1] * (2 * nd)
        shape[2 + d], shape[2 + nd + d] = outs[d], kernel[d]
        term = pos.reshape(shape) * math.prod(spatial[d + 1:])
        flat = term if flat is None else flat + term
    windows = flat.reshape(n, c, math.prod(outs), math.prod(kernel))
    planes = x.reshape(n, c, -1)
    vals = planes.gather(2, windows.reshape(n, c, -1)).reshape(windows.shape)
    best = windows.gather(3, vals.detach().argmax(-1, keepdim=True)).squeeze(-1)  # the first maximum
    out = planes.gather(2, best).reshape(n, c, *outs)
    idx = best.reshape(n, c, *outs)
    return (out[0], idx[0]) if unbatched else (out, idx)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool2d`` returning (values, indices).

    >>> x = ember.arange(25.0).reshape(1, 1, 5, 5)
    >>> F.fractional_max_pool2d_with_indices(x, 2, output_size=2, _random_samples=ember.full((1, 1, 2), 0.5))[1]
    tensor([[[[ 6,  9],
              [21, 24]]]])
    """
    return _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio,
                       _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max pooling over pseudo-random, overlapping windows of size ``kernel_size`` (Graham's fractional max
    pooling) so that (N, C, H, W) becomes ``output_size`` or ``output_ratio`` times the input size; one uniform
    sample per plane and dim places the windows (``_random_samples``, else drawn from Ember's generator).

    >>> x = ember.arange(25.0).reshape(1, 1, 5, 5)
    >>> F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=ember.full((1, 1, 2), 0.5))
    tensor([[[[ 6.,  9.],
              [21., 24.]]]])
    """
    out = _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio, _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool3d`` returning (values, indices).

    >>> x = ember.arange(27.0).reshape(1, 1, 3, 3, 3)
    >>> F.fractional_max_pool3d_with_indices(x, 2, output_size=1)[1].flatten()
    tensor([26])
    """
    return _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio,
                       _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling of (N, C, D, H, W) inputs (see ``fractional_max_pool2d``).

    >>> F.fractional_max_pool3d(ember.randn(2, 3, 8, 8, 8), 2, output_ratio=0.5).shape
    ember.Size([2, 3, 4, 4, 4])
    """
    out = _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio, _random_samples)
    return out if return_indices else out[0]


# -- deprecated resizing names ----------------------------------------------------------------------------
def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(input, size, scale_factor, mode="nearest")`` (warns as PyTorch does).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     F.upsample_nearest(ember.tensor([[[1.0, 2.0]]]), scale_factor=2)
    tensor([[[1., 1., 2., 2.]]])
    """
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)`` (warns).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     F.upsample_bilinear(ember.tensor([[[[0.0, 3.0]]]]), size=(1, 4))
    tensor([[[[0., 1., 2., 3.]]]])
    """
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
