"""Tracing a model for export (any format): eval mode, no grad, layer nodes, module paths, dynamic axes.

``trace_for_export(model, args, kwargs, dynamic)`` returns an ``ExportTrace``: the graph (inputs: the tensor
arguments, then the parameters and buffers it reads; layer ops as one node each), the names of the state
inputs, and which input axes are dynamic. ``dynamic`` = {argument leaf index: {axis: name}}: the model is
traced a second time with those axes resized and the two graphs generalized (``ember.graph.dynamic``), so
the dims that follow from them are None. Data-dependent Python control flow raises ``ExportError`` naming
the line (a strict trace); so does a size the graph cannot carry dynamically.
"""

from __future__ import annotations

import numpy as np

from .. import no_grad
from ..graph.capture import flatten, is_tensor, run_traced
from ..graph.dynamic import generalize
from ..graph.tracer import GraphBreak
from .program import ExportError  # one error type for every exporter


class ExportTrace:
    def __init__(self, cap, graph, state_names, dynamic):
        self.cap, self.graph, self.state_names, self.dynamic = cap, graph, state_names, dynamic
        self.n_args = cap.n_args
        self.state_arrays = [obj._data if kind == "tensor" else obj.grad._data for kind, obj in cap.state]


def _modules_of(model) -> dict:
    named = getattr(model, "named_modules", None)
    return {id(m): name for name, m in named()} if named is not None else {}


def _state_names(model, cap) -> list[str]:
    names = {}
    for getter in ("named_parameters", "named_buffers"):
        fn = getattr(model, getter, None)
        if fn is not None:
            for name, t in fn():
                names.setdefault(id(t), name)
    out = []
    for i, (kind, obj) in enumerate(cap.state):
        out.append(names.get(id(obj), f"state_{i}") + (".grad" if kind == "grad" else ""))
    return out


def _trace(model, args, kwargs, what):
    try:
        with no_grad():
            cap = run_traced(model, args, kwargs, mode="strict", module_names=_modules_of(model))
    except GraphBreak as exc:
        raise ExportError(f"{what}: the model's Python depends on a tensor's value, so no single graph "
                          f"describes it: {exc}. Rewrite that line with tensor ops (ember.where, masks) or "
                          "export the branch you need.") from None
    if any(has for _, has in cap.writeback):
        raise ExportError(f"{what}: the forward writes to its state (e.g. batch norm statistics in training "
                          "mode); call model.eval() first (export uses training=TrainingMode.EVAL by default)")
    return cap


def _resized(leaves, dynamic, step):
    """Copies of the argument leaves with each dynamic axis grown by ``step`` (data repeated, so token ids
    stay valid)."""
    from ..tensor import Tensor

    out = []
    for i, t in enumerate(leaves):
        arr = np.asarray(t._data)
        for axis in sorted(dynamic.get(i, {})):
            n = arr.shape[axis]
            arr = np.take(arr, np.arange(n + step) % max(n, 1), axis=axis)
        out.append(Tensor._wrap(np.ascontiguousarray(arr)) if i in dynamic else t)
    return out


def trace_for_export(model, args, kwargs=None, dynamic=None, what="export") -> ExportTrace:
    """Trace ``model(*args, **kwargs)`` for an exporter (see the module docstring)."""
    from ..graph.capture import unflatten

    kwargs, dynamic = kwargs or {}, dynamic or {}
    cap = _trace(model, args, kwargs, what)
    graph = cap.graph
    if dynamic:
        leaves: list = []
        spec = flatten((args, kwargs), leaves, is_tensor)
        why: list = []
        for step in (1, 2):
            a2, k2 = unflatten(spec, iter(_resized(leaves, dynamic, step)))
            try:
                other = _trace(model, a2, k2, what).graph
            except (ValueError, RuntimeError, IndexError, TypeError) as exc:
                raise ExportError(f"{what}: the model does not run with the dynamic axes resized "
                                  f"({exc}); mark every input whose size follows them as dynamic too") from None
            dims = {i: set(axes) for i, axes in dynamic.items()}
            graph = generalize(cap.graph, other, dims, why)
            if graph is not None:
                break
        if graph is None:
            axes = ", ".join(f"axis {sorted(a)} of input {i}" for i, a in dynamic.items())
            raise ExportError(f"{what}: cannot make {axes} dynamic: {why[-1] if why else 'the graph depends on it'}")
    return ExportTrace(cap, graph, _state_names(model, cap), dynamic)
