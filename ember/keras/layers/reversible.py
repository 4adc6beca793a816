"""``ReversibleEmbedding`` (an embedding whose table also projects hidden states back to vocabulary logits, as
language models tie their input and output layers) and ``Pipeline`` (preprocessing layers applied in turn),
with Keras 3's arguments, weights and configs.

>>> import numpy as np
>>> from ember import keras
>>> embed = keras.layers.ReversibleEmbedding(100, 16)
>>> hidden = embed(np.array([[1, 2, 3]]))
>>> tuple(hidden.shape), tuple(embed(hidden, reverse=True).shape)
((1, 3, 16), (1, 3, 100))
"""

from __future__ import annotations

from ember import functional as F

from .. import backend as K
from .base import Layer
from .core import Embedding


class ReversibleEmbedding(Embedding):
    """``layer(ids)`` looks rows up; ``layer(hidden, reverse=True)`` gives ``hidden @ embeddings.T`` (or a separate
    ``(output_dim, input_dim)`` ``reverse_embeddings`` with ``tie_weights=False``), soft-capped to
    ``logit_soft_cap * tanh(logits / logit_soft_cap)`` when that is set."""

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        if logit_soft_cap is not None and not float(logit_soft_cap) > 0:
            raise ValueError(f"ReversibleEmbedding {self.name!r}: logit_soft_cap must be > 0, got {logit_soft_cap!r}")
        self.tie_weights, self.reverse_dtype, self.logit_soft_cap = bool(tie_weights), reverse_dtype, logit_soft_cap

    def build(self, input_shape=None):
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                (self.output_dim, self.input_dim), self.embeddings_initializer, name="reverse_embeddings",
                regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint)

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        inputs = K.convert(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(f"ReversibleEmbedding {self.name!r}: reverse=True projects hidden states of size "
                             f"{self.output_dim}, got shape {tuple(inputs.shape)}")
        kernel = self.embeddings.t() if self.tie_weights else self.reverse_embeddings
        if self.reverse_dtype is not None:
            inputs, kernel = inputs.to(self.reverse_dtype), kernel.to(self.reverse_dtype)
        logits = F.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = float(self.logit_soft_cap)
            logits = F.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs, previous_mask=None):
        if inputs.is_floating_point():  # a reverse call: logits carry no padding mask
            return None
        return super().compute_mask(inputs, previous_mask)

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                "logit_soft_cap": self.logit_soft_cap}


class Pipeline(Layer):
    """Apply ``layers`` one after another (Keras's preprocessing pipeline: ``training`` reaches the layers that
    take it, so random augmentations act in training and pass through at inference)."""

    def __init__(self, layers, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not callable(layer):
                raise ValueError(f"Pipeline {self.name!r}: entry {i} is not a layer: {layer!r}")

    def call(self, inputs, training=True, mask=None):
        for layer in self.layers:
            inputs = layer(inputs, training=training) if isinstance(layer, Layer) else layer(inputs)
        return inputs

    def get_config(self):
        from ..saving import serialize_keras_object

        return {"name": self.name, "layers": [serialize_keras_object(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_keras_object

        config = dict(config)
        layers = [deserialize_keras_object(c, custom_objects=custom_objects) for c in config.pop("layers")]
        return cls(layers, **config)
