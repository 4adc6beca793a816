"""``keras.ops.nn`` convolutions and pooling in Keras's layouts (channels_last by default), over
``ember.nn.functional``: conv, conv_transpose, depthwise_conv, separable_conv, max_pool, average_pool,
adaptive pools, depth_to_space / space_to_depth, fold / unfold.

Kernels are Keras's: ``(*kernel_size, in_channels / groups, filters)`` for ``conv``,
``(*kernel_size, filters, in_channels)`` for ``conv_transpose``, ``(*kernel_size, in_channels, multiplier)`` for
``depthwise_conv``. 'same' padding is TensorFlow's (output ``ceil(size / stride)``, the odd pixel after).

>>> from ember.keras import ops
>>> x, k = ops.ones((1, 5, 5, 2)), ops.ones((3, 3, 2, 4))
>>> tuple(ops.conv(x, k, padding="same").shape), tuple(ops.max_pool(x, 2).shape)
((1, 5, 5, 4), (1, 2, 2, 2))
"""

from __future__ import annotations

import numpy as np

from ember import functional as F
from ember.nn import functional as NF

from ._common import check_data_format, fail, t, tf

_CONV = {1: NF.conv1d, 2: NF.conv2d, 3: NF.conv3d}
_CONV_T = {1: NF.conv_transpose1d, 2: NF.conv_transpose2d}
_MAX = {1: NF.max_pool1d, 2: NF.max_pool2d, 3: NF.max_pool3d}
_AVG = {1: NF.avg_pool1d, 2: NF.avg_pool2d, 3: NF.avg_pool3d}


def _ints(op, value, n, what):
    out = (value,) * n if isinstance(value, int) else tuple(value)
    if len(out) != n or not all(isinstance(v, (int, np.integer)) and v > 0 for v in out):
        raise fail(op, f"{what} must be a positive int or {n} positive ints, got {value!r}")
    return tuple(int(v) for v in out)


def _padding(op, padding):
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise fail(op, f"padding must be 'valid' or 'same', got {padding!r}")
    return padding


def same_pads(size, k, s, d=1):
    """TensorFlow's 'same' padding (before, after): output ``ceil(size / s)``, the odd pixel after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _flat(pads):
    return tuple(v for b, a in reversed(pads) for v in (b, a))


def _first(x, data_format):
    """``x`` in channels_first layout."""
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1)) if data_format == "channels_last" else x


def _back(x, data_format):
    return x.permute(0, *range(2, x.ndim), 1) if data_format == "channels_last" else x


def _check_rank(op, x, kernel_rank=None):
    if x.ndim not in (3, 4, 5):
        raise fail(op, f"inputs must be 3-D, 4-D or 5-D (batch, *spatial, channels), got shape {tuple(x.shape)}")
    if kernel_rank is not None and kernel_rank != x.ndim:
        raise fail(op, f"kernel rank {kernel_rank} does not match inputs rank {x.ndim} (shape {tuple(x.shape)})")


def _conv_first(op, xc, weight, strides, padding, dilation, groups):
    """A channels_first convolution with a PyTorch-layout weight and TensorFlow 'same' padding."""
    rank = xc.ndim - 2
    if padding == "same":
        pads = [same_pads(xc.shape[2 + i], weight.shape[2 + i], strides[i], dilation[i]) for i in range(rank)]
        if any(pads[i] != (0, 0) for i in range(rank)):
            xc = F.pad(xc, _flat(pads))
    sizes = tuple(xc.shape[2:])
    eff = tuple((weight.shape[2 + i] - 1) * dilation[i] + 1 for i in range(rank))
    if any(s < k for s, k in zip(sizes, eff)):
        raise fail(op, f"input of spatial size {sizes} is smaller than the (dilated) kernel {eff}; use "
                       "padding='same' or a smaller kernel")
    return _CONV[rank](xc, weight, stride=strides, dilation=dilation, groups=groups)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1-3 spatial dims); ``in_channels`` a multiple of the kernel's gives grouped convolution."""
    x, k = t(inputs), t(kernel)
    fmt, padding = check_data_format("conv", data_format), _padding("conv", padding)
    _check_rank("conv", x, k.ndim)
    rank = x.ndim - 2
    cin = x.shape[-1] if fmt == "channels_last" else x.shape[1]
    if cin % k.shape[-2]:
        raise fail("conv", f"input channels {cin} (shape {tuple(x.shape)}) are not a multiple of the kernel's "
                           f"input channels {k.shape[-2]} (kernel {tuple(k.shape)})")
    strides, dilation = _ints("conv", strides, rank, "strides"), _ints("conv", dilation_rate, rank, "dilation_rate")
    x = tf(x)
    weight = k.permute(rank + 1, rank, *range(rank)).to(x.dtype)
    out = _conv_first("conv", _first(x, fmt), weight, strides, padding, dilation, cin // k.shape[-2])
    return _back(out, fmt)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """One filter set per input channel: kernel ``(*kernel_size, in_channels, multiplier)``."""
    x, k = tf(inputs), t(kernel)
    fmt, padding = check_data_format("depthwise_conv", data_format), _padding("depthwise_conv", padding)
    _check_rank("depthwise_conv", x, k.ndim)
    rank = x.ndim - 2
    cin = x.shape[-1] if fmt == "channels_last" else x.shape[1]
    if k.shape[-2] != cin:
        raise fail("depthwise_conv", f"kernel {tuple(k.shape)} expects {k.shape[-2]} input channels, inputs have "
                                     f"{cin} (shape {tuple(x.shape)})")
    strides = _ints("depthwise_conv", strides, rank, "strides")
    dilation = _ints("depthwise_conv", dilation_rate, rank, "dilation_rate")
    # (*k, C, M) -> (C * M, 1, *k): output channel c * M + m
    weight = k.reshape(tuple(k.shape[:rank]) + (1, -1)).permute(rank + 1, rank, *range(rank))
    out = _conv_first("depthwise_conv", _first(x, fmt), weight, strides, padding, dilation, cin)
    return _back(out, fmt)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """A depthwise convolution followed by a 1x1 convolution with ``pointwise_kernel``."""
    depth = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depth, pointwise_kernel, 1, "valid", data_format, 1)


def _transpose_crops(size, k, s, d, padding, output_padding):
    """(crop_left, crop_right) of the full transposed output ``(size-1)*s + k_eff`` (negative: zero-extend)."""
    k_eff = (k - 1) * d + 1
    if padding == "valid":
        op = max(k_eff, s) - k_eff if output_padding is None else output_padding
        left, right = k_eff - 1, k_eff - 1 + op
    else:
        pad_len = s + k_eff - 2 if output_padding is None else k_eff + k_eff % 2 - 2 + output_padding
        left = min(pad_len // 2 + pad_len % 2, k_eff - 1)
        right = pad_len - left
    return (k_eff - 1) - left, (k_eff - 1) - right


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed convolution (1-D or 2-D), kernel ``(*kernel_size, filters, in_channels)``, Keras's sizes."""
    x, k = tf(inputs), t(kernel)
    fmt, padding = check_data_format("conv_transpose", data_format), _padding("conv_transpose", padding)
    _check_rank("conv_transpose", x, k.ndim)
    rank = x.ndim - 2
    if rank not in _CONV_T:
        raise fail("conv_transpose", f"{rank}-D transposed convolution is not supported (1-D and 2-D are)",
                   NotImplementedError)
    cin = x.shape[-1] if fmt == "channels_last" else x.shape[1]
    if k.shape[-1] != cin:
        raise fail("conv_transpose", f"kernel {tuple(k.shape)} expects {k.shape[-1]} input channels, inputs have "
                                     f"{cin} (shape {tuple(x.shape)})")
    strides = _ints("conv_transpose", strides, rank, "strides")
    dilation = _ints("conv_transpose", dilation_rate, rank, "dilation_rate")
    ops_ = (output_padding,) * rank if output_padding is None or isinstance(output_padding, int) else output_padding
    xc = _first(x, fmt)
    weight = k.permute(rank + 1, rank, *range(rank)).to(x.dtype)
    out = _CONV_T[rank](xc, weight, stride=strides, dilation=dilation)
    for i in range(rank):
        left, right = _transpose_crops(xc.shape[2 + i], k.shape[i], strides[i], dilation[i], padding, ops_[i])
        axis = 2 + i
        if left < 0 or right < 0:
            pads = [(0, 0)] * (out.ndim - 2)
            pads[i] = (max(-left, 0), max(-right, 0))
            out = F.pad(out, _flat(pads))
            left, right = max(left, 0), max(right, 0)
        out = F.narrow(out, axis, left, out.shape[axis] - left - right)
    return _back(out, fmt)


def _pool(op, inputs, pool_size, strides, padding, data_format, kind):
    x = tf(inputs)
    fmt, padding = check_data_format(op, data_format), _padding(op, padding)
    _check_rank(op, x)
    rank = x.ndim - 2
    pool = _ints(op, pool_size, rank, "pool_size")
    strides = pool if strides is None else _ints(op, strides, rank, "strides")
    xc = _first(x, fmt)
    sizes = tuple(xc.shape[2:])
    if padding == "valid" and any(s < p for s, p in zip(sizes, pool)):
        raise fail(op, f"input of spatial size {sizes} is smaller than pool_size {pool}; use padding='same'")
    pads = [same_pads(s, p, st) for s, p, st in zip(sizes, pool, strides)] if padding == "same" else [(0, 0)] * rank
    if kind == "max":
        if any(p != (0, 0) for p in pads):
            xc = F.pad(xc, _flat(pads), value=-np.inf)
        return _back(_MAX[rank](xc, pool, strides), fmt)
    if all(p == (0, 0) for p in pads):
        return _back(_AVG[rank](xc, pool, strides), fmt)
    # 'same': the mean over the real inputs of each window
    ones = xc.new_ones((1, 1) + sizes)
    frac = _AVG[rank](F.pad(ones, _flat(pads)), pool, strides)
    return _back(_AVG[rank](F.pad(xc, _flat(pads)), pool, strides) / frac, fmt)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("max_pool", inputs, pool_size, strides, padding, data_format, "max")


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("average_pool", inputs, pool_size, strides, padding, data_format, "avg")


def _adaptive(op, inputs, output_size, data_format, fns):
    x = tf(inputs)
    fmt = check_data_format(op, data_format)
    _check_rank(op, x)
    rank = x.ndim - 2
    if rank not in fns:
        raise fail(op, f"{rank}-D adaptive pooling is not supported (1-D and 2-D are)", NotImplementedError)
    size = _ints(op, output_size, rank, "output_size")
    return _back(fns[rank](_first(x, fmt), size if rank > 1 else size[0]), fmt)


def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive("adaptive_average_pool", inputs, output_size, data_format,
                     {1: NF.adaptive_avg_pool1d, 2: NF.adaptive_avg_pool2d})


def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive("adaptive_max_pool", inputs, output_size, data_format,
                     {1: NF.adaptive_max_pool1d, 2: NF.adaptive_max_pool2d})


def _block_args(op, x, block_size, data_format):
    x = t(x)
    fmt = check_data_format(op, data_format)
    if x.ndim != 4:
        raise fail(op, f"expects a 4-D input, got shape {tuple(x.shape)}")
    return x, int(block_size), fmt


def depth_to_space(x, block_size, data_format="channels_last"):
    """Move ``block_size**2`` channel groups into spatial blocks: channels_last in TensorFlow's order
    (block position major), channels_first in PyTorch's ``pixel_shuffle`` order (channel major)."""
    x, b, fmt = _block_args("depth_to_space", x, block_size, data_format)
    c = x.shape[-1] if fmt == "channels_last" else x.shape[1]
    if c % (b * b):
        raise fail("depth_to_space", f"channels {c} are not divisible by block_size**2 = {b * b}")
    if fmt == "channels_first":
        n, _, h, w = x.shape
        return x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // (b * b), h * b, w * b)
    n, h, w, _ = x.shape
    return x.reshape(n, h, w, b, b, c // (b * b)).permute(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c // (b * b))


def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of ``depth_to_space``."""
    x, b, fmt = _block_args("space_to_depth", x, block_size, data_format)
    h, w = (x.shape[1], x.shape[2]) if fmt == "channels_last" else (x.shape[2], x.shape[3])
    if h % b or w % b:
        raise fail("space_to_depth", f"height {h} and width {w} must be divisible by block_size {b}")
    if fmt == "channels_first":
        n, c = x.shape[:2]
        return x.reshape(n, c, h // b, b, w // b, b).permute(0, 1, 3, 5, 2, 4).reshape(n, c * b * b, h // b, w // b)
    n, c = x.shape[0], x.shape[-1]
    return x.reshape(n, h // b, b, w // b, b, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h // b, w // b, b * b * c)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a channels_first ``(N, C, H, W)`` input as ``(N, C*kh*kw, L)`` (PyTorch's layout)."""
    x = t(x)
    if x.ndim != 4:
        raise fail("unfold", f"expects a 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
    return NF.unfold(x, kernel_size, dilation=dilation, padding=padding, stride=stride)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    x = t(x)
    if x.ndim != 3:
        raise fail("fold", f"expects a 3-D (N, C*kh*kw, L) input, got shape {tuple(x.shape)}")
    return NF.fold(x, output_size, kernel_size, dilation=dilation, padding=padding, stride=stride)

