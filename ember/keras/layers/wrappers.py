"""``TorchModuleWrapper``: use an ``ember.nn.Module`` (PyTorch-style) inside a Keras model. The module is a
child of the wrapper (state-dict keys ``<wrapper>.module.<name>``); its parameters are the layer's trainable
weights and its buffers (e.g. BatchNorm running statistics) its non-trainable weights, so ``fit``,
``get_weights``
and ``save_weights`` see them.

>>> import numpy as np
>>> from ember import keras, nn
>>> model = keras.Sequential([keras.layers.TorchModuleWrapper(nn.Sequential(nn.Linear(3, 4), nn.ReLU())),
...                           keras.layers.Dense(1)])
>>> model.compile(optimizer="sgd", loss="mse")
>>> _ = model.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), epochs=1, verbose=0)
>>> [tuple(w.shape) for w in model.weights]
[(4, 3), (4,), (4, 1), (1,)]
"""

from __future__ import annotations

from ember.nn.modules.module import Module

from .base import Layer


class TorchModuleWrapper(Layer):
    """Wrap ``module`` (an ``ember.nn.Module``) as a Keras layer; ``call`` runs ``module(*args)``, in
    training mode when the Keras call is training and in eval mode otherwise."""

    def __init__(self, module, name=None, **kwargs):
        if not isinstance(module, Module):
            raise TypeError(
                f"TorchModuleWrapper{'' if name is None else f' {name!r}'}: expected an ember.nn.Module, got "
                f"{type(module).__name__}"
            )
        super().__init__(name=name, **kwargs)
        self._modules["module"] = module
        self.built = True

    @property
    def _own_weights(self):
        """The module's parameters and floating-point buffers, read afresh (``module.to()`` may replace
        buffers), labelled with Keras's ``name`` / ``path`` / ``trainable``."""
        pairs = [(n, p, True) for n, p in self.module.named_parameters()]
        pairs += [(n, b, False) for n, b in self.module.named_buffers() if b.dtype.is_floating_point]
        out = []
        for pname, p, trainable in pairs:
            if getattr(p, "path", None) is None:
                p.name, p.path = pname, f"{self.name}/{pname}"
                p.regularizer = p.constraint = None
            p._keras_trainable = trainable and (bool(p.requires_grad) or not self._trainable)
            out.append(p)
        return out

    def call(self, *args, training=None, **kwargs):
        if bool(training) != self.module.training:
            self.module.train(bool(training))
        return self.module(*args, **kwargs)

    def get_config(self):
        raise NotImplementedError(
            f"TorchModuleWrapper {self.name!r} wraps an arbitrary module and cannot be "
            "saved as config; save its weights with save_weights() instead"
        )


class TimeDistributed(Layer):
    """Apply ``layer`` to every time step: ``(batch, time, ...)`` is folded to ``(batch * time, ...)``,
    the layer runs once, and the result is unfolded."""

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expected a keras layer, got {type(layer).__name__}")
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: inputs need at least 3 dims (batch, time, ...), "
                             f"got shape {input_shape}")
        self.built = True

    def call(self, inputs, training=None):
        n, t = inputs.shape[:2]
        out = self.layer(inputs.reshape((n * t,) + tuple(inputs.shape[2:])), training=training)
        return out.reshape((n, t) + tuple(out.shape[1:]))

    def get_config(self):
        from ..saving import serialize_keras_object

        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config):
        from ..saving import deserialize_keras_object

        config = dict(config)
        return cls(deserialize_keras_object(config.pop("layer")), **config)
