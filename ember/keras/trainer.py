"""``compile`` / ``fit`` / ``evaluate`` / ``predict`` for Keras models: a thin loop over ``train_step`` with
callbacks (History and the progress bar by default). Gradients come from Ember's autograd; the optimizer (an
``ember.optim`` optimizer with Keras's formulas) and the metrics update tensors in place. The built-in train
and test steps are compiled into one graph each unless ``run_eagerly`` / ``jit_compile=False``
(``keras/train_step.py``); ``predict`` runs eagerly.

>>> import numpy as np
>>> from ember import keras
>>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
>>> model.compile(optimizer="sgd", loss="mse")
>>> history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0)
>>> len(history.history["loss"])
2
"""

from __future__ import annotations

import warnings

import numpy as np

import ember

from . import callbacks as C
from . import distribution as distribution_lib
from . import metrics as M
from . import optimizers
from .compile_utils import CompileLoss, CompileMetrics, call_loss, to_float_logs
from .data import ArrayData, adapt, unpack
from .layers.symbolic import map_structure
from .train_step import StepFunction


def _to_tensors(x):
    from .layers.base import _to_tensor

    return map_structure(_to_tensor, x)


class Trainer:
    """Mixin for ``Model``: compile, fit, evaluate, predict and the *_on_batch variants."""

    compiled = False
    stop_training = False
    stop_training_by_error = False
    run_eagerly = False
    jit_compile = "auto"
    train_function = test_function = None

    # -- compile ----------------------------------------------------------------------------------------
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Configure training: optimizer, loss(es), metrics (names, classes or instances)."""
        self.optimizer = optimizers.get(optimizer)
        if getattr(self, "dtype_policy", None) is not None and self.dtype_policy.name == "mixed_float16" and \
                not getattr(self.optimizer, "dynamic_loss_scale", False):  # Keras wraps it, as here
            from .mixed_precision import LossScaleOptimizer

            self.optimizer = LossScaleOptimizer(self.optimizer, name="loss_scale_optimizer")
        names = self.output_names
        self.loss = loss
        self._compile_loss = CompileLoss(loss, loss_weights, names) if loss is not None else None
        self._compile_metrics = CompileMetrics(
            metrics,
            weighted_metrics,
            names,
            self._compile_loss.losses if self._compile_loss else [None] * len(names),
        )
        self._loss_tracker = M.Mean(name="loss")
        self.run_eagerly, self.jit_compile = run_eagerly, jit_compile
        self.train_function = self.test_function = None
        self.compiled = True
        self._compile_args = {
            "loss": loss,
            "metrics": metrics,
            "loss_weights": loss_weights,
            "weighted_metrics": weighted_metrics,
        }

    @property
    def output_names(self):
        return ["output"]

    def _assert_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"you must call compile() on model {self.name!r} before {what}()")

    # -- metrics ------------------------------------------------------------------------------------------
    @property
    def metrics(self):
        out = []
        if self.compiled:
            out.append(self._loss_tracker)
            if self._compile_loss is not None:
                out.extend(t for t in self._compile_loss.trackers if t is not None)
            out.append(self._compile_metrics)
        out.extend(
            v
            for k, v in vars(self).items()
            if isinstance(v, M.Metric) and not k.startswith("_") and v not in out
        )
        return out

    @property
    def metrics_names(self):
        return list(self.get_metrics_result())

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        logs = {}
        for m in self.metrics:
            r = m.result()
            logs.update(r if isinstance(r, dict) else {m.name: r})
        return to_float_logs(logs)

    def _batch_logs(self):
        return self._last_logs if self._last_logs is not None else self.get_metrics_result()

    # -- steps --------------------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Total loss: the compiled loss(es) plus the layers' regularization / ``add_loss`` losses."""
        total = None
        if self._compile_loss is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        extra = self.losses
        for term in extra:
            total = term if total is None else total + term
        if total is None:
            raise ValueError(f"model {self.name!r} has no loss: pass loss= to compile() or call add_loss()")
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _clear_call_losses(self):
        for layer in self._flatten_layers():
            if layer._losses:
                layer._losses = []

    # the step bodies: tensor ops and in-place updates only, so each compiles into one graph
    def _train_step_tensors(self, x, y, sw):
        weights = self._train_weights
        self._clear_call_losses()
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred, sw)
        if weights:
            self._apply_gradients(loss, weights)
        else:  # as Keras: nothing to train (e.g. a model of add_loss layers only), the loss is still reported
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        self._loss_tracker.update_state(loss.detach(), sample_weight=_batch_size(y_pred))
        self._compile_metrics.update_state(y, y_pred, sw)

    def _apply_gradients(self, loss, weights):
        for w in weights:
            w.grad = None
        scale = getattr(self.optimizer, "loss_scale_factor", None)
        scale_loss = getattr(self.optimizer, "scale_loss", None)  # LossScaleOptimizer (mixed_precision)
        if scale_loss is not None:
            scale_loss(loss).backward()
        else:
            (loss * scale if scale is not None else loss).backward()
        self.optimizer.apply([w.grad for w in weights], weights)
        for w in weights:  # the gradients live inside the step (a compiled one does not write them out)
            w.grad = None

    def _test_step_tensors(self, x, y, sw):
        with ember.no_grad():
            self._clear_call_losses()
            y_pred = self(x, training=False)
            if self._compile_loss is not None or self.losses:
                loss = self.compute_loss(x, y, y_pred, sw, training=False)
                self._loss_tracker.update_state(loss, sample_weight=_batch_size(y_pred))
            self._compile_metrics.update_state(y, y_pred, sw)

    def _predict_step_tensors(self, x, y=None, sw=None):
        with ember.no_grad():
            return self(x, training=False)

    def _jit(self):
        return not self.run_eagerly and self.jit_compile not in (False, None)

    def make_train_function(self, force=False):
        """The (compiled) train step ``model.train_function`` (see ``keras/train_step.py``)."""
        if self.train_function is None or force:
            # dynamic loss scaling decides on inf/NaN gradients in Python each step: its train step runs eagerly
            # so does a data-parallel step: its gradients are all-reduced over MPI between backward and update
            dynamic = getattr(self.optimizer, "dynamic_loss_scale", False) or distribution_lib.distribution()
            self.train_function = StepFunction(self, "train", self._jit() and not dynamic)
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            self.test_function = StepFunction(self, "test", self._jit())
        return self.test_function

    def _fast_train_step(self, x, y, sw):
        dist = distribution_lib.distribution()
        if dist is not None:  # data parallel: this rank trains on its slice of the global batch
            x, y, sw = dist.shard(x), dist.shard(y), dist.shard(sw)
        self.make_train_function()(_to_tensors(x), _to_tensors(y), _to_tensors(sw))

    def train_step(self, data):
        """One optimisation step on a batch ``(x, y[, sample_weight])``; returns the metric logs."""
        x, y, sw = unpack(data)
        self._train_weights = self.trainable_weights
        self._train_step_tensors(_to_tensors(x), _to_tensors(y), _to_tensors(sw))
        return self.get_metrics_result()

    def test_step(self, data):
        x, y, sw = unpack(data)
        self._test_step_tensors(_to_tensors(x), _to_tensors(y), _to_tensors(sw))
        return None

    def predict_step(self, data):
        x, _, _ = unpack(data)
        return self._predict_step_tensors(_to_tensors(x))

    # -- fit ---------------------------------------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for ``epochs`` epochs; returns the ``History`` callback."""
        self._assert_compiled("fit")
        _check_binary_labels(self.loss, y)
        data = adapt(x, y, sample_weight)
        val = None
        if validation_split:
            if not isinstance(data, ArrayData):
                raise ValueError("validation_split is only supported for array inputs; pass validation_data")
            data, val = data.split(validation_split)
        elif validation_data is not None:
            val = (
                adapt(*unpack(validation_data))
                if isinstance(validation_data, (tuple, list))
                else adapt(validation_data)
            )
        if class_weight is not None:
            data = _with_class_weight(data, class_weight)
        batch_size = batch_size or 32
        steps = steps_per_epoch or data.steps(batch_size)
        epochs, steps_per_epoch, verbose = _config_caps(epochs, steps_per_epoch, steps, verbose)
        steps = steps_per_epoch or steps
        history = C.History()
        cbs = C.CallbackList(
            list(callbacks or []) + ([C.ProgbarLogger()] if verbose else []) + [history],
            self,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
            _in_fit=True,
        )
        self.stop_training = False
        self._initial_epoch_override = None
        self._last_logs = None
        cbs.on_train_begin()
        start = self._initial_epoch_override or initial_epoch
        val_args = dict(batch_size=validation_batch_size or batch_size, steps=validation_steps)
        logs = {}
        for epoch in range(start, epochs):
            logs = self._run_epoch(data, cbs, epoch, batch_size, shuffle, steps_per_epoch)
            if val is not None and (epoch + 1) % validation_freq == 0 and not self.stop_training_by_error:
                cbs.on_test_begin()  # Keras validates through evaluate(callbacks=...): the test hooks run
                val_logs = self._evaluate_data(val, **val_args, cbs=cbs)
                cbs.on_test_end(dict(val_logs))
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        if epochs > start and getattr(self, "optimizer", None) is not None and \
                hasattr(self.optimizer, "finalize_variable_values"):
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(logs)
        return history

    def _run_epoch(self, data, cbs, epoch, batch_size, shuffle, steps):
        self.reset_metrics()
        cbs.on_epoch_begin(epoch)
        custom = type(self).train_step is not Trainer.train_step
        self._train_weights = self.trainable_weights
        begin, end = cbs.wants("on_train_batch_begin"), cbs.wants("on_train_batch_end")
        self._last_logs = None
        for step, batch in enumerate(data.batches(batch_size, shuffle, steps)):
            if begin:
                cbs.on_train_batch_begin(step)
            if custom:
                self._last_logs = to_float_logs(self.train_step(_strip_none(batch)))
            else:
                self._fast_train_step(*batch)
            if end:
                cbs.on_train_batch_end(step, self._last_logs)
            if self.stop_training:
                break
        logs = self._last_logs if custom and self._last_logs is not None else self.get_metrics_result()
        return dict(logs)

    # -- evaluate / predict ----------------------------------------------------------------------------------
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Loss and metrics on the data: a float, a list ``[loss, *metrics]`` or (``return_dict``) a dict."""
        self._assert_compiled("evaluate")
        data = adapt(x, y, sample_weight)
        verbose = 1 if verbose == "auto" else verbose
        batch_size = batch_size or 32
        n_steps = steps or data.steps(batch_size)
        cbs = C.CallbackList(
            list(callbacks or []) + ([C.ProgbarLogger()] if verbose else []),
            self,
            verbose=verbose,
            epochs=1,
            steps=n_steps,
        )
        cbs.on_test_begin()
        logs = self._evaluate_data(data, batch_size, steps, cbs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        if "loss" in logs:
            values = [logs["loss"]] + [v for k, v in logs.items() if k != "loss"]
        return values[0] if len(values) == 1 else values

    def _evaluate_data(self, data, batch_size=32, steps=None, cbs=None):
        self.reset_metrics()
        custom = type(self).test_step is not Trainer.test_step
        logs = None
        for step, batch in enumerate(data.batches(batch_size, False, steps)):
            if cbs is not None:
                cbs.on_test_batch_begin(step)
            if custom:
                out = self.test_step(_strip_none(batch))
                if out is not None:
                    logs = to_float_logs(out)
            else:
                x, y, sw = batch
                self.make_test_function()(_to_tensors(x), _to_tensors(y), _to_tensors(sw))
            if cbs is not None:
                cbs.on_test_batch_end(step, None)
        return logs if logs is not None else self.get_metrics_result()

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x`` as NumPy arrays (batched; nothing is recorded for autograd)."""
        data = adapt(x)
        verbose = 1 if verbose == "auto" else verbose
        batch_size = batch_size or 32
        cbs = C.CallbackList(
            list(callbacks or []) + ([C.ProgbarLogger()] if verbose else []),
            self,
            verbose=verbose,
            epochs=1,
            steps=steps or data.steps(batch_size),
        )
        cbs.on_predict_begin()
        outs = []
        for step, batch in enumerate(data.batches(batch_size, False, steps)):  # eager: the same bits every call
            cbs.on_predict_batch_begin(step)
            out = self.predict_step(batch)
            outs.append(map_structure(_np, out))
            cbs.on_predict_batch_end(step, None)
        cbs.on_predict_end()
        if not outs:
            raise ValueError("predict() got no data")
        return _concat(outs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._assert_compiled("train_on_batch")
        if class_weight is not None:
            sample_weight = _class_weights_for(np.asarray(y), class_weight)
        self.reset_metrics()
        self._train_weights = self.trainable_weights
        self._fast_train_step(x, y, sample_weight)
        return self._format_batch_result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        self.reset_metrics()
        if type(self).test_step is not Trainer.test_step:
            self.test_step(_strip_none((x, y, sample_weight)))
        else:
            self.make_test_function()(_to_tensors(x), _to_tensors(y), _to_tensors(sample_weight))
        return self._format_batch_result(return_dict)

    def predict_on_batch(self, x):
        return map_structure(_np, self.predict_step((x,)))

    def _format_batch_result(self, return_dict):
        logs = self.get_metrics_result()
        if return_dict:
            return logs
        values = (
            [logs["loss"]] + [v for k, v in logs.items() if k != "loss"]
            if "loss" in logs
            else list(logs.values())
        )
        return values[0] if len(values) == 1 else values


def _np(t):
    return t.detach().numpy() if isinstance(t, ember.Tensor) else np.asarray(t)


def _concat(outs):
    first = outs[0]
    if isinstance(first, dict):
        return {k: np.concatenate([o[k] for o in outs]) for k in first}
    if isinstance(first, (list, tuple)):
        return [np.concatenate([o[i] for o in outs]) for i in range(len(first))]
    return np.concatenate(outs)


def _batch_size(y_pred):
    while isinstance(y_pred, (list, tuple, dict)):
        y_pred = list(y_pred.values())[0] if isinstance(y_pred, dict) else y_pred[0]
    return y_pred.shape[0] if getattr(y_pred, "ndim", 0) else 1


def _strip_none(batch):
    x, y, sw = batch
    return (x,) if y is None else (x, y) if sw is None else (x, y, sw)


def _class_weights_for(y, class_weight):
    labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    missing = set(np.unique(labels).astype(int).tolist()) - set(int(k) for k in class_weight)
    if missing:
        raise ValueError(f"class_weight has no weight for class(es) {sorted(missing)}")
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table[int(c)] for c in labels], dtype="float32")


def _with_class_weight(data, class_weight):
    if not isinstance(data, ArrayData) or isinstance(data.y, (list, tuple, dict)):
        raise ValueError("class_weight is only supported for array inputs with a single target array")
    sw = _class_weights_for(data.y, class_weight)
    if data.sample_weight is not None:
        sw = sw * data.sample_weight.reshape(len(sw))
    data.sample_weight = sw
    return data


__all__ = ["Trainer", "call_loss"]


def _is_binary_crossentropy(loss) -> bool:
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", "")
    return str(name) in ("binary_crossentropy", "BinaryCrossentropy", "bce")


def _check_binary_labels(loss, y) -> None:
    """Binary cross-entropy on labels outside [0, 1] (multi-class integer labels, say) trains on nonsense with no
    error in Keras either: warn once, on the host data, with the range seen (read before any step is traced)."""
    losses = list(loss.values()) if isinstance(loss, dict) else list(loss) if isinstance(loss, (list, tuple)) \
        else [loss]
    if y is None or not any(_is_binary_crossentropy(item) for item in losses):
        return
    try:
        arr = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
    except (TypeError, ValueError):
        return  # a dataset or generator: nothing to look at up front
    if arr.dtype.kind not in "biuf" or arr.size == 0:
        return
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:
        import warnings

        warnings.warn(f"fit: the loss is binary_crossentropy but the labels range over [{lo:g}, {hi:g}], not [0, 1]"
                      f" ({len(np.unique(arr))} distinct values). For integer class labels use "
                      "'sparse_categorical_crossentropy' with a softmax output; for one-hot labels "
                      "'categorical_crossentropy'.", stacklevel=3)


def _config_caps(epochs, steps_per_epoch, steps, verbose):
    """``keras.config``'s caps on a ``fit`` (max epochs, max steps per epoch) and its logging switch."""
    from . import config

    if config.max_epochs() is not None:
        epochs = min(epochs, config.max_epochs())
    cap = config.max_steps_per_epoch()
    if cap is not None and (steps is None or steps > cap):
        steps_per_epoch = cap
    verbose = 1 if verbose == "auto" else verbose
    return epochs, steps_per_epoch, verbose if config.is_interactive_logging_enabled() else 0
