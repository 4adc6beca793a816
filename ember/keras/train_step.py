"""The Keras trainer's step functions, compiled with ``ember.compile`` (``Model.compile(jit_compile=...)``,
on by default; ``run_eagerly=True`` or ``jit_compile=False`` runs the same functions eagerly).

``fit``'s train step (forward, loss, backward, the optimizer update, BatchNormalization's moving statistics
and the metric updates) is written with tensor ops and in-place updates only, so it compiles into one graph;
so does ``evaluate``'s test step. The state a step reads and writes (weights, optimizer
slots and ``iterations`` / ``learning_rate``, metric variables, random generator state) stays in Ember
tensors, and the compiled graph writes it back in place, so compiled and eager runs are the same program.

The first call of a step function runs eagerly: it builds the layers, the optimizer's slots and the metrics'
variables. The second call traces (running eagerly under the tracer); later calls run the graph.

Example:
    >>> import numpy as np, ember
    >>> from ember import keras
    >>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> _ = model.fit(np.ones((64, 3)), np.ones((64, 1)), epochs=2, batch_size=16, verbose=0)
    >>> stats = ember.compile.stats(model.train_function.compiled)
    >>> stats["traces"], stats["cache_hits"], stats["fallbacks"]
    (1, 6, 0)
"""

from __future__ import annotations

import ember

from .metrics import Metric


class StepFunction:
    """One of a model's steps (``"train"`` or ``"test"``): ``step(x, y, sample_weight)``.

    ``compiled`` is the ``ember.compile`` function (None when the model runs eagerly); its stats show
    whether the step ran as one graph (``ember.compile.stats(model.train_function.compiled)``)."""

    def __init__(self, model, kind, jit):
        self.model, self.kind = model, kind
        self._body = getattr(model, f"_{kind}_step_tensors")
        self.calls = 0
        self._state = None
        body = self._body

        def keras_step(x, y, sample_weight, state):  # ``state``: tensors the step updates, as graph inputs
            return body(x, y, sample_weight)

        keras_step.__qualname__ = f"{type(model).__name__}.{kind}_step"
        self.compiled = ember.compile(keras_step) if jit else None

    def __call__(self, x, y=None, sample_weight=None):
        self.calls += 1
        if self.compiled is None or self.calls == 1:
            return self._body(x, y, sample_weight)
        if self._state is None:
            self._state = step_state(self.model)
        return self.compiled(x, y, sample_weight, self._state)


def step_state(model):
    """The optimizer's and the metrics' variables (the weights are reached through the model)."""
    out = list(getattr(getattr(model, "optimizer", None), "variables", None) or [])
    for m in _all_metrics(model.metrics):
        out.extend(m.variables)
    return out


def _all_metrics(metrics):
    out = []
    for m in metrics:
        inner = getattr(m, "built_metrics", None)
        if inner is not None:
            out.extend(x for _, x, _, _ in inner)
        elif isinstance(m, Metric):
            out.append(m)
    return out
