"""Recurrent layers in the saved artifact with a dynamic sequence length AND a dynamic batch: nn.LSTM / GRU / RNN
(multi-layer, bidirectional, batch_first, initial states, no bias, relu) and Keras LSTM / GRU / SimpleRNN /
Bidirectional, exported once, saved, loaded and run at three (steps, batch) sizes the trace never saw, equal to
eager to 1e-5. The layer node keeps no unrolled decomposition there: the executor runs its own loop over time.
One row also loads in a fresh process; ember.jit.trace takes the same dynamic_shapes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from _rnn_rows import Outputs  # noqa: E402
from _rnn_rows import rnn_arrays as _arrays

import ember
from ember import keras, nn
from ember.export import Dim

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [(1, 1), (4, 3), (9, 2)]  # (steps, batch); the example is (5, 2)


# name, layer, batch_first, number of initial-state inputs
TORCH_ROWS = [
    ("lstm", lambda: nn.LSTM(3, 4), False, 0),
    ("lstm_2layer_bidirectional_batch_first", lambda: nn.LSTM(3, 4, 2, bidirectional=True, batch_first=True),
     True, 0),
    ("lstm_initial_states", lambda: nn.LSTM(3, 4, 2), False, 2),
    ("gru", lambda: nn.GRU(3, 4), False, 0),
    ("gru_2layer_bidirectional", lambda: nn.GRU(3, 5, 2, bidirectional=True), False, 0),
    ("gru_batch_first_h0", lambda: nn.GRU(3, 4, bidirectional=True, batch_first=True), True, 1),
    ("rnn_relu_no_bias", lambda: nn.RNN(3, 4, nonlinearity="relu", bias=False), False, 0),
    ("rnn_tanh_bidirectional_2layer_h0", lambda: nn.RNN(3, 4, 2, bidirectional=True), False, 1),
]


def _dims(batch_first, n_states):
    steps, batch = Dim("steps"), Dim("batch")
    x = {1: steps, 0: batch} if batch_first else {0: steps, 1: batch}
    return [x] + [{1: batch}] * n_states


def _check_sizes(model, loaded, make_arrays):
    for steps, batch in SIZES:
        arrays = make_arrays(steps, batch)
        with ember.no_grad():
            want = model(*[ember.tensor(a) for a in arrays])
        got = loaded(*[ember.tensor(a) for a in arrays])
        want, got = (list(w) if isinstance(w, (tuple, list)) else [w] for w in (want, got))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g.numpy()), np.asarray(w.numpy()), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, make, batch_first, n_states", TORCH_ROWS, ids=[r[0] for r in TORCH_ROWS])
def test_torch_rnn_layers_run_at_any_length(tmp_path, name, make, batch_first, n_states):
    ember.manual_seed(0)
    model = Outputs(make()).eval()
    rng = np.random.default_rng(0)
    example = [ember.tensor(a) for a in _arrays(model.rnn, batch_first, n_states, 5, 2, rng)]
    prog = ember.export.export(model, tuple(example), dynamic_shapes=_dims(batch_first, n_states))
    assert prog.input_specs[0].dim_names[1 if batch_first else 0] == "steps"
    path = str(tmp_path / "model.ember")
    ember.export.save(prog, path)
    loaded = ember.export.load(path)
    _check_sizes(model, loaded, lambda t, b: _arrays(model.rnn, batch_first, n_states, t, b, rng))


KERAS_ROWS = [
    ("LSTM", lambda: keras.layers.LSTM(4, return_sequences=True)),
    ("LSTM_last", lambda: keras.layers.LSTM(4)),
    ("GRU", lambda: keras.layers.GRU(4)),
    ("GRU_sequences_backwards", lambda: keras.layers.GRU(4, return_sequences=True, go_backwards=True)),
    ("SimpleRNN_relu", lambda: keras.layers.SimpleRNN(4, activation="relu", return_sequences=True)),
    ("SimpleRNN_no_bias", lambda: keras.layers.SimpleRNN(4, use_bias=False)),
    ("Bidirectional_GRU", lambda: keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True))),
]


@pytest.mark.parametrize("name, make", KERAS_ROWS, ids=[r[0] for r in KERAS_ROWS])
def test_keras_rnn_layers_export_with_any_length(tmp_path, name, make):
    keras.utils.set_random_seed(0)
    inp = keras.Input((None, 3))  # (batch, steps, features): both None, both dynamic in the artifact
    model = keras.Model(inp, make()(inp))
    path = str(tmp_path / "model.ember")
    model.export(path, format="ember", verbose=False)
    loaded = ember.export.load(path)
    rng = np.random.default_rng(1)
    _check_sizes(model, loaded, lambda t, b: [rng.normal(size=(b, t, 3)).astype(np.float32)])


def test_jit_trace_takes_dynamic_shapes(tmp_path):
    ember.manual_seed(0)
    model = Outputs(nn.GRU(3, 4, batch_first=True)).eval()
    traced = ember.jit.trace(model, ember.randn(2, 5, 3), dynamic_shapes=[{0: Dim("batch"), 1: Dim("steps")}])
    path = str(tmp_path / "model.ember")
    traced.save(path)
    rng = np.random.default_rng(2)
    _check_sizes(model, ember.jit.load(path), lambda t, b: [rng.normal(size=(b, t, 3)).astype(np.float32)])


FRESH = """
import sys, numpy as np, ember
prog = ember.export.load(sys.argv[1])
x = np.load(sys.argv[2])
np.savez(sys.argv[3], *[np.asarray(t.numpy()) for t in prog(ember.tensor(x))])
"""


def test_fresh_process_runs_other_lengths(tmp_path):
    ember.manual_seed(0)
    model = Outputs(nn.GRU(3, 4, 2, bidirectional=True)).eval()
    prog = ember.export.export(model, (ember.randn(5, 2, 3),), dynamic_shapes=_dims(False, 0))
    path = str(tmp_path / "model.ember")
    ember.export.save(prog, path)
    x = np.random.default_rng(3).normal(size=(11, 3, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    env = dict(os.environ, PYTHONPATH=REPO)
    # run from tmp_path: this test module (which defines the model) is not importable there
    subprocess.run([sys.executable, "-c", FRESH, path, str(tmp_path / "x.npy"), str(tmp_path / "out.npz")],
                   check=True, env=env, cwd=tmp_path, timeout=120)
    got = np.load(tmp_path / "out.npz")
    with ember.no_grad():
        want = model(ember.tensor(x))
    assert len(got.files) == len(want) == 2
    for k, w in enumerate(want):
        np.testing.assert_allclose(got[f"arr_{k}"], w.numpy(), rtol=1e-5, atol=1e-5)


def test_a_gru_node_runs_its_kernel_not_an_unrolled_body():
    model = nn.GRU(3, 4).eval()
    prog = ember.export.export(model, (ember.randn(5, 2, 3),), dynamic_shapes=_dims(False, 0))
    nodes = [n for n in prog.graph.nodes if n.op == "gru"]
    assert len(nodes) == 1 and "body" not in nodes[0].meta  # no decomposition at the example's 5 steps
    static = ember.export.export(model, (ember.randn(5, 2, 3),), dynamic_shapes=[{1: Dim("batch")}])
    assert next(n for n in static.graph.nodes if n.op == "gru").meta["body"] is not None


def test_a_layer_node_without_body_or_kernel_is_a_load_error():
    from ember.graph.serialize import SerializeError, graph_from_json, graph_to_json

    prog = ember.export.export(nn.Conv1d(2, 3, 3).eval(), (ember.randn(1, 2, 8),))
    data, arrays = graph_to_json(prog.graph)
    node = next(n for n in data["nodes"] if n["op"] == "conv")
    del node["body"]  # a conv cannot run without its decomposition: loading says so instead of failing later
    with pytest.raises(SerializeError, match="conv.*no run-time kernel"):
        graph_from_json(data, arrays)
