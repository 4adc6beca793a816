"""Pooling and upsampling layers (torch.nn.MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool/MaxPool, Upsample,
MaxUnpool1d/2d/3d, LPPool1d/2d/3d, FractionalMaxPool2d/3d)."""
from __future__ import annotations

from ..functional import extra as _extra
from ..functional import pooling as _F
from ..functional import pooling_more as _more
from ..functional.conv import ntuple
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "LPPool1d", "LPPool2d", "LPPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d", "FractionalMaxPool3d"]


class _MaxPoolNd(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.MaxPool1d(2)(ember.randn(1, 3, 8)).shape
    ember.Size([1, 3, 4])
    """

    _fn = staticmethod(_F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of (N, C, H, W) inputs (stride defaults to the kernel size).

    >>> import ember
    >>> from ember import nn
    >>> nn.MaxPool2d(2)(ember.randn(1, 3, 8, 8)).shape
    ember.Size([1, 3, 4, 4])
    """

    _fn = staticmethod(_F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Max over sliding windows of (N, C, D, H, W) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.MaxPool3d(2)(ember.randn(1, 1, 4, 4, 4)).shape
    ember.Size([1, 1, 2, 2, 2])
    """

    _fn = staticmethod(_F.max_pool3d)


class AvgPool1d(Module):
    """Mean over sliding windows of (N, C, L) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.AvgPool1d(2)(ember.ones(1, 1, 4))
    tensor([[[1., 1.]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return _F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over sliding windows of (N, C, H, W) inputs (count_include_pad, ceil_mode, divisor_override).

    >>> import ember
    >>> from ember import nn
    >>> nn.AvgPool2d(2)(ember.ones(1, 1, 4, 4)).shape
    ember.Size([1, 1, 2, 2])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return _F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    """Mean over sliding windows of (N, C, D, H, W) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.AvgPool3d(2)(ember.ones(1, 1, 4, 4, 4)).shape
    ember.Size([1, 1, 2, 2, 2])
    """

    def forward(self, input):
        return _F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class _Adaptive(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive):
    """Average over adaptive bins so the output length is ``output_size``.

    >>> import ember
    >>> from ember import nn
    >>> nn.AdaptiveAvgPool1d(3)(ember.randn(2, 4, 10)).shape
    ember.Size([2, 4, 3])
    """

    def forward(self, input):
        return _F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_Adaptive):
    """Average over adaptive bins so the output is ``output_size`` (an int, a pair, None keeps a dim).

    >>> import ember
    >>> from ember import nn
    >>> nn.AdaptiveAvgPool2d((1, 1))(ember.randn(2, 8, 7, 5)).shape
    ember.Size([2, 8, 1, 1])
    """

    def forward(self, input):
        return _F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool1d(_Adaptive):
    """Max over adaptive bins so the output length is ``output_size``.

    >>> import ember
    >>> from ember import nn
    >>> nn.AdaptiveMaxPool1d(2)(ember.randn(1, 1, 5)).shape
    ember.Size([1, 1, 2])
    """

    def forward(self, input):
        return _F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_Adaptive):
    """Max over adaptive bins so the output is ``output_size``.

    >>> import ember
    >>> from ember import nn
    >>> nn.AdaptiveMaxPool2d(3)(ember.randn(1, 2, 7, 7)).shape
    ember.Size([1, 2, 3, 3])
    """

    def forward(self, input):
        return _F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveAvgPool3d(_Adaptive):
    """Average over adaptive bins so the (N, C, D, H, W) output is ``output_size``.

    >>> import ember
    >>> from ember import nn
    >>> nn.AdaptiveAvgPool3d((1, 2, 2))(ember.randn(2, 3, 5, 6, 7)).shape
    ember.Size([2, 3, 1, 2, 2])
    """

    def forward(self, input):
        return _more.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_Adaptive):
    """Max over adaptive bins so the (N, C, D, H, W) output is ``output_size``.

    >>> import ember
    >>> from ember import nn
    >>> nn.AdaptiveMaxPool3d(2)(ember.randn(1, 2, 5, 5, 5)).shape
    ember.Size([1, 2, 2, 2, 2])
    """

    def forward(self, input):
        return _more.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class Upsample(Module):
    """Resize by ``size`` or ``scale_factor`` with mode 'nearest', 'linear', 'bilinear' or 'trilinear'.

    >>> import ember
    >>> from ember import nn
    >>> nn.Upsample(scale_factor=2, mode="bilinear")(ember.randn(1, 3, 4, 4)).shape
    ember.Size([1, 3, 8, 8])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input):
        return _F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                              recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest' on (N, C, H, W) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.UpsamplingNearest2d(scale_factor=2)(ember.randn(1, 1, 2, 2)).shape
    ember.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True (as PyTorch's).

    >>> import ember
    >>> from ember import nn
    >>> nn.UpsamplingBilinear2d(scale_factor=2)(ember.randn(1, 1, 2, 2)).shape
    ember.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _LPPoolNd(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """The ``norm_type``-norm of each window of an (N, C, L) input (power-average pooling).

    >>> import ember
    >>> from ember import nn
    >>> nn.LPPool1d(2, 2)(ember.tensor([[[3.0, 4.0]]]))
    tensor([[[5.]]])
    """

    def forward(self, input):
        return _extra.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """The ``norm_type``-norm of each window of an (N, C, H, W) input (power-average pooling).

    >>> import ember
    >>> from ember import nn
    >>> nn.LPPool2d(2, 2)(ember.ones(1, 1, 4, 4)).shape
    ember.Size([1, 1, 2, 2])
    """

    def forward(self, input):
        return _extra.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool3d(_LPPoolNd):
    """The ``norm_type``-norm of each window of an (N, C, D, H, W) input (power-average pooling).

    >>> import ember
    >>> from ember import nn
    >>> nn.LPPool3d(2, 2)(ember.ones(1, 1, 2, 2, 2))
    tensor([[[[[2.8284]]]]])
    """

    def forward(self, input):
        return _extra.lp_pool3d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class _MaxUnpoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self.kernel_size = ntuple(kernel_size, nd, name, "kernel_size")
        self.stride = ntuple(stride if stride is not None else kernel_size, nd, name, "stride")
        self.padding = ntuple(padding, nd, name, "padding")

    def forward(self, input, indices, output_size=None):
        fn = (_more.max_unpool1d, _more.max_unpool2d, _more.max_unpool3d)[self._nd - 1]
        return fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d: values go back to the positions of their indices, zeros elsewhere.

    >>> import ember
    >>> from ember import nn
    >>> values, indices = nn.MaxPool1d(2, return_indices=True)(ember.tensor([[[1.0, 3.0, 2.0, 5.0]]]))
    >>> nn.MaxUnpool1d(2)(values, indices)
    tensor([[[0., 3., 0., 5.]]])
    """

    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d (pass ``output_size`` when the pooled input's size was odd).

    >>> import ember
    >>> from ember import nn
    >>> values, indices = nn.MaxPool2d(2, return_indices=True)(ember.randn(1, 3, 5, 5))
    >>> nn.MaxUnpool2d(2)(values, indices, output_size=(5, 5)).shape
    ember.Size([1, 3, 5, 5])
    """

    _nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of MaxPool3d.

    >>> import ember
    >>> from ember import nn
    >>> values, indices = nn.MaxPool3d(2, return_indices=True)(ember.randn(1, 2, 4, 4, 4))
    >>> nn.MaxUnpool3d(2)(values, indices).shape
    ember.Size([1, 2, 4, 4, 4])
    """

    _nd = 3


class _FractionalMaxPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self.kernel_size = ntuple(kernel_size, nd, name, "kernel_size")
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else ntuple(output_size, nd, name, "output_size")
        ratio = output_ratio
        self.output_ratio = None if ratio is None else tuple(ratio) if isinstance(ratio, (tuple, list)) \
            else (ratio,) * nd
        err = None
        if output_size is None and output_ratio is None:
            err = f"{name} requires specifying either an output size, or a pooling ratio"
        elif output_size is not None and output_ratio is not None:
            err = "only one of output_size and output_ratio may be specified"
        elif self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            err = f"{name}: output_ratio must be between 0 and 1 (got {output_ratio})"
        if err:
            raise _F._err(ValueError(err), 3)

    def forward(self, input):
        fn = _more.fractional_max_pool2d if self._nd == 2 else _more.fractional_max_pool3d
        return fn(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                  _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Max pooling over pseudo-random overlapping windows (Graham's fractional max pooling): the output is
    ``output_size`` or ``output_ratio`` times the input; fresh windows are drawn on every call.

    >>> import ember
    >>> from ember import nn
    >>> nn.FractionalMaxPool2d(3, output_ratio=0.5)(ember.randn(2, 4, 10, 12)).shape
    ember.Size([2, 4, 5, 6])
    """

    _nd = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling of (N, C, D, H, W) inputs (see FractionalMaxPool2d).

    >>> import ember
    >>> from ember import nn
    >>> nn.FractionalMaxPool3d(2, output_size=3)(ember.randn(1, 2, 6, 6, 6)).shape
    ember.Size([1, 2, 3, 3, 3])
    """

    _nd = 3
