"""BatchNormalization and LayerNormalization with Keras's defaults (``epsilon=1e-3``, BatchNorm
``momentum=0.99``, moving statistics updated with the biased batch variance).

>>> from ember import keras
>>> bn = keras.layers.BatchNormalization()
>>> y = bn(keras.ops.ones((4, 3)), training=True)
>>> [w.name for w in bn.weights]
['gamma', 'beta', 'moving_mean', 'moving_variance']
"""

from __future__ import annotations

from ember import functional as F

from .. import initializers
from .base import Layer


def _axes(ndim, axis):
    keep = {a % ndim for a in (axis if isinstance(axis, (list, tuple)) else (axis,))}
    return tuple(i for i in range(ndim) if i not in keep), sorted(keep)


class BatchNormalization(Layer):
    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon, self.center, self.scale = (
            axis,
            momentum,
            epsilon,
            center,
            scale,
        )
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer

    def build(self, input_shape):
        _, keep = _axes(len(input_shape), self.axis)
        shape = tuple(input_shape[a] for a in keep)
        if None in shape:
            raise ValueError(
                f"BatchNormalization {self.name!r}: axis {self.axis} of input shape {input_shape} "
                "must be known"
            )
        self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, name="beta") if self.center else None
        self.moving_mean = self.add_weight(
            shape, self.moving_mean_initializer, trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape, self.moving_variance_initializer, trainable=False, name="moving_variance"
        )
        self.built = True

    def _bcast(self, t, ndim, keep):
        shape = [1] * ndim
        for a, s in zip(keep, t.shape):
            shape[a] = s
        return t.reshape(*shape)

    def call(self, inputs, training=None):
        reduce, keep = _axes(inputs.ndim, self.axis)
        if training and self.trainable:
            mean = inputs.mean(reduce, keepdim=True)
            var = F.square(inputs - mean).mean(reduce, keepdim=True)
            m = self.momentum
            bm, bv = (
                mean.detach()._data.reshape(self.moving_mean.shape),
                var.detach()._data.reshape(self.moving_variance.shape),
            )
            self.moving_mean._data[...] = self.moving_mean._data * m + bm * (1.0 - m)
            self.moving_variance._data[...] = self.moving_variance._data * m + bv * (1.0 - m)
        else:
            mean = self._bcast(self.moving_mean, inputs.ndim, keep)
            var = self._bcast(self.moving_variance, inputs.ndim, keep)
        out = (inputs - mean) * F.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            out = out * self._bcast(self.gamma, inputs.ndim, keep)
        if self.beta is not None:
            out = out + self._bcast(self.beta, inputs.ndim, keep)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class LayerNormalization(Layer):
    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis, self.epsilon, self.center, self.scale = axis, epsilon, center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        _, keep = _axes(len(input_shape), self.axis)
        shape = tuple(input_shape[a] for a in keep)
        self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, name="beta") if self.center else None
        self.built = True

    def call(self, inputs):
        _, keep = _axes(inputs.ndim, self.axis)
        axes = tuple(keep)
        mean = inputs.mean(axes, keepdim=True)
        var = F.square(inputs - mean).mean(axes, keepdim=True)
        out = (inputs - mean) * F.rsqrt(var + self.epsilon)
        shape = [1] * inputs.ndim
        for a in keep:
            shape[a] = inputs.shape[a]
        if self.gamma is not None:
            out = out * self.gamma.reshape(*shape)
        if self.beta is not None:
            out = out + self.beta.reshape(*shape)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }
