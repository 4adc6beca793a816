"""Conv1DTranspose, Conv2DTranspose, Conv3DTranspose with Keras 3's full transposed-convolution rules:
``output_padding``, ``dilation_rate``, 'valid' / 'same' padding and channels_last or channels_first data.

Keras defines a transposed convolution by the (left, right) padding of the stride-dilated input before a
correlation with the flipped kernel (the JAX form). ``keras_transpose_crops`` turns that into crops of the
"natural" PyTorch output ``(size - 1) * stride + (k - 1) * dilation + 1``: the layer runs
``ember.nn.functional.conv_transpose1d/2d/3d`` with no padding, then slices each spatial axis (a negative crop
extends it with zeros, which the bias then fills, as in Keras).

>>> from ember import keras
>>> up = keras.layers.Conv3DTranspose(4, 3, strides=2, padding="same")
>>> tuple(up(keras.ops.ones((1, 2, 3, 4, 5))).shape), tuple(up.kernel.shape)
((1, 4, 6, 8, 4), (3, 3, 3, 4, 5))
"""

from __future__ import annotations

from ember import functional as F
from ember.errors import user_errors
from ember.nn import functional as NF

from .conv import _Conv


def keras_transpose_crops(k, stride, dilation, padding, output_padding):
    """(crop before, crop after) of the natural transposed-conv output along one axis, by Keras's rule.

    Keras pads the dilated input by (k_eff - 1, k_eff - 1 + op) for 'valid' (``op`` defaulting to
    ``max(k_eff, s) - k_eff``) and, for 'same', by a total of ``s + k_eff - 2`` (no ``op``) or
    ``2 * k_eff - 2 + k_eff % 2 + op - k_eff`` (with ``op``), the larger half first but at most
    ``k_eff - 1``. Relative to the natural output (pads of ``k_eff - 1`` each side) that is a crop."""
    ke = (k - 1) * dilation + 1
    if padding == "valid":
        op = max(ke, stride) - ke if output_padding is None else output_padding
        left, right = ke - 1, ke - 1 + op
    else:
        total = stride + ke - 2 if output_padding is None else ke + ke % 2 - 2 + output_padding
        left = min(total - total // 2, ke - 1)
        right = total - left
    return ke - 1 - left, ke - 1 - right


def conv_transpose_keras(x, kernel, strides, padding, output_padding, dilation):
    """A transposed convolution of channels_first ``x`` with Keras's ``(*k, filters, in)`` kernel."""
    rank = kernel.ndim - 2
    weight = kernel.permute(rank + 1, rank, *range(rank))  # -> PyTorch's (in, out, *k)
    fn = {1: NF.conv_transpose1d, 2: NF.conv_transpose2d, 3: NF.conv_transpose3d}[rank]
    out = fn(x, weight, stride=strides, dilation=dilation)
    ops = output_padding or (None,) * rank
    crops = [keras_transpose_crops(kernel.shape[i], strides[i], dilation[i], padding, ops[i]) for i in range(rank)]
    grow = tuple(v for before, after in reversed(crops) for v in (max(-before, 0), max(-after, 0)))
    if any(grow):
        out = F.pad(out, grow)
    index = [slice(None), slice(None)]
    for axis, (before, after) in enumerate(crops):
        size = out.shape[2 + axis]
        index.append(slice(max(before, 0), size - max(after, 0)))
    return out[tuple(index)]


class _ConvTranspose(_Conv):
    """Keras 3's transposed convolution of any rank: kernel ``(*kernel_size, filters, in_channels)``, output size
    per axis ``(n-1)*s + max(k, s)`` ('valid'), ``n*s`` ('same'), or with ``output_padding``
    ``(n-1)*s + k + op`` / ``(n-1)*s + k % 2 + op``; channels_last or channels_first."""

    _has_groups = False

    @user_errors
    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, **kwargs):
        name = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{name}: filters must be a positive int, got {filters!r}")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         **kwargs)
        self.output_padding = None if output_padding is None else self._padding_tuple(output_padding)
        for i, (op, s) in enumerate(zip(self.output_padding or (), self.strides)):
            if op >= s:
                raise ValueError(f"{name}: output_padding must be less than strides on every axis; axis "
                                 f"{i} has output_padding {op} and strides {s}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{name}: strides > 1 with dilation_rate > 1 is not supported (as in Keras), "
                             f"got strides={self.strides}, dilation_rate={self.dilation_rate}")

    def _padding_tuple(self, value):
        t = (value,) * self.rank if isinstance(value, int) else tuple(value)
        if len(t) != self.rank or not all(isinstance(v, int) and v >= 0 for v in t):
            raise ValueError(f"{type(self).__name__}: output_padding must be a non-negative int or a tuple of "
                             f"{self.rank}, got {value!r}")
        return t

    def _kernel_shape(self, cin):
        return self.kernel_size + (self.filters, cin)

    def _in_channels(self):
        return self.kernel.shape[-1]

    def _conv_first(self, xc):
        return conv_transpose_keras(xc, self.kernel, self.strides, self.padding, self.output_padding,
                                    self.dilation_rate)

    def get_config(self):
        op = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "output_padding": op}


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution over ``(batch, steps, channels)``; kernel ``(k, filters, in_channels)``.

    >>> from ember import keras
    >>> up = keras.layers.Conv1DTranspose(2, 3, strides=2, output_padding=1, data_format="channels_first")
    >>> tuple(up(keras.ops.ones((1, 4, 5))).shape)
    (1, 2, 12)
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution; kernel ``(kh, kw, filters, in_channels)``.

    >>> from ember import keras
    >>> up = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")
    >>> tuple(up(keras.ops.ones((1, 5, 6, 3))).shape), tuple(up.kernel.shape)
    ((1, 10, 12, 4), (3, 3, 4, 3))
    """

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """Transposed 3-D convolution over ``(batch, depth, height, width, channels)`` (or channels_first);
    kernel ``(kd, kh, kw, filters, in_channels)``.

    >>> from ember import keras
    >>> layer = keras.layers.Conv3DTranspose(2, (2, 3, 3), strides=(1, 2, 2), output_padding=(0, 1, 0))
    >>> tuple(layer(keras.ops.ones((1, 3, 4, 4, 6))).shape)
    (1, 4, 10, 9, 2)
    """

    rank = 3
