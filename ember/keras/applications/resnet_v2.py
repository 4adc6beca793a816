"""ResNet50V2 (pre-activation ResNet), with Keras 3's layer names (``convS_blockB_preact_bn``, ``_2_pad``,
``_out``, ``post_bn`` / ``post_relu``).

>>> from ember import keras
>>> model = keras.applications.ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=10)
>>> model.count_params()
23585290
"""

from .. import layers
from . import imagenet_utils
from ._common import check_args, head, model
from .resnet import _bn, stem


def _block(x, filters, stride=1, conv_shortcut=False, name=""):
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(_bn(f"{name}_preact_bn")(x))
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = layers.Activation("relu", name=f"{name}_1_relu")(_bn(f"{name}_1_bn")(x))
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(_bn(f"{name}_2_bn")(x))
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def _stack(x, filters, blocks, stride1=2, name=""):
    x = _block(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = _block(x, filters, name=f"{name}_block{i}")
    return _block(x, filters, stride=stride1, name=f"{name}_block{blocks}")


_DEPTHS = {"ResNet50V2": (3, 4, 6, 3), "ResNet101V2": (3, 4, 23, 3), "ResNet152V2": (3, 8, 36, 3)}


def _resnet_v2(arch, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
               name):
    inputs = check_args(arch, weights, include_top, classes, input_shape, input_tensor, 224)
    x = stem(inputs, preact=True)
    for filters, blocks, stride, stage in zip((64, 128, 256, 512), _DEPTHS[arch], (2, 2, 2, 1),
                                              ("conv2", "conv3", "conv4", "conv5")):
        x = _stack(x, filters, blocks, stride1=stride, name=stage)
    x = layers.Activation("relu", name="post_relu")(_bn("post_bn")(x))
    return model(inputs, head(x, include_top, pooling, classes, classifier_activation), name)


def ResNet50V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
               classes=1000, classifier_activation="softmax", name="resnet50v2"):
    return _resnet_v2("ResNet50V2", include_top, weights, input_tensor, input_shape, pooling, classes,
                      classifier_activation, name)


def ResNet101V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
                classes=1000, classifier_activation="softmax", name="resnet101v2"):
    """ResNet101V2: 23 pre-activation blocks in stage 4 (Keras's names and parameter count)."""
    return _resnet_v2("ResNet101V2", include_top, weights, input_tensor, input_shape, pooling, classes,
                      classifier_activation, name)


def ResNet152V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
                classes=1000, classifier_activation="softmax", name="resnet152v2"):
    """ResNet152V2: 8 blocks in stage 3, 36 in stage 4 (Keras's names and parameter count)."""
    return _resnet_v2("ResNet152V2", include_top, weights, input_tensor, input_shape, pooling, classes,
                      classifier_activation, name)


preprocess_input = imagenet_utils.preprocess_tf
decode_predictions = imagenet_utils.decode_predictions
