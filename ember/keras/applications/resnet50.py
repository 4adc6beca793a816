"""``keras.applications.resnet50``: ResNet50 with its 'caffe' ``preprocess_input`` (Keras keeps this module beside
``keras.applications.resnet``)."""

from .resnet import ResNet50, decode_predictions, preprocess_input  # noqa: F401
