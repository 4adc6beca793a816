"""TFLite export of recurrent layers (nn.LSTM / nn.GRU / nn.RNN), unrolled over a static sequence length into
FULLY_CONNECTED / ADD / MUL / LOGISTIC / TANH: multi-layer, bidirectional, batch_first, with and without initial
states and biases, each row run in the real LiteRT interpreter at two batch sizes (the batch stays dynamic) and
compared with Ember's eager outputs (y and h_n, c_n) at 1e-5; a dynamic sequence length is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn

pytest.importorskip("flatbuffers")
litert = pytest.importorskip("ai_edge_litert.interpreter")


class Outputs(nn.Module):
    """The layer's outputs as a flat tuple (y, h_n[, c_n]); initial states as extra inputs when given."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *states):
        lstm = isinstance(self.rnn, nn.LSTM)
        y, s = self.rnn(x, (tuple(states) if lstm else states[0]) if states else None)
        return (y,) + (tuple(s) if lstm else (s,))


# name, layer, batch_first, number of initial-state inputs
ROWS = [
    ("lstm", lambda: nn.LSTM(3, 4), False, 0),
    ("lstm_2layer_bidirectional_batch_first", lambda: nn.LSTM(3, 4, 2, bidirectional=True, batch_first=True),
     True, 0),
    ("lstm_initial_states", lambda: nn.LSTM(3, 4, 2), False, 2),
    ("gru_2layer", lambda: nn.GRU(3, 5, 2), False, 0),
    ("gru_bidirectional_batch_first_h0", lambda: nn.GRU(3, 4, bidirectional=True, batch_first=True), True, 1),
    ("rnn_relu_no_bias", lambda: nn.RNN(3, 4, nonlinearity="relu", bias=False), False, 0),
    ("rnn_tanh_bidirectional_2layer_h0", lambda: nn.RNN(3, 4, 2, bidirectional=True), False, 1),
]
STEPS = 6


def _arrays(rnn, batch_first, n_states, batch, rng):
    x = rng.normal(size=(batch, STEPS, 3) if batch_first else (STEPS, batch, 3)).astype(np.float32)
    rows = rnn.num_layers * (2 if rnn.bidirectional else 1)
    return [x] + [rng.normal(size=(rows, batch, rnn.hidden_size)).astype(np.float32) for _ in range(n_states)]


def _run(data, arrays):
    interp = litert.Interpreter(model_content=data)
    details = interp.get_input_details()
    for d, a in zip(details, arrays):
        interp.resize_tensor_input(d["index"], list(a.shape))
    interp.allocate_tensors()
    for d, a in zip(details, arrays):
        interp.set_tensor(d["index"], a)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


@pytest.mark.parametrize("name, make, batch_first, n_states", ROWS, ids=[r[0] for r in ROWS])
def test_recurrent_layers_run_in_litert(name, make, batch_first, n_states):
    ember.manual_seed(0)
    model = Outputs(make()).eval()
    rng = np.random.default_rng(0)
    example = [ember.tensor(a) for a in _arrays(model.rnn, batch_first, n_states, 2, rng)]
    dyn = [{(0 if batch_first else 1): ember.export.Dim("batch")}] + [{1: ember.export.Dim("batch")}] * n_states
    data = ember.export.tflite(model, tuple(example), dynamic_shapes=dyn)
    for batch in (1, 3):
        arrays = _arrays(model.rnn, batch_first, n_states, batch, rng)
        with ember.no_grad():
            want = [t.numpy() for t in model(*[ember.tensor(a) for a in arrays])]
        got = _run(data, arrays)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_dynamic_sequence_length_is_a_clear_error():
    model = Outputs(nn.GRU(3, 4)).eval()
    with pytest.raises(ember.export.ExportError, match="gru.*static sequence length"):
        ember.export.tflite(model, (ember.randn(5, 2, 3),), dynamic_shapes=[{0: ember.export.Dim("steps")}])
