"""Pooling and resizing (torch.nn.functional.max_pool1d/2d, avg_pool1d/2d, adaptive pools, interpolate).

Max pooling is the ``pool_select`` primitive (its gradient goes to the first maximum of each window, as in
PyTorch); in training (an input that requires grad) ``pool_max_arg``, which keeps each window's argmax for the
backward instead of searching again; average pooling is ``im2col`` + mean; adaptive average pooling and
interpolation are linear maps along each spatial dim, applied as small matmuls.

>>> import ember
>>> import ember.nn.functional as F
>>> F.max_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
tensor([[[[ 5.,  7.],
          [13., 15.]]]])
"""
from __future__ import annotations

import math

import numpy as np

from ..._autocast import autocast_op
from ...creation import tensor
from ...errors import mark, with_user_line
from ...functional.linalg import matmul
from ...ops import apply, composite
from ...ops.conv import packed_pool_ok
from ...tensor import Tensor
from .conv import ntuple

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "interpolate", "upsample"]


def _err(exc, skip=4):
    return mark(with_user_line(exc, skip))


def _batched(name, x, nd):
    if not isinstance(x, Tensor):
        raise _err(TypeError(f"{name}: expected an ember.Tensor input, got {type(x).__name__}"))
    if x.ndim == nd + 2:
        return x, False
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    raise _err(RuntimeError(f"{name}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input with "
                            f"{nd} spatial dims, got shape {tuple(x.shape)}"))


def pool_geometry(name, x, nd, kernel_size, stride, padding, dilation, ceil_mode):
    """(kernel, stride, ((before, after), ...), dilation, out sizes) with PyTorch's ceil_mode rule."""
    kernel = ntuple(kernel_size, nd, name, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else ntuple(stride, nd, name, "stride")
    pad = ntuple(padding, nd, name, "padding")
    dil = ntuple(dilation, nd, name, "dilation")
    if any(2 * p > k for p, k in zip(pad, kernel)):
        raise _err(RuntimeError(f"{name}: padding {pad} should be at most half of the kernel size "
                                f"{kernel}"), 5)
    pads, outs = [], []
    for size, k, s, p, d in zip(x.shape[2:], kernel, stride, pad, dil):
        span = size + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise _err(RuntimeError(f"{name}: input of shape {tuple(x.shape)} is too small for kernel "
                                    f"{kernel} (dilation {dil}, padding {pad}): the output would be "
                                    "empty. Feed larger inputs (models made for ImageNet expect about 224x224), "
                                    "or use a smaller kernel or some padding"), 5)
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:  # the last window must start inside the input or left pad
            o -= 1
        extra = max((o - 1) * s + d * (k - 1) + 1 - (size + 2 * p), 0)
        pads.append((p, p + extra))
        outs.append(o)
    return kernel, stride, tuple(pads), dil, tuple(outs)


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _batched(name, input, nd)
    kernel, stride, pads, dil, _ = pool_geometry(name, x, nd, kernel_size, stride, padding, dilation,
                                                 ceil_mode)
    attrs = dict(kernel=kernel, stride=stride, padding=pads, dilation=dil)
    if return_indices:
        out = apply("pool_select", x, x, **attrs)
    else:
        out = _max_pool_layer(x, kernel=kernel, stride=stride, padding=ntuple(padding, nd, name, "padding"),
                              dilation=dil, ceil_mode=bool(ceil_mode))
    if unbatched:
        out = out[0]
    if not return_indices:
        return out
    idx = apply("pool_argmax", x.detach(), **attrs)
    return out, (idx[0] if unbatched else idx)


@composite("max_pool")
def _max_pool_layer(x, kernel, stride, padding, dilation, ceil_mode):
    """Max pooling of a batched input (the ``max_pool`` layer op's eager composite)."""
    _, _, pads, _, _ = pool_geometry("max_pool", x, len(kernel), kernel, stride, padding, dilation, ceil_mode)
    attrs = dict(kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    if x.requires_grad and packed_pool_ok(x.dtype, kernel):  # training: keep the argmax for the backward
        return apply("pool_max_arg", x, **attrs)[0]
    return apply("pool_select", x, x, **attrs)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The max of each window of an (N, C, L) or (C, L) input (see ``max_pool2d`` for the arguments).

    >>> F.max_pool1d(ember.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2)
    tensor([[[3., 5.]]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The max of each (dilated) window; with ``return_indices`` also its flat index in each input plane.

    >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    >>> F.max_pool2d(x, 2, return_indices=True)[1]
    tensor([[[[ 5,  7],
              [13, 15]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@autocast_op
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The max of each window of an (N, C, D, H, W) or (C, D, H, W) input (see ``max_pool2d``).

    >>> F.max_pool3d(ember.ones(1, 1, 4, 4, 4), 2).shape
    ember.Size([1, 1, 2, 2, 2])
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_divisor(x, kernel, stride, pads, outs, count_include_pad):
    """PyTorch's per-window divisor: the window clipped to the padded input (or to the input itself)."""
    div = np.ones(outs)
    for d, (size, k, s, (p, _), o) in enumerate(zip(x.shape[2:], kernel, stride, pads, outs)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        else:
            start = np.maximum(start, -p)
        shape = [1] * len(outs)
        shape[d] = o
        div = div * (end - start).reshape(shape)
    return div


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, unbatched = _batched(name, input, nd)
    kernel, stride, _, _, _ = pool_geometry(name, x, nd, kernel_size, stride, padding, 1, ceil_mode)
    out = _avg_pool_layer(x, kernel=kernel, stride=stride, padding=ntuple(padding, nd, name, "padding"),
                          ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad),
                          divisor_override=divisor_override)
    return out[0] if unbatched else out


@composite("avg_pool")
def _avg_pool_layer(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """Average pooling of a batched input (the ``avg_pool`` layer op's eager composite)."""
    nd = len(kernel)
    kernel, stride, pads, dil, outs = pool_geometry("avg_pool", x, nd, kernel, stride, padding, 1, ceil_mode)
    cols = apply("im2col", x, kernel=kernel, stride=stride, padding=pads, dilation=dil)
    n, c = x.shape[:2]
    total = cols.reshape(n, c, math.prod(kernel), -1).sum(2).reshape(n, c, *outs)
    if divisor_override:
        out = total / float(divisor_override)
    else:
        div = _avg_divisor(x, kernel, stride, pads, outs, count_include_pad)
        out = total / tensor(div, dtype=x.dtype, device=x.device)
    return out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each window of an (N, C, L) or (C, L) input (see ``avg_pool2d``).

    >>> F.avg_pool1d(ember.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2)
    tensor([[[2., 4.]]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window; ``count_include_pad`` decides whether zero padding counts in the divisor.

    >>> F.avg_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    >>> F.avg_pool2d(ember.ones(1, 1, 2, 2), 2, padding=1, count_include_pad=False)
    tensor([[[[1., 1.],
              [1., 1.]]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window of (N, C, D, H, W) inputs, with ``avg_pool2d``'s options.

    >>> F.avg_pool3d(ember.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    tensor([[[[[3.5000]]]]])
    >>> F.avg_pool3d(ember.ones(1, 2, 4, 4, 4), 2).shape
    ember.Size([1, 2, 2, 2, 2])
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# -- adaptive pooling ----------------------------------------------------------------------------------------
def _adaptive_sizes(name, x, nd, output_size):
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * nd
    if len(output_size) != nd:
        raise _err(ValueError(f"{name}: output_size must be an int or a tuple of {nd}, got "
                              f"{output_size!r}"), 5)
    sizes = tuple(s if o is None else int(o) for o, s in zip(output_size, x.shape[2:]))
    if any(o < 1 for o in sizes):
        raise _err(ValueError(f"{name}: output_size {sizes} must be positive"), 5)
    return sizes


def _bins(size, out):
    """PyTorch's adaptive windows: [floor(i*size/out), ceil((i+1)*size/out))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _apply_along(x, mats):
    """Apply the (out, in) matrix ``mats[d]`` along spatial dim d of (N, C, *S); None leaves a dim alone."""
    for d, m in enumerate(mats):
        if m is None:
            continue
        axis = 2 + d
        if axis == x.ndim - 1:
            x = matmul(x, m.mT)
        elif axis == x.ndim - 2:
            x = matmul(m, x)
        else:
            x = matmul(x.transpose(axis, -1), m.mT).transpose(axis, -1)
    return x


def _adaptive_avg(name, nd, input, output_size):
    x, unbatched = _batched(name, input, nd)
    out = _adaptive_avg_layer(x, output_size=_adaptive_sizes(name, x, nd, output_size))
    return out[0] if unbatched else out


@composite("adaptive_avg_pool")
def _adaptive_avg_layer(x, output_size):
    """Adaptive average pooling of a batched input (the ``adaptive_avg_pool`` layer op's eager composite)."""
    mats = []
    outs = output_size
    for size, o in zip(x.shape[2:], outs):
        if size == o:
            mats.append(None)
            continue
        m = np.zeros((o, size))
        for i, (a, b) in enumerate(_bins(size, o)):
            m[i, a:b] = 1.0 / (b - a)
        mats.append(tensor(m, dtype=x.dtype, device=x.device))
    return _apply_along(x, mats)


def adaptive_avg_pool1d(input, output_size):
    """Average over adaptive bins so that (N, C, L) becomes (N, C, output_size).

    >>> F.adaptive_avg_pool1d(ember.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
    tensor([[[2., 4.]]])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive bins so the output has ``output_size`` (None keeps a dim).

    >>> F.adaptive_avg_pool2d(ember.ones(2, 3, 7, 5), (1, 1)).shape
    ember.Size([2, 3, 1, 1])
    >>> F.adaptive_avg_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max(name, nd, input, output_size, return_indices):
    x, unbatched = _batched(name, input, nd)
    outs = _adaptive_sizes(name, x, nd, output_size)
    if all(s % o == 0 for s, o in zip(x.shape[2:], outs)) and return_indices:  # equal bins: a max pool
        kernel = tuple(s // o for s, o in zip(x.shape[2:], outs))
        return _max_pool(name, nd, input, kernel, kernel, 0, 1, False, return_indices)
    out = _adaptive_max_layer(x, output_size=outs)
    if unbatched:
        out = out[0]
    if not return_indices:
        return out
    bins = [_bins(s, o) for s, o in zip(x.shape[2:], outs)]
    return out, _adaptive_indices(x, bins, outs, unbatched)


@composite("adaptive_max_pool")
def _adaptive_max_layer(x, output_size):
    """Adaptive max pooling of a batched input (the ``adaptive_max_pool`` layer op's eager composite)."""
    nd, outs = len(output_size), output_size
    if all(s % o == 0 for s, o in zip(x.shape[2:], outs)):  # equal bins: an ordinary max pool
        kernel = tuple(s // o for s, o in zip(x.shape[2:], outs))
        return apply("pool_select", x, x, kernel=kernel, stride=kernel, padding=((0, 0),) * nd,
                     dilation=(1,) * nd)
    from ...functional.shape import stack

    bins = [_bins(s, o) for s, o in zip(x.shape[2:], outs)]
    flat = []
    for cell in np.ndindex(*outs):
        key = (slice(None), slice(None)) + tuple(slice(*bins[d][i]) for d, i in enumerate(cell))
        flat.append(x[key].amax(dim=tuple(range(2, 2 + nd))))
    return stack(flat, -1).reshape(*x.shape[:2], *outs)


def _adaptive_indices(x, bins, outs, unbatched):
    data = np.asarray(x.detach())
    idx = np.zeros(tuple(x.shape[:2]) + tuple(outs), dtype=np.int64)
    for cell in np.ndindex(*outs):
        ranges = [bins[d][i] for d, i in enumerate(cell)]
        win = data[(slice(None), slice(None)) + tuple(slice(*r) for r in ranges)]
        local = np.unravel_index(win.reshape(win.shape[:2] + (-1,)).argmax(-1), win.shape[2:])
        coords = [loc + r[0] for loc, r in zip(local, ranges)]
        idx[(slice(None), slice(None)) + cell] = np.ravel_multi_index(coords, x.shape[2:])
    out = tensor(idx, device=x.device)
    return out[0] if unbatched else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over adaptive bins so that (N, C, L) becomes (N, C, output_size).

    >>> F.adaptive_max_pool1d(ember.tensor([[[1.0, 5.0, 3.0, 4.0, 2.0]]]), 2)
    tensor([[[5., 4.]]])
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins so the output has ``output_size``.

    >>> F.adaptive_max_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), (2, 1))
    tensor([[[[ 7.],
              [15.]]]])
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


# -- interpolate ---------------------------------------------------------------------------------------------
_MODES = {"nearest": 1, "nearest-exact": 1, "linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2,
          "area": 1}


def _interp_matrix(mode, size, out, scale, align_corners):
    """The (out, size) matrix of one dim's interpolation weights, computed like PyTorch's kernels."""
    m = np.zeros((out, size))
    dst = np.arange(out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        r = scale if scale is not None else size / out
        src = np.floor((dst + 0.5) * r) if mode == "nearest-exact" else np.floor(dst * r)
        m[np.arange(out), np.minimum(src.astype(np.int64), size - 1)] = 1.0
        return m
    if align_corners:
        src = dst * ((size - 1) / (out - 1)) if out > 1 else dst * 0
    else:
        r = scale if scale is not None else size / out
        src = np.maximum((dst + 0.5) * r - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    np.add.at(m, (np.arange(out), i0), 1.0 - lam)
    np.add.at(m, (np.arange(out), i1), lam)
    return m


def _interp_sizes(x, nd, size, scale_factor, recompute_scale_factor):
    if (size is None) == (scale_factor is None):
        raise _err(ValueError("interpolate: exactly one of size or scale_factor must be given"), 5)
    if size is not None:
        outs = ntuple(size, nd, "interpolate", "size")
        return outs, (None,) * nd
    sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * nd
    if len(sf) != nd:
        raise _err(ValueError(f"interpolate: scale_factor {scale_factor!r} must be a number or {nd} "
                              "numbers"), 5)
    outs = tuple(int(math.floor(s * f)) for s, f in zip(x.shape[2:], sf))
    return outs, ((None,) * nd if recompute_scale_factor else tuple(1.0 / f for f in sf))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, *spatial) by ``size`` or ``scale_factor``: 'nearest', 'nearest-exact', 'linear',
    'bilinear', 'trilinear' (``align_corners`` as PyTorch).

    >>> x = ember.tensor([[[1.0, 2.0]]])
    >>> F.interpolate(x, scale_factor=2)
    tensor([[[1., 1., 2., 2.]]])
    >>> F.interpolate(x, size=4, mode="linear", align_corners=True)
    tensor([[[1.0000, 1.3333, 1.6667, 2.0000]]])
    """
    if mode not in _MODES or mode in ("bicubic", "area") or antialias:
        what = f"{mode!r}{' with antialias' if antialias else ''}"
        raise _err(NotImplementedError(f"interpolate: mode {what} is not supported; use 'nearest', "
                                       "'nearest-exact', 'linear', 'bilinear' or 'trilinear'"), 3)
    if not isinstance(input, Tensor) or input.ndim < 3:
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise _err(ValueError(f"interpolate: expected a batched input (N, C, *spatial), got {got}"), 3)
    nd = input.ndim - 2
    if mode in ("linear", "bilinear", "trilinear") and _MODES[mode] != nd:
        raise _err(ValueError(f"interpolate: mode {mode!r} expects a {_MODES[mode] + 2}-D input, got shape "
                              f"{tuple(input.shape)}"), 3)
    if align_corners is not None and mode.startswith("nearest"):
        raise _err(ValueError("interpolate: align_corners only has an effect with the linear modes; leave it "
                              "None for 'nearest'"), 3)
    outs, scales = _interp_sizes(input, nd, size, scale_factor, recompute_scale_factor)
    mats = [None if (o == s and sc in (None, 1.0)) else
            tensor(_interp_matrix(mode, s, o, sc, bool(align_corners)), dtype=input.dtype,
                   device=input.device) for s, o, sc in zip(input.shape[2:], outs, scales)]
    return _apply_along(input, mats)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """The older name of ``interpolate`` (the same arguments, without ``antialias``).

    >>> F.upsample(ember.ones(1, 1, 2, 2), scale_factor=2).shape
    ember.Size([1, 1, 4, 4])
    """
    return interpolate(input, size, scale_factor, mode, align_corners)
