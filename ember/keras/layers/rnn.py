"""Recurrent layers with Keras's formulas and weight layout: SimpleRNN, LSTM (gates i, f, c, o),
GRU (gates z, r, h; ``reset_after=True`` by default, bias of shape ``(2, 3*units)``), and Bidirectional.

Kernels are glorot_uniform, recurrent kernels orthogonal, biases zeros (LSTM forget gate bias 1).
The input projection of all time steps is one matmul. The recurrence runs on the same engine pieces as
``ember.nn``: LSTM on the fused ``lstm_seq`` primitive (Keras's gate order i, f, c, o is PyTorch's; the
recurrent kernel is PyTorch's ``weight_hh`` transposed), GRU (``reset_after=True``) on ``ember.nn``'s GRU cell
with the gates reordered from Keras's (z, r, h) to PyTorch's (r, z, n) (the two formulas are the same), and
SimpleRNN on ``ember.nn``'s RNN cell. Other activations, ``reset_after=False`` and ``recurrent_dropout`` use a
step loop with Keras's formulas.

``dropout`` / ``recurrent_dropout`` follow Keras 3: masks drawn once per call (through ``keras.random``, so a
compiled step draws fresh ones) and fixed across time steps;
with ``recurrent_dropout`` LSTM and GRU draw one mask per gate for the inputs and for the state (Keras's
``implementation=1``), otherwise one input mask.

>>> from ember import keras
>>> lstm = keras.layers.LSTM(8, return_sequences=True, dropout=0.2)
>>> tuple(lstm(keras.ops.ones((2, 5, 3))).shape), [tuple(w.shape) for w in lstm.weights]
((2, 5, 8), [(3, 32), (8, 32), (32,)])
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.errors import user_errors
from ember.nn.functional.linear import linear
from ember.nn.modules.rnn import batch_zeros, gru_step, rnn_step
from ember.ops import apply, composite
from ember.tensor import Tensor

from .. import activations, initializers, random
from .base import Layer, _constraint


def _act_name(fn):
    return activations.serialize(fn)


class _RNN(Layer):
    _float_inputs = True  # bool/int inputs are cast to the compute dtype (Layer._as_compute_float)
    gates = 1
    n_states = 1

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
        seed=None,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.regularizers = (kernel_regularizer, recurrent_regularizer, bias_regularizer)
        self.constraints = tuple(_constraint(c) for c in (kernel_constraint, recurrent_constraint, bias_constraint))
        self.zero_output_for_mask = bool(zero_output_for_mask)  # masked steps output zeros instead of the last
        self.stateful = bool(stateful)
        object.__setattr__(self, "states", None)  # stateful: the carried state tensors (not weights)
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards = go_backwards
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self.seed_generator = random.SeedGenerator(seed)

    def _bias_shape(self):
        return (self.gates * self.units,)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs (batch, timesteps, features) "
                f"with known features, got {input_shape}"
                + (". For one feature per step, add the features axis: x[..., None] (np.expand_dims(x, -1))"
                   if len(input_shape) == 2 else "")
            )
        n, (kr, rr, br), (kc, rc, bc) = self.gates * self.units, self.regularizers, self.constraints
        self.kernel = self.add_weight((input_shape[-1], n), self.kernel_initializer, name="kernel",
                                      regularizer=kr, constraint=kc)
        self.recurrent_kernel = self.add_weight(
            (self.units, n), self.recurrent_initializer, name="recurrent_kernel", regularizer=rr, constraint=rc
        )
        self.bias = (
            self.add_weight(self._bias_shape(), self._bias_init(), name="bias", regularizer=br, constraint=bc)
            if self.use_bias else None
        )
        if self.stateful:
            if input_shape[0] is None:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: stateful=True needs a fixed batch size, got input "
                    f"shape {tuple(input_shape)}; pass batch_size=... to keras.Input (or batch_shape=...)"
                )
            self._set_states([ember.zeros(input_shape[0], self.units) for _ in range(self.n_states)])
        self.built = True

    # -- stateful RNNs (Keras 3: the last states become the next call's initial states) --------------------
    def _set_states(self, states):
        # Keras keeps the carried states in untracked variables and assigns them: written in place here too, so
        # a compiled step reads and advances them as the eager step does (a rebinding would be frozen at trace)
        if self.states is None or [s.shape for s in self.states] != [s.shape for s in states]:
            object.__setattr__(self, "states", [s.detach().clone() for s in states])
            return
        with ember.no_grad():
            for carried, new in zip(self.states, states):
                carried.copy_(new)

    def reset_state(self):
        """Zero the carried states of a ``stateful=True`` layer (call between independent sequences)."""
        if self.states is not None:
            with ember.no_grad():
                for carried in self.states:
                    carried.zero_()

    reset_states = reset_state  # Keras's older name

    def _stateful_initial(self, x):
        from .symbolic import in_shape_inference

        if in_shape_inference():
            return None
        if self.states is None:  # built eagerly without a batch size: take the first batch's
            self._set_states([x.new_zeros((x.shape[0], self.units)) for _ in range(self.n_states)])
        if self.states[0].shape[0] != x.shape[0]:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} is stateful with batch size {self.states[0].shape[0]} but "
                f"got a batch of {x.shape[0]}; feed batches of exactly that size (drop or pad the last one)"
            )
        return [s.clone() for s in self.states]  # a copy: the carried ones are overwritten after the call

    def _bias_init(self):
        return self.bias_initializer

    def _initial(self, x, initial_state):
        if initial_state is None:
            zero = batch_zeros(x, 0, (x.shape[0], self.units))  # follows the batch in an export
            return [zero for _ in range(self.n_states)]
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != self.n_states:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected {self.n_states} initial state(s), "
                f"got {len(states)}"
            )
        return [s if isinstance(s, Tensor) else ember.tensor(np.asarray(s, "float32")) for s in states]

    # -- dropout masks (Keras 3: drawn once per call, the same at every time step) -------------------------
    def _dropout_mask(self, shape, rate, like):
        """A keep mask scaled by ``1 / (1 - rate)`` (the Dropout layer's rule), drawn through
        ``keras.random.dropout`` (the ``uniform`` primitive: a compiled step draws a fresh one each call)."""
        return random.dropout(like.new_ones(tuple(shape)), rate, seed=self.seed_generator)

    def _masks(self, x, training):
        """(input masks, recurrent masks): each None or a list of masks (one per gate with recurrent
        dropout, Keras's implementation 1; one mask otherwise)."""
        if not training:
            return None, None
        per_gate = self.recurrent_dropout > 0 and self.gates > 1
        count = self.gates if per_gate else 1
        n, d = x.shape[0], x.shape[-1]
        inp = rec = None
        if 0 < self.dropout < 1:
            inp = [self._dropout_mask((n, d), self.dropout, x) for _ in range(count)]
        if 0 < self.recurrent_dropout < 1:
            rec = [self._dropout_mask((n, self.units), self.recurrent_dropout, x) for _ in range(count)]
        return inp, rec

    def _project(self, x, masks, kernel, bias):
        """x @ kernel (+ bias) for every time step; with per-gate input masks, each gate sees its own."""
        n, t, d = x.shape
        if masks is None and not _records_grad(kernel):
            proj = x @ kernel  # one GEMM all the same; no size in the graph, so an export's steps stay dynamic
        elif masks is None:
            proj = (x.reshape(n * t, d) @ kernel).reshape(n, t, -1)
        elif len(masks) == 1:
            proj = ((x * masks[0].unsqueeze(1)).reshape(n * t, d) @ kernel).reshape(n, t, -1)
        else:
            cols = kernel.shape[1] // len(masks)
            proj = F.cat(
                [
                    ((x * m.unsqueeze(1)).reshape(n * t, d) @ kernel[:, i * cols : (i + 1) * cols]).reshape(
                        n, t, -1
                    )
                    for i, m in enumerate(masks)
                ],
                -1,
            )
        return proj if bias is None else proj + bias

    def _rec_matmul(self, h, rec, kernel):
        """h @ kernel; with per-gate recurrent masks, gate g's columns see ``h * rec[g]``."""
        if rec is None:
            return h @ kernel
        if len(rec) == 1:
            return (h * rec[0]) @ kernel
        g, u = len(rec), h.shape[-1]
        hs = F.stack([h * m for m in rec], 0)
        ks = kernel.reshape(u, g, -1).permute(1, 0, 2)
        return (hs @ ks).permute(1, 0, 2).reshape(h.shape[0], -1)

    # -- call -------------------------------------------------------------------------------------------
    def call(self, inputs, initial_state=None, training=None, mask=None):
        if inputs.ndim != 3 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected inputs (batch, timesteps, "
                f"{self.kernel.shape[0]}), got shape {tuple(inputs.shape)}"
            )
        x = inputs.flip((1,)) if self.go_backwards else inputs
        in_masks, rec_masks = self._masks(x, training)
        if initial_state is None and self.stateful:
            initial_state = self._stateful_initial(x)
        states = self._initial(x, initial_state)
        if mask is not None:  # Keras's masked steps: state and output carried over where the mask is False
            keep = mask.flip((1,)) if self.go_backwards else mask
            out, states = self._run_masked(x, keep.to(x.dtype), in_masks, rec_masks, states)
        elif rec_masks is None and self._shared_ok():
            out, states = self._run_shared(x, in_masks, states)
        else:
            out, states = self._run_loop(x, in_masks, rec_masks, states)
        if self.stateful:
            from .symbolic import in_shape_inference

            if not in_shape_inference():
                self._set_states(states)
        return [out] + list(states) if self.return_state else out

    def _run_loop(self, x, in_masks, rec_masks, states):
        proj = self._project(x, in_masks, self.kernel, self._input_bias())
        outputs = []
        for step in range(x.shape[1]):
            states = self._step(proj[:, step], states, rec_masks)
            if self.return_sequences:
                outputs.append(states[0])
        return (F.stack(outputs, 1) if self.return_sequences else states[0]), states

    def _run_masked(self, x, keep, in_masks, rec_masks, states):
        proj = self._project(x, in_masks, self.kernel, self._input_bias())
        outputs, last = [], states[0] * 0.0
        for step in range(x.shape[1]):
            k = keep[:, step].unsqueeze(1)
            new = self._step(proj[:, step], states, rec_masks)
            states = [n * k + o * (1.0 - k) for n, o in zip(new, states)]
            last = new[0] * k + last * (1.0 - k)
            if self.return_sequences:
                outputs.append(new[0] * k if self.zero_output_for_mask else last)
        return (F.stack(outputs, 1) if self.return_sequences else last), states

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask if self.return_sequences else None

    def _shared_ok(self):
        return False

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
            "stateful": self.stateful,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "zero_output_for_mask": self.zero_output_for_mask,
            **_weight_configs(self),
        }


def _weight_configs(layer) -> dict:
    """The set regularizers and constraints, under Keras's config keys."""
    from ..saving import serialize_keras_object

    keys = ("kernel", "recurrent", "bias")
    pairs = [(f"{k}_regularizer", v) for k, v in zip(keys, layer.regularizers)] + \
        [(f"{k}_constraint", v) for k, v in zip(keys, layer.constraints)]
    return {k: serialize_keras_object(v) for k, v in pairs if v is not None}


def _records_grad(w) -> bool:
    """Whether this call records a backward (training): it then keeps the primitive graph it always had."""
    return ember.is_grad_enabled() and w.requires_grad


# -- the ``gru`` / ``rnn`` layer ops of ``ember.ops.layers.rnn`` (one node in an export, any sequence length)
def _bind_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, relu=None):
    attrs = {"hidden_size": int(w_hh.shape[1]), "num_layers": 1, "bidirectional": False,
             "bias": b_ih is not None, "has_state": True}
    if relu is not None:
        attrs["nonlinearity"] = "relu" if relu else "tanh"
    return [x, h0, w_ih, w_hh] + ([b_ih, b_hh] if b_ih is not None else []), attrs


def _sequence(x, h0, w_ih, w_hh, b_ih, b_hh, relu=None):
    """PyTorch-layout weights over the time-major ``x`` (T, B, I) from ``h0`` (1, B, H): (y, h_n)."""
    gi = linear(x, w_ih, b_ih)
    h, outs = h0[0], []
    for t in range(gi.shape[0]):
        h = gru_step(gi[t], h, w_hh, b_hh) if relu is None else rnn_step(gi[t], h, w_hh, b_hh, relu)
        outs.append(h)
    return F.stack(outs, 0), h.unsqueeze(0)


_GRU_OP = composite("gru", _bind_sequence)(_sequence)
_RNN_OP = composite("rnn", _bind_sequence)(_sequence)


def _batch_major(layer, op, x, h, weights, relu=None):
    """Run a layer op on the batch-major ``x``; returns (sequence or last h, last h)."""
    y, h_n = op(x.transpose(0, 1), h.unsqueeze(0), *weights, relu=relu) if relu is not None else \
        op(x.transpose(0, 1), h.unsqueeze(0), *weights)
    return (y.transpose(0, 1) if layer.return_sequences else h_n[0]), h_n[0]


def _cell_loop(step, proj, h, keep_sequence):
    """Run ``h = step(proj[:, t], h)`` over time; returns (sequence or last h, last h)."""
    outs = []
    for t in range(proj.shape[1]):
        h = step(proj[:, t], h)
        if keep_sequence:
            outs.append(h)
    return (F.stack(outs, 1) if keep_sequence else h), h


class SimpleRNN(_RNN):
    """``h = activation(x @ kernel + bias + h @ recurrent_kernel)``."""

    def _step(self, xp, states, rec):
        return [self.activation(xp + self._rec_matmul(states[0], rec, self.recurrent_kernel))]

    def _shared_ok(self):
        return _act_name(self.activation) in ("tanh", "relu")

    def _run_shared(self, x, in_masks, states):
        w_hh, relu = self.recurrent_kernel.mT, _act_name(self.activation) == "relu"
        if in_masks is None and not _records_grad(self.kernel):  # inference: one ``rnn`` layer node
            b = self.bias
            weights = (self.kernel.mT, w_hh) + ((b, b * 0.0) if b is not None else (None, None))
            out, h = _batch_major(self, _RNN_OP, x, states[0], weights, relu)
            return out, [h]
        proj = self._project(x, in_masks, self.kernel, self.bias)
        out, h = _cell_loop(
            lambda gi, h: rnn_step(gi, h, w_hh, None, relu), proj, states[0], self.return_sequences
        )
        return out, [h]


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

    def _step(self, xp, states, rec):
        h, c = states
        z = xp + self._rec_matmul(h, rec, self.recurrent_kernel)
        u = self.units
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u : 2 * u])
        g = self.activation(z[:, 2 * u : 3 * u])
        o = self.recurrent_activation(z[:, 3 * u :])
        c = f * c + i * g
        return [o * self.activation(c), c]

    def _shared_ok(self):
        return _act_name(self.activation) == "tanh" and _act_name(self.recurrent_activation) == "sigmoid"

    def _run_shared(self, x, in_masks, states):
        """The fused ``lstm_seq`` primitive over all steps (time-major; Keras's gates are PyTorch's order)."""
        proj = self._project(x, in_masks, self.kernel, self.bias)
        seq = apply("lstm_seq", proj.transpose(0, 1), self.recurrent_kernel.mT, states[0], states[1])
        h, c = seq[0, -1], seq[1, -1]
        return (seq[0].transpose(0, 1) if self.return_sequences else h), [h, c]

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

    def _step(self, xp, states, rec):
        h = states[0]
        u, kernel = self.units, self.recurrent_kernel
        if self.reset_after:
            inner = self._rec_matmul(h, rec, kernel)
            if self.bias is not None:
                inner = inner + self.bias[1]
            z = self.recurrent_activation(xp[:, :u] + inner[:, :u])
            r = self.recurrent_activation(xp[:, u : 2 * u] + inner[:, u : 2 * u])
            hh = self.activation(xp[:, 2 * u :] + r * inner[:, 2 * u :])
        else:
            inner = self._rec_matmul(h, None if rec is None else rec[:2], kernel[:, : 2 * u])
            z = self.recurrent_activation(xp[:, :u] + inner[:, :u])
            r = self.recurrent_activation(xp[:, u : 2 * u] + inner[:, u:])
            h_h = h if rec is None else h * rec[-1]
            hh = self.activation(xp[:, 2 * u :] + (r * h_h) @ kernel[:, 2 * u :])
        return [z * h + (1.0 - z) * hh]

    def _shared_ok(self):
        tanh = _act_name(self.activation) == "tanh"
        return self.reset_after and tanh and _act_name(self.recurrent_activation) == "sigmoid"

    def _run_shared(self, x, in_masks, states):
        """``ember.nn``'s GRU cell: PyTorch's (r, z, n) gates are Keras's (z, r, h) reordered."""
        u = self.units

        def torch_order(w):
            return F.cat([w[..., u : 2 * u], w[..., :u], w[..., 2 * u :]], -1)

        b_ih = b_hh = None
        if self.bias is not None:
            b_ih, b_hh = torch_order(self.bias[0]), torch_order(self.bias[1])
        w_hh = torch_order(self.recurrent_kernel).mT
        if in_masks is None and not _records_grad(self.kernel):  # inference: one ``gru`` layer node
            out, h = _batch_major(self, _GRU_OP, x, states[0], (torch_order(self.kernel).mT, w_hh, b_ih, b_hh))
            return out, [h]
        proj = self._project(x, in_masks, torch_order(self.kernel), b_ih)
        out, h = _cell_loop(lambda gi, h: gru_step(gi, h, w_hh, b_hh), proj, states[0], self.return_sequences)
        return out, [h]

    def get_config(self):
        return {
            **super().get_config(),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        }


def _check_directions(forward, backward):
    """Keras's rule for a given backward layer: the other direction, the same stateful/return settings."""
    if forward.go_backwards == backward.go_backwards:
        raise ValueError(f"Bidirectional: the forward and backward layers need different go_backwards, both have "
                         f"go_backwards={forward.go_backwards}")
    for attr in ("stateful", "return_sequences", "return_state"):
        if getattr(forward, attr) != getattr(backward, attr):
            raise ValueError(f"Bidirectional: the forward and backward layers need the same {attr}, got "
                             f"{getattr(forward, attr)} and {getattr(backward, attr)}")


class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy backwards; merge with concat (default), sum, mul or ave.

    With ``stateful=True`` on the wrapped layer both directions carry their last states into the next call
    (``reset_state()`` zeroes both); ``initial_state`` takes the forward states then the backward ones.

    >>> import numpy as np
    >>> from ember import keras
    >>> bi = keras.layers.Bidirectional(keras.layers.GRU(3, stateful=True))
    >>> out = bi(np.ones((2, 4, 5), "float32"))
    >>> tuple(out.shape), len(bi.states)
    ((2, 6), 2)
    >>> bi.reset_state()
    """

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
        _check_directions(layer, backward_layer)
        self.backward_layer = backward_layer
        self.stateful = layer.stateful
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state

    @user_errors
    def call(self, inputs, initial_state=None, training=None, mask=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            if len(initial_state) != 2 * self.forward_layer.n_states:
                raise ValueError(
                    f"Bidirectional {self.name!r}: initial_state needs {2 * self.forward_layer.n_states} tensors "
                    f"(the forward layer's states, then the backward layer's), got {len(initial_state)}"
                )
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        fwd = self.forward_layer(inputs, initial_state=fwd_state, mask=mask)
        bwd = self.backward_layer(inputs, initial_state=bwd_state, mask=mask)
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

    @property
    def states(self):
        """The carried states of a stateful wrapper: the forward layer's, then the backward layer's."""
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(self.forward_layer.states) + tuple(self.backward_layer.states)
        return None

    def reset_state(self):
        """Zero both directions' carried states (``stateful=True`` only, as in Keras)."""
        if not self.stateful:
            raise AttributeError(f"Bidirectional {self.name!r}: reset_state() needs a stateful wrapped layer "
                                 "(pass stateful=True to the recurrent layer)")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state  # Keras's older name

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask if self.forward_layer.return_sequences else None

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
