"""Compiled equals eager, always (issue 10): a table of training programs, each run N steps eagerly and N
steps with its step under ``ember.compile`` from the same seed and weights; every step's outputs,
parameters, gradients, buffers and optimizer state must agree to 1e-6 (or, for rows that read a tensor's
value in Python, the compiled step raises a graph break naming the line under ``strict=True``).

The rows live in tests/_compiled/: every layer and loss of ``ember.nn`` in train and eval mode
(rows_layers), optimizers, schedulers, in-place ops, clipping, randomness and graph breaks (rows_training);
later layers, the torch-named math and linear algebra, indexed writes, distributions and L-BFGS (rows_more);
Keras layers in train and eval mode (rows_keras); the special functions (rows_special).
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from _compiled import rows_keras, rows_layers, rows_linalg, rows_more, rows_scatter, rows_special, rows_training
from _compiled.harness import assert_same, run

import ember
from ember.graph.tracer import GraphBreak

# rows also run on the fused kernels (numba on CPU) that ember.compile uses by default: they are slower to
# build, so a selection: fusion around random draws, an optimizer update and in-place writes
_JIT = ("layer-Dropout-train", "optimizer-Adam-weight_decay-amsgrad", "issue-mul_-on-activation",
        "random-ops-in-step")
ROWS = rows_layers.ROWS + rows_training.ROWS + rows_more.ROWS + rows_keras.ROWS + rows_scatter.ROWS + rows_special.ROWS
ROWS += rows_linalg.ROWS
ROWS += [replace(r, name=r.name + "-jit", jit=None) for r in ROWS if r.name in _JIT]
EQUAL = [r for r in ROWS if r.breaks is None]
BREAKS = [r for r in ROWS if r.breaks is not None]


def test_row_names_are_unique():
    names = [r.name for r in ROWS]
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("row", EQUAL, ids=[r.name for r in EQUAL])
def test_compiled_step_equals_eager(row):
    eager, _ = run(row, compiled=False)
    compiled, fn = run(row, compiled=True)
    assert_same(row, eager, compiled)
    stats = ember.compile.stats(fn)
    assert not stats["graph_breaks"] and not stats["fallbacks"], stats
    if row.compiled_runs:  # the comparison covered steps run by the compiled graph, not only traces
        assert stats["cache_hits"] >= 1, stats


@pytest.mark.parametrize("row", BREAKS, ids=[r.name for r in BREAKS])
def test_value_read_is_a_graph_break_naming_the_line(row):
    with pytest.raises(GraphBreak, match=row.breaks):
        run(row, compiled=True, strict=True)
    eager, _ = run(row, compiled=False)
    with pytest.warns(RuntimeWarning, match=row.breaks):  # without strict: a warning, then eager steps
        compiled, fn = run(row, compiled=True, strict=False)
    assert_same(row, eager, compiled)
    assert ember.compile.stats(fn)["graph_breaks"]
