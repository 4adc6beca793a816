"""Convolution layers: Conv1d/2d/3d, ConvTranspose1d/2d/3d and their lazy forms (torch.nn names and init)."""
from __future__ import annotations

import math

from ... import creation
from ...errors import mark, with_user_line
from .. import init
from ..functional import conv as _F
from ..parameter import UninitializedParameter
from .lazy import LazyModuleMixin, input_channels
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d"]


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise mark(with_user_line(ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                f"divisible by groups ({groups})"), 3))
        if padding_mode != "zeros":
            raise mark(with_user_line(NotImplementedError(
                f"{name}: padding_mode={padding_mode!r} is not supported; only 'zeros' (pad the input with "
                "F.pad first for other modes)"), 3))
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _F.ntuple(kernel_size, nd, name, "kernel_size")
        self.stride = _F.ntuple(stride, nd, name, "stride")
        self.dilation = _F.ntuple(dilation, nd, name, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise mark(with_user_line(ValueError(
                    f"{name}: invalid padding string {padding!r}, expected one of 'valid', 'same'"), 3))
            if padding == "same" and any(s != 1 for s in self.stride):
                raise mark(with_user_line(ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions (stride "
                    f"{self.stride})"), 3))
            self.padding = padding
        else:
            self.padding = _F.ntuple(padding, nd, name, "padding")
        self.output_padding = _F.ntuple(output_padding, nd, name, "output_padding")
        self.padding_mode = padding_mode
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        fac = {"device": device, "dtype": dtype}
        self.weight = Parameter(creation.empty(*shape, **fac))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, **fac))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # PyTorch's default: kaiming_uniform_(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    def forward(self, input):
        fn = (_F.conv1d, _F.conv2d, _F.conv3d)[self._nd - 1]
        return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.Conv1d(4, 8, 3, padding=1)(ember.randn(2, 4, 10)).shape
    ember.Size([2, 8, 10])
    """

    _nd = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) inputs (stride, padding incl. 'same'/'valid', dilation, groups).

    >>> import ember
    >>> from ember import nn
    >>> nn.Conv2d(1, 32, 3)(ember.randn(64, 1, 28, 28)).shape
    ember.Size([64, 32, 26, 26])
    """

    _nd = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.Conv3d(2, 4, 3)(ember.randn(1, 2, 5, 5, 5)).shape
    ember.Size([1, 4, 3, 3, 3])
    """

    _nd = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding=output_padding)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-self._nd:]
        opad = []
        for d in range(self._nd):
            base = ((input.shape[d - self._nd] - 1) * self.stride[d] - 2 * self.padding[d]
                    + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            extra, top = size[d] - base, max(self.stride[d], self.dilation[d])
            if not 0 <= extra < top:
                raise mark(with_user_line(ValueError(
                    f"{type(self).__name__}: requested output size {size} is not reachable from input "
                    f"{tuple(input.shape)} (sizes from {base} to {base + top - 1} are possible in dim "
                    f"{d})"), 4))
            opad.append(extra)
        return tuple(opad)

    def forward(self, input, output_size=None):
        fn = (_F.conv_transpose1d, _F.conv_transpose2d, _F.conv_transpose3d)[self._nd - 1]
        opad = self._output_padding(input, output_size)
        return fn(input, self.weight, self.bias, self.stride, self.padding, opad, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution (the gradient of Conv1d with respect to its input).

    >>> import ember
    >>> from ember import nn
    >>> nn.ConvTranspose1d(4, 2, 3, stride=2)(ember.randn(1, 4, 5)).shape
    ember.Size([1, 2, 11])
    """

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution ("deconvolution"); weight (C_in, C_out/groups, kH, kW).

    >>> import ember
    >>> from ember import nn
    >>> nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)(ember.randn(1, 16, 7, 7)).shape
    ember.Size([1, 8, 14, 14])
    """

    _nd = 2


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution; weight (C_in, C_out/groups, kD, kH, kW).

    >>> import ember
    >>> from ember import nn
    >>> nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=1)(ember.randn(1, 4, 3, 3, 3)).shape
    ember.Size([1, 2, 6, 6, 6])
    """

    _nd = 3


class _LazyConvMixin(LazyModuleMixin):
    """in_channels from the first input (dim 1, or dim 0 of an unbatched one); then the plain layer's init."""

    def _lazy_params(self, bias, device, dtype):
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if self._lazy_reset_ready(self.in_channels):
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if not self.has_uninitialized_params():
            return
        self.in_channels = input_channels(self, input, self._nd)
        if self.in_channels % self.groups:
            raise mark(with_user_line(ValueError(
                f"{type(self).__name__}: in_channels ({self.in_channels}, from the input of shape "
                f"{tuple(input.shape)}) must be divisible by groups ({self.groups})"), 4))
        g = self.groups
        shape = ((self.in_channels, self.out_channels // g) if self._transposed
                 else (self.out_channels, self.in_channels // g)) + self.kernel_size
        self.weight.materialize(shape)
        if getattr(self.bias, "_uninitialized", False):
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class _LazyConv(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        self.cls_to_become.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups, False,
                                    padding_mode, device, dtype)
        self.out_channels = out_channels
        self._lazy_params(bias, device, dtype)


class _LazyConvTranspose(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        self.cls_to_become.__init__(self, 0, 0, kernel_size, stride, padding, output_padding, groups, False,
                                    dilation, padding_mode, device, dtype)
        self.out_channels = out_channels
        self._lazy_params(bias, device, dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """A Conv1d whose in_channels comes from the first input (then it becomes a Conv1d).

    >>> import ember
    >>> from ember import nn
    >>> conv = nn.LazyConv1d(8, 3)
    >>> conv(ember.randn(2, 4, 10)).shape, conv
    (ember.Size([2, 8, 8]), Conv1d(4, 8, kernel_size=(3,), stride=(1,)))
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """A Conv2d whose in_channels comes from the first input (then it becomes a Conv2d).

    >>> import ember
    >>> from ember import nn
    >>> conv = nn.LazyConv2d(16, 3, padding=1)
    >>> conv(ember.randn(1, 3, 8, 8)).shape, tuple(conv.weight.shape)
    (ember.Size([1, 16, 8, 8]), (16, 3, 3, 3))
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """A Conv3d whose in_channels comes from the first input (then it becomes a Conv3d).

    >>> import ember
    >>> from ember import nn
    >>> nn.LazyConv3d(4, 2)(ember.randn(1, 2, 3, 3, 3)).shape
    ember.Size([1, 4, 2, 2, 2])
    """

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """A ConvTranspose1d whose in_channels comes from the first input.

    >>> import ember
    >>> from ember import nn
    >>> nn.LazyConvTranspose1d(2, 3, stride=2)(ember.randn(1, 4, 5)).shape
    ember.Size([1, 2, 11])
    """

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """A ConvTranspose2d whose in_channels comes from the first input.

    >>> import ember
    >>> from ember import nn
    >>> nn.LazyConvTranspose2d(8, 2, stride=2)(ember.randn(1, 16, 7, 7)).shape
    ember.Size([1, 8, 14, 14])
    """

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """A ConvTranspose3d whose in_channels comes from the first input.

    >>> import ember
    >>> from ember import nn
    >>> nn.LazyConvTranspose3d(2, 2, stride=2)(ember.randn(1, 4, 3, 3, 3)).shape
    ember.Size([1, 2, 6, 6, 6])
    """

    cls_to_become = ConvTranspose3d
