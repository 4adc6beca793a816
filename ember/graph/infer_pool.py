"""Ember's own helper threads for an inference executor's small, latency-bound kernels (batch-1 ``linear``): a
job is cut into fixed blocks that the calling thread and ``n - 1`` persistent helpers take, handed over through
atomic words that the helpers poll inside a compiled (numba, ``nogil``) loop. No GIL, no Python, no queue and
no OS wake-up on the hot path: a hand-off costs ~1 us, against ~15-20 us for a Python thread pool.

Why not numba's ``parallel=True``: its ``omp`` layer (the one fast enough here: static blocks keep each core's
rows of the weights in its L2) aborts a process that forks after using it and pins the process-wide threading
layer a user's own numba code gets; ``tbb`` measured 2x slower and ``workqueue`` aborts on concurrent calls from
two threads. This pool is private: numba's threading layer is never loaded or chosen by Ember.

Protocol (``ctl``: an int64 array, one 64-byte line per word; ``atomics``' sequentially consistent operations):

- ``CLAIM`` = ``seq << 20 | blocks << 10 | next``: the job's number, its block count and the next block
  nobody has started. The caller writes the job's arguments, zeroes ``DONE``, then stores a new ``CLAIM`` with
  block 0 already its own; a helper takes block ``next`` by a compare-and-swap of ``CLAIM`` (fails if the job
  or the count moved), so a block runs once, and only while its job is current (the caller does not write
  the next job before every block of this one is done). The caller then takes the blocks nobody has started
  and waits only for those a helper is running (``DONE``).
- A helper spins (``pause``, and ``sched_yield`` every few us so another runnable thread on its core, such as
  an OpenBLAS worker, goes first) for ``SPIN_US`` after its last block, then sleeps on a semaphore: it
  marks itself ``SLEEP``, looks once more for a block, and returns to Python to block. A caller that finds it
  asleep wakes it (compare-and-swap ``SLEEP`` -> ``WAKE``, then the semaphore) for the calls that follow; the
  call itself never waits for a helper that has not started: a sleeping or descheduled helper costs nothing
  but its share of the work, which the caller then does.
- A caller that finds a running helper on its own core (``sched_getcpu``: on a busy machine the scheduler
  may put both on one core, where they only time-share) tells it to sleep (``NAP``) and runs alone; a later
  wake-up lets the scheduler place it on an idle core.
- Fork: a child process has no helper threads; the pool is made anew in it (``os.register_at_fork`` drops the
  parent's, and a pid check covers ``fork`` without it). Threads: one caller at a time uses the pool; a
  second thread calling meanwhile runs its kernel alone (a non-blocking lock, no waiting).

>>> import numpy as np
>>> from ember.graph import infer_pool
>>> x, w, b = np.ones((1, 64), np.float32), np.ones((256, 64), np.float32), np.zeros(256, np.float32)
>>> out = np.empty((1, 256), np.float32)
>>> infer_pool.linear_split(x, w, b, out, relu=True, step=128, threads=2) in (1, 2)  # blocks this thread ran
True
>>> float(out[0, 255])
64.0
"""
from __future__ import annotations

import atexit
import os
import threading
import time

import numpy as np

from .infer_pool_layout import ARGS, KIND_F32, KIND_F64, SLEEP, STATE, STOP  # (shared with the loops)

SPIN_US = float(os.environ.get("EMBER_INFER_SPIN_US", "500"))  # helpers spin this long after a job, then sleep
WAKE_EVERY_NS = 1_000_000  # a sleeping helper is woken at most once a millisecond
SHARED_CORE_NAP = True  # a helper found on the caller's core is sent to sleep (tests turn it off)
MAX_HELPERS = 4  # helpers at most (5 threads' worth: a batch-1 layer has few blocks)
_POOL: dict = {"pid": None}
_MAKING = threading.Lock()
_CODE: dict = {}


def _build():
    """The compiled loops (``infer_pool_loops``: numba, cached on disk), imported on first use."""
    if not _CODE:
        from . import infer_pool_loops as loops

        _CODE.update(serve=loops.serve, caller=loops.caller, chain=loops.chain, wake=loops.wake,
                     ticks=loops.tick_count, wino=loops.wino_caller, wino_alone=loops.wino_alone)
    return _CODE


def _ticks_per_second(code) -> float:
    """The TSC rate (0 where there is none): the best of three 1 ms windows."""
    if code["ticks"]() == 0:
        return 0.0
    rates = []
    for _ in range(3):
        t0, k0 = time.perf_counter_ns(), code["ticks"]()
        time.sleep(0.001)
        rates.append((code["ticks"]() - k0) * 1e9 / max(time.perf_counter_ns() - t0, 1))
    return min(rates)


class Pool:
    """``helpers`` persistent threads polling one control block (made by ``pool()``; one per process)."""

    def __init__(self, helpers: int):
        code = _build()
        self.code, self.helpers = code, helpers
        buf = np.zeros(ARGS + 24, np.int64)  # the words on their own 64-byte lines: a 64-byte aligned start
        start = (-buf.ctypes.data // 8) % 8
        self.ctl = buf[start:start + ARGS + 16]
        self.lock = threading.Lock()  # one caller at a time; others run alone
        self.sems = [threading.Semaphore(0) for _ in range(helpers)]
        self.woken = [0] * helpers  # perf_counter_ns of each helper's last wake-up
        rate = _ticks_per_second(code)
        self.spin = (int(rate * SPIN_US * 1e-6), int(SPIN_US * 20))
        self.threads = [threading.Thread(target=self._helper, args=(i,), name=f"ember-infer-{i + 1}", daemon=True)
                        for i in range(helpers)]
        for t in self.threads:
            t.start()

    def _helper(self, me):
        serve, ctl, sem = self.code["serve"], self.ctl, self.sems[me]
        while serve(ctl, me, *self.spin) != STOP:
            sem.acquire()
            if self.ctl[STATE + 16 * me] == STOP:
                return

    def wake_sleepers(self):
        """Wake the helpers that sleep (for the calls that follow: this one does not wait for them), at most
        once per ``WAKE_EVERY_NS``: a wake-up is a system call (~5-10 us), and a helper sent back to sleep
        (it landed on the caller's core) would otherwise be woken on every call."""
        ctl, wake = self.ctl, self.code["wake"]
        for me in range(self.helpers):
            if ctl[STATE + 16 * me] == SLEEP:
                now = time.perf_counter_ns()
                if now - self.woken[me] >= WAKE_EVERY_NS and wake(ctl, me):
                    self.woken[me] = now
                    self.sems[me].release()

    def stop(self):
        for me in range(self.helpers):
            self.ctl[STATE + 16 * me] = STOP  # (a plain store: the helper's atomic load sees it)
            self.sems[me].release()


def pool(threads: int) -> Pool | None:
    """This process's pool for ``threads`` threads (``threads - 1`` helpers), made on first use and again in a
    forked child or for a new count; None at one thread."""
    helpers = min(threads - 1, MAX_HELPERS)
    if helpers < 1:
        return None
    current = _POOL.get("pool")
    if _POOL["pid"] != os.getpid() or current is None or current.helpers != helpers:
        with _MAKING:  # (two threads making one at once would leave one pool's threads behind)
            current = _POOL.get("pool")
            if _POOL["pid"] != os.getpid() or current is None or current.helpers != helpers:
                if current is not None and _POOL["pid"] == os.getpid():
                    current.stop()
                _POOL.update(pid=os.getpid(), pool=Pool(helpers))
    return _POOL["pool"]


def _forget_after_fork():
    global _MAKING
    _POOL.update(pid=None, pool=None)  # the child has none of the parent's threads: a new pool on first use
    _MAKING = threading.Lock()  # (a parent thread may have held it at the fork)


def _stop_at_exit():
    if _POOL.get("pool") is not None and _POOL["pid"] == os.getpid():
        _POOL["pool"].stop()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(_stop_at_exit)


def wake(threads: int) -> None:
    """Wake the pool's sleeping helpers (a call that will split soon), without waiting for them."""
    p = pool(threads)
    if p is not None:
        p.wake_sleepers()


def linear_split(x, w, b, out, relu: bool, step: int, threads: int) -> int:
    """``out = relu?(x @ w.T + b)`` (C-contiguous 2-D ``x`` and ``out``, float32 or float64, all one dtype) in
    blocks of ``step`` output rows over this thread and the pool's helpers; returns the blocks this thread
    ran (all of them when the pool is in use by another thread, or at one thread)."""
    p = pool(threads)
    n = w.shape[0]
    blocks = -(-n // step)
    if p is None or not p.lock.acquire(blocking=False):
        from .infer_loops import loop

        loop("linear_rows")(x, w, b, out, 0, n, relu, x.dtype.type(0))
        return blocks
    try:
        p.wake_sleepers()
        kind = KIND_F32 if x.itemsize == 4 else KIND_F64  # (float32 or float64 only: small_linear's plan)
        return p.code["caller"](p.ctl, p.helpers, SHARED_CORE_NAP, kind, x, w, b, out, relu, blocks, step)
    finally:
        p.lock.release()


def winograd(words, blocks: int, threads: int) -> int:
    """A Winograd convolution's three stages (``winograd_split_loops``' ``words``, an int64 array kept alive by
    the caller) in ``blocks`` blocks each over this thread and the pool's helpers; returns the blocks the
    helpers ran (0: it ran alone: one thread, the pool in use by another thread, or no helper awake)."""
    code = _build()
    p = pool(threads)
    if p is None or not p.lock.acquire(blocking=False):
        code["wino_alone"](words.ctypes.data)
        return 0
    try:
        p.wake_sleepers()
        return code["wino"](p.ctl, p.helpers, SHARED_CORE_NAP, words.ctypes.data, blocks)
    finally:
        p.lock.release()


_NO_CTL = np.zeros(1, np.int64)  # the control block argument of a chain that runs alone (never read)


def chain_meta(layers, outs, rows: int, threads: int, steps) -> np.ndarray:
    """The int64 words ``linear_chain`` reads, ``CHAIN_WORDS`` per layer: the addresses of the weight, bias and
    output (``outs[i]``; None: the array passed to each call), n, k, relu, blocks, step (``steps[i]``; the
    weights and outputs C-contiguous, kept alive by the caller as long as the words are used)."""
    words = []
    for (w, b, relu), out, step in zip(layers, outs, steps):
        words += [w.ctypes.data, b.ctypes.data, 0 if out is None else out.ctypes.data, w.shape[0], w.shape[1],
                  int(relu), -(-w.shape[0] // step), step]
    return np.array(words, np.int64)


def linear_chain(x, meta, out, threads: int, split: bool) -> int:
    """A chain of linear layers in one compiled call (``meta``: ``chain_meta``'s words; ``x`` and ``out``
    C-contiguous 2-D arrays of the weights' dtype, float32 or float64). With ``split``, each layer of more
    than one block is split over this thread and the pool's helpers as ``linear_split`` does; returns the
    blocks the helpers ran (0: the whole chain ran on this thread: ``split`` off, the pool in use by another
    thread, or no helper awake on another core)."""
    code = _build()
    p = pool(threads) if split else None
    if p is None or not p.lock.acquire(blocking=False):
        return code["chain"](_NO_CTL, 0, False, 0, False, x, meta, out)
    try:
        p.wake_sleepers()
        kind = KIND_F32 if x.itemsize == 4 else KIND_F64
        return code["chain"](p.ctl, p.helpers, SHARED_CORE_NAP, kind, True, x, meta, out)
    finally:
        p.lock.release()
