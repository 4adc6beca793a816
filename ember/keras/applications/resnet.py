"""ResNet50 (He et al., v1 with bottleneck blocks), with Keras 3's layer names: ``conv1_pad``,
``conv1_conv``, ``conv1_bn``, ``conv1_relu``, ``pool1_pad``, ``pool1_pool``, then ``convS_blockB_{0,1,2,3}_{conv,
bn}``, ``_add``, ``_out`` for stages 2-5, and ``avg_pool`` / ``predictions``.

>>> from ember import keras
>>> model = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
>>> model.count_params()
23608202
"""

from .. import layers
from . import imagenet_utils
from ._common import check_args, head, model

_EPS = 1.001e-5


def _bn(name):
    return layers.BatchNormalization(axis=3, epsilon=_EPS, name=name)


def _block(x, filters, stride=1, conv_shortcut=True, name=""):
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(_bn(f"{name}_1_bn")(x))
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(_bn(f"{name}_2_bn")(x))
    x = _bn(f"{name}_3_bn")(layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x))
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _stack(x, filters, blocks, stride1=2, name=""):
    x = _block(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = _block(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def stem(inputs, use_bias=True, preact=False):
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = layers.Activation("relu", name="conv1_relu")(_bn("conv1_bn")(x))
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


_DEPTHS = {"ResNet50": (3, 4, 6, 3), "ResNet101": (3, 4, 23, 3), "ResNet152": (3, 8, 36, 3)}


def _resnet(arch, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name):
    inputs = check_args(arch, weights, include_top, classes, input_shape, input_tensor, 224)
    x = stem(inputs)
    for filters, blocks, stride, stage in zip((64, 128, 256, 512), _DEPTHS[arch], (1, 2, 2, 2),
                                              ("conv2", "conv3", "conv4", "conv5")):
        x = _stack(x, filters, blocks, stride1=stride, name=stage)
    return model(inputs, head(x, include_top, pooling, classes, classifier_activation), name)


def ResNet50(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
             classes=1000, classifier_activation="softmax", name="resnet50"):
    return _resnet("ResNet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


def ResNet101(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
              classes=1000, classifier_activation="softmax", name="resnet101"):
    """ResNet101: ResNet50 with 23 blocks in stage 4 (Keras's names and parameter count)."""
    return _resnet("ResNet101", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


def ResNet152(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,  # noqa: N802
              classes=1000, classifier_activation="softmax", name="resnet152"):
    """ResNet152: 8 blocks in stage 3 and 36 in stage 4 (Keras's names and parameter count)."""
    return _resnet("ResNet152", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


preprocess_input = imagenet_utils.preprocess_caffe
decode_predictions = imagenet_utils.decode_predictions
