"""Ember's helper-thread pool: work cut into blocks or chunks that the calling thread and ``n - 1``
persistent helper threads (``ember-core-*``) take in turn (issue 16).

It lives at the bottom layer (next to ``_threads``) so that ops (the Winograd convolutions, the im2col and
pooling passes) and the compiled executor (``ember.graph.cores``, which adds the executor's split policy) share
one pool. The work functions are numba loops compiled with ``nogil=True``, NumPy ufunc calls or BLAS calls,
which release the GIL, so helpers run them truly in parallel; a hand-off costs tens of microseconds.

The caller always takes work itself and waits only for what a helper has already started, so a helper the OS
does not schedule (a busy machine) costs the caller almost nothing: it just does all the work. An exception
in any block is re-raised on the calling thread once every block has finished. After a fork the child starts
its own helpers (the pool checks the pid).

>>> import numpy as np
>>> from ember import _cores
>>> out = np.zeros(8)
>>> _cores.run_blocks(lambda lo, hi: out.__setitem__(slice(lo, hi), 1.0), [(0, 4), (4, 8)], 2)
>>> float(out.sum())
8.0
"""
from __future__ import annotations

import itertools
import os
import queue
import threading

from .backend import float_errors_off

_POOL: dict = {"pid": None, "threads": [], "queue": None}
_START = threading.Lock()  # two threads starting the pool at once would leave one set of helpers orphaned


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
    float_errors_off()  # a helper runs only Ember's own passes: no NumPy float warnings, as on the caller's side
    while True:
        job = jobs.get()
        if job is None:
            return
        job.work()


def _helpers(n):
    """The pool's job queue with ``n`` helper threads running (restarted after a fork or a new count)."""
    with _START:
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
    helpers (no size gate: the caller decided to split)."""
    job = _Job(fn, size, chunk)
    if n < 2 or job.count < 2:
        job.work()
    else:
        jobs = _helpers(n - 1)
        for _ in range(min(n - 1, job.count - 1)):
            jobs.put(job)
        job.work()
        job.finished.wait()
    if job.error is not None:
        raise job.error


def even_blocks(size: int, parts: int, align: int = 1) -> list:
    """``[0, size)`` cut into at most ``parts`` contiguous ``(lo, hi)`` blocks of nearly equal length (edges on
    multiples of ``align``), none empty."""
    step = -(-size // max(1, parts))
    step = -(-step // align) * align
    return [(lo, min(lo + step, size)) for lo in range(0, size, max(step, 1))]
