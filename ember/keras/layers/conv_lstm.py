"""Convolutional LSTMs: ``ConvLSTM1D``, ``ConvLSTM2D``, ``ConvLSTM3D`` (Keras 3's layers, channels_last or
channels_first: ``(batch, time, channels, rows, cols)``, which needs no transposes).

An LSTM whose input and recurrent transforms are convolutions (Shi et al., 2015): over a sequence of images
``(batch, time, rows, cols, channels)`` it keeps a state image per step. Keras's weights and formulas: kernel
``(*kernel_size, channels, 4*filters)`` and recurrent kernel ``(*kernel_size, filters, 4*filters)`` with the gates
i, f, c, o along the last axis, bias ``(4*filters,)`` (forget gate starting at 1 with ``unit_forget_bias``); the
input convolution takes ``strides`` / ``padding`` / ``dilation_rate``, the recurrent one runs at stride 1 with
'same' padding. The input convolution of every time step is one batched convolution; the recurrence runs in
channels_first so no step transposes.

>>> from ember import keras
>>> layer = keras.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True)
>>> tuple(layer(keras.ops.ones((2, 5, 8, 8, 3))).shape)
(2, 5, 8, 8, 4)
"""
from __future__ import annotations

import ember
from ember import functional as F
from ember.nn import functional as NF

from .. import activations, initializers, random
from .. import backend as K
from .base import Layer, _constraint, constraint_configs
from .conv import _to_channels_first, _to_channels_last, _tuple, conv_cf, same_pads
from .rnn import _ForgetBiasInit


class _ConvLSTM(Layer):
    _float_inputs = True  # other inputs are cast to the compute dtype (Layer._as_compute_float)
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=None, **kwargs):
        super().__init__(**kwargs)
        name, n = type(self).__name__, self.rank
        self.data_format = K.standardize_data_format(data_format, name)
        if stateful:
            raise NotImplementedError(f"{name}(stateful=True) is not supported in Ember; carry the states with "
                                      "initial_state=... and return_state=True")
        if padding not in ("valid", "same"):
            raise ValueError(f"{name}: padding must be 'valid' or 'same', got {padding!r}")
        self.filters, self.padding = int(filters), padding
        self.kernel_size = _tuple(kernel_size, n, f"{name} kernel_size")
        self.strides = _tuple(strides, n, f"{name} strides")
        self.dilation_rate = _tuple(dilation_rate, n, f"{name} dilation_rate")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = use_bias, unit_forget_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint, self.bias_constraint = _constraint(kernel_constraint), _constraint(bias_constraint)
        self.recurrent_constraint = _constraint(recurrent_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed, self.seed_generator = seed, random.SeedGenerator(seed)
        self.return_sequences, self.return_state, self.go_backwards = return_sequences, return_state, go_backwards
        self.stateful = False

    @property
    def _first(self):
        return self.data_format == "channels_first"

    def _layout(self):
        dims = f"{self.rank} spatial dims"
        return f"(batch, time, channels, {dims})" if self._first else f"(batch, time, {dims}, channels)"

    def build(self, input_shape):
        name = type(self).__name__
        cin = input_shape[2 if self._first else -1] if len(input_shape) == self.rank + 3 else None
        if cin is None:
            raise ValueError(f"{name} {self.name!r}: expected inputs {self._layout()} with known channels, "
                             f"got {tuple(input_shape)}")
        f4 = 4 * self.filters
        self.kernel = self.add_weight(self.kernel_size + (cin, f4), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(self.kernel_size + (self.filters, f4), self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        init = _ForgetBiasInit(self.bias_initializer, self.filters) if self.unit_forget_bias else \
            self.bias_initializer
        self.bias = self.add_weight((f4,), init, name="bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.built = True

    def _recurrent_conv(self, h, weight):
        """``h`` (channels_first) convolved with the recurrent kernel: stride 1, 'same' padding."""
        pads = [same_pads(h.shape[2 + i], k, 1, 1) for i, k in enumerate(self.kernel_size)]
        if any(b != a for b, a in pads):
            h = F.pad(h, tuple(v for b, a in reversed(pads) for v in (b, a)))
            pads = [(0, 0)] * self.rank
        conv = {1: NF.conv1d, 2: NF.conv2d, 3: NF.conv3d}[self.rank]
        return conv(h, weight, padding=tuple(b for b, _ in pads))

    def _masks(self, x, training):
        def draw(shape, rate):
            return random.dropout(x.new_ones(tuple(shape)), rate, seed=self.seed_generator) if (
                training and 0 < rate < 1) else None
        return draw((x.shape[0],) + tuple(x.shape[2:]), self.dropout), draw

    def call(self, inputs, initial_state=None, mask=None, training=None):
        cin = self.kernel.shape[-2]
        if inputs.ndim != self.rank + 3 or inputs.shape[2 if self._first else -1] != cin:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected inputs {self._layout()} of rank "
                             f"{self.rank + 3} with {cin} channels, got shape {tuple(inputs.shape)}")
        x = inputs.flip((1,)) if self.go_backwards else inputs
        in_mask, draw = self._masks(x, training)
        if in_mask is not None:
            x = x * in_mask.unsqueeze(1)
        b, t = x.shape[:2]
        frames = x.reshape((b * t,) + tuple(x.shape[2:]))
        proj = conv_cf(frames if self._first else _to_channels_first(frames), self.kernel, self.strides,
                       self.padding, self.dilation_rate)
        if self.bias is not None:
            proj = proj + self.bias.reshape((-1,) + (1,) * self.rank)
        proj = proj.reshape((b, t) + tuple(proj.shape[1:]))  # (B, T, 4F, *spatial out)
        state_shape = (b, self.filters) + tuple(proj.shape[3:])
        if initial_state is None:
            h = c = proj.new_zeros(state_shape)
        else:
            h, c = (s if isinstance(s, ember.Tensor) else ember.tensor(s) for s in initial_state)
            if not self._first:
                h, c = _to_channels_first(h), _to_channels_first(c)
        rec_mask = draw(state_shape, self.recurrent_dropout)
        weight = self.recurrent_kernel.permute(self.rank + 1, self.rank, *range(self.rank))
        keep = None if mask is None else (mask.flip((1,)) if self.go_backwards else mask)
        fs, act, rec, outs = self.filters, self.activation, self.recurrent_activation, []
        for step in range(t):
            z = proj[:, step] + self._recurrent_conv(h if rec_mask is None else h * rec_mask, weight)
            i, f, o = rec(z[:, :fs]), rec(z[:, fs:2 * fs]), rec(z[:, 3 * fs:])
            c_new = f * c + i * act(z[:, 2 * fs:3 * fs])
            h_new = o * act(c_new)
            if keep is not None:  # a masked step carries the states over
                k = keep[:, step].to(h.dtype).reshape((b,) + (1,) * (self.rank + 1))
                h_new, c_new = h_new * k + h * (1.0 - k), c_new * k + c * (1.0 - k)
            h, c = h_new, c_new
            if self.return_sequences:
                outs.append(h)
        out = h if not self.return_sequences else F.stack(outs, 1)
        if not self._first:
            out = _to_channels_last(h) if not self.return_sequences else \
                out.permute(0, 1, *range(3, self.rank + 3), 2)
            h, c = _to_channels_last(h), _to_channels_last(c)
        return [out, h, c] if self.return_state else out

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask if self.return_sequences else None

    def get_config(self):
        ser = initializers.serialize
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, "kernel_initializer": ser(self.kernel_initializer),
                "recurrent_initializer": ser(self.recurrent_initializer),
                "bias_initializer": ser(self.bias_initializer), "unit_forget_bias": self.unit_forget_bias,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": False,
                **constraint_configs(self, ("kernel_constraint", "recurrent_constraint", "bias_constraint"))}


class ConvLSTM1D(_ConvLSTM):
    """A convolutional LSTM over sequences of 1-D signals ``(batch, time, steps, channels)``."""

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """A convolutional LSTM over sequences of images ``(batch, time, rows, cols, channels)``."""

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """A convolutional LSTM over sequences of volumes ``(batch, time, d1, d2, d3, channels)``."""

    rank = 3
