"""What ``compile`` builds: per-output losses (with weights and trackers) and per-output metrics, named like
Keras 3 (``loss``, ``<output>_loss``, ``<output>_<metric>`` for multi-output models).

>>> import numpy as np
>>> cl = CompileLoss("mse", None, ["out"])
>>> float(cl(np.ones((2, 1)), np.zeros((2, 1), "float32")))
1.0
"""

from __future__ import annotations

import numpy as np

from ember.tensor import Tensor

from . import backend as K
from . import losses as L
from . import metrics as M


def flat_outputs(y_pred, names):
    """Model outputs as a list in output order (from a tensor, list/tuple or dict keyed by output name)."""
    if isinstance(y_pred, dict):
        return [y_pred[n] for n in names]
    if isinstance(y_pred, (list, tuple)):
        return list(y_pred)
    return [y_pred]


def flat_targets(y, names, what="targets"):
    """Targets matched to outputs: a dict by output name, a list by position, or one array for one output."""
    n = len(names)
    if y is None:
        return [None] * n
    if isinstance(y, dict):
        unknown = set(y) - set(names)
        if unknown:
            raise ValueError(
                f"{what} given for unknown output(s) {sorted(unknown)}; the model's outputs are {names}"
            )
        return [y.get(name) for name in names]
    if isinstance(y, (list, tuple)) and n > 1:
        if len(y) != n:
            raise ValueError(f"the model has {n} outputs {names} but {len(y)} {what} were given")
        return list(y)
    if n > 1:
        raise ValueError(
            f"the model has {n} outputs {names}; pass {what} as a list or a dict keyed by output name"
        )
    return [y]


def _per_output(spec, names, what):
    """Spread a compile argument over outputs: one value for all, a list by position, or a dict by name."""
    if isinstance(spec, dict):
        unknown = set(spec) - set(names)
        if unknown:
            raise ValueError(
                f"compile: {what} given for unknown output(s) {sorted(unknown)}; outputs are {names}"
            )
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and len(names) > 1 and what == "loss":
        if len(spec) != len(names):
            raise ValueError(f"compile: {len(spec)} losses given for {len(names)} outputs {names}")
        return list(spec)
    return [spec] * len(names)


class CompileLoss:
    """Sum of ``weight_i * loss_i(y_i, y_pred_i)`` over outputs; tracks each output's loss when >1 output."""

    def __init__(self, loss, loss_weights, output_names):
        self.names = list(output_names)
        self.losses = [L.get(s) for s in _per_output(loss, self.names, "loss")]
        weights = _per_output(loss_weights, self.names, "loss_weights") if loss_weights is not None else None
        if isinstance(loss_weights, (list, tuple)):
            weights = list(loss_weights)
        self.weights = [1.0 if w is None else float(w) for w in (weights or [None] * len(self.names))]
        multi = len(self.names) > 1
        self.trackers = [
            M.Mean(name=f"{n}_loss") if multi and fn is not None else None
            for n, fn in zip(self.names, self.losses)
        ]

    def __call__(self, y, y_pred, sample_weight=None):
        targets = flat_targets(y, self.names)
        preds = flat_outputs(y_pred, self.names)
        weights = (
            flat_targets(sample_weight, self.names, "sample weights")
            if isinstance(sample_weight, (dict, list, tuple)) and len(self.names) > 1
            else [sample_weight] * len(self.names)
        )
        total = None
        for fn, w, tracker, t, p, sw in zip(
            self.losses, self.weights, self.trackers, targets, preds, weights
        ):
            if fn is None:
                continue
            if t is None:
                raise ValueError("compile() was given a loss but fit/evaluate got no targets (y)")
            value = call_loss(fn, t, p, sw)
            if tracker is not None:
                tracker.update_state(value.detach(), sample_weight=_batch_size(p))
            value = value * w if w != 1.0 else value
            total = value if total is None else total + value
        return total


def _batch_size(p):
    return p.shape[0] if getattr(p, "ndim", 0) else 1


def call_loss(fn, y_true, y_pred, sample_weight=None):
    """A scalar loss tensor from a Loss instance or a per-sample loss function (mean-reduced)."""
    if isinstance(fn, L.Loss):
        return fn(y_true, y_pred, sample_weight)
    if isinstance(y_pred, Tensor) and y_pred.is_floating_point() and y_pred.element_size() == 2:
        y_pred = y_pred.to(K.floatx())  # mixed precision: Keras computes losses in floatx
    values = fn(y_true, y_pred)
    if not isinstance(values, Tensor):
        values = K.convert(values)
    return L.reduce_values(values, sample_weight)


class CompileMetrics(M.Metric):
    """All compiled metrics; ``result()`` is a dict. Resolved on the first batch (``'accuracy'`` depends on
    the target and prediction shapes)."""

    def __init__(self, metrics, weighted_metrics, output_names, losses):
        super().__init__(name="compile_metrics")
        self.names, self.losses = list(output_names), losses
        self.spec = self._spread(metrics)
        self.weighted_spec = self._spread(weighted_metrics)
        self.built_metrics = None

    def _spread(self, spec):
        n = len(self.names)
        if spec is None:
            return [[] for _ in range(n)]
        if isinstance(spec, dict):
            return [_as_list(spec.get(name)) for name in self.names]
        if (
            n > 1
            and isinstance(spec, (list, tuple))
            and spec
            and all(isinstance(s, (list, tuple)) or s is None for s in spec)
        ):
            if len(spec) != n:
                raise ValueError(f"compile: {len(spec)} metric lists given for {n} outputs {self.names}")
            return [_as_list(s) for s in spec]
        return [_as_list(spec) for _ in range(n)]

    def _build(self, targets, preds):
        self.built_metrics = []
        for i, name in enumerate(self.names):
            for specs, weighted in ((self.spec[i], False), (self.weighted_spec[i], True)):
                for s in specs:
                    m = M.get(s, y_true=targets[i], y_pred=preds[i], loss=self.losses[i])
                    m = _copy_if_shared(m, self.built_metrics)
                    display = m.name if len(self.names) == 1 else f"{name}_{m.name}"
                    self.built_metrics.append((i, m, weighted, display))

    def update_state(self, y, y_pred, sample_weight=None):
        targets = flat_targets(y, self.names)
        preds = [p.detach() if isinstance(p, Tensor) else p for p in flat_outputs(y_pred, self.names)]
        if self.built_metrics is None:
            self._build(targets, preds)
        for i, m, weighted, _ in self.built_metrics:
            m.update_state(targets[i], preds[i], sample_weight=sample_weight if weighted else None)

    def result(self):
        return {display: m.result() for _, m, _, display in (self.built_metrics or [])}

    def reset_state(self):
        for _, m, _, _ in self.built_metrics or []:
            m.reset_state()

    @property
    def metric_names(self):
        return [d for _, _, _, d in (self.built_metrics or [])]


def _as_list(spec):
    if spec is None:
        return []
    return list(spec) if isinstance(spec, (list, tuple)) else [spec]


def _copy_if_shared(metric, built):
    if any(m is metric for _, m, _, _ in built):
        return type(metric).from_config(metric.get_config())
    return metric


def to_float_logs(logs):
    """Flatten nested dicts of results and turn array scalars into Python floats, sorted by name."""
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(to_float_logs(v))
        else:
            out[k] = float(np.asarray(K.to_numpy(v)))
    return dict(sorted(out.items()))
