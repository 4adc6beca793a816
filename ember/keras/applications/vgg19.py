"""``keras.applications.vgg19``: VGG19 with its 'caffe' ``preprocess_input``."""

from .vgg16 import VGG19, decode_predictions, preprocess_input  # noqa: F401
