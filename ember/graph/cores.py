"""Ember's own CPU passes over the cores: a large elementwise or row pass cut into chunks that the calling
thread and a small persistent pool of helper threads take in turn (issue 16).

The chunks are handed out dynamically: the caller takes chunks itself and only waits for the ones a helper
has already started, so a helper that the OS does not schedule (a busy machine) costs the caller almost
nothing, it just does all the work. The chunk functions are numba loops compiled with ``nogil=True`` or
NumPy ufunc calls, which release the GIL, so helpers run them truly in parallel. Each element (each row) is
computed by the same code as before, only by another thread: results are bit-identical.

The helper count follows ``ember.set_num_threads`` (``n - 1`` helpers; none at 1 thread). Splitting is off
unless ``EMBER_SPLIT=1``: on a quiet 2-core machine it measured slower at 2 threads (see docs/internals.md);
``EMBER_SPLIT_MIN`` is the smallest pass (elements) that is split.

>>> import numpy as np
>>> from ember.graph import cores
>>> out = np.empty(100_000)
>>> cores.run_chunks(lambda s, e: np.multiply(np.arange(s, e), 2.0, out=out[s:e]), out.size, 4096)
>>> float(out[99_999])
199998.0
"""
from __future__ import annotations

import itertools
import os
import queue
import threading

ENABLED = os.environ.get("EMBER_SPLIT", "0") == "1"  # opt-in until it measures faster (internals.md)
SPLIT_MIN = int(os.environ.get("EMBER_SPLIT_MIN", 1 << 16))  # elements; below this one thread is faster
CHUNK_MIN = 1 << 14  # elements per chunk (~10-30 us of work): the hand-off costs a few us

_POOL: dict = {"pid": None, "threads": [], "queue": None}


class _Job:
    """``count`` chunks ``fn(start, stop)`` over ``size`` elements; whoever is free takes the next one."""

    def __init__(self, fn, size, chunk):
        self.fn, self.size, self.chunk = fn, size, chunk
        self.count = -(-size // chunk)
        self.next = self.done = 0
        self.error = None
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def work(self):
        while True:
            with self.lock:
                i = self.next
                if i >= self.count:
                    return
                self.next = i + 1
            try:
                start = i * self.chunk
                self.fn(start, min(start + self.chunk, self.size))
            except BaseException as exc:  # re-raised on the calling thread
                self.error = exc
            with self.lock:
                self.done += 1
                if self.done == self.count:
                    self.finished.set()


def _helper(jobs):
    while True:
        job = jobs.get()
        if job is None:
            return
        job.work()


def threads() -> int:
    """Threads a split pass uses: ``ember.get_num_threads()`` (1 when splitting is off)."""
    if not ENABLED:
        return 1
    from .._threads import cached_num_threads

    return cached_num_threads()


def _helpers(n):
    """The pool's job queue with ``n`` helper threads running (restarted after a fork or a new count)."""
    if _POOL["pid"] != os.getpid() or len(_POOL["threads"]) != n:
        if _POOL["pid"] == os.getpid():
            for _ in _POOL["threads"]:
                _POOL["queue"].put(None)
        jobs = queue.SimpleQueue()
        _POOL.update(pid=os.getpid(), queue=jobs, threads=[
            threading.Thread(target=_helper, args=(jobs,), name=f"ember-core-{i + 1}", daemon=True)
            for i in range(n)])
        for t in _POOL["threads"]:
            t.start()
    return _POOL["queue"]


def run_chunks(fn, size: int, align: int = 1, unit: int = 1) -> None:
    """Call ``fn(start, stop)`` over ``[0, size)`` in chunks (multiples of ``align``), on this thread and the
    helpers; returns when every chunk is done. ``unit``: elements per index (a row's length). Small passes
    or one thread: one call on this thread."""
    n = threads()
    if n < 2 or size * unit < SPLIT_MIN:
        fn(0, size)
        return
    chunk = max(-(-CHUNK_MIN // unit), -(-size // (4 * n)))  # ~4 chunks per thread: a late helper leaves little undone
    run_job(fn, size, -(-chunk // align) * align, n)


class _Blocks:
    """Fixed blocks ``fn(lo, hi)`` handed to helpers; ``work`` takes blocks until none is left unstarted.
    Lean on purpose (a batch-1 layer is ~10-30 us): list.pop and next() on a counter are atomic under the GIL,
    one lock is the "all done" signal."""

    __slots__ = ("fn", "todo", "count", "finished", "done", "error")

    def __init__(self, fn, blocks):
        self.fn, self.todo, self.count, self.error = fn, list(blocks), len(blocks), None
        self.finished = itertools.count(1)
        self.done = threading.Lock()
        self.done.acquire()

    def work(self):
        while True:
            try:
                lo, hi = self.todo.pop()
            except IndexError:
                return
            try:
                self.fn(lo, hi)
            except BaseException as exc:  # re-raised on the calling thread
                self.error = exc
            if next(self.finished) == self.count:
                self.done.release()


def run_blocks(fn, blocks, n: int) -> None:
    """``fn(lo, hi)`` for each ``(lo, hi)`` of ``blocks``: the calling thread runs the first, the pool's
    ``n - 1`` helpers the others (a fixed block per helper while they keep up: the same rows, the same core's
    cache), and the caller then runs any block no helper has started. Returns when all are done."""
    if len(blocks) < 2 or n < 2:
        for lo, hi in blocks:
            fn(lo, hi)
        return
    job = _Blocks(fn, blocks[:0:-1])  # popped from the end: block 1 first
    jobs = _helpers(n - 1)
    for _ in range(min(n - 1, len(blocks) - 1)):
        jobs.put(job)
    error = None
    try:
        fn(*blocks[0])
    except BaseException as exc:
        error = exc
    job.work()
    job.done.acquire()
    if error is not None or job.error is not None:
        raise error or job.error


def run_job(fn, size: int, chunk: int, n: int) -> None:
    """``fn(start, stop)`` over ``[0, size)`` in chunks of ``chunk``, taken in turn by this thread and ``n - 1``
    helpers (no size or ``EMBER_SPLIT`` gate: the caller decided to split)."""
    job = _Job(fn, size, chunk)
    jobs = _helpers(n - 1)
    for _ in range(min(n - 1, job.count - 1)):
        jobs.put(job)
    job.work()
    job.finished.wait()
    if job.error is not None:
        raise job.error
