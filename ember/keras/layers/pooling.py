"""Pooling, channels_last or channels_first: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D, the global and adaptive
pools.

The layers compute with ``pool_cf``: ``ember.nn.functional.max_pool1d/2d/3d`` / ``avg_pool1d/2d/3d`` in
channels_first (channels_last data is permuted there and back by ``pool_nhwc``) with TensorFlow's 'same'
padding and averages over real inputs only (Keras's rule), so a traced model holds each pool as one layer node
(exported as one op). ``pool2d_slices`` is the composite (reshape + reduction for non-overlapping windows,
strided slices otherwise), kept as the reference the tests compare against (``tests/test_keras_engine.py``) and
in ``bench/bench_keras_layers.py``; it measured faster once, but on CNN shapes (32x28x28x16, 2x2 and 3x3 windows,
forward+backward, eager and compiled) the ``nn.functional`` pools now match or beat it, except a 2x2 'valid'
average (about 1.3x slower compiled).

>>> from ember import keras
>>> tuple(keras.layers.MaxPooling2D()(keras.ops.ones((2, 28, 28, 8))).shape)
(2, 14, 14, 8)
"""

from __future__ import annotations

import numpy as np

from ember import functional as F
from ember.nn import functional as NF

from .. import backend as K
from .base import Layer
from .conv import _to_channels_first, _to_channels_last, _tuple, same_pads
from .preprocessing_image import _data_format


def _windows(x, pool, strides):
    """The pool-window slices of a padded NHWC tensor, each of shape ``(N, Ho, Wo, C)``."""
    (ph, pw), (sh, sw) = pool, strides
    n, h, w, c = x.shape
    ho, wo = (h - ph) // sh + 1, (w - pw) // sw + 1
    if ho <= 0 or wo <= 0:
        raise ValueError(f"input of spatial size {(h, w)} is smaller than the pool size {pool}")
    return [
        x[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw, :]
        for i in range(ph)
        for j in range(pw)
    ], (ho, wo)


def pool2d_slices(x, pool, strides, padding, kind):
    """Max / average pooling of channels_last ``x`` (``(N, H, W, C)``) by reshape or strided slices."""
    n, h, w, c = x.shape
    if padding == "valid" and tuple(pool) == tuple(strides):
        ho, wo = h // pool[0], w // pool[1]
        if ho <= 0 or wo <= 0:
            raise ValueError(f"input of spatial size {(h, w)} is smaller than the pool size {tuple(pool)}")
        blocks = x[:, : ho * pool[0], : wo * pool[1], :].reshape(n, ho, pool[0], wo, pool[1], c)
        return blocks.amax((2, 4)) if kind == "max" else blocks.mean((2, 4))
    if padding == "same":
        ph, pw = same_pads(h, pool[0], strides[0], 1), same_pads(w, pool[1], strides[1], 1)
        fill = -np.inf if kind == "max" else 0.0
        padded = F.pad(x, (0, 0, pw[0], pw[1], ph[0], ph[1]), value=fill)
    else:
        padded = x
    wins, _ = _windows(padded, pool, strides)
    if kind == "max":
        out = wins[0]
        for t in wins[1:]:
            out = F.maximum(out, t)
        return out
    total = wins[0]
    for t in wins[1:]:
        total = total + t
    if padding == "valid":
        return total / float(len(wins))
    ones = np.ones((1, h, w, 1), dtype=x._data.dtype)
    counts = np.lib.stride_tricks.sliding_window_view(np.pad(ones, ((0, 0), ph, pw, (0, 0))), pool, (1, 2))
    counts = counts[:, :: strides[0], :: strides[1]].sum((-1, -2))
    return total / x.new_tensor(counts)


def pool_nhwc(x, pool, strides, padding, kind, name="pooling"):
    """Max / average pooling of channels_last ``x`` (1-D to 3-D) with Keras's 'valid' / 'same' rules."""
    return _to_channels_last(pool_cf(_to_channels_first(x), pool, strides, padding, kind, name))


def pool_cf(xc, pool, strides, padding, kind, name="pooling"):
    """Max / average pooling of channels_first ``xc`` ``(N, C, *spatial)`` with Keras's 'valid' / 'same' rules
    (TensorFlow's 'same' padding; an average counts the real inputs of each window only)."""
    rank = len(pool)
    sizes = tuple(xc.shape[2:])
    if padding == "valid" and any(s < k for s, k in zip(sizes, pool)):
        raise ValueError(f"{name}: input of spatial size {sizes} is smaller than the pool size {tuple(pool)}")
    pads = [(0, 0)] * rank
    if padding == "same":
        pads = [same_pads(s, k, st, 1) for s, k, st in zip(sizes, pool, strides)]
    if kind == "max":
        fn = {1: NF.max_pool1d, 2: NF.max_pool2d, 3: NF.max_pool3d}[rank]
        if any(b != a for b, a in pads):  # asymmetric: pad explicitly with -inf
            xc = F.pad(xc, _flat_pads(pads), value=-np.inf)
            pads = [(0, 0)] * rank
        return fn(xc, pool, strides, tuple(b for b, _ in pads))
    fn = {1: NF.avg_pool1d, 2: NF.avg_pool2d, 3: NF.avg_pool3d}[rank]
    if all(b == a for b, a in pads):
        return fn(xc, pool, strides, tuple(b for b, _ in pads), count_include_pad=False)
    # asymmetric: mean over the real inputs of each window = avg(padded x) / avg(padded mask of ones)
    flat = _flat_pads(pads)
    mask = xc.new_ones((1, 1) + sizes)
    frac = fn(F.pad(mask, flat), pool, strides)
    return fn(F.pad(xc, flat), pool, strides) / frac


def _flat_pads(pads):
    """Per-dim (before, after) pairs in ``F.pad``'s order (last dim first)."""
    return tuple(v for b, a in reversed(pads) for v in (b, a))


class _Pool2D(Layer):
    kind, rank = "max", 2

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, type(self).__name__)
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = _tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else _tuple(strides, self.rank, "strides")
        self.padding = padding

    def call(self, inputs):
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2}, "
                f"got shape {tuple(inputs.shape)}"
            )
        args = (self.pool_size, self.strides, self.padding, self.kind, type(self).__name__)
        if self.data_format == "channels_first":
            return pool_cf(inputs, *args)
        return pool_nhwc(inputs, *args)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling2D(_Pool2D):
    pass


class AveragePooling2D(_Pool2D):
    kind = "avg"


class MaxPooling1D(_Pool2D):
    rank = 1


class AveragePooling1D(_Pool2D):
    kind, rank = "avg", 1


class _GlobalPool(Layer):
    kind, rank = "avg", 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, type(self).__name__)
        self.keepdims = keepdims

    @property
    def _steps_axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def call(self, inputs):
        if inputs.ndim != self.rank + 2:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2} "
                             f"({self.data_format}), got shape {tuple(inputs.shape)}")
        first = self._steps_axis
        axes = tuple(range(first, first + self.rank))
        return inputs.mean(axes, self.keepdims) if self.kind == "avg" else inputs.amax(axes, self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPool):
    pass


class GlobalAveragePooling1D(_GlobalPool):
    """The mean over time steps; with a mask (Embedding(mask_zero=True), Masking) over the real steps only."""

    rank = 1

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        axis = self._steps_axis
        keep = K.convert(mask).to(inputs.dtype).unsqueeze(1 if axis == 2 else -1)
        return (inputs * keep).sum(axis, self.keepdims) / keep.sum(axis, self.keepdims)

    def compute_mask(self, inputs, previous_mask=None):
        return None


class GlobalMaxPooling2D(_GlobalPool):
    kind = "max"


class GlobalMaxPooling1D(_GlobalPool):
    kind, rank = "max", 1


class MaxPooling3D(_Pool2D):
    """Max over windows of ``(batch, depth, height, width, channels)`` inputs."""

    rank = 3


class AveragePooling3D(_Pool2D):
    """Mean over windows of ``(batch, depth, height, width, channels)`` inputs (Keras's 'same': real inputs
    only)."""

    kind, rank = "avg", 3


class GlobalAveragePooling3D(_GlobalPool):
    rank = 3


class GlobalMaxPooling3D(_GlobalPool):
    kind, rank = "max", 3


class _AdaptivePool(Layer):
    """Pool to a fixed ``output_size`` whatever the input size (PyTorch's adaptive windows, as Keras 3 on every
    backend), channels_last or channels_first."""

    rank, kind = 2, "avg"

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, type(self).__name__)
        if isinstance(output_size, bool) or not isinstance(output_size, (int, tuple, list)) or (
                not isinstance(output_size, int) and len(output_size) != self.rank):  # Keras's TypeError
            raise TypeError(f"{type(self).__name__}: output_size must be an int or a tuple of {self.rank} ints, "
                            f"got {output_size!r}")
        self.output_size = _tuple(output_size, self.rank, f"{type(self).__name__} output_size")

    def call(self, inputs):
        if inputs.ndim != self.rank + 2:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs of rank {self.rank + 2} "
                             f"(batch, ..., channels), got shape {tuple(inputs.shape)}")
        pool = getattr(NF, f"adaptive_{self.kind}_pool{self.rank}d")
        if self.data_format == "channels_first":
            return pool(inputs, self.output_size)
        return _to_channels_last(pool(_to_channels_first(inputs), self.output_size))

    def get_config(self):
        return {**super().get_config(), "output_size": list(self.output_size), "data_format": self.data_format}


class AdaptiveAveragePooling1D(_AdaptivePool):
    rank = 1


class AdaptiveAveragePooling2D(_AdaptivePool):
    pass


class AdaptiveMaxPooling1D(_AdaptivePool):
    rank, kind = 1, "max"


class AdaptiveMaxPooling2D(_AdaptivePool):
    kind = "max"


class AdaptiveAveragePooling3D(_AdaptivePool):
    """Average over adaptive bins of ``(batch, depth, height, width, channels)`` inputs to ``output_size``.

    >>> from ember import keras
    >>> tuple(keras.layers.AdaptiveAveragePooling3D((1, 2, 3))(keras.ops.ones((2, 5, 6, 7, 4))).shape)
    (2, 1, 2, 3, 4)
    """

    rank = 3


class AdaptiveMaxPooling3D(_AdaptivePool):
    """Max over adaptive bins of ``(batch, depth, height, width, channels)`` inputs to ``output_size``.

    >>> from ember import keras
    >>> layer = keras.layers.AdaptiveMaxPooling3D(2, data_format="channels_first")
    >>> tuple(layer(keras.ops.ones((2, 4, 5, 6, 7))).shape)
    (2, 4, 2, 2, 2)
    """

    rank, kind = 3, "max"
