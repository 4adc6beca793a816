"""Keras 3's RNN cells and the generic ``RNN`` layer: ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``,
``StackedRNNCells`` and ``RNN(cell)``, which runs any cell (these or your own Layer with a ``state_size`` and
``call(inputs, states)``) over the time axis.

A cell computes one time step: ``output, new_states = cell(x_t, states)``. Weights, formulas, gate orders and
defaults are Keras's (LSTM gates i, f, c, o; GRU gates z, r, h with ``reset_after=True`` and a ``(2, 3*units)``
bias), so weights copied from Keras give Keras's numbers. ``dropout`` / ``recurrent_dropout`` masks are drawn
once per sequence (``RNN`` resets them at each call) and kept across the steps, as Keras's ``DropoutRNNCell``.
The step loop runs in Python with Ember ops: for the built-in cells, ``keras.layers.LSTM`` / ``GRU`` /
``SimpleRNN`` run the same math on fused sequence kernels and are faster.

>>> from ember import keras
>>> rnn = keras.layers.RNN(keras.layers.LSTMCell(8), return_sequences=True, return_state=True)
>>> seq, h, c = rnn(keras.ops.ones((2, 5, 3)))
>>> tuple(seq.shape), tuple(h.shape), tuple(c.shape)
((2, 5, 8), (2, 8), (2, 8))
"""

from __future__ import annotations

import ember
from ember import functional as F
from ember.tensor import Tensor

from .. import activations, initializers, random
from .base import Layer
from .rnn import _ForgetBiasInit


def _nested(states) -> bool:
    return isinstance(states, (list, tuple))


def _flat_sizes(size) -> list:
    return [s for part in size for s in _flat_sizes(part)] if isinstance(size, (list, tuple)) else [size]


class _Cell(Layer):
    """What the three built-in cells share: weights, initializers, dropout masks, the config."""

    _float_inputs = True
    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, got {units!r}")
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.regularizers = (kernel_regularizer, recurrent_regularizer, bias_regularizer)
        self.constraints = (kernel_constraint, recurrent_constraint, bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self.seed_generator = random.SeedGenerator(seed)
        self.state_size = self.units
        self.output_size = self.units
        self._masks = None  # (input mask, recurrent mask) for the current sequence

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        n, (kr, rr, br), (kc, rc, bc) = self.gates * self.units, self.regularizers, self.constraints
        self.kernel = self.add_weight((input_shape[-1], n), self.kernel_initializer, name="kernel",
                                      regularizer=kr, constraint=kc)
        self.recurrent_kernel = self.add_weight((self.units, n), self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=rr, constraint=rc)
        self.bias = self.add_weight(self._bias_shape(), self._bias_init(), name="bias", regularizer=br,
                                    constraint=bc) if self.use_bias else None
        self.built = True

    def get_initial_state(self, batch_size=None):
        return [ember.zeros(batch_size, s) for s in _flat_sizes(self.state_size)]

    # -- dropout: one mask per sequence, kept over its steps ------------------------------------------------
    def reset_dropout_mask(self):
        self._masks = None

    reset_recurrent_dropout_mask = reset_dropout_mask

    def _dropped(self, x, h, training):
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return x, h
        if self._masks is None:
            def draw(like, rate):
                return random.dropout(like.new_ones(tuple(like.shape)), rate, seed=self.seed_generator) \
                    if 0 < rate < 1 else None
            self._masks = (draw(x, self.dropout), draw(h, self.recurrent_dropout))
        dx, dh = self._masks
        return (x if dx is None else x * dx), (h if dh is None else h * dh)

    def call(self, inputs, states, training=False):
        prev = list(states) if _nested(states) else [states]
        x, h = self._dropped(inputs, prev[0], training)
        new = self._step(x, h, prev)
        return new[0], (new if _nested(states) else new[0])

    def get_config(self):
        ser = initializers.serialize
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": ser(self.kernel_initializer),
                "recurrent_initializer": ser(self.recurrent_initializer),
                "bias_initializer": ser(self.bias_initializer), "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: ``h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)``.

    >>> from ember import keras
    >>> out, state = keras.layers.SimpleRNNCell(4)(keras.ops.ones((2, 3)), [keras.ops.zeros((2, 4))])
    >>> tuple(out.shape), len(state)
    ((2, 4), 1)
    """

    def _step(self, x, h, prev):
        z = x @ self.kernel
        if self.bias is not None:
            z = z + self.bias
        return [self.activation(z + h @ self.recurrent_kernel)]


class LSTMCell(_Cell):
    """One LSTM step (Keras's gates i, f, c, o): states ``[h, c]``; ``unit_forget_bias`` starts the forget
    gate's bias at 1.

    >>> from ember import keras
    >>> cell = keras.layers.LSTMCell(4)
    >>> out, (h, c) = cell(keras.ops.ones((2, 3)), cell.get_initial_state(batch_size=2))
    >>> tuple(out.shape), tuple(c.shape)
    ((2, 4), (2, 4))
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [self.units, self.units]

    def _bias_init(self):
        return _ForgetBiasInit(self.bias_initializer, self.units) if self.unit_forget_bias else \
            self.bias_initializer

    def _step(self, x, h, prev):
        z = x @ self.kernel + h @ self.recurrent_kernel
        if self.bias is not None:
            z = z + self.bias
        u, act, rec = self.units, self.activation, self.recurrent_activation
        i, f, o = rec(z[:, :u]), rec(z[:, u:2 * u]), rec(z[:, 3 * u:])
        c = f * prev[1] + i * act(z[:, 2 * u:3 * u])
        return [o * act(c), c]

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """One GRU step (Keras's gates z, r, h). ``reset_after=True`` (Keras 3's default, cuDNN's form) applies the
    reset gate after the recurrent matmul and keeps separate input and recurrent biases, shape ``(2, 3*units)``.

    >>> from ember import keras
    >>> out, state = keras.layers.GRUCell(4)(keras.ops.ones((2, 3)), keras.ops.zeros((2, 4)))
    >>> tuple(out.shape), tuple(state.shape)
    ((2, 4), (2, 4))
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _step(self, x, h, prev):
        u, k, rec = self.units, self.recurrent_kernel, self.recurrent_activation
        h_prev = prev[0]
        bias_in = bias_rec = None
        if self.bias is not None:
            bias_in, bias_rec = (self.bias[0], self.bias[1]) if self.reset_after else (self.bias, None)
        mx = x @ self.kernel if bias_in is None else x @ self.kernel + bias_in
        inner = h @ (k if self.reset_after else k[:, :2 * u])
        if bias_rec is not None:
            inner = inner + bias_rec
        z = rec(mx[:, :u] + inner[:, :u])
        r = rec(mx[:, u:2 * u] + inner[:, u:2 * u])
        rh = r * inner[:, 2 * u:] if self.reset_after else (r * h) @ k[:, 2 * u:]
        hh = self.activation(mx[:, 2 * u:] + rh)
        return [z * h_prev + (1.0 - z) * hh]

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}


class StackedRNNCells(Layer):
    """Cells applied one after another at each step (a deep RNN in one ``RNN`` layer); its state is the list
    of each cell's state.

    >>> from ember import keras
    >>> cells = keras.layers.StackedRNNCells([keras.layers.LSTMCell(4), keras.layers.GRUCell(3)])
    >>> cells.state_size, cells.output_size
    ([[4, 4], 3], 3)
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if not hasattr(cell, "state_size") or not callable(getattr(cell, "call", None)):
                raise ValueError(f"StackedRNNCells: every cell needs a state_size and a call(inputs, states); "
                                 f"got {cell!r}")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        return getattr(last, "output_size", _flat_sizes(last.state_size)[0])

    def get_initial_state(self, batch_size=None):
        return [_initial_state(c, batch_size) for c in self.cells]

    def reset_dropout_mask(self):
        for c in self.cells:
            if hasattr(c, "reset_dropout_mask"):
                c.reset_dropout_mask()

    def call(self, inputs, states, training=False):
        new = []
        for cell, state in zip(self.cells, states):
            inputs, state = _call_cell(cell, inputs, state, training)
            new.append(state)
        return inputs, new

    def get_config(self):
        from ..saving import serialize_keras_object

        return {**super().get_config(), "cells": [serialize_keras_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        from ..saving import deserialize_keras_object

        config = dict(config)
        return cls([deserialize_keras_object(c) for c in config.pop("cells")], **config)


def _initial_state(cell, batch_size):
    if hasattr(cell, "get_initial_state"):
        return cell.get_initial_state(batch_size=batch_size)
    sizes = cell.state_size
    zeros = [ember.zeros(batch_size, s) for s in _flat_sizes(sizes)]
    return zeros if isinstance(sizes, (list, tuple)) else zeros[0]


def _call_cell(cell, x, states, training):
    """Keras's protocol: a cell is given its states as a list; what it returns keeps the incoming structure
    (one tensor stays one tensor, a list stays a list)."""
    given = list(states) if _nested(states) else [states]
    out, new = cell(x, given, training=training) if getattr(cell, "_call_has_training", False) else \
        cell(x, given)
    new = list(new) if _nested(new) else [new]
    return out, (new if _nested(states) else new[0])


class RNN(Layer):
    """Run ``cell`` over the time axis of a ``(batch, timesteps, features)`` input (Keras 3's ``RNN``).
    ``cell`` is a cell Layer or a list of cells (stacked). Returns the last output, or every step's with
    ``return_sequences``; with ``return_state`` also the final states (nested as the cell's ``state_size``).

    >>> from ember import keras
    >>> y = keras.layers.RNN(keras.layers.SimpleRNNCell(4))(keras.ops.ones((2, 5, 3)))
    >>> tuple(y.shape)
    (2, 4)
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "state_size") or not callable(getattr(cell, "call", None)):
            raise ValueError(f"RNN: the cell must be a Layer with a state_size attribute and a call(inputs, "
                             f"states) method; got {cell!r}")
        if stateful:
            raise NotImplementedError("keras.layers.RNN(stateful=True) is not supported in Ember; use the "
                                      "stateful LSTM/GRU/SimpleRNN layers, or carry the states yourself through "
                                      "initial_state and return_state=True")
        self.cell = cell
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful, self.unroll = go_backwards, stateful, unroll
        self.zero_output_for_mask = zero_output_for_mask

    def get_initial_state(self, batch_size):
        return _initial_state(self.cell, batch_size)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if sequences.ndim < 3:
            raise ValueError(f"RNN {self.name!r}: expected inputs (batch, timesteps, ...), got shape "
                             f"{tuple(sequences.shape)}")
        x = sequences.flip((1,)) if self.go_backwards else sequences
        if mask is not None and self.go_backwards:
            mask = mask.flip((1,))
        states = self.get_initial_state(x.shape[0]) if initial_state is None else initial_state
        states = list(states) if _nested(states) else [states]
        if hasattr(self.cell, "reset_dropout_mask"):
            self.cell.reset_dropout_mask()
        outputs, last = [], None
        for t in range(x.shape[1]):
            out, new = _call_cell(self.cell, x[:, t], states, training)
            if mask is not None:  # a masked step keeps the previous states (and output)
                keep = mask[:, t].to(out.dtype).unsqueeze(1)
                new = _where_kept(keep, new, states)
                base = last if last is not None else (out * 0.0)
                out_kept = out * keep + base * (1.0 - keep)
                last = out_kept
                out = out * keep if self.zero_output_for_mask else out_kept
            else:
                last = out
            states = new
            if self.return_sequences:
                outputs.append(out)
        result = F.stack(outputs, 1) if self.return_sequences else last
        if not self.return_state:
            return result
        return [result] + states

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask if self.return_sequences else None

    def get_config(self):
        from ..saving import serialize_keras_object

        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "cell": serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config):
        from ..saving import deserialize_keras_object

        config = dict(config)
        return cls(deserialize_keras_object(config.pop("cell")), **config)


def _where_kept(keep, new, old):
    if isinstance(new, Tensor):
        return new * keep + old * (1.0 - keep)
    return [_where_kept(keep, n, o) for n, o in zip(new, old)]
