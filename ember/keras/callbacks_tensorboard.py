"""``keras.callbacks.TensorBoard`` with Keras 3's layout: ``<log_dir>/train`` and ``<log_dir>/validation`` runs,
``epoch_<metric>`` scalars per epoch (train also ``epoch_learning_rate``), ``batch_<metric>`` every
``update_freq`` batches, ``evaluation_<metric>_vs_iterations`` after each evaluation, weight histograms
``<weight.path>/histogram`` (and ``/image``) every ``histogram_freq`` epochs, the traced model graph, and an
``ember.profiler`` trace of the ``profile_batch`` batches under ``train/plugins/profile/``.

Needs the ``tensorboard`` package (``pip install "ember[tensorboard]"``) when training starts.

Example:
    >>> import numpy as np, tempfile, os
    >>> from ember import keras
    >>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> log_dir = tempfile.mkdtemp()
    >>> _ = model.fit(np.ones((8, 3)), np.ones((8, 2)), epochs=1, verbose=0,
    ...               callbacks=[keras.callbacks.TensorBoard(log_dir)])
    >>> sorted(os.listdir(log_dir))
    ['train']
"""

from __future__ import annotations

import os
import socket
import time

import numpy as np

from .callbacks import Callback

_PROFILE_ERROR = ("profile_batch must be a non-negative integer or 2-tuple of positive integers. A pair of positive "
                  "integers signifies a range of batches to profile. Found: {}")


def _profile_range(profile_batch):
    spec = profile_batch
    if isinstance(spec, str):
        try:
            spec = [int(p) for p in spec.split(",")]
        except ValueError:
            raise ValueError(_PROFILE_ERROR.format(profile_batch)) from None
        spec = spec[0] if len(spec) == 1 else tuple(spec)
    if isinstance(spec, int) and not isinstance(spec, bool):
        start = stop = spec
    elif isinstance(spec, (tuple, list)) and len(spec) == 2 and all(isinstance(v, int) for v in spec):
        start, stop = spec
    else:
        raise ValueError(_PROFILE_ERROR.format(profile_batch))
    if start < 0 or stop < start:
        raise ValueError(_PROFILE_ERROR.format(profile_batch))
    return start, stop


class TensorBoard(Callback):
    """Log metrics, weight histograms, the graph and a profile for TensorBoard (``tensorboard --logdir``)."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph, self.write_images = bool(write_graph), bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        if self.update_freq != "epoch" and not (isinstance(self.update_freq, int) and self.update_freq > 0):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive integer, got {update_freq!r}")
        self.embeddings_freq, self.embeddings_metadata = embeddings_freq, embeddings_metadata
        self._start_batch, self._stop_batch = _profile_range(profile_batch)
        self._writers = {}
        self._global_train_batch = 0
        self._profiler = None
        self._example_input = None
        self._hook = None

    # ------------------------------------------------------------------------------------------ writers
    def set_model(self, model):
        super().set_model(model)
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers = {}

    def _writer(self, which):
        if which not in self._writers:
            from ember.utils.tensorboard import SummaryWriter

            self._writers[which] = SummaryWriter(self._train_dir if which == "train" else self._val_dir)
        return self._writers[which]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}

    # -------------------------------------------------------------------------------------------- train
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._writer("train")
        if self.write_graph:  # keep the first batch's input to trace the graph with
            self._hook = self.model.register_forward_pre_hook(self._keep_input)

    def _keep_input(self, module, args):
        if self._example_input is None and args:
            self._example_input = args[0]

    def on_train_end(self, logs=None):
        self._drop_hook()
        if self._profiler is not None:
            self._stop_profile()
        self._close_writers()

    def _drop_hook(self):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self._start_batch and self._global_train_batch == self._start_batch:
            from ember.profiler import profile

            self._profiler = profile(record_shapes=True).start()
        if self.write_steps_per_second:
            self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self._hook is not None and self._example_input is not None:
            self._drop_hook()
            self._write_graph()
        if self.write_steps_per_second:
            rate = 1.0 / max(time.perf_counter() - self._batch_start, 1e-9)
            self._writer("train").add_scalar("batch_steps_per_second", rate, step)
        if self.update_freq != "epoch" and step % self.update_freq == 0:
            values = logs if isinstance(logs, dict) and logs else self.model.get_metrics_result()
            for name, value in values.items():
                self._writer("train").add_scalar(f"batch_{name}", value, step)
        if self._profiler is not None and step >= self._stop_batch:
            self._stop_profile()

    def _write_graph(self):
        import ember

        x = self._example_input
        self._example_input = None
        modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()  # trace the inference graph: no dropout, no BatchNorm statistics update
        try:
            with ember.no_grad():
                self._writer("train").add_graph(self.model, x)
        except Exception as exc:  # a model that cannot be traced still trains; say why there is no graph
            import warnings

            warnings.warn(f"TensorBoard callback: no graph written ({exc})", RuntimeWarning, stacklevel=2)
        finally:
            for m, mode in modes:
                m.training = mode

    def _stop_profile(self):
        prof, self._profiler = self._profiler, None
        prof.stop()
        run = time.strftime("%Y_%m_%d_%H_%M_%S")
        folder = os.path.join(self._train_dir, "plugins", "profile", run)
        os.makedirs(folder, exist_ok=True)
        prof.export_chrome_trace(os.path.join(folder, f"{socket.gethostname()}.pt.trace.json"))

    # --------------------------------------------------------------------------------------- evaluation
    def on_test_begin(self, logs=None):
        self._evaluated = True

    def on_test_end(self, logs=None):
        self._write_evaluation(logs or {})

    def _write_evaluation(self, logs):
        opt = getattr(self.model, "optimizer", None)
        if opt is None or not hasattr(opt, "iterations"):
            return
        for name, value in logs.items():
            self._writer("val").add_scalar(f"evaluation_{name}_vs_iterations", value, int(opt.iterations))

    # ------------------------------------------------------------------------------------------- epochs
    def on_epoch_begin(self, epoch, logs=None):
        self._evaluated = False
        if self.write_steps_per_second:
            self._epoch_start = time.perf_counter()
            self._epoch_iterations = int(getattr(self.model.optimizer, "iterations", 0))

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        lr = getattr(getattr(self.model, "optimizer", None), "learning_rate", None)
        if lr is not None:
            train["learning_rate"] = float(np.asarray(lr))
        if self.write_steps_per_second:
            steps = int(self.model.optimizer.iterations) - self._epoch_iterations
            train["steps_per_second"] = steps / max(time.perf_counter() - self._epoch_start, 1e-9)
        for name, value in train.items():
            self._writer("train").add_scalar(f"epoch_{name}", value, epoch)
        for name, value in val.items():
            self._writer("val").add_scalar(f"epoch_{name}", value, epoch)
        if val and not getattr(self, "_evaluated", False):  # fit's validation pass ran without test hooks
            self._write_evaluation(val)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for w in self._writers.values():
            w.flush()

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for i, weight in enumerate(layer.weights):
                name = (getattr(weight, "path", None) or f"{layer.name}/weight_{i}").replace(":", "_")
                values = np.asarray(weight.detach())
                writer.add_histogram(f"{name}/histogram", values, epoch)
                if self.write_images:
                    img = _weight_image(values)
                    if img is not None:
                        writer.add_images(f"{name}/image", img, epoch, dataformats="NHWC")


def _weight_image(w):
    """A weight as Keras pictures it (bias: a row, kernel: a matrix, conv kernel: one image per output
    channel), scaled to 0..1 for display; None for shapes it cannot show."""
    w = np.squeeze(w)
    if w.ndim == 1:
        img = w.reshape(1, -1, 1, 1)
    elif w.ndim == 2:
        w = w.T if w.shape[0] > w.shape[1] else w
        img = w.reshape(1, *w.shape, 1)
    elif w.ndim == 3:
        img = np.transpose(w, (2, 0, 1))[..., None]
    else:
        return None
    lo, hi = float(img.min()), float(img.max())
    return ((img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)).astype(np.float32)
