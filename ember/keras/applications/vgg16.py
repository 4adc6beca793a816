"""VGG16 and VGG19 (Simonyan & Zisserman): five conv blocks ``blockN_convM`` / ``blockN_pool`` and the ``fc1``/``fc2``/
``predictions`` head, as Keras 3 builds it.

>>> from ember import keras
>>> model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
>>> model.count_params(), model.layers[1].name
(14714688, 'block1_conv1')
"""

from .. import layers
from . import imagenet_utils
from ._common import check_args, head, model

_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
_BLOCKS_19 = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def VGG16(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
          classes=1000, classifier_activation="softmax", name="vgg16"):
    return _vgg("VGG16", _BLOCKS, include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name)


def VGG19(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
          classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19: VGG16 with four convs in blocks 3-5 (Keras's layer names and parameter count).

    >>> from ember import keras
    >>> keras.applications.VGG19(include_top=False, input_shape=(32, 32, 3)).count_params()
    20024384
    """
    return _vgg("VGG19", _BLOCKS_19, include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name)


def _vgg(arch, blocks, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
         name):
    inputs = check_args(arch, weights, include_top, classes, input_shape, input_tensor, 224)
    x = inputs
    for b, (filters, convs) in enumerate(blocks, start=1):
        for c in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, activation="relu", padding="same", name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    else:
        x = head(x, False, pooling, classes, classifier_activation)
    return model(inputs, x, name)


preprocess_input = imagenet_utils.preprocess_caffe
decode_predictions = imagenet_utils.decode_predictions
