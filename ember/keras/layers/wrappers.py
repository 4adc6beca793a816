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

import ember
from ember.autograd import no_grad
from ember.nn.modules.module import Module

from .. import initializers
from .base import Layer
from .input_spec import Wrapper


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


class SpectralNormalization(Wrapper):
    """Keras 3's spectral normalisation of a layer's ``kernel`` (or ``embeddings``): in training calls, a few
    power iterations (``power_iterations``) estimate the kernel's largest singular value ``sigma`` and the
    kernel is replaced by ``kernel / sigma`` before the wrapped layer runs (as Keras does: the stored kernel is
    rescaled, so the optimizer then updates the normalised kernel). Inference calls use the kernel as stored.

    >>> import numpy as np
    >>> from ember import keras
    >>> keras.utils.set_random_seed(0)  # (power iteration converges slowly for some random kernels)
    >>> sn = keras.layers.SpectralNormalization(keras.layers.Dense(4), power_iterations=20)
    >>> _ = sn(np.ones((2, 3), "float32"), training=True)
    >>> round(float(np.linalg.norm(sn.layer.kernel.numpy(), 2)), 3)
    1.0
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or power_iterations < 1:
            raise ValueError(f"SpectralNormalization: power_iterations must be an integer >= 1, got "
                             f"{power_iterations!r}")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        for attr in ("kernel", "embeddings"):
            if getattr(self.layer, attr, None) is not None:
                self.kernel = getattr(self.layer, attr)
                break
        else:
            raise ValueError(f"SpectralNormalization: {type(self.layer).__name__} {self.layer.name!r} has no "
                             "'kernel' or 'embeddings' weight to normalise (wrap a Dense, Conv or Embedding layer)")
        self.vector_u = self.add_weight(shape=(1, self.kernel.shape[-1]), name="vector_u", trainable=False,
                                        initializer=initializers.TruncatedNormal(stddev=0.02),
                                        dtype=self.kernel.dtype.name)

    def normalized_weights(self):
        """``(u, kernel / sigma)`` after ``power_iterations`` steps from the stored ``vector_u``; an all-zero
        kernel (no direction, ``sigma == 0``) comes back unchanged, with the stored ``u``."""
        with no_grad():
            kernel, u0 = self.kernel.detach(), self.vector_u.detach()
            w = kernel.reshape(-1, kernel.shape[-1])
            u = u0
            for _ in range(self.power_iterations):
                v = _unit(u @ w.t())
                u = _unit(v @ w)
            sigma = (v @ w @ u.t()).reshape(())
            degenerate = sigma == 0  # a tensor test, not Python control flow: compiled steps keep one graph
            safe = sigma + degenerate.to(sigma.dtype)
            return ember.where(degenerate, u0, u), ember.where(degenerate, kernel, kernel / safe)

    def call(self, inputs, training=False):
        if training:
            u, kernel = self.normalized_weights()
            self.vector_u.assign(u)
            self.kernel.assign(kernel)
        return self.layer(inputs)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


def _unit(x):
    """``x`` over its Euclidean norm (all entries; a zero vector stays zero)."""
    norm = (x * x).sum().sqrt()
    return x / (norm + (norm == 0).to(x.dtype))
