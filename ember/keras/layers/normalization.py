"""BatchNormalization and LayerNormalization with Keras's defaults (``epsilon=1e-3``, BatchNorm
``momentum=0.99``, moving statistics updated with the biased batch variance), computed with
``ember.nn.functional``: ``batch_norm`` normalises (channels-last inputs are viewed as ``(N*H*W, C)``, so no
transpose), ``layer_norm`` (the fused ``standardize`` primitive) serves LayerNormalization over trailing axes.
The moving statistics are updated with Ember's in-place ops, so a compiled train step updates them too.

>>> from ember import keras
>>> bn = keras.layers.BatchNormalization()
>>> y = bn(keras.ops.ones((4, 3)), training=True)
>>> [w.name for w in bn.weights]
['gamma', 'beta', 'moving_mean', 'moving_variance']
"""

from __future__ import annotations

import math

from ember import functional as F
from ember.autograd import no_grad
from ember.nn import functional as NF

from .. import initializers
from .base import Layer


def _axes(ndim, axis):
    keep = {a % ndim for a in (axis if isinstance(axis, (list, tuple)) else (axis,))}
    return tuple(i for i in range(ndim) if i not in keep), sorted(keep)


def _flat_channels(x, keep):
    """``(x2d, restore)``: ``x`` as ``(N, C)`` with the kept axes flattened into C (a view when they are the
    trailing axes, the channels-last case) and the function that gives an output of that form ``x``'s layout."""
    rest = [a for a in range(x.ndim) if a not in keep]
    moved = x if rest + keep == list(range(x.ndim)) else x.permute(*rest, *keep)
    shape = tuple(moved.shape)
    x2d = moved.reshape(math.prod(shape[: len(rest)]), math.prod(shape[len(rest):]))
    inverse = [0] * x.ndim
    for i, a in enumerate(rest + keep):
        inverse[a] = i

    def restore(y):
        y = y.reshape(*shape)
        return y if moved is x else y.permute(*inverse)

    return x2d, restore


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

    def call(self, inputs, training=None):
        _, keep = _axes(inputs.ndim, self.axis)
        x, restore = _flat_channels(inputs, keep)
        if training and self.trainable:
            mean = x.mean(0)
            var = F.square(x - mean).mean(0)  # the biased batch variance, as Keras uses
            m = self.momentum
            with no_grad():  # Keras's update: moving * momentum + batch * (1 - momentum)
                shape = tuple(self.moving_mean.shape)
                self.moving_mean.copy_(self.moving_mean * m + mean.detach().reshape(*shape) * (1.0 - m))
                self.moving_variance.copy_(self.moving_variance * m + var.detach().reshape(*shape) * (1.0 - m))
        else:
            mean, var = self.moving_mean, self.moving_variance
        # nn.functional.batch_norm with these statistics: (x - mean) / sqrt(var + eps) * gamma + beta
        return restore(NF.batch_norm(x, mean, var, self.gamma, self.beta, training=False, eps=self.epsilon))

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
        rest = [a for a in range(inputs.ndim) if a not in keep]
        order = rest + keep  # the normalised axes last: nn.functional.layer_norm (the standardize primitive)
        x = inputs if order == list(range(inputs.ndim)) else inputs.permute(*order)
        shape = tuple(x.shape[len(rest):])
        out = NF.layer_norm(x, shape, _reshaped(self.gamma, shape), _reshaped(self.beta, shape), self.epsilon)
        return out if x is inputs else out.permute(*[order.index(a) for a in range(inputs.ndim)])

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


def _reshaped(t, shape):
    return t if t is None or tuple(t.shape) == shape else t.reshape(*shape)


class GroupNormalization(Layer):
    """Normalise each sample over groups of channels (the last axis): ``groups`` groups, Keras's
    ``epsilon=1e-3``; ``gamma`` / ``beta`` of shape ``(channels,)``."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1,):
            raise ValueError(f"GroupNormalization: only axis=-1 (channels_last) is supported, got {axis}")
        self.groups, self.axis, self.epsilon = int(groups), axis, float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(f"GroupNormalization {self.name!r}: {channels} channels cannot be split into "
                             f"groups={self.groups}; choose a divisor of {channels}")
        self.gamma = self.add_weight((channels,), self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight((channels,), self.beta_initializer, name="beta") if self.center else None
        self.built = True

    def call(self, inputs):
        x = inputs.permute(0, inputs.ndim - 1, *range(1, inputs.ndim - 1))  # channels first
        y = NF.group_norm(x, self.groups, self.gamma, self.beta, eps=self.epsilon)
        return y.permute(0, *range(2, y.ndim), 1)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}


class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm along ``axis`` (``x / max(||x||, 1e-12)``), as Keras.

    >>> from ember import keras
    >>> keras.layers.UnitNormalization()(keras.ops.convert_to_tensor([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.supports_masking = True

    def call(self, inputs):
        dims = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return inputs / (inputs * inputs).sum(dim=dims, keepdim=True).sqrt().clamp(min=1e-12)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """Root-mean-square normalisation over ``axis`` with a learned ``scale`` (Keras 3):
    ``x * rsqrt(mean(x**2, axis) + epsilon) * scale``; no centring and no offset.

    >>> from ember import keras
    >>> layer = keras.layers.RMSNormalization()
    >>> tuple(layer(keras.ops.ones((2, 3, 4))).shape), tuple(layer.weights[0].shape)
    ((2, 3, 4), (4,))
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.epsilon = axis, float(epsilon)

    def _axes(self, ndim):
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        return sorted(a % ndim for a in axes)

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        self.scale = self.add_weight(tuple(input_shape[a] for a in axes), "ones", name="scale")
        self.built = True

    def call(self, inputs):
        axes = self._axes(inputs.ndim)
        scale = self.scale
        if axes != list(range(inputs.ndim - len(axes), inputs.ndim)):  # scale broadcast along the kept axes
            scale = scale.reshape(tuple(inputs.shape[a] if a in axes else 1 for a in range(inputs.ndim)))
        rms = (inputs * inputs).mean(tuple(axes), keepdim=True).add(self.epsilon).rsqrt()
        return inputs * rms * scale

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
