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

from _rnn_rows import Outputs, rnn_arrays  # noqa: E402
from test_export_tflite import run_litert as _run  # noqa: E402

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
    return rnn_arrays(rnn, batch_first, n_states, STEPS, batch, rng)


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
