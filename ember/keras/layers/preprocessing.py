"""Preprocessing layers that run inside a model: Normalization (with ``adapt``), Resizing, CenterCrop,
RandomFlip, CategoryEncoding, Discretization. Images are channels_last; random layers act in training only and
draw through ``keras.random`` (Ember's generator, so a compiled step draws fresh numbers each call).

>>> import numpy as np
>>> from ember import keras
>>> norm = keras.layers.Normalization()
>>> norm.adapt(np.array([[0.0], [2.0], [4.0]], "float32"))
>>> [round(float(v), 3) for v in norm(np.array([[2.0], [4.0]], "float32")).numpy().ravel()]
[0.0, 1.225]
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.errors import user_errors
from ember.nn import functional as NF

from .. import backend as K
from .. import random
from .base import Layer


def _as_array(data):
    """``adapt`` data: an array, a tensor, or an iterable of batches (a keras.utils.PyDataset, a generator)."""
    if isinstance(data, (np.ndarray, list, tuple)) or hasattr(data, "shape"):
        return np.asarray(K.to_numpy(data) if hasattr(data, "detach") else data)
    return np.concatenate([np.asarray(K.to_numpy(b[0] if isinstance(b, tuple) else b)) for b in data])


def _align(value, keep, broadcast):
    """Given statistics as Keras aligns them: a scalar broadcasts; otherwise its dimensions map to the kept axes
    from the right."""
    value = np.asarray(value, "float32")
    if value.ndim:
        expanded = [1] * len(broadcast)
        for i in range(1, value.ndim + 1):
            expanded[keep[-i]] = value.shape[-i]
        value = value.reshape(expanded)
    return np.ascontiguousarray(np.broadcast_to(value, tuple(1 if b is None else b for b in broadcast)))


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), 1e-7)`` per feature along ``axis``; ``adapt(data)`` measures the
    mean and variance (``invert=True`` undoes it)."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis or ())
        self.invert = invert
        self._given = None if mean is None else (np.asarray(mean, "float32"), np.asarray(variance, "float32"))

    def _axes(self, ndim):
        """Kept axes (sorted, non-negative) and the shape the statistics broadcast to."""
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Normalization {self.name!r}: axis {self.axis} is out of range for inputs with "
                             f"{ndim} dimensions")
        return tuple(sorted(a % ndim for a in self.axis))

    def build(self, input_shape):
        shape = tuple(input_shape)
        keep = self._axes(len(shape))
        self._broadcast = tuple(shape[a] if a in keep else 1 for a in range(len(shape)))
        if self._given is None:  # Keras's layout: mean/variance over the kept axes and an int count
            stat_shape = tuple(shape[a] for a in keep)
            self.mean = self.add_weight(stat_shape, "zeros", trainable=False, name="mean")
            self.variance = self.add_weight(stat_shape, "ones", trainable=False, name="variance")
            self.count = self.add_weight((), "zeros", dtype="int32", trainable=False, name="count")
        else:  # given statistics are constants, not weights (as in Keras)
            self.mean, self.variance = (ember.tensor(_align(v, keep, self._broadcast)) for v in self._given)
        self.built = True

    @user_errors
    def adapt(self, data, batch_size=None, steps=None):
        """Set the mean and variance from ``data`` (reduced over every axis but ``axis``)."""
        if self._given is not None:
            raise ValueError(f"Normalization {self.name!r}: adapt() measures mean and variance, but they were "
                             "given to the constructor; build the layer without mean=/variance= to adapt it")
        x = _as_array(data).astype("float64")
        if x.ndim == 1:
            x = x[:, None]
        if not self.built:
            self.build((None,) + x.shape[1:])
        keep = self._axes(x.ndim)
        axes = tuple(a for a in range(x.ndim) if a not in keep)
        self.mean.assign(x.mean(axis=axes).astype("float32"))
        self.variance.assign(x.var(axis=axes).astype("float32"))
        self.count.assign(np.array(np.prod([x.shape[a] for a in axes]), "int32"))

    def call(self, inputs):
        x = inputs if inputs.is_floating_point() else inputs.to(ember.float32)
        shape = tuple(1 if s is None else s for s in self._broadcast[: x.ndim])
        mean, variance = self.mean.reshape(shape), self.variance.reshape(shape)
        std = variance.sqrt().clamp(min=1e-7)
        return mean + x * std if self.invert else (x - mean) / std

    def get_config(self):
        given = {} if self._given is None else {"mean": self._given[0].tolist(), "variance": self._given[1].tolist()}
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert, **given}


def _resize(x, height, width, interpolation):
    # Keras's "nearest" samples at pixel centres (torch's "nearest-exact"), as its bilinear does
    mode = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}.get(interpolation)
    if mode is None:
        raise ValueError(f"Resizing: interpolation must be 'bilinear', 'nearest' or 'bicubic', got {interpolation!r}")
    channels_first = x.permute(0, 3, 1, 2)
    kwargs = {} if mode == "nearest-exact" else {"align_corners": False}
    return NF.interpolate(channels_first, size=(height, width), mode=mode, **kwargs).permute(0, 2, 3, 1)


def _images(layer, inputs):
    x = inputs if inputs.is_floating_point() else inputs.to(ember.float32)
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected images (batch, height, width, "
                         f"channels) or one image (height, width, channels), got shape {tuple(inputs.shape)}")
    return x, False


class Resizing(Layer):
    """Resize images to ``(height, width)`` (half-pixel bilinear by default); ``crop_to_aspect_ratio``
    first takes the largest centred crop of the target aspect ratio, ``pad_to_aspect_ratio`` instead pads
    (centred, with ``fill_value``) to that ratio. ``data_format`` as Keras's."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
        if fill_mode != "constant":
            raise ValueError(f"Resizing: fill_mode must be 'constant' (Keras's only mode), got {fill_mode!r}")
        if antialias:
            raise NotImplementedError("Resizing(antialias=True) is not supported by Ember; resize in steps of at "
                                      "most 2x, or blur before resizing down")
        self.height, self.width, self.interpolation = int(height), int(width), interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = crop_to_aspect_ratio, pad_to_aspect_ratio
        self.fill_mode, self.fill_value, self.antialias = fill_mode, float(fill_value), antialias
        self.data_format = K.standardize_data_format(data_format, "Resizing")

    def call(self, inputs):
        x, single = _images(self, inputs)
        if self.data_format == "channels_first":
            x = x.permute(0, 2, 3, 1)
        h, w = x.shape[1:3]
        if self.crop_to_aspect_ratio:
            ch = min(h, int(w * self.height / self.width))
            cw = min(w, int(h * self.width / self.height))
            top, left = (h - ch) // 2, (w - cw) // 2
            x = x[:, top : top + ch, left : left + cw]
        elif self.pad_to_aspect_ratio:
            ph = max(int(w * self.height / self.width) - h, 0)
            pw = max(int(h * self.width / self.height) - w, 0)
            x = F.pad(x, (0, 0, pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=self.fill_value)
        out = _resize(x, self.height, self.width, self.interpolation)
        if self.data_format == "channels_first":
            out = out.permute(0, 3, 1, 2)
        return out[0] if single else out

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias, "data_format": self.data_format}


class CenterCrop(Layer):
    """The centred ``(height, width)`` crop (an image smaller than that is resized up first, as Keras);
    channels_last or channels_first."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        self.data_format = K.standardize_data_format(data_format, "CenterCrop")

    def call(self, inputs):
        x, single = _images(self, inputs)
        first = self.data_format == "channels_first"
        h, w = x.shape[2:4] if first else x.shape[1:3]
        if h < self.height or w < self.width:
            out = Resizing(self.height, self.width, crop_to_aspect_ratio=True, data_format=self.data_format)(x)
        else:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            rows, cols = slice(top, top + self.height), slice(left, left + self.width)
            out = x[:, :, rows, cols] if first else x[:, rows, cols]
        return out[0] if single else out

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}


class RandomFlip(Layer):
    """In training (and on a direct call, as Keras), flip each image left-right and/or up-down with probability 1/2."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = K.standardize_data_format(data_format, "RandomFlip")
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip: mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', "
                             f"got {mode!r}")
        self.mode, self.seed = mode, seed
        self.seed_generator = random.SeedGenerator(seed)

    def _maybe_flip(self, x, axis):
        coin = random.uniform((x.shape[0], 1, 1, 1), seed=self.seed_generator) < 0.5
        return F.where(coin, x.flip((axis,)), x)

    def call(self, inputs, training=None):
        if training is None:
            training = True  # Keras's random layers augment unless told training=False (fit/predict tell)
        if not training:
            return inputs
        x, single = _images(self, inputs)
        rows = 2 if self.data_format == "channels_first" else 1
        if "horizontal" in self.mode:
            x = self._maybe_flip(x, rows + 1)
        if "vertical" in self.mode:
            x = self._maybe_flip(x, rows)
        return x[0] if single else x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "seed": self.seed, "data_format": self.data_format}


class CategoryEncoding(Layer):
    """Integer ids in ``[0, num_tokens)`` to ``one_hot`` / ``multi_hot`` / ``count`` vectors."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode not in ("one_hot", "multi_hot", "count"):
            raise ValueError(f"CategoryEncoding: output_mode must be 'one_hot', 'multi_hot' or 'count', "
                             f"got {output_mode!r}")
        if num_tokens is None:
            raise ValueError("CategoryEncoding: pass num_tokens (the number of ids)")
        self.num_tokens, self.output_mode = int(num_tokens), output_mode

    def call(self, inputs, count_weights=None):
        ids = inputs.to(ember.int64)
        if int(ids.min()) < 0 or int(ids.max()) >= self.num_tokens:
            raise ValueError(f"CategoryEncoding {self.name!r}: ids must be in [0, {self.num_tokens}), got values "
                             f"in [{int(ids.min())}, {int(ids.max())}]")
        onehot = NF.one_hot(ids, self.num_tokens).to(ember.float32)
        if self.output_mode == "one_hot":
            if ids.ndim >= 2 and ids.shape[-1] == 1:
                return onehot.squeeze(-2)
            return onehot
        counts = onehot.sum(-2)  # a rank-1 input is one sample's ids (Keras's rule): counts of shape (num_tokens,)
        return (counts > 0).to(ember.float32) if self.output_mode == "multi_hot" else counts

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}


class Discretization(Layer):
    """Bucket ids: ``i`` where ``bin_boundaries[i-1] <= x < bin_boundaries[i]`` (``adapt`` picks
    ``num_bins`` quantile boundaries)."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", **kwargs):
        super().__init__(**kwargs)
        if output_mode != "int":
            raise ValueError(f"Discretization: only output_mode='int' is supported, got {output_mode!r}")
        if bin_boundaries is None and num_bins is None:
            raise ValueError("Discretization: pass bin_boundaries=[...] or num_bins= (then call adapt)")
        self.bin_boundaries = None if bin_boundaries is None else [float(b) for b in bin_boundaries]
        self.num_bins, self.output_mode = num_bins, output_mode

    def adapt(self, data, batch_size=None, steps=None):
        x = _as_array(data).astype("float64").ravel()
        qs = np.quantile(x, np.linspace(0, 1, self.num_bins + 1)[1:-1])
        self.bin_boundaries = [float(q) for q in qs]

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization {self.name!r}: call adapt(data) first (no bin_boundaries)")
        bounds = K.convert(np.asarray(self.bin_boundaries, "float32"))
        x = inputs if inputs.is_floating_point() else inputs.to(ember.float32)
        return (x.unsqueeze(-1) >= bounds).to(ember.int64).sum(-1)

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "output_mode": self.output_mode}
