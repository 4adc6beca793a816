"""EfficientNetB0-B7 (Tan & Le): MBConv blocks with squeeze-and-excitation and swish, scaled by width, depth and
resolution coefficients, with Keras 3's layer names (``stem_conv``, ``block1a_dwconv``, ``block2b_se_excite``,
``block2b_drop``, ``top_conv``, ...) and parameter counts. Preprocessing is inside the model as in Keras: a
``Rescaling(1/255)`` and a ``Normalization`` layer (identity until weights are set), so inputs are pixels in
[0, 255] and ``preprocess_input`` passes them through.

>>> from ember import keras
>>> model = keras.applications.EfficientNetB0(weights=None, input_shape=(64, 64, 3), classes=10)
>>> model.count_params(), model.name, model.layers[4].name
(4062381, 'efficientnetb0', 'stem_conv')
"""

import copy
import math

from .. import initializers, layers
from . import imagenet_utils
from ._common import check_args, head, model

# (kernel_size, repeats, filters_in, filters_out, expand_ratio, strides); id_skip and se_ratio 0.25 throughout
_BLOCKS = (
    (3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1),
)
_SE_RATIO = 0.25
# (width, depth, default resolution, top dropout) per variant, Keras's coefficients
_VARIANTS = {
    "B0": (1.0, 1.0, 224, 0.2), "B1": (1.0, 1.1, 240, 0.2), "B2": (1.1, 1.2, 260, 0.3),
    "B3": (1.2, 1.4, 300, 0.3), "B4": (1.4, 1.8, 380, 0.4), "B5": (1.6, 2.2, 456, 0.4),
    "B6": (1.8, 2.6, 528, 0.5), "B7": (2.0, 3.1, 600, 0.5),
}


def _conv_init():
    return initializers.VarianceScaling(2.0, "fan_out", "truncated_normal")


def _correct_pad(x, kernel_size):
    """Zero padding that makes a stride-2 'valid' convolution centre like TensorFlow's 'same'."""
    adjust = (1 - x.shape[1] % 2, 1 - x.shape[2] % 2)
    half = kernel_size // 2
    return ((half - adjust[0], half), (half - adjust[1], half))


def _round_filters(filters, width, divisor=8):
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * filters else new)


def _conv_bn_act(x, filters, name, activation="swish"):
    """1x1 convolution without bias, BatchNormalization and (optionally) the activation: ``{name}conv``/bn/..."""
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                      name=f"{name}conv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}bn")(x)
    return layers.Activation(activation, name=f"{name}activation")(x) if activation else x


def _squeeze_excite(x, filters_in, filters, activation, name):
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    se = layers.Conv2D(max(1, int(filters_in * _SE_RATIO)), 1, padding="same", activation=activation,
                       kernel_initializer=_conv_init(), name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=_conv_init(),
                       name=f"{name}se_expand")(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def _block(inputs, activation, drop_rate, name, filters_in, filters_out, kernel_size, strides, expand_ratio):
    """One MBConv block: expand (1x1), depthwise, squeeze-excite, project (1x1), stochastic-depth residual."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                          name=f"{name}expand_conv")(x)
        x = layers.BatchNormalization(axis=3, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(padding=_correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same" if strides == 1 else "valid",
                               use_bias=False, depthwise_initializer=_conv_init(), name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    x = _squeeze_excite(x, filters_in, filters, activation, name)
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                      name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:  # stochastic depth: one keep/drop draw per example
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,  # noqa: N802
                 drop_connect_rate=0.2, activation="swish", name="efficientnet", include_top=True, weights=None,
                 input_tensor=None, input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax"):
    """The EfficientNet family's builder (``EfficientNetB0`` ... ``B7`` call it with Keras's coefficients)."""
    inputs = check_args("EfficientNet", weights, include_top, classes, input_shape, input_tensor, default_size)
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    x = layers.Normalization(axis=3)(x)
    x = layers.ZeroPadding2D(padding=_correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(_round_filters(32, width_coefficient), 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=_conv_init(), name="stem_conv")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    repeats = [int(math.ceil(depth_coefficient * spec[1])) for spec in _BLOCKS]
    done, total = 0, float(sum(repeats))
    for i, ((kernel, _, f_in, f_out, expand, strides), count) in enumerate(zip(copy.deepcopy(_BLOCKS), repeats)):
        f_in, f_out = _round_filters(f_in, width_coefficient), _round_filters(f_out, width_coefficient)
        for j in range(count):
            x = _block(x, activation, drop_connect_rate * done / total, f"block{i + 1}{chr(j + 97)}_",
                       f_in if j == 0 else f_out, f_out, kernel, strides if j == 0 else 1, expand)
            done += 1
    x = _conv_bn_act(x, _round_filters(1280, width_coefficient), "top_", activation)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        dense_init = initializers.VarianceScaling(1.0 / 3.0, "fan_out", "uniform")
        x = layers.Dense(classes, activation=classifier_activation, kernel_initializer=dense_init,
                         name="predictions")(x)
    else:
        x = head(x, False, pooling, classes, classifier_activation)
    return model(inputs, x, name)


def _variant(key):
    width, depth, size, dropout = _VARIANTS[key]

    def build(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=f"efficientnet{key.lower()}"):
        return EfficientNet(width, depth, size, dropout, name=name, include_top=include_top, weights=weights,
                            input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                            classifier_activation=classifier_activation)

    build.__name__ = build.__qualname__ = f"EfficientNet{key}"
    build.__doc__ = (f"EfficientNet{key}: width x{width}, depth x{depth}, default input {size}x{size}, top dropout "
                     f"{dropout} (Keras's coefficients). Inputs are pixels in [0, 255].")
    return build


EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3 = (_variant(k) for k in ("B0", "B1", "B2", "B3"))
EfficientNetB4, EfficientNetB5, EfficientNetB6, EfficientNetB7 = (_variant(k) for k in ("B4", "B5", "B6", "B7"))


def preprocess_input(x, data_format=None):
    """A pass-through, as in Keras: EfficientNet's rescaling and normalisation are layers inside the model."""
    return x


decode_predictions = imagenet_utils.decode_predictions
