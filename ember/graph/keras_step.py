"""The Keras trainer's compiled gradient step (``Model.compile(jit_compile=...)``, on by default).

``grad_step(model, x, y, sample_weight)`` runs forward, loss and backward, leaving gradients in the
trainable weights' ``.grad`` and returning ``(y_pred, loss)``; the trainer then applies its optimizer. With
``jit_compile`` on and ``run_eagerly`` off it goes through ``ember.compile``:

- the first step runs eagerly (it builds layers and optimizer slots);
- the first step that runs the compiled graph is checked once against an eager run of the same step from the
  same state (weights, non-trainable variables, RNG): a layer that updates arrays behind the tracer's back
  would make them differ. On a mismatch, or if tracing raises, training continues eagerly with one warning.

Example:
    >>> import numpy as np
    >>> from ember import keras
    >>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> _ = model.fit(np.ones((64, 3)), np.ones((64, 1)), epochs=2, batch_size=16, verbose=0)
    >>> model._ember_grad_step.mode
    'compiled'
"""

from __future__ import annotations

import warnings

import numpy as np

from .capture import flatten, is_tensor


def grad_step(model, x, y, sample_weight):
    """Forward + loss + backward for one batch of ``model``; returns (y_pred, detached loss)."""
    step = getattr(model, "_ember_grad_step", None)
    if step is None or step.loss_obj is not model._compile_loss:
        step = model._ember_grad_step = GradStep(model)
    return step(x, y, sample_weight)


def _eager(model, x, y, sw):
    model._clear_call_losses()
    y_pred = model(x, training=True)
    loss = model.compute_loss(x, y, y_pred, sw)
    for w in model._train_weights:
        w.grad = None
    scale_loss = getattr(model.optimizer, "scale_loss", None)  # loss scaling (mixed_precision)
    (loss if scale_loss is None else scale_loss(loss)).backward()
    return y_pred, loss.detach()


class GradStep:
    """Per-model state: ``mode`` is "eager" (first step, or turned off), "checking" or "compiled"."""

    def __init__(self, model):
        self.model = model
        self.loss_obj = model._compile_loss
        self.compiled = None
        self.mode = "eager" if self._opted_out() else "first"

    def _opted_out(self) -> bool:
        m = self.model
        if m.run_eagerly or m.jit_compile in (False, None):
            return True
        if getattr(m.optimizer, "dynamic_loss_scale", False):  # its scale changes between steps: run eagerly
            return True
        trackers = getattr(m._compile_loss, "trackers", None) or []
        return any(t is not None for t in trackers)  # per-output loss trackers read values in Python

    def run(self, x, y, sw):
        return _eager(self.model, x, y, sw)

    def __call__(self, x, y, sw):
        from ..tensor import Tensor

        if self.mode == "eager" or not all(isinstance(a, Tensor) or a is None for a in (x, y, sw)):
            return _eager(self.model, x, y, sw)
        if self.mode == "first":
            self.mode = "checking"
            return _eager(self.model, x, y, sw)
        if self.compiled is None:
            from .compile import compile as ember_compile

            self.compiled = ember_compile(self.run)
        if self.mode == "checking":
            return self._checked(x, y, sw)
        return self.compiled(x, y, sw)

    def _checked(self, x, y, sw):
        from . import compile as C

        hits = C.stats(self.compiled)["cache_hits"]
        snap = _snapshot(self.model)
        try:
            got = _effects(self.model, self.compiled(x, y, sw))
        except Exception as exc:  # noqa: BLE001 - any tracing failure: report once and run eagerly
            _restore(snap)
            self._give_up(f"tracing the train step failed ({type(exc).__name__}: {exc})")
            return _eager(self.model, x, y, sw)
        if C.stats(self.compiled)["cache_hits"] == hits or C.stats(self.compiled)["fallbacks"]:
            return self._from(got)  # that call traced (eagerly); check the first graph run
        _restore(snap)
        out = _eager(self.model, x, y, sw)
        want = _effects(self.model, out)
        if len(got[0]) != len(want[0]) or not all(
            a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(got[0], want[0])
        ):
            self._give_up("the compiled step did not reproduce the eager step (a layer may update arrays "
                          "directly, bypassing ember ops)")
        else:
            self.mode = "compiled"
        return out

    def _from(self, got):
        return got[1]

    def _give_up(self, why):
        self.mode = "eager"
        warnings.warn(f"Keras jit_compile: {why}; training continues eagerly (pass run_eagerly=True or "
                      "jit_compile=False to compile() to skip the attempt)", RuntimeWarning, stacklevel=6)


def _snapshot(model):
    from ..random import get_rng_state

    return get_rng_state(), [(w, w._data.copy()) for w in model.weights]


def _restore(snap):
    from ..random import set_rng_state

    rng, saved = snap
    set_rng_state(rng)
    for w, arr in saved:
        w._data[...] = arr


def _effects(model, result):
    """(arrays to compare, the result): outputs, loss, gradients and every variable's value."""
    from ..backend import CPU, to_device

    leaves: list = []
    flatten(result, leaves, is_tensor)
    tensors = leaves + [w.grad for w in model._train_weights if w.grad is not None] + list(model.weights)
    return [np.array(to_device(t._data, CPU)) for t in tensors], result
