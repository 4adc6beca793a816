"""Conv3DTranspose with Keras 3's full transposed-convolution rules: ``output_padding``, ``dilation_rate``,
'valid' / 'same' padding and channels_last or channels_first data.

Keras defines a transposed convolution by the (left, right) padding of the stride-dilated input before a
correlation with the flipped kernel (the JAX form). ``keras_transpose_crops`` turns that into crops of the
"natural" PyTorch output ``(size - 1) * stride + (k - 1) * dilation + 1``: the layer runs
``ember.nn.functional.conv_transpose3d`` with no padding, then slices each spatial axis (a negative crop
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

from .conv import _Conv, _to_channels_first, _to_channels_last
from .preprocessing_image import _data_format


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


def conv_transpose_keras(x, kernel, strides, padding, output_padding, dilation, channels_first=True):
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


class Conv3DTranspose(_Conv):
    """Transposed 3-D convolution over ``(batch, depth, height, width, channels)`` (or channels_first);
    kernel ``(kd, kh, kw, filters, in_channels)``. Output size per axis: ``(n-1)*s + max(k, s)`` ('valid'),
    ``n*s`` ('same'), or with ``output_padding`` ``(n-1)*s + k + op`` / ``(n-1)*s + k % 2 + op``.

    >>> from ember import keras
    >>> layer = keras.layers.Conv3DTranspose(2, (2, 3, 3), strides=(1, 2, 2), output_padding=(0, 1, 0))
    >>> tuple(layer(keras.ops.ones((1, 3, 4, 4, 6))).shape)
    (1, 4, 10, 9, 2)
    """

    rank = 3
    _has_groups = False

    @user_errors
    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1, 1), activation=None, use_bias=True, **kwargs):
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Conv3DTranspose: filters must be a positive int, got {filters!r}")
        super().__init__(filters, kernel_size, strides, padding, None, dilation_rate, activation, use_bias, **kwargs)
        self.data_format = _data_format(data_format)
        self.output_padding = None if output_padding is None else _padding_tuple(output_padding)
        for i, (op, s) in enumerate(zip(self.output_padding or (), self.strides)):
            if op >= s:
                raise ValueError(f"Conv3DTranspose: output_padding must be less than strides on every axis; axis "
                                 f"{i} has output_padding {op} and strides {s}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Conv3DTranspose: strides > 1 with dilation_rate > 1 is not supported (as in Keras), "
                             f"got strides={self.strides}, dilation_rate={self.dilation_rate}")

    @property
    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def build(self, input_shape):
        cin = input_shape[self._channel_axis] if len(input_shape) == 5 else None
        if cin is None:
            raise ValueError(f"Conv3DTranspose {self.name!r}: expected inputs of rank 5 with known channels "
                             f"({self.data_format}), got {tuple(input_shape)}")
        self._add_kernel_and_bias(self.kernel_size + (self.filters, cin), self.filters)
        self.built = True

    def call(self, inputs):
        cin = self.kernel.shape[-1]
        if inputs.ndim != 5 or inputs.shape[self._channel_axis] != cin:
            raise ValueError(f"Conv3DTranspose {self.name!r}: expected inputs of rank 5 with {cin} channels "
                             f"({self.data_format}), got shape {tuple(inputs.shape)}")
        x = inputs if self.data_format == "channels_first" else _to_channels_first(inputs)
        out = conv_transpose_keras(x, self.kernel, self.strides, self.padding, self.output_padding,
                                   self.dilation_rate)
        if self.bias is not None:
            out = out + self.bias.reshape(-1, 1, 1, 1)
        out = out if self.data_format == "channels_first" else _to_channels_last(out)
        return self.activation(out)

    def get_config(self):
        op = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "output_padding": op, "data_format": self.data_format}


def _padding_tuple(value):
    t = (value,) * 3 if isinstance(value, int) else tuple(value)
    if len(t) != 3 or not all(isinstance(v, int) and v >= 0 for v in t):
        raise ValueError(f"Conv3DTranspose: output_padding must be a non-negative int or a tuple of 3, got {value!r}")
    return t

