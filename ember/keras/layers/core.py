"""Core layers: Input, Dense, Activation, Dropout, Flatten, Reshape, Permute, Lambda, Rescaling, Embedding.

Dense is ``ember.nn.functional.linear`` (the fused ``linear`` primitive, with Keras's ``(in, out)`` kernel
transposed as a view), Dropout is ``keras.random.dropout`` (``nn.functional.dropout``: the mask comes from the
``uniform`` primitive, so a compiled step draws a fresh one each call) and Embedding is
``nn.functional.embedding``.

>>> from ember import keras
>>> layer = keras.layers.Dense(4, activation="relu")
>>> tuple(layer(keras.ops.ones((2, 3))).shape), [tuple(w.shape) for w in layer.weights]
((2, 4), [(3, 4), (4,)])
"""

from __future__ import annotations

import math

import ember
from ember.nn import functional as NF

from .. import activations, initializers, random
from .. import backend as K
from .base import Layer, _constraint, constraint_configs
from .symbolic import KerasTensor


def _init_config(init):
    return initializers.serialize(init) if init is not None else None


def mark_logits(out, activation, logits):
    """Remember the logits of a softmax/sigmoid output, so cross-entropy losses can use the stable form."""
    if activation is activations.softmax or activation is activations.sigmoid:
        out._keras_logits = logits
        out._keras_activation = activation.__name__
    return out


class InputLayer(Layer):
    """The layer behind ``keras.Input``: it holds the symbolic input tensor."""

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        name=None,
        batch_shape=None,
        input_tensor=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype or K.floatx(), **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: pass shape=(...) (without the batch dimension) or batch_shape")
            batch_shape = (batch_size,) + K.standardize_shape(shape)
        self.batch_shape = tuple(batch_shape)
        self.output_tensor = input_tensor or KerasTensor(self.batch_shape, self.dtype, name=self.name)
        self.output_tensor._input_layer = self
        self.built = True

    def call(self, x):
        return x

    @property
    def input(self):
        return self.output_tensor

    @property
    def output(self):  # as Keras: `[layer.output for layer in model.layers]` starts with the input
        return self.output_tensor

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}


def Input(
    shape=None,
    batch_size=None,
    dtype=None,
    name=None,
    batch_shape=None,
    sparse=None,  # noqa: N802
    tensor=None,
):
    """A symbolic input: ``keras.Input(shape=(28, 28))`` has shape ``(None, 28, 28)``.

    >>> from ember import keras
    >>> keras.Input(shape=(28, 28)).shape
    (None, 28, 28)
    """
    return InputLayer(shape, batch_size, dtype, name, batch_shape).output_tensor


class Dense(Layer):
    """``activation(x @ kernel + bias)``; kernel ``(in, units)`` (glorot_uniform), bias ``(units,)``
    (zeros)."""
    _float_inputs = True  # bool/int inputs are cast to the compute dtype (Layer._as_compute_float)

    supports_masking = True

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units, self.use_bias = units, use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = _constraint(kernel_constraint), _constraint(bias_constraint)

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                f"Dense {self.name!r}: the last dimension of the input must be known, got shape {input_shape}"
            )
        self._add_kernel_and_bias((input_shape[-1], self.units), self.units)
        self.built = True

    def call(self, inputs):
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Dense {self.name!r}: expected inputs with last dimension {self.kernel.shape[0]}, "
                f"got shape {tuple(inputs.shape)}. The layer was built for {self.kernel.shape[0]} features: "
                f"pass data whose last axis has {self.kernel.shape[0]} (or rebuild the model for "
                f"{inputs.shape[-1]}); images need layers.Flatten() before Dense"
            )
        if inputs.dtype != self.kernel.dtype:
            inputs = inputs.to(self.kernel.dtype)
        z = NF.linear(inputs, self.kernel.mT, self.bias)
        return mark_logits(self.activation(z), self.activation, z)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _init_config(self.kernel_initializer),
            "bias_initializer": _init_config(self.bias_initializer),
            **constraint_configs(self),
            **constraint_configs(self, ("kernel_regularizer", "bias_regularizer")),
        }


class Identity(Layer):
    """Return the input unchanged (a placeholder layer, as Keras's ``Identity``)."""

    supports_masking = True

    def call(self, inputs):
        return inputs


class Activation(Layer):
    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return mark_logits(self.activation(inputs), self.activation, inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Zeroes a ``rate`` fraction of inputs during training and scales the rest by ``1 / (1 - rate)``."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be in [0, 1], got {rate}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self.seed_generator = random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        return random.dropout(inputs, self.rate, self.noise_shape, seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Flatten(Layer):
    """``(batch, ...)`` -> ``(batch, features)``; channels_first data is flattened in channels_last order (as
    Keras does, so a Dense after it sees the same features in both layouts).

    >>> from ember import keras
    >>> x = keras.ops.reshape(keras.ops.arange(8.0), (1, 2, 2, 2))
    >>> keras.layers.Flatten(data_format="channels_first")(x).tolist()
    [[0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]]
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = K.standardize_data_format(data_format, "Flatten")

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.permute(0, *range(2, inputs.ndim), 1)
        return inputs.reshape(inputs.shape[0], -1) if inputs.ndim != 2 else inputs

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def call(self, inputs):
        n = inputs.shape[0]
        target = self.target_shape
        size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in target if d != -1)
        if (-1 not in target and known != size) or (-1 in target and size % known):
            raise ValueError(
                f"Reshape {self.name!r}: cannot reshape inputs of shape {tuple(inputs.shape)} "
                f"({size} values per sample) to target_shape {target}"
            )
        return inputs.reshape((n,) + target)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permute the non-batch dims; ``dims`` are 1-based like Keras."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {self.dims}")

    def call(self, inputs):
        return inputs.permute(0, *self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class Lambda(Layer):
    """Wrap a function of tensors as a layer (config saving needs a registered function, not a lambda)."""

    def __init__(self, function, output_shape=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function, self.arguments = function, arguments or {}
        self._output_shape = output_shape

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        from ..saving import serialize_keras_object

        if getattr(self.function, "__name__", "") == "<lambda>":
            raise ValueError(
                f"Lambda layer {self.name!r} wraps a Python lambda, which cannot be saved as "
                "config; use a named function registered with "
                "@keras.saving.register_keras_serializable()"
            )
        return {
            **super().get_config(),
            "function": serialize_keras_object(self.function),
            "arguments": self.arguments,
        }

    @classmethod
    def from_config(cls, config):
        from ..saving import deserialize_keras_object

        config = dict(config)
        config["function"] = deserialize_keras_object(config["function"])
        return cls(**config)


class Rescaling(Layer):
    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs):
        if inputs.dtype != ember.float32 and not inputs.is_floating_point():
            inputs = inputs.to(ember.float32)
        return inputs * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Embedding(Layer):
    """Look up rows of an ``(input_dim, output_dim)`` table (uniform(-0.05, 0.05) initialised)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim, self.mask_zero = int(input_dim), int(output_dim), mask_zero
        init = "random_uniform" if embeddings_initializer == "uniform" else embeddings_initializer
        self.embeddings_initializer = initializers.get(init)
        self.embeddings_regularizer = embeddings_regularizer
        self.embeddings_constraint = _constraint(embeddings_constraint)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim), self.embeddings_initializer, regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint, name="embeddings"
        )
        self.built = True

    def call(self, inputs):
        idx = inputs if inputs.dtype in (ember.int64, ember.int32) else inputs.to(ember.int64)
        return NF.embedding(idx, self.embeddings)

    def compute_mask(self, inputs, previous_mask=None):
        """With ``mask_zero=True``: True where the index is not 0 (padding), read by RNNs and pooling."""
        return None if not self.mask_zero else inputs != 0

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": _init_config(self.embeddings_initializer),
            "mask_zero": self.mask_zero,
            **constraint_configs(self, ("embeddings_constraint",)),
        }


class Masking(Layer):
    """Mark time steps whose features all equal ``mask_value`` as padding: they become zeros and the
    output carries a mask (True = a real step) that RNNs and GlobalAveragePooling1D honour."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def call(self, inputs):
        keep = (inputs != self.mask_value).any(dim=-1, keepdim=True)
        return inputs * keep.to(inputs.dtype)

    def compute_mask(self, inputs, previous_mask=None):
        return (inputs != self.mask_value).any(dim=-1)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
