"""What the application builders share: argument checks, the input, and the classifier head."""

from __future__ import annotations

from .. import layers
from ..models.model import Functional


def check_args(name, weights, include_top, classes, input_shape, input_tensor, default_size):
    if weights not in (None,):
        raise ValueError(
            f"keras.applications.{name}: only weights=None (random initialisation) is available in Ember, got "
            f"weights={weights!r}; to use pretrained weights, build the model with weights=None and "
            "set_weights(...) from a converted copy of the Keras model's weights"
        )
    if input_tensor is not None:
        return input_tensor
    if input_shape is None:
        input_shape = (default_size, default_size, 3) if include_top else (None, None, 3)
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(f"keras.applications.{name}: input_shape must be (height, width, channels), got "
                         f"{input_shape!r}")
    if input_shape[0] is None or input_shape[1] is None:
        raise ValueError(
            f"keras.applications.{name}: pass a fixed input_shape=(height, width, 3); Ember builds functional "
            "models from known spatial sizes (Keras accepts None here)"
        )
    if min(input_shape[:2]) < 32:
        raise ValueError(f"keras.applications.{name}: input_shape {input_shape} is smaller than 32x32")
    return layers.Input(shape=tuple(input_shape))


def head(x, include_top, pooling, classes, classifier_activation, flatten_top=False):
    if include_top:
        if flatten_top:
            return x
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    if pooling is not None:
        raise ValueError(f"keras.applications: pooling must be None, 'avg' or 'max', got {pooling!r}")
    return x


def model(inputs, outputs, name):
    return Functional(inputs, outputs, name=name)


