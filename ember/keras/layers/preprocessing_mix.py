"""Augmentations that mix the images of a batch: MixUp and CutMix (Keras 3's two steps and dict keys).

Each image is blended with (MixUp) or has a rectangle pasted from (CutMix) the image at a random permutation
of the batch; a call on ``{"images": ..., "labels": ...}`` mixes the labels by the same weights (one-hot or
soft labels ``(batch, classes)``). ``get_random_transformation`` draws ``permutation_order`` and
``mix_weight`` (CutMix also its ``batch_masks``, laid out like the images); ``transform_images`` /
``transform_labels`` apply a transformation, so one drawn by real Keras gives Keras's result.

>>> import numpy as np
>>> from ember import keras
>>> images = np.stack([np.zeros((2, 2, 1)), np.ones((2, 2, 1))]).astype("float32")
>>> t = {"mix_weight": np.array([0.75, 0.5]), "permutation_order": np.array([1, 0])}
>>> keras.layers.MixUp().transform_images(images, t)[:, 0, 0, 0].tolist()
[0.25, 0.5]
"""

from __future__ import annotations

import ember
from ember.errors import user_errors

from .. import backend as K
from .. import random
from .preprocessing_augment import TransformAugmentation, keras_factor


def _tensor(value):
    return value if isinstance(value, ember.Tensor) else K.convert(value)


class _Mixing(TransformAugmentation):
    """The dict call (``images`` and ``labels``) and the label rule shared by MixUp and CutMix."""

    @user_errors
    def call(self, inputs, training=None):
        if not isinstance(inputs, dict):
            return super().call(inputs, training)
        training = True if training is None else training
        t = self.get_random_transformation(inputs, training=training)
        out = dict(inputs)
        out["images"] = self.transform_images(inputs["images"], t or {}, training=training and t is not None)
        if "labels" in inputs:
            out["labels"] = self.transform_labels(inputs["labels"], t, training=training)
        return out

    @user_errors
    def transform_labels(self, labels, transformation, training=True):
        """``w * labels + (1 - w) * labels[permutation_order]`` per sample (labels unchanged without a
        transformation)."""
        y = _tensor(labels)
        if not training or not transformation:
            return y
        y = y if y.is_floating_point() else y.to(ember.float32)
        order = _tensor(transformation["permutation_order"]).to(ember.int64)
        weight = _tensor(transformation["mix_weight"]).to(y.dtype).reshape(-1, *([1] * (y.ndim - 1)))
        return weight * y + (1.0 - weight) * y[order]

    def _permutation(self, gen, n):
        return random.shuffle(ember.arange(n, dtype=ember.int64), seed=gen)


class MixUp(_Mixing):
    """Blend each image with another of the batch: ``w * x + (1 - w) * x[permutation_order]``, ``w`` drawn
    from Beta(``alpha``, ``alpha``) per image (Zhang et al., 2017); labels are mixed the same way."""

    @user_errors
    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.alpha = alpha

    def _draw(self, x, gen):
        n = x.shape[0]
        order = self._permutation(gen, n)
        return {"mix_weight": random.beta((n,), self.alpha, self.alpha, seed=gen), "permutation_order": order}

    def _apply(self, x, t):
        weight = t["mix_weight"].to(x.dtype).reshape(-1, 1, 1, 1)
        return weight * x + (1.0 - weight) * x[t["permutation_order"].to(ember.int64)]

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class CutMix(_Mixing):
    """Paste a random rectangle of another image of the batch into each image (Yun et al., 2019): Keras's
    draw of a Beta(a, a) weight (``a`` from ``factor``), a box of sides ``sqrt(1 - weight)`` of the image's,
    and the labels mixed by the share of the image kept. A single image passes through (Keras draws
    nothing for it).

    >>> import numpy as np
    >>> from ember import keras
    >>> images = np.stack([np.zeros((4, 4, 1)), np.ones((4, 4, 1))]).astype("float32")
    >>> masks = np.zeros((2, 4, 4, 1), bool); masks[:, :2, :2] = True  # a quarter of each image
    >>> t = {"permutation_order": np.array([1, 0]), "mix_weight": np.full((2, 1, 1, 1), 0.75),
    ...      "batch_masks": masks}
    >>> cut = keras.layers.CutMix()
    >>> cut.transform_images(images, t).numpy().mean((1, 2, 3)).tolist()
    [0.25, 0.75]
    >>> cut.transform_labels(np.eye(2, dtype="float32"), t).numpy().tolist()
    [[0.75, 0.25], [0.25, 0.75]]
    """

    _image_keys = ("batch_masks",)

    @user_errors
    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("CutMix", factor, (0, 1))

    @user_errors
    def get_random_transformation(self, data, training=True, seed=None):
        images = data["images"] if isinstance(data, dict) else data
        if getattr(images, "ndim", len(getattr(images, "shape", ()))) == 3:
            return None
        return super().get_random_transformation(data, training, seed)

    def _bounds(self, gen, n, length, ratio):
        crop = ratio * length
        start = self._rand(gen, (n,)) * (length - crop)
        return start, start + crop

    def _draw(self, x, gen):
        n, h, w, c = x.shape
        alpha = float(self._rand(gen, (), *self.factor)) + 1e-6
        ratio = (1.0 - random.beta((n,), alpha, alpha, seed=gen)).sqrt()
        x0, x1 = self._bounds(gen, n, w, ratio)
        y0, y1 = self._bounds(gen, n, h, ratio)
        gx = ember.arange(w, dtype=x.dtype).reshape(1, 1, w, 1)
        gy = ember.arange(h, dtype=x.dtype).reshape(1, h, 1, 1)
        box = [v.reshape(n, 1, 1, 1) for v in (x0, x1, y0, y1)]
        masks = ((gx >= box[0]) & (gx < box[1]) & (gy >= box[2]) & (gy < box[3])).expand(n, h, w, c)
        return {"permutation_order": self._permutation(gen, n).to(ember.int32), "batch_masks": masks,
                "mix_weight": (1.0 - (x1 - x0) * (y1 - y0) / float(w * h)).reshape(n, 1, 1, 1)}

    def _apply(self, x, t):
        pasted = x[t["permutation_order"].to(ember.int64)]
        return ember.where(t["batch_masks"].to(ember.bool), pasted, x)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}
