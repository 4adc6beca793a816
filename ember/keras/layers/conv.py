"""Convolutions: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D, channels_last or channels_first.

Kernels are Keras's ``(*kernel_size, in_channels, filters)`` whatever the data_format, glorot_uniform
initialised. The convolutions run on the same functional ops as ``ember.nn`` (``ember.nn.functional.conv1d`` /
``conv2d`` / ``conv3d``, i.e. im2col + matmul), which are channels_first: channels_last data is permuted to
channels_first and back (channels_first data runs as it is), with TensorFlow's 'same' padding (possibly
asymmetric) computed here. The transposed convolutions are in ``conv_transpose.py``.
``conv2d_nhwc_slices`` is the earlier strided-slice version, kept only as the benchmark baseline
(``bench/bench_keras_layers.py``).

>>> from ember import keras
>>> conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
>>> tuple(conv(keras.ops.ones((2, 28, 28, 1))).shape), tuple(conv.kernel.shape)
((2, 28, 28, 8), (3, 3, 1, 8))
"""

from __future__ import annotations

from ember import functional as F
from ember.nn import functional as NF

from .. import activations, initializers
from .. import backend as K
from .base import Layer, _constraint, constraint_configs


def _tuple(v, n, what):
    t = (v,) * n if isinstance(v, int) else tuple(v)
    if len(t) != n or not all(isinstance(i, int) and i > 0 for i in t):
        raise ValueError(f"{what} must be a positive int or a tuple of {n} positive ints, got {v!r}")
    return t


def same_pads(size, k, s, d):
    """TensorFlow's 'same' padding: (before, after) so that out = ceil(size / s)."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def patches(x, ksize, strides, dilation):
    """``(N, Ho, Wo, kh*kw*C)`` patches of a padded NHWC tensor (kernel-row major, channels innermost)."""
    (kh, kw), (sh, sw), (dh, dw) = ksize, strides, dilation
    n, h, w, c = x.shape
    ho, wo = (h - (kh - 1) * dh - 1) // sh + 1, (w - (kw - 1) * dw - 1) // sw + 1
    if ho <= 0 or wo <= 0:
        raise ValueError(
            f"input of spatial size {(h, w)} is smaller than the kernel {ksize} (dilation "
            f"{dilation}); use padding='same' or a smaller kernel"
        )
    cols = [
        x[:, i * dh : i * dh + (ho - 1) * sh + 1 : sh, j * dw : j * dw + (wo - 1) * sw + 1 : sw, :]
        for i in range(kh)
        for j in range(kw)
    ]
    return cols[0] if len(cols) == 1 else F.cat(cols, -1)


def conv2d_nhwc_slices(x, kernel, strides, padding, dilation):
    """The strided-slice convolution (benchmark baseline only)."""
    kh, kw, cin, cout = kernel.shape
    if padding == "same":
        ph = same_pads(x.shape[1], kh, strides[0], dilation[0])
        pw = same_pads(x.shape[2], kw, strides[1], dilation[1])
        if any(ph + pw):
            x = F.pad(x, (0, 0, pw[0], pw[1], ph[0], ph[1]))
    cols = patches(x, (kh, kw), strides, dilation)
    n, ho, wo, k = cols.shape
    return (cols.reshape(n * ho * wo, k) @ kernel.reshape(k, cout)).reshape(n, ho, wo, cout)


def _to_channels_first(x):
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def _to_channels_last(x):
    return x.permute(0, *range(2, x.ndim), 1)


def conv_nhwc(x, kernel, strides, padding, dilation, name="conv", groups=1):
    """A channels_last convolution (1-D to 3-D) through ``ember.nn.functional.conv1d/2d/3d``.

    ``kernel`` is Keras's ``(*kernel_size, in_channels, filters)``; ``padding`` 'valid' or 'same'
    (TensorFlow's rule: output ``ceil(size / stride)``, any odd extra padding after)."""
    return _to_channels_last(conv_channels_first(x, kernel, strides, padding, dilation, name, groups))


def conv_channels_first(x, kernel, strides, padding, dilation, name="conv", groups=1):
    """``conv_nhwc`` before its last step: channels_last ``x``, the output channels_first."""
    cin = kernel.shape[-2] * groups
    if x.shape[-1] != cin:
        raise ValueError(
            f"{name}: expected inputs with {cin} channels (last axis), got shape {tuple(x.shape)}"
        )
    return conv_cf(_to_channels_first(x), kernel, strides, padding, dilation, groups)


def conv_cf(xc, kernel, strides, padding, dilation, groups=1):
    """A convolution of channels_first ``xc`` ``(N, C, *spatial)`` with Keras's ``(*k, C / groups, filters)``
    kernel; the output channels_first. Symmetric 'same' padding goes to the primitive, an odd extra is padded."""
    rank = kernel.ndim - 2
    pads = [(0, 0)] * rank
    if padding == "same":
        pads = [same_pads(xc.shape[2 + i], kernel.shape[i], strides[i], dilation[i]) for i in range(rank)]
    if any(b != a for b, a in pads):
        xc = F.pad(xc, tuple(v for b, a in reversed(pads) for v in (b, a)))
        pads = [(0, 0)] * rank
    weight = kernel.permute(rank + 1, rank, *range(rank))
    conv = {1: NF.conv1d, 2: NF.conv2d, 3: NF.conv3d}[rank]
    return conv(xc, weight, stride=strides, padding=tuple(b for b, _ in pads), dilation=dilation, groups=groups)


def depthwise_cf(xc, kernel, strides, padding, dilation):
    """A depthwise convolution of channels_first ``xc`` with Keras's ``(*k, C, depth_multiplier)`` kernel: a
    grouped convolution (groups = C) whose output channel ``c * depth_multiplier + m``."""
    *k, cin, dm = kernel.shape
    return conv_cf(xc, kernel.reshape(*k, 1, cin * dm), strides, padding, dilation, groups=cin)


# Activations that act on each element alone: a convolution applies them (and its bias) in the channels_first
# layout its primitive produced, before the one permute back to channels_last, so they run on contiguous
# memory and the next layer's permute to channels_first undoes that permute (no strided passes, no copies).
_ELEMENTWISE = frozenset(fn for name, fn in activations.ALL.items() if name not in ("softmax", "log_softmax"))


def _rank_hint(got, want):
    """The usual cause of a rank mismatch, as a fix: a missing channels axis or a missing batch axis."""
    if got == want - 1:
        return (". If the data has one channel, add the channels axis: x[..., None] (np.expand_dims(x, -1)); "
                "if it is a single sample, add the batch axis: x[None]")
    return ""

class _Conv(Layer):
    rank = 2
    _has_groups = True  # Conv1D/2D/3D take ``groups``; the transposed, depthwise and separable ones do not

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        groups=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_constraint, self.bias_constraint = _constraint(kernel_constraint), _constraint(bias_constraint)
        self.groups = int(groups)
        if self.groups < 1 or int(filters) % self.groups:
            raise ValueError(f"{type(self).__name__}: filters ({filters}) must be a multiple of groups ({groups})")
        self.data_format = K.standardize_data_format(data_format, type(self).__name__)
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same', got {padding!r}")
        self.filters, self.padding, self.use_bias = int(filters), padding, use_bias
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size")
        self.strides = _tuple(strides, self.rank, "strides")
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate")
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    @property
    def _channels_first(self):
        return self.data_format == "channels_first"

    @property
    def _channel_axis(self):
        return 1 if self._channels_first else -1

    def _kernel_shape(self, cin):
        if cin % self.groups:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the input's {cin} channels are not a multiple of "
                             f"groups={self.groups}")
        return self.kernel_size + (cin // self.groups, self.filters)

    def _in_channels(self):
        """The channels the built weights take."""
        return self.kernel.shape[-2] * self.groups

    def _layout(self):
        spatial = "spatial, " * self.rank
        return f"(batch, channels, {spatial[:-2]})" if self._channels_first else f"(batch, {spatial}channels)"

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2 or input_shape[self._channel_axis] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2} "
                f"{self._layout()} with known channels, got {tuple(input_shape)}"
                + _rank_hint(len(input_shape), self.rank + 2)
            )
        self._add_kernel_and_bias(self._kernel_shape(input_shape[self._channel_axis]), self.filters)
        self.built = True

    @property
    def _label(self):
        return f"{type(self).__name__} {self.name!r}"

    def call(self, inputs):
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{self._label}: expected inputs of rank {self.rank + 2} {self._layout()}, "
                f"got shape {tuple(inputs.shape)}" + _rank_hint(inputs.ndim, self.rank + 2)
            )
        cin = self._in_channels()
        if inputs.shape[self._channel_axis] != cin:
            axis = "axis 1" if self._channels_first else "last axis"
            raise ValueError(f"{self._label}: expected inputs with {cin} channels ({axis}, {self.data_format}), "
                             f"got shape {tuple(inputs.shape)}")
        first = self._conv_first(inputs if self._channels_first else _to_channels_first(inputs))
        if self.bias is not None:
            first = first + self.bias.reshape(-1, *([1] * (first.ndim - 2)))
        if self._channels_first:
            return self.activation(first)
        if self.activation in _ELEMENTWISE:
            return _to_channels_last(self.activation(first))
        return self.activation(_to_channels_last(first))

    def _conv_first(self, xc):
        """The convolution of channels_first ``xc``, channels_first (no bias, no activation)."""
        return conv_cf(xc, self.kernel, self.strides, self.padding, self.dilation_rate, self.groups)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            **({"groups": self.groups} if self._has_groups else {}),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **constraint_configs(self),
        }


class Conv2D(_Conv):
    """2-D convolution over ``(batch, height, width, channels)`` (``(batch, channels, height, width)`` with
    ``data_format="channels_first"``, which runs without transposes).

    >>> from ember import keras
    >>> conv = keras.layers.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first")
    >>> tuple(conv(keras.ops.ones((2, 3, 9, 9))).shape), tuple(conv.kernel.shape)
    ((2, 4, 5, 5), (3, 3, 3, 4))
    """


class Conv1D(_Conv):
    """1-D convolution over ``(batch, steps, channels)`` (or channels_first)."""

    rank = 1


class Conv3D(_Conv):
    """3-D convolution over ``(batch, depth, height, width, channels)``; kernel ``(kd, kh, kw, in, filters)``.

    >>> from ember import keras
    >>> conv = keras.layers.Conv3D(4, 3, padding="same")
    >>> tuple(conv(keras.ops.ones((1, 5, 6, 7, 2))).shape), tuple(conv.kernel.shape)
    ((1, 5, 6, 7, 4), (3, 3, 3, 2, 4))
    """

    rank = 3


class DepthwiseConv2D(_Conv):
    """One ``kernel_size`` filter per input channel (times ``depth_multiplier``); kernel
    ``(kh, kw, in_channels, depth_multiplier)``; output channel ``c * depth_multiplier + m``."""

    _has_groups = False

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        self.depth_multiplier = int(depth_multiplier)
        super().__init__(1, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         kernel_constraint=depthwise_constraint, bias_constraint=bias_constraint, **kwargs)

    def build(self, input_shape):
        if len(input_shape) == self.rank + 2 and input_shape[self._channel_axis] is not None:
            self.filters = input_shape[self._channel_axis] * self.depth_multiplier
        super().build(input_shape)

    def _kernel_shape(self, cin):
        return self.kernel_size + (cin, self.depth_multiplier)

    def _in_channels(self):
        return self.kernel.shape[-2]

    def _conv_first(self, xc):
        return depthwise_cf(xc, self.kernel, self.strides, self.padding, self.dilation_rate)

    def get_config(self):
        config = {**super().get_config(), "depth_multiplier": self.depth_multiplier}
        config.pop("filters")
        config["depthwise_initializer"] = config.pop("kernel_initializer")
        if "kernel_constraint" in config:
            config["depthwise_constraint"] = config.pop("kernel_constraint")
        return config


class SeparableConv2D(_Conv):
    """A depthwise convolution then a 1x1 pointwise one: weights ``depthwise_kernel``
    ``(kh, kw, in, depth_multiplier)``, ``pointwise_kernel`` ``(1, 1, in * depth_multiplier, filters)``, bias."""

    _has_groups = False

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_constraint=None, pointwise_constraint=None,
                 bias_constraint=None, **kwargs):
        self.depth_multiplier = int(depth_multiplier)
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, bias_constraint=bias_constraint, **kwargs)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_constraint = _constraint(depthwise_constraint)
        self.pointwise_constraint = _constraint(pointwise_constraint)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2 or input_shape[self._channel_axis] is None:
            raise ValueError(f"{self._label}: expected inputs of rank {self.rank + 2} {self._layout()} with known "
                             f"channels, got {tuple(input_shape)}" + _rank_hint(len(input_shape), self.rank + 2))
        cin = input_shape[self._channel_axis]
        self.depthwise_kernel = self.add_weight(self.kernel_size + (cin, self.depth_multiplier),
                                                self.kernel_initializer, constraint=self.depthwise_constraint,
                                                name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight((1,) * self.rank + (cin * self.depth_multiplier, self.filters),
                                                self.pointwise_initializer, constraint=self.pointwise_constraint,
                                                name="pointwise_kernel")
        self.bias = self.add_weight((self.filters,), self.bias_initializer, constraint=self.bias_constraint,
                                    name="bias") if self.use_bias else None
        self.built = True

    def _in_channels(self):
        return self.depthwise_kernel.shape[-2]

    def _conv_first(self, xc):
        depth = depthwise_cf(xc, self.depthwise_kernel, self.strides, self.padding, self.dilation_rate)
        return conv_cf(depth, self.pointwise_kernel, (1,) * self.rank, "valid", (1,) * self.rank)

    def get_config(self):
        config = {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                  "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                  **constraint_configs(self, ("depthwise_constraint", "pointwise_constraint"))}
        config["depthwise_initializer"] = config.pop("kernel_initializer")
        return config


class DepthwiseConv1D(DepthwiseConv2D):
    """One ``kernel_size`` filter per input channel of ``(batch, steps, channels)`` inputs; kernel
    ``(k, in_channels, depth_multiplier)``."""

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, **kwargs)


class SeparableConv1D(SeparableConv2D):
    """A 1-D depthwise convolution then a pointwise one: ``depthwise_kernel`` ``(k, in, depth_multiplier)``,
    ``pointwise_kernel`` ``(1, in * depth_multiplier, filters)``, bias."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         **kwargs)
