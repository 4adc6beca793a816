"""Convolutions as im2col + matmul (torch.nn.functional.conv1d/2d/3d, conv_transpose1d/2d, unfold, fold).

The ``im2col`` primitive turns every window into a column; a convolution is then one matmul with the flattened
weight, and its gradients come from the matmul's and im2col's vjps (``col2im``). With ``groups=1`` the batch is
folded into the columns (``fold_batch=True``: one large GEMM each for the forward and both gradients, and the
weight gradient needs no sum over the batch). In training, 3x3 stride-1 convolutions with enough channels run
Winograd F(2x2, 3x3) instead (``ember/ops/winograd.py``: no column matrix, 2.25x fewer multiplies).
Convolutions with few output channels multiply first and shift after (shift-sum), strided ones and transposed
ones use channels-last columns (``ember/ops/conv_forms.py``: the choice is measured per shape).

>>> import ember
>>> import ember.nn.functional as F
>>> F.conv2d(ember.ones(1, 1, 4, 4), ember.ones(2, 1, 3, 3), padding=1).shape
ember.Size([1, 2, 4, 4])
"""
from __future__ import annotations

import math

from ..._autocast import autocast_op
from ..._state import STATE
from ...errors import mark, with_user_line
from ...functional.linalg import matmul
from ...ops import apply, composite
from ...ops.conv_forms import choose_conv, choose_conv_transpose
from ...ops.winograd import use_winograd
from ...tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold", "fold"]


def ntuple(value, n, name, what):
    """``value`` as an n-tuple of ints (an int is repeated), with a clear error otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, (tuple, list)) and len(value) == 1 and n > 1:
        value = tuple(value) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(isinstance(v, int) for v in value):
        return tuple(value)
    raise mark(with_user_line(ValueError(f"{name}: {what} must be an int or a tuple of {n} ints, got "
                                         f"{value!r}"),
                              4))


def _err(exc):
    return mark(with_user_line(exc, 4))


def conv_padding(padding, kernel, stride, dilation, name):
    """PyTorch's padding argument (int, tuple, 'same', 'valid') as ((before, after), ...) per spatial dim."""
    n = len(kernel)
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        if any(s != 1 for s in stride):
            raise _err(ValueError(f"{name}: padding='same' is not supported for strided convolutions (stride "
                                  f"{stride}); use an explicit padding or stride=1"))
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in total)
    if isinstance(padding, str):
        raise _err(ValueError(f"{name}: invalid padding string {padding!r}; expected 'same', 'valid', an "
                              "int or a tuple of ints"))
    return tuple((p, p) for p in ntuple(padding, n, name, "padding"))


def _check_input(name, x, weight, nd):
    if not isinstance(x, Tensor):
        raise _err(TypeError(f"{name}: expected an ember.Tensor input, got {type(x).__name__}"))
    if x.ndim not in (nd + 1, nd + 2):
        raise _err(RuntimeError(
            f"{name}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input of shape (N, C, "
            f"{', '.join('LHW'[-nd:] if nd < 3 else 'DHW')}), but got input of shape {tuple(x.shape)}"))
    if weight.ndim != nd + 2:
        raise _err(RuntimeError(f"{name}: expected a {nd + 2}-D weight, got shape {tuple(weight.shape)}"))
    if x._data.dtype != weight._data.dtype:
        raise _err(RuntimeError(
            f"{name}: input dtype {x.dtype.name} does not match the weight dtype {weight.dtype.name} (input "
            f"{tuple(x.shape)}, weight {tuple(weight.shape)}); convert the input with "
            f"x.to({weight.dtype.name}) "
            "or the layer with .to(dtype)"))


def _channel_error(name, x, weight, groups, expected):
    return _err(RuntimeError(
        f"{name}: given groups={groups} and weight of shape {tuple(weight.shape)}, expected input of shape "
        f"{tuple(x.shape)} to have {expected} channels (dim 1), but got {x.shape[1]} channels instead. "
        "Check the layer's in_channels, or the input's layout (channels first: (N, C, ...))"))


def _batched(x, nd):
    return (x, False) if x.ndim == nd + 2 else (x.unsqueeze(0), True)


def _convnd(name, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_input(name, input, weight, nd)
    x, unbatched = _batched(input, nd)
    kernel = tuple(weight.shape[2:])
    stride = ntuple(stride, nd, name, "stride")
    dilation = ntuple(dilation, nd, name, "dilation")
    pads = conv_padding(padding, kernel, stride, dilation, name)
    out_ch, cin_g = weight.shape[0], weight.shape[1]
    if x.shape[1] != cin_g * groups:
        raise _channel_error(name, input, weight, groups, cin_g * groups)
    if out_ch % groups:
        raise _err(ValueError(f"{name}: out_channels {out_ch} (weight {tuple(weight.shape)}) must be "
                              f"divisible by groups={groups}"))
    out = _conv(x, weight, *([] if bias is None else [bias]), stride=stride, padding=pads, dilation=dilation,
                groups=groups)
    return out[0] if unbatched else out


@composite("conv")
def _conv(x, weight, *bias, stride, padding, dilation, groups):
    """The convolution of a batched input (the ``conv`` layer op's eager composite)."""
    nd, kernel, out_ch = len(stride), tuple(weight.shape[2:]), weight.shape[0]
    outs = tuple((s + p[0] + p[1] - d * (k - 1) - 1) // st + 1
                 for s, p, k, d, st in zip(x.shape[2:], padding, kernel, dilation, stride))
    n = x.shape[0]
    training = STATE.grad_enabled and (x.requires_grad or weight.requires_grad)
    form = "winograd" if use_winograd(x, weight, stride, padding, dilation, groups, training) else \
        choose_conv(x, weight, stride, groups)
    if form == "winograd":  # 3x3, stride 1: no column matrix
        out = apply("winograd_conv", x, weight, padding=padding, transposed=False)
    elif form == "shift":  # few output channels: multiply first, then sum each tap's shifted plane
        wr = weight.permute(0, *range(2, 2 + nd), 1).reshape(out_ch * math.prod(kernel), x.shape[1])
        z = matmul(wr, x.reshape(n, x.shape[1], math.prod(x.shape[2:])))  # explicit sizes: N may be 0
        z = z.reshape(n, out_ch * math.prod(kernel), *x.shape[2:])
        out = apply("shift_sum", z, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    elif form == "last":  # channels-last columns: (N*L, K*C) @ (K*C, C_out)
        cols = apply("im2col_last", x.permute(0, *range(2, 2 + nd), 1), kernel=kernel, stride=stride,
                     padding=padding, dilation=dilation)
        wl = weight.permute(*range(2, 2 + nd), 1, 0).reshape(cols.shape[-1], out_ch)
        out = matmul(cols.reshape(n * math.prod(outs), cols.shape[-1]), wl).reshape(n, *outs, out_ch)
        out = out.permute(0, nd + 1, *range(1, nd + 1)).contiguous()
    elif groups == 1:  # one GEMM over the whole batch: (C_out, C_in*K) @ (C_in*K, N*L)
        cols = apply("im2col", x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                     fold_batch=True)
        out = matmul(weight.reshape(out_ch, -1), cols).reshape(out_ch, n, *outs)
        # (N, C_out, ...) like PyTorch's output: contiguous, so .view() works on it
        out = out.permute(1, 0, *range(2, 2 + nd)).contiguous()
    else:
        cols = apply("im2col", x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        length = cols.shape[2]
        cols = cols.reshape(n, groups, -1, length)
        out = matmul(weight.reshape(groups, out_ch // groups, -1), cols).reshape(n, out_ch, *outs)
    if bias:
        out = out + bias[0].reshape(out_ch, *([1] * nd))
    return out


@autocast_op
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of (N, C_in, L) with a (C_out, C_in/groups, k) weight; padding may be 'same'.

    >>> F.conv1d(ember.ones(1, 2, 5), ember.ones(4, 2, 3)).shape
    ember.Size([1, 4, 3])
    >>> F.conv1d(ember.ones(1, 1, 5), ember.ones(1, 1, 3), padding="same")
    tensor([[[2., 3., 3., 3., 2.]]])
    """
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@autocast_op
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of (N, C_in, H, W) with a (C_out, C_in/groups, kH, kW) weight; padding may be
    'same' or 'valid'.

    >>> F.conv2d(ember.ones(1, 3, 8, 8), ember.ones(6, 3, 3, 3), stride=2, padding=1).shape
    ember.Size([1, 6, 4, 4])
    """
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@autocast_op
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of (N, C_in, D, H, W) with a (C_out, C_in/groups, kD, kH, kW) weight; padding may be
    'same' or 'valid' as in ``conv2d``.

    >>> F.conv3d(ember.ones(1, 2, 4, 4, 4), ember.ones(3, 2, 3, 3, 3)).shape
    ember.Size([1, 3, 2, 2, 2])
    """
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(name, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_input(name, input, weight, nd)
    x, unbatched = _batched(input, nd)
    kernel = tuple(weight.shape[2:])
    stride = ntuple(stride, nd, name, "stride")
    dilation = ntuple(dilation, nd, name, "dilation")
    pad = ntuple(padding, nd, name, "padding")
    opad = ntuple(output_padding, nd, name, "output_padding")
    if any(o >= s and o >= d for o, s, d in zip(opad, stride, dilation)):
        raise _err(ValueError(f"{name}: output_padding {opad} must be smaller than either stride {stride} or "
                              f"dilation {dilation}"))
    cin = weight.shape[0]
    if x.shape[1] != cin:
        raise _channel_error(name, input, weight, groups, cin)
    if cin % groups:
        raise _err(ValueError(f"{name}: in_channels {cin} must be divisible by groups={groups}"))
    size = tuple((s - 1) * st - 2 * p + d * (k - 1) + o + 1
                 for s, st, p, d, k, o in zip(x.shape[2:], stride, pad, dilation, kernel, opad))
    if any(s < 1 for s in size):
        raise _err(RuntimeError(f"{name}: the output size {size} computed for input {tuple(x.shape)} is not "
                                "positive; reduce the padding"))
    out = _conv_transpose_layer(x, weight, *([] if bias is None else [bias]), stride=stride, padding=pad,
                          output_padding=opad, dilation=dilation, groups=groups)
    return out[0] if unbatched else out


@composite("conv_transpose")
def _conv_transpose_layer(x, weight, *bias, stride, padding, output_padding, dilation, groups):
    """The transposed convolution of a batched input (the ``conv_transpose`` layer op's eager composite)."""
    nd, kernel = len(stride), tuple(weight.shape[2:])
    cin, cout_g = weight.shape[0], weight.shape[1]
    n, spatial = x.shape[0], tuple(x.shape[2:])
    size = tuple((s - 1) * st - 2 * p + d * (k - 1) + o + 1
                 for s, st, p, d, k, o in zip(spatial, stride, padding, dilation, kernel, output_padding))
    pads = tuple((p, p) for p in padding)
    if choose_conv_transpose(x, weight, stride, output_padding, groups) == "last":
        # channels-last: one GEMM (N*H*W, C_in) @ (C_in, K*C_out), then col2im over rows of C_out values
        xl = x.permute(0, *range(2, 2 + nd), 1).reshape(n * math.prod(spatial), cin)
        taps = math.prod(kernel) * cout_g
        z = matmul(xl, weight.permute(0, *range(2, 2 + nd), 1).reshape(cin, taps)).reshape(n, *spatial, taps)
        out = apply("col2im_last", z, size=size, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
        out = out.permute(0, nd + 1, *range(1, nd + 1)).contiguous()
        if bias:
            out = out + bias[0].reshape(cout_g, *([1] * nd))
        return out
    xs = x.reshape(n, groups, cin // groups, math.prod(spatial))
    w = weight.reshape(groups, cin // groups, -1).transpose(1, 2)
    cols = matmul(w, xs).reshape(n, groups * cout_g * math.prod(kernel), math.prod(spatial))
    out = apply("col2im", cols, size=size, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    if bias:
        out = out + bias[0].reshape(groups * cout_g, *([1] * nd))
    return out


@autocast_op
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The adjoint of conv1d: (N, C_in, L) with a (C_in, C_out/groups, k) weight gives (N, C_out, L_out),
    ``L_out = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    >>> F.conv_transpose1d(ember.ones(1, 2, 4), ember.ones(2, 3, 3), stride=2).shape
    ember.Size([1, 3, 9])
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


@autocast_op
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The adjoint of conv2d ("deconvolution"): (N, C_in, H, W) with a (C_in, C_out/groups, kH, kW) weight.

    >>> F.conv_transpose2d(ember.ones(1, 4, 5, 5), ember.ones(4, 2, 3, 3), stride=2, padding=1,
    ...                    output_padding=1).shape
    ember.Size([1, 2, 10, 10])
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


@autocast_op
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The adjoint of conv3d: (N, C_in, D, H, W) with a (C_in, C_out/groups, kD, kH, kW) weight.

    >>> F.conv_transpose3d(ember.ones(1, 2, 3, 3, 3), ember.ones(2, 4, 2, 2, 2), stride=2).shape
    ember.Size([1, 4, 6, 6, 6])
    """
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding windows as columns: (N, C, H, W) -> (N, C*kH*kW, L) (``torch.nn.functional.unfold``).

    >>> F.unfold(ember.arange(16.0).reshape(1, 1, 4, 4), kernel_size=2, stride=2)
    tensor([[[ 0.,  2.,  8., 10.],
             [ 1.,  3.,  9., 11.],
             [ 4.,  6., 12., 14.],
             [ 5.,  7., 13., 15.]]])
    """
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise _err(RuntimeError(f"unfold: expected a 3-D or 4-D input (N, C, H, W), got {got}"))
    x, unbatched = _batched(input, 2)
    kernel = ntuple(kernel_size, 2, "unfold", "kernel_size")
    pads = tuple((p, p) for p in ntuple(padding, 2, "unfold", "padding"))
    out = apply("im2col", x, kernel=kernel, stride=ntuple(stride, 2, "unfold", "stride"), padding=pads,
                dilation=ntuple(dilation, 2, "unfold", "dilation"))
    return out[0] if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns back into an image: (N, C*kH*kW, L) -> (N, C, *output_size) (the adjoint of unfold).

    >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
    >>> cols = F.unfold(x, kernel_size=2, stride=2)    # windows that do not overlap: fold puts them back
    >>> ember.equal(F.fold(cols, (4, 4), kernel_size=2, stride=2), x)
    True
    >>> F.fold(ember.ones(1, 4, 4), (3, 3), kernel_size=2)    # overlapping windows add up
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise _err(RuntimeError(f"fold: expected a 2-D or 3-D input (N, C*kH*kW, L), got {got}"))
    x, unbatched = (input, False) if input.ndim == 3 else (input.unsqueeze(0), True)
    pads = tuple((p, p) for p in ntuple(padding, 2, "fold", "padding"))
    out = apply("col2im", x, size=ntuple(output_size, 2, "fold", "output_size"),
                kernel=ntuple(kernel_size, 2, "fold", "kernel_size"),
                stride=ntuple(stride, 2, "fold", "stride"),
                padding=pads, dilation=ntuple(dilation, 2, "fold", "dilation"))
    return out[0] if unbatched else out
