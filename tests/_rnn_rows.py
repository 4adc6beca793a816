"""Shared by the recurrent-layer export tests: a module returning an RNN's outputs flat, and its inputs."""
from __future__ import annotations

import numpy as np

from ember import nn


class Outputs(nn.Module):
    """The layer's outputs as a flat tuple (y, h_n[, c_n]); initial states as extra inputs when given."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *states):
        lstm = isinstance(self.rnn, nn.LSTM)
        y, s = self.rnn(x, (tuple(states) if lstm else states[0]) if states else None)
        return (y,) + (tuple(s) if lstm else (s,))


def rnn_arrays(rnn, batch_first, n_states, steps, batch, rng):
    """A float32 input of 3 features (steps x batch, in the layer's layout) and ``n_states`` initial states."""
    x = rng.normal(size=(batch, steps, 3) if batch_first else (steps, batch, 3)).astype(np.float32)
    rows = rnn.num_layers * (2 if rnn.bidirectional else 1)
    return [x] + [rng.normal(size=(rows, batch, rnn.hidden_size)).astype(np.float32) for _ in range(n_states)]
