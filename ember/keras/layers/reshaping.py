"""Reshaping layers: UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D, RepeatVector (channels_last).

>>> from ember import keras
>>> x = keras.ops.ones((2, 3, 4, 5))
>>> [tuple(layer(x).shape) for layer in (keras.layers.UpSampling2D(), keras.layers.ZeroPadding2D(1),
...                                      keras.layers.Cropping2D(((1, 0), (1, 2))))]
[(2, 6, 8, 5), (2, 5, 6, 5), (2, 2, 1, 5)]
"""

from __future__ import annotations

from ember import functional as F
from ember.nn import functional as NF

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
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{type(layer).__name__}: only data_format='channels_last' is supported, "
                         f"got {data_format!r}")


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
        if self.interpolation == "nearest":
            return inputs.repeat_interleave(self.size[0], dim=1).repeat_interleave(self.size[1], dim=2)
        h, w = inputs.shape[1] * self.size[0], inputs.shape[2] * self.size[1]
        out = NF.interpolate(inputs.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=False)
        return out.permute(0, 2, 3, 1)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


class UpSampling3D(Layer):
    """Repeat depth, height and width ``size`` times (nearest neighbour), channels_last."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_format(self, data_format)
        self.size = (size,) * 3 if isinstance(size, int) else tuple(size)

    def call(self, inputs):
        for axis, k in enumerate(self.size, start=1):
            inputs = inputs.repeat_interleave(k, dim=axis)
        return inputs

    def get_config(self):
        return {**super().get_config(), "size": list(self.size)}


class _ZeroPadding(Layer):
    rank = 2

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_format(self, data_format)
        self.padding = _pairs(padding, self.rank, type(self).__name__)

    def call(self, inputs):
        pads = [0, 0]  # the channels axis, then the spatial axes from last to first (F.pad's order)
        for before, after in reversed(self.padding):
            pads += [before, after]
        return F.pad(inputs, tuple(pads))

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


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
        index = [slice(None)]
        for axis, (before, after) in enumerate(self.cropping, start=1):
            size = inputs.shape[axis]
            if before + after >= size:
                raise ValueError(f"{type(self).__name__} {self.name!r}: cropping {self.cropping} leaves nothing "
                                 f"of inputs of shape {tuple(inputs.shape)}")
            index.append(slice(before, size - after))
        return inputs[tuple(index)]

    def get_config(self):
        return {**super().get_config(), "cropping": [list(c) for c in self.cropping]}


class Cropping1D(_Cropping):
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)


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
