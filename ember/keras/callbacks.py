"""Keras callbacks: the ``Callback`` base with every hook, History, ProgbarLogger, EarlyStopping,
ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN, LambdaCallback,
BackupAndRestore.

>>> from ember.keras import callbacks
>>> seen = []
>>> cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
>>> cb.on_epoch_end(0, {}); seen
[0]
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil

import numpy as np

from .progbar import Progbar


class Callback:
    """Base class; ``self.model`` and ``self.params`` are set by ``fit``/``evaluate``/``predict``."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        self.on_train_batch_end(batch, logs)


_HOOKS = [n for n in vars(Callback) if n.startswith("on_")]


class CallbackList:
    """Calls each hook on every callback; knows which batch hooks anyone actually overrides."""

    def __init__(self, callbacks, model, **params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self._overridden = {
            h: [
                cb
                for cb in self.callbacks
                if h in vars(cb) or getattr(type(cb), h) is not getattr(Callback, h)
            ]
            for h in _HOOKS
        }

    def wants(self, hook) -> bool:
        return bool(self._overridden[hook])

    def call(self, hook, *args):
        # Keras passes a dict (possibly empty) as ``logs`` to the train/test/predict and epoch hooks, never
        # None; batch hooks keep None, which means "ask model._batch_logs()" (read lazily: no sync per step)
        if "batch" not in hook:
            n_positional = 2 if "epoch" in hook else 1
            if len(args) < n_positional or args[-1] is None:
                args = args[: n_positional - 1] + ({},)
        elif len(args) < 2 or args[-1] is None:  # a user's batch hook gets a dict as in Keras
            user_args = (args[0], self._lazy_batch_logs(hook))
            for cb in self._overridden[hook]:
                getattr(cb, hook)(*(args if type(cb).__module__ == __name__ else user_args))
            return
        for cb in self._overridden[hook]:
            getattr(cb, hook)(*args)

    def _lazy_batch_logs(self, hook):
        if hook.endswith("_begin") or "predict" in hook or not any(
                type(cb).__module__ != __name__ for cb in self._overridden[hook]):
            return {}
        model = next((cb.model for cb in self.callbacks if getattr(cb, "model", None) is not None), None)
        return dict(model._batch_logs()) if model is not None else {}

    def __getattr__(self, hook):
        if hook.startswith("on_"):
            return lambda *args: self.call(hook, *args)
        raise AttributeError(hook)


class History(Callback):
    """Records every epoch's logs: ``history.history['loss']`` is a list with one value per epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class ProgbarLogger(Callback):
    """Prints ``Epoch i/N`` and the progress bar (verbose 1) or one line per epoch (verbose 2)."""

    def __init__(self):
        super().__init__()
        self.progbar = None
        self.seen = 0

    def _verbose(self):
        v = self.params.get("verbose", 1)
        return 1 if v == "auto" else v

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if self._verbose() and epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        self.progbar = Progbar(self.params.get("steps"), verbose=self._verbose())
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        bar = self.progbar
        if bar is not None and bar.verbose == 1 and bar.dynamic:
            import time

            if time.time() - bar._last_update >= bar.interval:
                bar.update(batch + 1, list((logs if logs is not None else self.model._batch_logs()).items()))

    def on_epoch_end(self, epoch, logs=None):
        if self.progbar is not None:
            target = self.progbar.target or self.seen
            self.progbar.target = target
            self.progbar.update(target, list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if not self.params.get("_in_fit"):
            self.progbar = Progbar(self.params.get("steps"), verbose=self._verbose())

    def on_test_end(self, logs=None):
        if not self.params.get("_in_fit") and self.progbar is not None:
            self.progbar.update(self.progbar.target or self.seen, list((logs or {}).items()), finalize=True)

    def on_test_batch_end(self, batch, logs=None):
        self.seen = batch + 1

    def on_predict_begin(self, logs=None):
        self.progbar = Progbar(self.params.get("steps"), verbose=self._verbose())

    def on_predict_batch_end(self, batch, logs=None):
        self.seen = batch + 1

    def on_predict_end(self, logs=None):
        self.progbar.update(self.progbar.target or self.seen, [], finalize=True)


class _Monitor(Callback):
    """Shared by callbacks that watch one logged quantity for improvement."""

    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.min_delta = monitor, abs(min_delta)
        if mode == "auto":
            name = monitor[4:] if monitor.startswith("val_") else monitor
            mode = "max" if any(k in name for k in ("acc", "auc", "precision", "recall")) else "min"
        self.mode = mode

    def _improved(self, current, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def _get(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            import warnings

            warnings.warn(
                f"{type(self).__name__}: the monitored quantity {self.monitor!r} is not in the logs "
                f"(available: {', '.join(sorted(logs or {}))})",
                stacklevel=3,
            )
        return value


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; with ``restore_best_weights`` the best
    epoch's weights are restored at the end of training (whether or not it stopped early)."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._get(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (``.keras``) or its weights after each epoch; ``save_best_only`` keeps the best one.
    ``filepath`` may contain ``{epoch}`` and log keys, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``."""

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode)
        self.filepath, self.verbose = os.fspath(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint: only save_freq='epoch' is supported")
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError(
                f"ModelCheckpoint: filepath must end in '.keras' when save_weights_only=False, got "
                f"{self.filepath!r} (use '.weights.h5' with save_weights_only=True)"
            )
        self.best = initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = self._get(logs)
            if current is None or not self._improved(current, self.best):
                if self.verbose > 0 and current is not None:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                prev = "inf" if self.best is None else f"{self.best:.5f}"
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {prev} to {current:.5f}, "
                    "saving model "
                    f"to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class ReduceLROnPlateau(_Monitor):
    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.factor, self.patience, self.verbose, self.cooldown, self.min_lr = (
            factor,
            patience,
            verbose,
            cooldown,
            min_lr,
        )

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = self._get(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate each epoch from ``schedule(epoch, lr)``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.schedule(epoch, float(self.model.optimizer.learning_rate)))
        if not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr} for epoch {epoch}")
        self.model.optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename)
        self.file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.writer, self.keys = None, None
        self._header_written = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(self.file, ["epoch"] + self.keys, delimiter=self.sep)
            if not self._header_written:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


class TerminateOnNaN(Callback):
    def on_train_batch_end(self, batch, logs=None):
        loss = (logs if logs is not None else self.model._batch_logs()).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: ``on_epoch_end=lambda epoch, logs: ...`` and so on."""

    def __init__(self, **hooks):
        super().__init__()
        unknown = set(hooks) - set(_HOOKS)
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hook(s) {sorted(unknown)}; valid: {_HOOKS}")
        for name, fn in hooks.items():
            setattr(self, name, fn)
        self._given = set(hooks)


class BackupAndRestore(Callback):
    """Back up weights + epoch each epoch to ``backup_dir``; a restarted ``fit`` resumes from there."""

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        self.backup_dir, self.delete_checkpoint = os.fspath(backup_dir), delete_checkpoint
        self._weights = os.path.join(self.backup_dir, "latest.weights.h5")
        self._meta = os.path.join(self.backup_dir, "training_metadata.json")

    def on_train_begin(self, logs=None):
        if os.path.exists(self._weights) and os.path.exists(self._meta):
            self.model.load_weights(self._weights)
            with open(self._meta) as f:
                self.model._initial_epoch_override = json.load(f)["epoch"] + 1

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        self.model.save_weights(self._weights)
        with open(self._meta, "w") as f:
            json.dump({"epoch": epoch}, f)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and not self.model.stop_training_by_error:
            shutil.rmtree(self.backup_dir, ignore_errors=True)

class SwapEMAWeights(Callback):
    """With an optimizer built with ``use_ema=True``: evaluate and predict with the moving averages of the
    weights (swapped in at ``on_test_begin`` / ``on_predict_begin``, swapped back at the end), and with
    ``swap_on_epoch=True`` also keep them in the model between epochs (so a checkpoint saved at
    ``on_epoch_end`` holds the averages).

    >>> import numpy as np
    >>> from ember import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(0.1, use_ema=True), "mse")
    >>> x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    >>> _ = model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[keras.callbacks.SwapEMAWeights()])
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_in_model = False

    def _optimizer(self):
        opt = getattr(self.model, "optimizer", None)
        opt = getattr(opt, "inner_optimizer", opt)  # LossScaleOptimizer
        if not getattr(opt, "use_ema", False):
            raise ValueError("SwapEMAWeights needs an optimizer created with use_ema=True, e.g. "
                             "keras.optimizers.Adam(use_ema=True)")
        if not opt._model_variables_moving_average:
            raise ValueError("SwapEMAWeights: the optimizer has no moving averages yet (it is built on the first "
                             "train step); call fit before evaluating with the averages")
        return opt

    def _swap(self):
        opt = self._optimizer()
        for v, average in zip(opt._trainable_variables, opt._model_variables_moving_average):
            current = v.detach().clone()
            opt.assign(v, average)
            opt.assign(average, current)
        self._ema_in_model = not self._ema_in_model

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_in_model:
            self._swap()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_in_model:
            self._swap()
            if epoch == self.params.get("epochs", 0) - 1:  # fit's end copies the averages in: keep them there
                opt = self._optimizer()
                for v, average in zip(opt._trainable_variables, opt._model_variables_moving_average):
                    opt.assign(average, v)

    def on_test_begin(self, logs=None):
        if not self._ema_in_model:
            self._swap()

    def on_test_end(self, logs=None):
        if self._ema_in_model:
            self._swap()

    on_predict_begin = on_test_begin
    on_predict_end = on_test_end


from .callbacks_tensorboard import TensorBoard  # noqa: E402,F401  (needs `tensorboard` only when training starts)
