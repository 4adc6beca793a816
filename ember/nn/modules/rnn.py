"""Recurrent layers: RNN, LSTM, GRU and their cells, with PyTorch's parameter names, gate order and init.

Weights copied from PyTorch give the same outputs: LSTM gates are (i, f, g, o), GRU gates (r, z, n) with the
n gate's ``r * (W_hn h + b_hn)``, and every layer has two bias vectors. The input projections of a whole
sequence are one matmul; the recurrence is the fused ``lstm_seq`` primitive for LSTM (``fused=True``, the
default: a hand-written backward through time) or a cell-by-cell loop of Ember ops (GRU, RNN, and LSTM with
``fused=False``, which also gives gradients of gradients). A ``PackedSequence`` input goes through the same
layers, padded, with each sequence's own length (``rnn_packed.py``).
"""
from __future__ import annotations

import math

from ... import creation
from ...errors import mark, with_user_line
from ...functional.math import where
from ...functional.shape import cat, stack
from ...ops import apply, composite
from .. import init
from ..functional.dropout import dropout
from ..functional.linear import linear
from ..utils.rnn import PackedSequence
from .module import Module, Parameter
from .rnn_packed import packed_forward

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _err(exc, skip=3):
    return mark(with_user_line(exc, skip))


# -- one step of each cell (Ember ops: differentiable to any order) ----------------------------------------
def batch_zeros(x, batch_axis: int, shape):
    """Zeros of ``shape`` (a default initial state) read off ``x`` (3-D, batch at ``batch_axis`` 0 or 1): the
    sum over an empty slice of ``x`` is exactly 0 whatever ``x`` holds, and in a traced graph its size follows
    ``x``'s batch dim, so an exported model keeps a dynamic batch (a ``zeros(batch, ...)`` would be a constant
    of the example's batch size). Returns a broadcast view of a (batch, 1) zero column."""
    other = 1 - batch_axis
    idx = tuple(slice(None) if a == batch_axis else slice(0, 0) if a == other else slice(0, 1) for a in range(3))
    return x.detach()[idx].sum(other).expand(*shape)


def lstm_step(gi, h, c, w_hh, b_hh):
    """One LSTM step from the input projection ``gi`` = x @ W_ih^T + b_ih; returns (h, c)."""
    z = gi + linear(h, w_hh, b_hh)
    i, f, g, o = z.chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_step(gi, h, w_hh, b_hh):
    """One GRU step: r, z from the sum of both projections; n = tanh(gi_n + r * (W_hn h + b_hn))."""
    gh = linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)


def rnn_step(gi, h, w_hh, b_hh, relu):
    z = gi + linear(h, w_hh, b_hh)
    return z.relu() if relu else z.tanh()


def _loop(mode, gi, h, c, w_hh, b_hh, mask=None):
    """Run the recurrence over the (T, B, G*H) input projections ``gi``; returns (outputs, h_n, c_n).
    ``mask`` (T, B, 1) bool (packed sequences): where it is False a sequence keeps its previous state."""
    outs = []
    for t in range(gi.shape[0]):
        if mode == "LSTM":
            h_new, c_new = lstm_step(gi[t], h, c, w_hh, b_hh)
        elif mode == "GRU":
            h_new, c_new = gru_step(gi[t], h, w_hh, b_hh), c
        else:
            h_new, c_new = rnn_step(gi[t], h, w_hh, b_hh, mode == "RNN_RELU"), c
        if mask is None:
            h, c = h_new, c_new
        else:
            h = where(mask[t], h_new, h)
            c = c_new if c is None else where(mask[t], c_new, c)
        outs.append(h)
    return stack(outs, 0), h, c


def _fused_lstm(gi, h, c, w_hh, b_hh, lens=None):
    xw = gi if b_hh is None else gi + b_hh
    out = apply("lstm_seq", xw, w_hh, h, c)
    if lens is not None:  # packed: each sequence's state at its own last step (the padding steps are unread)
        return out[0], lens.final(out[0]), lens.final(out[1])
    return out[0], out[0, -1], out[1, -1]


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU (parameters, shapes, layers and directions)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = "RNN" if mode.startswith("RNN") else mode
        if proj_size:
            raise _err(NotImplementedError(f"{name}: proj_size is not supported yet"), 3)
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise _err(ValueError(f"{name}: dropout should be a number in [0, 1], got {dropout!r}"), 3)
        if hidden_size <= 0 or num_layers <= 0:
            raise _err(ValueError(f"{name}: hidden_size ({hidden_size}) and num_layers ({num_layers}) must "
                                  "be positive"), 3)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers = num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size, self.fused = bidirectional, proj_size, True
        fac = {"device": device, "dtype": dtype}
        gate = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:2 if bidirectional else 1]:
                in_size = input_size if layer == 0 else hidden_size * (2 if bidirectional else 1)
                shapes = [("weight_ih", (gate, in_size)), ("weight_hh", (gate, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                for pname, shape in shapes:
                    full = f"{pname}_l{layer}{suffix}"
                    setattr(self, full, Parameter(creation.empty(*shape, **fac)))
                    self._flat_weights_names.append(full)
        self.reset_parameters()

    def flatten_parameters(self):
        """A no-op: PyTorch packs the weights into one cuDNN buffer here; Ember keeps them as they are."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def _name(self):
        return "RNN" if self.mode.startswith("RNN") else self.mode

    @property
    def all_weights(self):
        suffixes = ("", "_reverse")[:2 if self.bidirectional else 1]
        return [[getattr(self, n) for n in self._flat_weights_names if n.split("_l")[1] == f"{layer}{s}"]
                for layer in range(self.num_layers) for s in suffixes]

    def _weights(self, layer, suffix):
        get = lambda n: getattr(self, f"{n}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _check_input(self, input):
        if not hasattr(input, "_data") or input.ndim not in (2, 3):
            got = tuple(input.shape) if hasattr(input, "shape") else type(input).__name__
            raise _err(ValueError(f"{self._name}: expected input to be 2-D (unbatched) or 3-D, got {got}"), 4)
        if input.shape[-1] != self.input_size:
            raise _err(RuntimeError(
                f"{self._name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                f"{input.shape[-1]} (input of shape {tuple(input.shape)}; layout "
                f"{'(batch, seq, feature)' if self.batch_first else '(seq, batch, feature)'})"), 4)
        w = self.weight_ih_l0
        if input._data.dtype != w._data.dtype:
            raise _err(RuntimeError(f"{self._name}: input dtype {input.dtype.name} does not match the "
                                    f"weights' {w.dtype.name}; convert with x.to({w.dtype.name})"), 4)

    def _check_hidden(self, h, batch, what):
        dirs = 2 if self.bidirectional else 1
        expected = (self.num_layers * dirs, batch, self.hidden_size)
        if tuple(h.shape) != expected:
            raise _err(RuntimeError(f"{self._name}: expected {what} of size {expected} (num_layers * "
                                    f"num_directions, batch, hidden_size), got {tuple(h.shape)}"), 5)

    def _initial(self, hx, batch, x):
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        if hx is None:
            zero = batch_zeros(x, 1, shape)  # x is (T, B, I): the size follows the batch in an export
            return zero, (zero if self.mode == "LSTM" else None)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise _err(TypeError("LSTM: the initial state must be a tuple (h_0, c_0)"), 4)
            return hx
        if isinstance(hx, (tuple, list)):
            raise _err(TypeError(f"{self._name}: the initial state must be one tensor h_0, not a tuple"), 4)
        return hx, None

    def _direction(self, x, layer, suffix, h, c, lens=None):
        """One direction of one layer; ``lens`` (packed input, ``rnn_packed.Lengths``): each sequence reversed
        within its own length, its final state read at its own last step."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
        gi = linear(x, w_ih, b_ih)
        rev = suffix == "_reverse"
        if rev:
            gi = gi.flip(0) if lens is None else lens.reverse(gi)
        if self.mode == "LSTM" and self.fused:
            out, h, c = _fused_lstm(gi, h, c, w_hh, b_hh, lens)
        else:
            out, h, c = _loop(self.mode, gi, h, c, w_hh, b_hh, None if lens is None else lens.mask)
        if rev:
            out = out.flip(0) if lens is None else lens.reverse(out)
        return out, h, c

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return packed_forward(self, input, hx)
        self._check_input(input)
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        if unbatched and hx is not None:
            hx = tuple(h.unsqueeze(1) for h in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(1)
        states = []
        if hx is not None:
            h0, c0 = self._initial(hx, x.shape[1], x)
            self._check_hidden(h0, x.shape[1], "hidden[0]" if self.mode == "LSTM" else "hx")
            if c0 is not None:
                self._check_hidden(c0, x.shape[1], "hidden[1]")
            states = [h0] if c0 is None else [h0, c0]
        outs = _LAYER_OPS[self.mode](self, x, states)
        return self._pack(outs[0], outs[1], outs[2] if self.mode == "LSTM" else None, unbatched)

    def _layers(self, x, states, lens=None):
        """All layers and directions over the (T, B, I) sequence ``x``: (output, h_n[, c_n]); ``lens``: the
        lengths of a packed batch (``x`` then padded, in sorted order)."""
        if states:
            h0, c0 = states[0], (states[1] if len(states) > 1 else None)
        else:
            h0, c0 = self._initial(None, x.shape[1], x)
        hs, cs, k = [], [], 0
        for layer in range(self.num_layers):
            outs = []
            for suffix in ("", "_reverse")[:2 if self.bidirectional else 1]:
                out, h, c = self._direction(x, layer, suffix, h0[k], None if c0 is None else c0[k], lens)
                outs.append(out)
                hs.append(h)
                cs.append(c)
                k += 1
            x = outs[0] if len(outs) == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, training=True)
        if self.mode == "LSTM":
            return x, stack(hs, 0), stack(cs, 0)
        return x, stack(hs, 0)

    def _pack(self, out, h_n, c_n, unbatched):
        if unbatched:
            out, h_n = out[:, 0], h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, (h_n if c_n is None else (h_n, c_n))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        defaults = (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False))
        for key, default in defaults:
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked and bidirectional.

    >>> import ember
    >>> from ember import nn
    >>> rnn = nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(ember.randn(5, 3, 10))
    >>> out.shape, h_n.shape
    (ember.Size([5, 3, 20]), ember.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise _err(ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'"), 2)
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o); returns (output, (h_n, c_n)).

    >>> import ember
    >>> from ember import nn
    >>> lstm = nn.LSTM(64, 256, batch_first=True)
    >>> out, (h_n, c_n) = lstm(ember.randn(32, 16, 64))
    >>> out.shape, h_n.shape
    (ember.Size([32, 16, 256]), ember.Size([1, 32, 256]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n); returns (output, h_n).

    >>> import ember
    >>> from ember import nn
    >>> gru = nn.GRU(8, 16, bidirectional=True)
    >>> out, h_n = gru(ember.randn(5, 2, 8))
    >>> out.shape, h_n.shape
    (ember.Size([5, 2, 32]), ember.Size([2, 2, 16]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


# -- the layer ops (one lstm / gru / rnn node per call in a trace; see ember/ops/layers/rnn.py) -------------
def _bind(module, x, states):
    if module.dropout and module.training and module.num_layers > 1:
        return None  # dropout between layers: a training graph, recorded as primitives
    attrs = {"hidden_size": module.hidden_size, "num_layers": module.num_layers,
             "bidirectional": bool(module.bidirectional), "bias": bool(module.bias), "has_state": bool(states)}
    if module.mode.startswith("RNN"):
        attrs["nonlinearity"] = "relu" if module.mode == "RNN_RELU" else "tanh"
    return [x] + list(states) + [getattr(module, n) for n in module._flat_weights_names], attrs


def _run_layers(module, x, states):
    return module._layers(x, states)


_LAYER_OPS = {"LSTM": composite("lstm", _bind)(_run_layers), "GRU": composite("gru", _bind)(_run_layers)}
_LAYER_OPS["RNN_TANH"] = _LAYER_OPS["RNN_RELU"] = composite("rnn", _bind)(_run_layers)


# -- cells ---------------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        fac = {"device": device, "dtype": dtype}
        gate = self._gates * hidden_size
        self.weight_ih = Parameter(creation.empty(gate, input_size, **fac))
        self.weight_hh = Parameter(creation.empty(gate, hidden_size, **fac))
        if bias:
            self.bias_ih = Parameter(creation.empty(gate, **fac))
            self.bias_hh = Parameter(creation.empty(gate, **fac))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, hx):
        name = type(self).__name__
        if not hasattr(input, "_data") or input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            got = tuple(input.shape) if hasattr(input, "shape") else type(input).__name__
            raise _err(RuntimeError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                                    f"({self.input_size},), got {got}"), 4)
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            zero = creation.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            hx = (zero, zero) if self._gates == 4 else zero
        elif unbatched:
            hx = tuple(h.unsqueeze(0) for h in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(0)
        for h in (hx if isinstance(hx, (tuple, list)) else (hx,)):
            if tuple(h.shape) != (x.shape[0], self.hidden_size):
                raise _err(RuntimeError(f"{name}: hidden state of shape {tuple(h.shape)} does not match "
                                        f"(batch, hidden_size) = {(x.shape[0], self.hidden_size)}"), 4)
        return x, hx, unbatched

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).

    >>> import ember
    >>> from ember import nn
    >>> nn.RNNCell(10, 20)(ember.randn(3, 10)).shape
    ember.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise _err(ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'"), 2)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, h, unbatched = self._prepare(input, hx)
        h = rnn_step(linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh,
                     self.nonlinearity == "relu")
        return h[0] if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step; returns (h', c').

    >>> import ember
    >>> from ember import nn
    >>> h, c = nn.LSTMCell(10, 20)(ember.randn(3, 10))
    >>> h.shape
    ember.Size([3, 20])
    """

    _gates = 4

    def forward(self, input, hx=None):
        x, (h, c), unbatched = self._prepare(input, hx)
        h, c = lstm_step(linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        return (h[0], c[0]) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step; returns h'.

    >>> import ember
    >>> from ember import nn
    >>> nn.GRUCell(10, 20)(ember.randn(3, 10)).shape
    ember.Size([3, 20])
    """

    _gates = 3

    def forward(self, input, hx=None):
        x, h, unbatched = self._prepare(input, hx)
        h = gru_step(linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h[0] if unbatched else h
