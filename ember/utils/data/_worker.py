"""What runs inside a DataLoader worker process, and the fetchers shared with the single-process loader.

Protocol (all messages are plain tuples):
  main -> worker (its own index queue): ``(epoch, task_idx, index)``, ``("resume", epoch, base_seed)`` or
  ``None`` (exit).
  worker -> main (one shared result queue): ``(epoch, task_idx, worker_id, kind, body)`` where kind is
  ``"ok"`` (body: the pickled batch, NumPy payloads instead of tensors), ``"stop"`` (an iterable dataset's
  copy is exhausted), ``"error"`` or ``"init_error"`` (body: ``(pickled exception type or None, text)``).
Batches are pickled in the worker itself, so an unpicklable batch is reported instead of lost.
"""
from __future__ import annotations

import pickle
import queue
import random
import signal
import traceback
from dataclasses import dataclass
from itertools import islice

import numpy as np

from .collate import worker_collate

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 0.2  # how often an idle worker checks that the main process is still alive
_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """Describes the current DataLoader worker: ``id`` (0-based), ``num_workers``, ``seed`` (this worker's
    seed for this epoch) and ``dataset`` (this process's copy of the dataset)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker process: its :class:`WorkerInfo`; in the main process: ``None``.

    >>> get_worker_info() is None
    True
    """
    return _worker_info


class MapFetcher:
    """Fetches from a map-style dataset: a list of indices -> one collated batch (or one sample)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(data)


class IterFetcher:
    """Fetches from an iterable dataset: the next ``batch_size`` items (or one item when not batching)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool, batch_size=None):
        self.iterator = iter(dataset)
        self.auto_collation, self.collate_fn = auto_collation, collate_fn
        self.drop_last, self.batch_size = drop_last, batch_size
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            try:
                return self.collate_fn(next(self.iterator))
            except StopIteration:
                self.ended = True
                raise
        data = list(islice(self.iterator, self.batch_size))
        if not data or (self.drop_last and len(data) < self.batch_size):
            self.ended = True
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(dataset, iterable: bool, auto_collation: bool, collate_fn, drop_last: bool, batch_size):
    if iterable:
        return IterFetcher(dataset, auto_collation, collate_fn, drop_last, batch_size)
    return MapFetcher(dataset, auto_collation, collate_fn, drop_last)


@dataclass
class WorkerSpec:
    """Everything a worker needs; sent to it once at start (pickled when the start method is 'spawn')."""

    dataset: object
    iterable: bool
    auto_collation: bool
    collate_fn: object
    drop_last: bool
    batch_size: int | None
    worker_id: int
    num_workers: int
    base_seed: int
    worker_init_fn: object


def describe_exception(where: str) -> tuple:
    """``(pickled exception type or None, message)`` for the exception being handled."""
    import sys

    exc_type = sys.exc_info()[0]
    text = f"Caught {exc_type.__name__} {where}.\nOriginal {traceback.format_exc()}"
    try:
        type_blob = pickle.dumps(exc_type)
    except Exception:  # a locally defined exception class cannot travel; the main raises RuntimeError
        type_blob = None
    return (type_blob, text)


class _KeyErrorMessage(str):
    def __repr__(self):
        return str(self)


def reraise(body) -> None:
    """Raise, in the main process, the exception a worker described with ``describe_exception``."""
    type_blob, text = body
    exc_type = RuntimeError
    if type_blob is not None:
        try:
            exc_type = pickle.loads(type_blob)
        except Exception:
            exc_type = RuntimeError
    if exc_type is KeyError:  # KeyError's str() is the repr of its argument: keep the newlines readable
        text = _KeyErrorMessage(text)
    try:
        err = exc_type(text)
    except Exception:
        err = RuntimeError(text)
    raise err


def _seed_everything(seed: int, worker_id: int, base_seed: int) -> None:
    import ember

    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))


def _start(spec: WorkerSpec, base_seed: int, run_init_fn: bool):
    global _worker_info
    seed = base_seed + spec.worker_id
    _seed_everything(seed, spec.worker_id, base_seed)
    _worker_info = WorkerInfo(spec.worker_id, spec.num_workers, seed, spec.dataset)
    if run_init_fn and spec.worker_init_fn is not None:
        spec.worker_init_fn(spec.worker_id)
    return make_fetcher(spec.dataset, spec.iterable, spec.auto_collation,
                        worker_collate(spec.collate_fn), spec.drop_last, spec.batch_size)


def _run_task(fetcher, index, worker_id: int) -> tuple:
    where = f"in DataLoader worker process {worker_id}"
    try:
        batch = fetcher.fetch(index)
    except StopIteration:
        return "stop", None
    except Exception:
        return "error", describe_exception(where)
    try:
        return "ok", pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return "error", describe_exception(f"{where} while pickling its batch for the main process (return "
                                           "NumPy arrays, tensors, numbers and strings from collate_fn)")


def _safe_start(spec: WorkerSpec, base_seed: int, epoch: int, result_queue, run_init_fn: bool):
    """``_start``, reporting a failure to the main process (and returning None) instead of dying."""
    try:
        return _start(spec, base_seed, run_init_fn)
    except Exception:
        where = (f"in DataLoader worker process {spec.worker_id} during start-up "
                 "(worker_init_fn or the dataset's __iter__)")
        result_queue.put((epoch, -1, spec.worker_id, "init_error", describe_exception(where)))
        return None


def worker_loop(spec: WorkerSpec, index_queue, result_queue, current_epoch) -> None:
    """Main function of a worker process."""
    import multiprocessing

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the main process, which stops us
    epoch = current_epoch.value
    fetcher = _safe_start(spec, spec.base_seed, epoch, result_queue, run_init_fn=True)
    if fetcher is None:
        return
    parent = multiprocessing.parent_process()
    while True:
        try:
            msg = index_queue.get(timeout=_POLL_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                break
            continue
        if msg is None:
            break
        if msg[0] == "resume":
            _, epoch, base_seed = msg
            fetcher = _safe_start(spec, base_seed, epoch, result_queue, run_init_fn=False)
            if fetcher is None:
                return
            continue
        task_epoch, task_idx, index = msg
        if task_epoch != current_epoch.value:
            continue  # the main process moved on to a new epoch; skip stale work
        kind, body = _run_task(fetcher, index, spec.worker_id)
        result_queue.put((task_epoch, task_idx, spec.worker_id, kind, body))
    result_queue.cancel_join_thread()  # do not block exiting on results nobody will read
