"""Recurrent layers with Keras's formulas and weight layout: SimpleRNN, LSTM (gates i, f, c, o),
GRU (gates z, r, h; ``reset_after=True`` by default, bias of shape ``(2, 3*units)``), and Bidirectional.

Kernels are glorot_uniform, recurrent kernels orthogonal, biases zeros (LSTM forget gate bias 1).
The input projection of all time steps is one matmul; the recurrence is a loop of Ember ops.

>>> from ember import keras
>>> lstm = keras.layers.LSTM(8, return_sequences=True)
>>> tuple(lstm(keras.ops.ones((2, 5, 3))).shape), [tuple(w.shape) for w in lstm.weights]
((2, 5, 8), [(3, 32), (8, 32), (32,)])
"""

from __future__ import annotations

import numpy as np

from ember import functional as F

from .. import activations, initializers
from .base import Layer


class _RNN(Layer):
    gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if stateful:
            raise ValueError(f"{type(self).__name__}: stateful=True is not supported")
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences, self.return_state, self.go_backwards = (
            return_sequences,
            return_state,
            go_backwards,
        )
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout

    def _bias_shape(self):
        return (self.gates * self.units,)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs (batch, timesteps, features) "
                f"with known features, got {input_shape}"
            )
        n = self.gates * self.units
        self.kernel = self.add_weight((input_shape[-1], n), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight(
            (self.units, n), self.recurrent_initializer, name="recurrent_kernel"
        )
        self.bias = (
            self.add_weight(self._bias_shape(), self._bias_init(), name="bias") if self.use_bias else None
        )
        self.built = True

    def _bias_init(self):
        return self.bias_initializer

    def _initial(self, x, initial_state):
        n = x.shape[0]
        if initial_state is None:
            return [x.new_zeros((n, self.units)) for _ in range(self.n_states)]
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        return states

    n_states = 1

    def call(self, inputs, initial_state=None, training=None):
        if inputs.ndim != 3 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs (batch, timesteps, "
                f"{self.kernel.shape[0]}), got shape {tuple(inputs.shape)}"
            )
        x = inputs.flip((1,)) if self.go_backwards else inputs
        n, t, d = x.shape
        proj = (x.reshape(n * t, d) @ self.kernel).reshape(n, t, -1)
        if self.bias is not None:
            proj = proj + self._input_bias()
        states = self._initial(x, initial_state)
        outputs = []
        for step in range(t):
            states = self._step(proj[:, step], states)
            if self.return_sequences:
                outputs.append(states[0])
        out = F.stack(outputs, 1) if self.return_sequences else states[0]
        return [out] + list(states) if self.return_state else out

    def _input_bias(self):
        return self.bias

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class SimpleRNN(_RNN):
    """``h = activation(x @ kernel + h @ recurrent_kernel + bias)``."""

    def _step(self, xp, states):
        return [self.activation(xp + states[0] @ self.recurrent_kernel)]


class _ForgetBiasInit:
    """Zeros (or the given initializer) with ones in the forget-gate block (Keras's unit_forget_bias)."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        b = np.asarray(self.base(shape, dtype=dtype))
        b[self.units : 2 * self.units] = 1.0
        return b


class LSTM(_RNN):
    """Keras LSTM: ``z = x@W + h@U + b`` split into (i, f, c, o);
    ``c = f*c + i*tanh(z_c)``; ``h = o*tanh(c)``."""

    gates, n_states = 4, 2

    def __init__(
        self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs
    ):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    def _bias_init(self):
        return (
            _ForgetBiasInit(self.bias_initializer, self.units)
            if self.unit_forget_bias
            else self.bias_initializer
        )

    def _step(self, xp, states):
        h, c = states
        z = xp + h @ self.recurrent_kernel
        u = self.units
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u : 2 * u])
        g = self.activation(z[:, 2 * u : 3 * u])
        o = self.recurrent_activation(z[:, 3 * u :])
        c = f * c + i * g
        return [o * self.activation(c), c]

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }


class GRU(_RNN):
    """Keras GRU (gates z, r, h). With ``reset_after=True``: ``hh = tanh(x_h + r * (h@U_h + b_rec_h))``;
    ``h = z*h_prev + (1-z)*hh``."""

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def _step(self, xp, states):
        h = states[0]
        u = self.units
        if self.reset_after:
            rec = h @ self.recurrent_kernel
            if self.bias is not None:
                rec = rec + self.bias[1]
            z = self.recurrent_activation(xp[:, :u] + rec[:, :u])
            r = self.recurrent_activation(xp[:, u : 2 * u] + rec[:, u : 2 * u])
            hh = self.activation(xp[:, 2 * u :] + r * rec[:, 2 * u :])
        else:
            rec = h @ self.recurrent_kernel[:, : 2 * u]
            z = self.recurrent_activation(xp[:, :u] + rec[:, :u])
            r = self.recurrent_activation(xp[:, u : 2 * u] + rec[:, u:])
            hh = self.activation(xp[:, 2 * u :] + (r * h) @ self.recurrent_kernel[:, 2 * u :])
        return [z * h + (1.0 - z) * hh]

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        }


class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy backwards; merge with concat (default), sum, mul or ave."""

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(
                f"Bidirectional: merge_mode must be concat, sum, mul, ave or None, got {merge_mode!r}"
            )
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional wraps SimpleRNN/LSTM/GRU layers, got {type(layer).__name__}")
        self.merge_mode = merge_mode
        self.forward_layer = layer
        if backward_layer is None:
            config = {
                **layer.get_config(),
                "go_backwards": not layer.go_backwards,
                "name": "backward_" + layer.name,
            }
            backward_layer = type(layer).from_config(config)
        self.backward_layer = backward_layer

    def call(self, inputs, training=None):
        fwd = self.forward_layer(inputs)
        bwd = self.backward_layer(inputs)
        states = []
        if self.forward_layer.return_state:
            fwd, states = fwd[0], fwd[1:] + bwd[1:]
            bwd = bwd[0]
        if self.forward_layer.return_sequences:
            bwd = bwd.flip((1,))
        if self.merge_mode == "concat":
            out = F.cat([fwd, bwd], -1)
        elif self.merge_mode == "sum":
            out = fwd + bwd
        elif self.merge_mode == "mul":
            out = fwd * bwd
        elif self.merge_mode == "ave":
            out = (fwd + bwd) * 0.5
        else:
            out = [fwd, bwd]
        if states:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def get_config(self):
        from ..saving import serialize_keras_object

        return {
            **super().get_config(),
            "layer": serialize_keras_object(self.forward_layer),
            "merge_mode": self.merge_mode,
        }

    @classmethod
    def from_config(cls, config):
        from ..saving import deserialize_keras_object

        config = dict(config)
        config["layer"] = deserialize_keras_object(config["layer"])
        return cls(**config)
