"""RandomElasticTransform (Keras 3's two steps and keys) and MaxNumBoundingBoxes.

RandomElasticTransform's ``get_random_transformation`` draws, per batch, which images to distort
(``apply_transform``, with probability drawn from ``factor``) and one ``distortion_factor`` from ``scale``; it
also hands on the ``seed`` (a ``keras.random.SeedGenerator``) that ``transform_images`` draws the displacement
fields from, through ``keras.ops.image.elastic_transform``. MaxNumBoundingBoxes pads (with ``fill_value``) or
cuts the boxes and box labels of a ``{"images", "bounding_boxes"}`` dict to ``max_number`` per image.

>>> import numpy as np
>>> from ember import keras
>>> images = np.full((2, 6, 6, 1), 50.0, "float32")
>>> elastic = keras.layers.RandomElasticTransform(seed=0)
>>> t = elastic.get_random_transformation(images)
>>> sorted(t), tuple(t["apply_transform"].shape)
(['apply_transform', 'distortion_factor', 'seed'], (2,))
>>> float(elastic.transform_images(images, t).max())  # a flat image stays flat
50.0
"""

from __future__ import annotations

import numpy as np

import ember
from ember.errors import user_errors

from .. import backend as K
from .. import random
from ..ops import image as image_ops
from .base import Layer
from .preprocessing_augment import TransformAugmentation, keras_factor

_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


class RandomElasticTransform(TransformAugmentation):
    """Distort each image (with probability drawn from ``factor``, as Keras draws it) by a smooth random
    displacement field: ``keras.ops.image.elastic_transform`` with ``alpha = 0.1 * f * max(height, width)``
    and ``sigma = 0.05 * f * min(height, width)``, ``f`` drawn once per batch from ``scale``; then the whole
    batch is clipped to ``value_range``. ``interpolation`` is ``"nearest"`` or ``"bilinear"``.

    >>> import numpy as np
    >>> from ember import keras
    >>> images = np.arange(32, dtype="float32").reshape(2, 4, 4, 1)
    >>> elastic = keras.layers.RandomElasticTransform(value_range=(0, 20))
    >>> t = {"apply_transform": np.array([False, False]), "distortion_factor": np.array(0.5)}
    >>> float(elastic.transform_images(images, t).max())  # nothing distorted, but clipped
    20.0
    """

    _kept_keys = ("seed",)

    @user_errors
    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomElasticTransform", factor, (0, 1))
        self.scale = keras_factor("RandomElasticTransform", scale, (0, 1), "scale")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandomElasticTransform: interpolation must be 'nearest' or 'bilinear', got "
                             f"{interpolation!r}")
        if fill_mode not in _FILL_MODES:
            raise ValueError(f"RandomElasticTransform: fill_mode must be one of {_FILL_MODES}, got {fill_mode!r}")
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"RandomElasticTransform: value_range must be a pair of numbers, got {value_range!r}")
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, float(fill_value)
        self.value_range = tuple(float(v) for v in value_range)

    @user_errors
    def get_random_transformation(self, data, training=True, seed=None):
        """Draw ``apply_transform`` (per image), ``distortion_factor`` (one) and the field ``seed``; None when
        not training or when ``factor`` or ``scale`` is at most 0 (nothing would change)."""
        if self.scale[1] == 0 or self.factor[1] == 0:
            return None
        return super().get_random_transformation(data, training, seed)

    @user_errors
    def transform_images(self, images, transformation, training=True):
        """Apply ``transformation``; None (or an empty dict) passes the images through unclipped."""
        return super().transform_images(images, transformation or {}, training)

    def _augment(self, x):
        return x if self.scale[1] == 0 or self.factor[1] == 0 else super()._augment(x)

    def _draw(self, x, gen):
        n = x.shape[0]
        probability = self._rand(gen, (n,), *self.factor)
        apply = self._rand(gen, (n,)) < probability
        return {"apply_transform": apply, "distortion_factor": self._rand(gen, (), *self.scale), "seed": gen}

    def _apply(self, x, t):
        if not t:
            return x
        seed = t.get("seed")
        if not isinstance(seed, (random.SeedGenerator, int)) or isinstance(seed, bool):
            seed = self.seed_generator  # e.g. another framework's generator: draw from this layer's own
        h, w = x.shape[1], x.shape[2]
        f = float(t["distortion_factor"])
        if f <= 0:  # no displacement (Keras's blur would divide by a zero sigma)
            return x.clamp(*self.value_range)
        warped = image_ops.elastic_transform(x, alpha=max(h, w) * 0.1 * f, sigma=min(h, w) * 0.05 * f,
                                             interpolation=self.interpolation, fill_mode=self.fill_mode,
                                             fill_value=self.fill_value, seed=seed, data_format="channels_last")
        out = ember.where(t["apply_transform"].to(ember.bool).reshape(-1, 1, 1, 1), warped.to(x.dtype), x)
        return out.clamp(*self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": list(self.scale),
                "interpolation": self.interpolation, "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "value_range": list(self.value_range)}


def _tensor(value):
    return value if isinstance(value, ember.Tensor) else K.convert(np.asarray(value))


class MaxNumBoundingBoxes(Layer):
    """Give every image exactly ``max_number`` boxes: in a ``{"images", "bounding_boxes": {"boxes",
    "labels"}}`` dict, boxes ``(batch, n, 4)`` and labels ``(batch, n)`` (or one image's ``(n, 4)`` and
    ``(n,)``) are cut to the first ``max_number`` or padded with ``fill_value``; images and other keys pass
    through. Not random, so it acts at inference too. As in Keras, a dict with boxes needs
    ``bounding_box_format``.

    >>> import numpy as np
    >>> from ember import keras
    >>> boxes = {"boxes": np.ones((1, 1, 4), "float32"), "labels": np.array([[7]])}
    >>> pad = keras.layers.MaxNumBoundingBoxes(2, bounding_box_format="xyxy")
    >>> out = pad({"images": np.zeros((1, 4, 4, 3), "float32"), "bounding_boxes": boxes})
    >>> out["bounding_boxes"]["labels"].numpy().tolist(), out["bounding_boxes"]["boxes"][0, 1].numpy().tolist()
    ([[7, -1]], [-1.0, -1.0, -1.0, -1.0])
    """

    @user_errors
    def __init__(self, max_number, fill_value=-1, bounding_box_format=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(max_number, bool) or not isinstance(max_number, (int, np.integer)) or max_number < 1:
            raise ValueError(f"MaxNumBoundingBoxes: max_number must be a positive integer, got {max_number!r}")
        if isinstance(fill_value, bool) or not isinstance(fill_value, (int, float, np.number)):
            raise ValueError(f"MaxNumBoundingBoxes: fill_value must be a number, got {fill_value!r}")
        self.max_number, self.fill_value = int(max_number), int(fill_value)
        self.bounding_box_format = bounding_box_format
        self.data_format = K.standardize_data_format(data_format, "data_format")

    @user_errors
    def call(self, inputs, training=None):
        if not isinstance(inputs, dict):
            return self.transform_images(inputs)
        out = dict(inputs)
        if "bounding_boxes" in inputs:
            if self.bounding_box_format is None:
                raise ValueError("MaxNumBoundingBoxes: the input has 'bounding_boxes', so give the layer a "
                                 "bounding_box_format (e.g. bounding_box_format='xyxy')")
            out["bounding_boxes"] = self.transform_bounding_boxes(inputs["bounding_boxes"], None)
        return out

    def get_random_transformation(self, data, training=True, seed=None):
        """Nothing is random: None."""
        return None

    def transform_images(self, images, transformation=None, training=True):
        """The images, unchanged."""
        return _tensor(images)

    def transform_labels(self, labels, transformation=None, training=True):
        """The (image) labels, unchanged."""
        return _tensor(labels)

    @user_errors
    def transform_bounding_boxes(self, bounding_boxes, transformation=None, training=True):
        """Cut or pad ``boxes`` and ``labels`` (other keys refused) to ``max_number`` along the box axis."""
        extra = sorted(set(bounding_boxes) - {"boxes", "labels"})
        if extra or "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
            raise ValueError(f"MaxNumBoundingBoxes: bounding_boxes must have exactly the keys 'boxes' and 'labels', "
                             f"got {sorted(bounding_boxes)}")
        boxes, labels = _tensor(bounding_boxes["boxes"]), _tensor(bounding_boxes["labels"])
        single = boxes.ndim == 2
        boxes, labels = (boxes.unsqueeze(0), labels.unsqueeze(0)) if single else (boxes, labels)
        if boxes.ndim != 3 or boxes.shape[-1] != 4 or tuple(labels.shape) != tuple(boxes.shape[:2]):
            raise ValueError(f"MaxNumBoundingBoxes: expected boxes (batch, n, 4) and labels (batch, n), got "
                             f"{tuple(bounding_boxes['boxes'].shape)} and {tuple(bounding_boxes['labels'].shape)}")
        out = dict(bounding_boxes)
        out["boxes"], out["labels"] = self._fit(boxes), self._fit(labels)
        if single:
            out["boxes"], out["labels"] = out["boxes"][0], out["labels"][0]
        return out

    def _fit(self, x):
        x = x[:, :self.max_number]
        missing = self.max_number - x.shape[1]
        if missing > 0:
            pad = ember.full((x.shape[0], missing, *x.shape[2:]), self.fill_value, dtype=x.dtype)
            x = ember.cat([x, pad], 1)
        return x

    def transform_segmentation_masks(self, segmentation_masks, transformation=None, training=True):
        """The masks, unchanged."""
        return _tensor(segmentation_masks)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_number": self.max_number, "fill_value": self.fill_value,
                "bounding_box_format": self.bounding_box_format, "data_format": self.data_format}
