"""Reshaping layers: UpSampling1D/2D/3D, ZeroPadding1D/2D/3D, Cropping1D/2D/3D, RepeatVector; the image ones
take channels_last or channels_first data (UpSampling1D and Cropping1D have no data_format, as in Keras).

>>> from ember import keras
>>> x = keras.ops.ones((2, 3, 4, 5))
>>> [tuple(layer(x).shape) for layer in (keras.layers.UpSampling2D(), keras.layers.ZeroPadding2D(1),
...                                      keras.layers.Cropping2D(((1, 0), (1, 2))))]
[(2, 6, 8, 5), (2, 5, 6, 5), (2, 2, 1, 5)]
"""

from __future__ import annotations

from ember import functional as F
from ember.nn import functional as NF

from .. import backend as K
from .base import Layer


def _pairs(value, rank, what):
    """Keras's padding/cropping argument: an int, a tuple of ints (symmetric), or a tuple of pairs."""
    if isinstance(value, int):
        return ((value, value),) * rank
    value = tuple(value)
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value,)
    if len(value) != rank:
        raise ValueError(f"{what}: expected an int, {rank} ints or {rank} pairs of ints, got {value!r}")
    return tuple((v, v) if isinstance(v, int) else tuple(v) for v in value)


def _check_format(layer, data_format):
    """``layer.data_format`` from the argument (None: the global ``image_data_format()``)."""
    layer.data_format = K.standardize_data_format(data_format, type(layer).__name__)


def _spatial_axis(layer, i):
    """The axis of spatial dimension ``i`` (0-based) in the layer's data_format."""
    return i + (2 if layer.data_format == "channels_first" else 1)


class UpSampling1D(Layer):
    """Repeat every time step ``size`` times: ``(batch, steps, features)`` -> ``(batch, steps * size, ...)``."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs):
        return inputs.repeat_interleave(self.size, dim=1)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(Layer):
    """Scale height and width by ``size``: 'nearest' repeats rows/columns, 'bilinear' interpolates
    (half-pixel centres, as Keras)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        _check_format(self, data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.interpolation = interpolation

    def call(self, inputs):
        first = self.data_format == "channels_first"
        if self.interpolation == "nearest":
            h, w = _spatial_axis(self, 0), _spatial_axis(self, 1)
            return inputs.repeat_interleave(self.size[0], dim=h).repeat_interleave(self.size[1], dim=w)
        x = inputs if first else inputs.permute(0, 3, 1, 2)
        size = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
        out = NF.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return out if first else out.permute(0, 2, 3, 1)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


class UpSampling3D(Layer):
    """Repeat depth, height and width ``size`` times (nearest neighbour), channels_last or channels_first."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_format(self, data_format)
        self.size = (size,) * 3 if isinstance(size, int) else tuple(size)

    def call(self, inputs):
        for i, k in enumerate(self.size):
            inputs = inputs.repeat_interleave(k, dim=_spatial_axis(self, i))
        return inputs

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format}


class _ZeroPadding(Layer):
    rank = 2

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_format(self, data_format)
        self.padding = _pairs(padding, self.rank, type(self).__name__)

    def call(self, inputs):
        # F.pad's order: last axis first; channels_last data has the channels axis last (padded by 0)
        pads = [] if self.data_format == "channels_first" else [0, 0]
        for before, after in reversed(self.padding):
            pads += [before, after]
        return F.pad(inputs, tuple(pads))

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    rank = 1


class ZeroPadding2D(_ZeroPadding):
    pass


class ZeroPadding3D(_ZeroPadding):
    rank = 3


class _Cropping(Layer):
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_format(self, data_format)
        self.cropping = _pairs(cropping, self.rank, type(self).__name__)

    def call(self, inputs):
        index = [slice(None)] * _spatial_axis(self, 0)
        for i, (before, after) in enumerate(self.cropping):
            size = inputs.shape[_spatial_axis(self, i)]
            if before + after >= size:
                raise ValueError(f"{type(self).__name__} {self.name!r}: cropping {self.cropping} leaves nothing "
                                 f"of inputs of shape {tuple(inputs.shape)}")
            index.append(slice(before, size - after))
        return inputs[tuple(index)]

    def get_config(self):
        config = {**super().get_config(), "cropping": [list(c) for c in self.cropping]}
        return config if self.rank == 1 else {**config, "data_format": self.data_format}


class Cropping1D(_Cropping):
    """Crop steps of ``(batch, steps, features)`` inputs (no data_format, as in Keras)."""

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, "channels_last", **kwargs)


class Cropping2D(_Cropping):
    pass


class Cropping3D(_Cropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), **kwargs):
        super().__init__(cropping, **kwargs)


class RepeatVector(Layer):
    """``(batch, features)`` -> ``(batch, n, features)``."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)

    def call(self, inputs):
        if inputs.ndim != 2:
            raise ValueError(f"RepeatVector {self.name!r}: expected inputs (batch, features), got shape "
                             f"{tuple(inputs.shape)}")
        return inputs.unsqueeze(1).expand(inputs.shape[0], self.n, inputs.shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
