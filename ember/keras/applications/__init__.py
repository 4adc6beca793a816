"""``keras.applications``: ResNet50/101/152 (and V2), MobileNetV2, VGG16, VGG19, EfficientNetB0-B7 with Keras 3's
architecture, layer names and parameter counts (``weights=None``: freshly initialised; ``include_top``,
``input_shape``, ``classes``, ``pooling``, ``classifier_activation`` as in Keras). Weights from a Keras model of the
same build carry over with ``set_weights(keras_model.get_weights())``."""

from . import efficientnet, imagenet_utils, mobilenet_v2, resnet, resnet50, resnet_v2, vgg16, vgg19  # noqa: F401
from .efficientnet import (  # noqa: F401
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
    EfficientNetB4,
    EfficientNetB5,
    EfficientNetB6,
    EfficientNetB7,
)
from .mobilenet_v2 import MobileNetV2  # noqa: F401
from .resnet import ResNet50, ResNet101, ResNet152  # noqa: F401
from .resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2  # noqa: F401
from .vgg16 import VGG16, VGG19  # noqa: F401
