"""``SummaryWriter`` with PyTorch's API over the ``tensorboard`` package's ``EventFileWriter`` (events are queued
and written by its background thread; ``flush()`` waits for them, ``flush_secs`` bounds how stale the file gets).

Example:
    >>> import tempfile
    >>> from ember.utils.tensorboard import SummaryWriter
    >>> with SummaryWriter(tempfile.mkdtemp()) as w:
    ...     for step in range(3):
    ...         w.add_scalar("loss", 1.0 / (step + 1), step)
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import summary as S


def default_log_dir(comment: str = "") -> str:
    """``runs/<Mon DD_HH-MM-SS>_<host><comment>``, the folder PyTorch's SummaryWriter picks."""
    return os.path.join("runs", datetime.now().strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname() + comment)


def _check_writable(log_dir: str) -> None:
    try:
        os.makedirs(log_dir, exist_ok=True)
        probe = os.path.join(log_dir, f".ember-write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise OSError(exc.errno, f"SummaryWriter: cannot write event files to log_dir {log_dir!r}: "
                                 f"{exc.strerror or exc}. Pass a folder you can write to.") from None


def _use_c_crc32c() -> bool:
    """Give TensorBoard's record writer a C CRC-32C (``google-crc32c``, in the ``tensorboard`` extra) in place
    of its pure-Python one (~40 us per event, most of what logging cost a small training step). The record
    format is unchanged: the same masked CRC (tests compare both on random data). False when not installed."""
    try:
        import google_crc32c
        from tensorboard.summary.writer import record_writer
    except ImportError:
        return False
    if getattr(google_crc32c, "implementation", "c") != "c":  # its pure-Python fallback is no faster
        return False

    def masked_crc32c(data) -> int:
        crc = google_crc32c.value(bytes(data))
        return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF

    record_writer.masked_crc32c = masked_crc32c
    return True


C_CRC32C = _use_c_crc32c()

# pending events reach the writer thread in batches: after this long, this many events or this many bytes
HANDOFF_SECS, HANDOFF_EVENTS, HANDOFF_BYTES = 1.0, 1000, 1 << 20


class FileWriter:
    """One event file in ``log_dir``: Events in, written asynchronously by TensorBoard's EventFileWriter.

    Events are handed to the writer thread in batches (``HANDOFF_*``): one wake-up of that thread per batch
    instead of per event (bench.bench_logging on a loaded machine: per-event hand-off +22-28% seed_linear CPU
    per step, batches +16%; what remained was mostly TensorBoard's pure-Python CRC-32C, ~40 us per event, now
    a C one when ``google-crc32c`` is installed: see ``_use_c_crc32c``).
    The thread writes them to disk every ``flush_secs`` (TensorBoard's writer), and ``flush()`` at once.
    ``max_queue`` (PyTorch's argument) is accepted; the writer's queue holds a whole batch so a hand-off never
    waits on the thread.
    """

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        _check_writable(log_dir)
        self.log_dir = str(log_dir)
        self.event_writer = EventFileWriter(self.log_dir, max(int(max_queue), HANDOFF_EVENTS + 1), flush_secs,
                                            filename_suffix)
        self._pending: list = []
        self._pending_bytes = 0
        self._handed = time.monotonic()

    def get_logdir(self) -> str:
        return self.log_dir

    def add_event(self, event: Event, step=None, walltime=None) -> None:
        event.wall_time = time.time() if walltime is None else float(walltime)
        if step is not None:
            event.step = int(step)
        self._pending.append(event)
        self._pending_bytes += event.ByteSize()
        if (len(self._pending) >= HANDOFF_EVENTS or self._pending_bytes >= HANDOFF_BYTES
                or time.monotonic() - self._handed > HANDOFF_SECS):
            self._hand_off()

    def _hand_off(self) -> None:
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        for event in pending:
            self.event_writer.add_event(event)
        self._handed = time.monotonic()

    def add_summary(self, summary, global_step=None, walltime=None) -> None:
        self.add_event(Event(summary=summary), global_step, walltime)

    def flush(self) -> None:
        self._hand_off()
        self.event_writer.flush()

    def close(self) -> None:
        self._hand_off()
        self.event_writer.close()


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir`` (default ``runs/<date>_<host><comment>``).

    The methods mirror ``torch.utils.tensorboard.SummaryWriter``: ``add_scalar``, ``add_scalars``,
    ``add_histogram``, ``add_image``, ``add_images``, ``add_figure``, ``add_text``, ``add_graph``,
    ``add_hparams``, ``add_pr_curve``, ``add_embedding``; ``flush()``, ``close()``; ``with`` closes it.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        self.log_dir = str(log_dir) if log_dir is not None else default_log_dir(comment)
        self._opts = (max_queue, flush_secs, filename_suffix)
        self.file_writer = FileWriter(self.log_dir, *self._opts)
        self.all_writers = {self.log_dir: self.file_writer}
        if purge_step is not None:  # TensorBoard drops older events at or after this step of the run
            self.file_writer.add_event(Event(session_log=SessionLog(status=SessionLog.START)), purge_step)

    # ------------------------------------------------------------------------------------------ plumbing
    def get_logdir(self) -> str:
        return self.log_dir

    def _get_file_writer(self) -> FileWriter:
        if self.file_writer is None:  # reopened after close(), as PyTorch's writer does
            self.file_writer = FileWriter(self.log_dir, *self._opts)
            self.all_writers[self.log_dir] = self.file_writer
        return self.file_writer

    def _add(self, summary, global_step, walltime):
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def flush(self) -> None:
        for w in self.all_writers.values():
            w.flush()

    def close(self) -> None:
        for w in self.all_writers.values():
            w.close()
        self.all_writers = {}
        self.file_writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------------------------------- scalars
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One point of the curve ``tag``; NaN and Inf are written as they are (TensorBoard shows them)."""
        self._add(S.scalar(tag, scalar_value, new_style, double_precision), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves on one chart: each key is written to its own run ``<log_dir>/<main_tag>_<key>``."""
        walltime = time.time() if walltime is None else walltime
        for key, value in tag_scalar_dict.items():
            path = os.path.join(self.log_dir, main_tag.replace("/", "_") + "_" + key)
            writer = self.all_writers.get(path)
            if writer is None:
                writer = self.all_writers[path] = FileWriter(path, *self._opts)
            writer.add_summary(S.scalar(main_tag, value), global_step, walltime)

    # ---------------------------------------------------------------------------------- distributions
    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        self._add(S.histogram(tag, values, bins, max_bins), global_step, walltime)

    # ------------------------------------------------------------------------------------------- images
    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: ``dataformats`` CHW (default), HWC, HW or WH; uint8 0..255 or float 0..1."""
        self._add(S.image(tag, S.to_hwc("add_image", tag, img_tensor, dataformats)), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images (NCHW or NHWC), shown tiled in one picture."""
        self._add(S.image(tag, S.to_hwc("add_images", tag, img_tensor, dataformats)), global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, tiled) rendered to an image."""
        import numpy as np

        figs = list(figure) if isinstance(figure, (list, tuple)) else [figure]
        imgs = [S.figure_to_hwc(f) for f in figs]
        if close:
            import matplotlib.pyplot as plt

            for f in figs:
                plt.close(f)
        arr = imgs[0] if len(imgs) == 1 else np.stack(imgs)
        self._add(S.image(tag, S.to_hwc("add_figure", tag, arr, "HWC" if len(imgs) == 1 else "NHWC")),
                  global_step, walltime)

    # --------------------------------------------------------------------------------------------- text
    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._add(S.text(tag, text_string), global_step, walltime)

    # -------------------------------------------------------------------------------------------- graph
    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The model's traced graph (``model(input_to_model)``) for the Graphs tab, one box per module."""
        from .graph import model_graph_def

        if input_to_model is None:
            raise ValueError("add_graph(model, input_to_model): an example input is needed to trace the model")
        gd = model_graph_def(model, input_to_model)
        if verbose:
            print(gd)
        self._get_file_writer().add_event(Event(graph_def=gd.SerializeToString()))

    # -------------------------------------------------------------------------------------- PR, hparams
    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127, weights=None,
                     walltime=None):
        self._add(S.pr_curve(tag, labels, predictions, num_thresholds, weights), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """One hparams-table row: written as its own run (``run_name``, default the current time) holding the
        hyperparameters and the metrics as scalars."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("add_hparams(hparam_dict, metric_dict): both must be dicts")
        run = os.path.join(self.log_dir, run_name or str(time.time()))
        with SummaryWriter(run) as w:
            for s in S.hparams(hparam_dict, metric_dict, hparam_domain_discrete):
                w.file_writer.add_summary(s, global_step)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    # ----------------------------------------------------------------------------------------- projector
    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None, tag="default",
                      metadata_header=None):
        """Points for the Projector tab: ``mat`` (N x D), optional labels (``metadata``) and thumbnails
        (``label_img``, N x C x H x W)."""
        from .projector import write_embedding

        write_embedding(self.log_dir, mat, metadata, label_img, global_step, tag, metadata_header)
