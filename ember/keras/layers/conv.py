"""Convolutions in Keras's channels_last layout: Conv1D, Conv2D, Conv2DTranspose.

Kernels are ``(*kernel_size, in_channels, filters)`` (``(kh, kw, filters, in_channels)`` for the transpose),
glorot_uniform initialised; the convolution is a patch gather (strided slices) and one matmul, all Ember ops.

>>> from ember import keras
>>> conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
>>> tuple(conv(keras.ops.ones((2, 28, 28, 1))).shape), tuple(conv.kernel.shape)
((2, 28, 28, 8), (3, 3, 1, 8))
"""

from __future__ import annotations

from ember import functional as F

from .. import activations, initializers
from .base import Layer


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


def conv2d_nhwc(x, kernel, strides, padding, dilation):
    kh, kw, cin, cout = kernel.shape
    if x.shape[-1] != cin:
        raise ValueError(f"expected inputs with {cin} channels (last axis), got shape {tuple(x.shape)}")
    if padding == "same":
        ph = same_pads(x.shape[1], kh, strides[0], dilation[0])
        pw = same_pads(x.shape[2], kw, strides[1], dilation[1])
        if any(ph + pw):
            x = F.pad(x, (0, 0, pw[0], pw[1], ph[0], ph[1]))
    cols = patches(x, (kh, kw), strides, dilation)
    n, ho, wo, k = cols.shape
    return (cols.reshape(n * ho * wo, k) @ kernel.reshape(k, cout)).reshape(n, ho, wo, cout)


class _Conv(Layer):
    rank = 2

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"{type(self).__name__}: only data_format='channels_last' is supported, got {data_format!r}"
            )
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

    def _kernel_shape(self, cin):
        return self.kernel_size + (cin, self.filters)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2} "
                f"(batch, {'spatial, ' * self.rank}channels) with known channels, got {input_shape}"
            )
        self.kernel = self.add_weight(
            self._kernel_shape(input_shape[-1]),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = (
            self.add_weight(
                (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer, name="bias"
            )
            if self.use_bias
            else None
        )
        self.built = True

    def _conv(self, x):
        return conv2d_nhwc(x, self.kernel, self.strides, self.padding, self.dilation_rate)

    def call(self, inputs):
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2}, "
                f"got shape {tuple(inputs.shape)}"
            )
        z = self._conv(inputs)
        if self.bias is not None:
            z = z + self.bias
        return self.activation(z)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class Conv2D(_Conv):
    """2-D convolution over ``(batch, height, width, channels)``."""


class Conv1D(_Conv):
    """1-D convolution over ``(batch, steps, channels)``."""

    rank = 1

    def _conv(self, x):
        kernel = self.kernel.reshape((1,) + tuple(self.kernel.shape))
        out = conv2d_nhwc(
            x.unsqueeze(1), kernel, (1,) + self.strides, self.padding, (1,) + self.dilation_rate
        )
        return out.squeeze(1)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution; kernel ``(kh, kw, filters, in_channels)``; output ``(H-1)*s + k`` ('valid')
    or ``H*s`` ('same')."""

    def _kernel_shape(self, cin):
        return self.kernel_size + (self.filters, cin)

    def _conv(self, x):
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if self.dilation_rate != (1, 1):
            raise ValueError(f"Conv2DTranspose {self.name!r}: dilation_rate > 1 is not supported")
        n, h, w, c = x.shape
        if (sh, sw) != (1, 1):  # spread the input: s-1 zeros between neighbours
            x = F.pad(x.reshape(n, h, 1, w, 1, c), (0, 0, 0, sw - 1, 0, 0, 0, sh - 1))
            x = x.reshape(n, h * sh, w * sw, c)[:, : (h - 1) * sh + 1, : (w - 1) * sw + 1, :]
        x = F.pad(x, (0, 0, kw - 1, kw - 1, kh - 1, kh - 1))
        kernel = self.kernel.flip((0, 1)).permute(0, 1, 3, 2)
        out = conv2d_nhwc(x, kernel, (1, 1), "valid", (1, 1))
        if self.padding == "same":
            ph, pw = same_pads(h * sh, kh, sh, 1), same_pads(w * sw, kw, sw, 1)
            out = out[:, ph[0] : ph[0] + h * sh, pw[0] : pw[0] + w * sw, :]
        return out
