"""BatchNorm1d/2d/3d, LayerNorm and GroupNorm with PyTorch's parameters, buffers, defaults and repr; the lazy
batch and instance norms."""
from __future__ import annotations

from ... import creation, dtypes
from ...autograd import no_grad
from ...errors import mark, with_user_line
from .. import functional as F
from .. import init
from ..parameter import UninitializedBuffer, UninitializedParameter
from .lazy import LazyModuleMixin, input_channels
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "RMSNorm", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _affine_params(mod, weight, bias, shape, fk):
    """Register ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None for the ones switched off."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    mod.register_parameter("weight", Parameter(creation.ones(*shape, **fk)) if weight else None)
    mod.register_parameter("bias", Parameter(creation.zeros(*shape, **fk)) if bias else None)


def _reset_affine(mod):
    if mod.weight is not None:
        init.ones_(mod.weight)
    if mod.bias is not None:
        init.zeros_(mod.bias)


class _BatchNorm(Module):
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_params(self, affine, bias and affine, num_features, fk)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, **fk))
            self.register_buffer("running_var", creation.ones(num_features, **fk))
            self.register_buffer("num_batches_tracked", creation.zeros((), dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input):
        if input.ndim not in self._dims:
            raise mark(with_user_line(ValueError(
                f"{type(self).__name__}: expected {' or '.join(f'{d}D' for d in self._dims)} input, got "
                f"{input.ndim}D input of shape {tuple(input.shape)}"), 4))

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average: a 0-d tensor, so a compiled step keeps it
                factor = 1.0 / self.num_batches_tracked
        use_batch_stats = self.training or self.running_mean is None
        return F.batch_norm(input,
                            self.running_mean if not self.training or self.track_running_stats else None,
                            self.running_var if not self.training or self.track_running_stats else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _InstanceNorm(_BatchNorm):
    """Per-sample, per-channel normalisation (torch's defaults: no affine, no running stats); an unbatched
    input (C, ...) is taken as a batch of one."""
    _spatial = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        if input.ndim not in (self._spatial + 1, self._spatial + 2):
            raise mark(with_user_line(ValueError(
                f"{type(self).__name__}: expected {self._spatial + 1}D (unbatched) or {self._spatial + 2}D "
                f"(batched) input, got {input.ndim}D input of shape {tuple(input.shape)}"), 2))
        if input.ndim == self._spatial + 1:
            return self.forward(input.unsqueeze(0)).squeeze(0)
        if not self.training and self.track_running_stats:
            return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0,
                                self.eps)
        if self.training and self.track_running_stats:
            self._update_running(input)
        return F.instance_norm(input, weight=self.weight, bias=self.bias, eps=self.eps)

    def _update_running(self, input):
        # as torch: the batch's per-instance mean and unbiased variance, averaged over the batch
        with no_grad():
            axes = tuple(range(2, input.ndim))
            mean = input.mean(dim=axes).mean(0)
            var = input.var(dim=axes, unbiased=True).mean(0)
            m = 0.1 if self.momentum is None else self.momentum
            self.running_mean.mul_(1 - m).add_(mean * m)
            self.running_var.mul_(1 - m).add_(var * m)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) inputs.

    >>> import ember
    >>> ember.nn.InstanceNorm1d(2)(ember.arange(6.0).reshape(1, 2, 3)).tolist()[0][0]  # doctest: +ELLIPSIS
    [-1.22..., 0.0, 1.22...]
    """
    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) inputs (style transfer's normalisation).

    >>> import ember
    >>> ember.nn.InstanceNorm2d(3, affine=True)(ember.randn(2, 3, 4, 4)).shape
    ember.Size([2, 3, 4, 4])
    """
    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _spatial = 3


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs; running statistics for eval mode.

    >>> import ember
    >>> from ember import nn
    >>> bn = nn.BatchNorm1d(4)
    >>> bn(ember.randn(8, 4)).shape
    ember.Size([8, 4])
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs; running statistics for eval mode.

    >>> import ember
    >>> from ember import nn
    >>> nn.BatchNorm2d(3)(ember.randn(2, 3, 4, 4)).shape
    ember.Size([2, 3, 4, 4])
    """

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over (N, C, D, H, W) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.BatchNorm3d(2)(ember.randn(2, 2, 2, 2, 2)).shape
    ember.Size([2, 2, 2, 2, 2])
    """

    _dims = (5,)


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dims with elementwise affine weight and bias.

    >>> import ember
    >>> from ember import nn
    >>> nn.LayerNorm(10)(ember.randn(20, 5, 10)).shape
    ember.Size([20, 5, 10])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None,
                 dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        fk = {"device": device, "dtype": dtype}
        _affine_params(self, elementwise_affine, bias and elementwise_affine, shape, fk)

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims with an elementwise weight
    (``torch.nn.RMSNorm``; ``eps=None``: the input dtype's machine epsilon).

    >>> import ember
    >>> from ember import nn
    >>> nn.RMSNorm(10)(ember.randn(20, 5, 10)).shape
    ember.Size([20, 5, 10])
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine_params(self, elementwise_affine, False, shape, {"device": device, "dtype": dtype})

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalises groups of channels of (N, C, ...) inputs, with per-channel affine weight and bias.

    >>> import ember
    >>> from ember import nn
    >>> nn.GroupNorm(2, 4)(ember.randn(3, 4, 5)).shape
    ember.Size([3, 4, 5])
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *,
                 bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise mark(ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                                  f"({num_groups})"))
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_params(self, affine, bias and affine, num_channels, {"device": device, "dtype": dtype})

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Each element divided by ``(k + alpha * mean of x**2 over `size` neighbouring channels) ** beta``
    (AlexNet's normalisation).

    >>> import ember
    >>> from ember import nn
    >>> nn.LocalResponseNorm(2)(ember.ones(1, 3, 2, 2)).shape
    ember.Size([1, 3, 2, 2])
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class _LazyNorm(LazyModuleMixin):
    """num_features from the first input's channel dim; PyTorch's lazy defaults (affine and running stats on,
    for the instance norms too)."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None,
                 *, bias=True):
        _BatchNorm.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        fk = {"device": device, "dtype": dtype}
        if affine:
            self.weight = UninitializedParameter(**fk)
            if bias:
                self.bias = UninitializedParameter(**fk)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(**fk)
            self.running_var = UninitializedBuffer(**fk)

    def reset_parameters(self):
        if self._lazy_reset_ready(self.num_features):
            super().reset_parameters()

    def initialize_parameters(self, input):
        if not self.has_uninitialized_params():
            return
        spatial = getattr(self, "_spatial", None)  # instance norms also take unbatched (C, ...) inputs
        self.num_features = input.shape[1] if spatial is None else input_channels(self, input, spatial)
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if getattr(t, "_uninitialized", False):
                t.materialize((self.num_features,))
        self.reset_parameters()


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    """A BatchNorm1d whose num_features comes from the first input (then it becomes a BatchNorm1d).

    >>> import ember
    >>> from ember import nn
    >>> bn = nn.LazyBatchNorm1d()
    >>> bn(ember.randn(8, 4)).shape, bn.running_mean.shape
    (ember.Size([8, 4]), ember.Size([4]))
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    """A BatchNorm2d whose num_features comes from the first input.

    >>> import ember
    >>> from ember import nn
    >>> bn = nn.LazyBatchNorm2d()
    >>> _ = bn(ember.randn(2, 3, 4, 4))
    >>> bn
    BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm, BatchNorm3d):
    """A BatchNorm3d whose num_features comes from the first input.

    >>> import ember
    >>> from ember import nn
    >>> nn.LazyBatchNorm3d()(ember.randn(2, 2, 2, 2, 2)).shape
    ember.Size([2, 2, 2, 2, 2])
    """

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyNorm, InstanceNorm1d):
    """An InstanceNorm1d whose num_features comes from the first input (affine and running stats on, as
    PyTorch's lazy form has them).

    >>> import ember
    >>> from ember import nn
    >>> nn.LazyInstanceNorm1d()(ember.randn(2, 3, 5)).shape
    ember.Size([2, 3, 5])
    """

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyNorm, InstanceNorm2d):
    """An InstanceNorm2d whose num_features comes from the first input.

    >>> import ember
    >>> from ember import nn
    >>> norm = nn.LazyInstanceNorm2d()
    >>> norm(ember.randn(2, 3, 4, 4)).shape, norm.weight.shape
    (ember.Size([2, 3, 4, 4]), ember.Size([3]))
    """

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyNorm, InstanceNorm3d):
    """An InstanceNorm3d whose num_features comes from the first input.

    >>> import ember
    >>> from ember import nn
    >>> nn.LazyInstanceNorm3d()(ember.randn(1, 2, 3, 3, 3)).shape
    ember.Size([1, 2, 3, 3, 3])
    """

    cls_to_become = InstanceNorm3d
