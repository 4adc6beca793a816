"""The multi-process DataLoader iterator: index lists go out to workers, pickled NumPy batches come back.

Tasks go round-robin to the workers, ``prefetch_factor`` per worker in flight; results are put back in
order. While waiting, the iterator polls the result queue with a short timeout and checks that every
worker is alive, so a worker that dies (or, with ``timeout``, hangs) raises an error naming it.
"""
from __future__ import annotations

import itertools
import os
import pickle
import queue
import signal
import time
import warnings
import weakref

from ._worker import WorkerSpec, reraise, worker_loop
from .collate import unpack
from .dataloader import BaseIter, DataLoader

_POLL_S = 0.1  # how often the main process checks worker liveness while waiting
_HANG_WARN_S = 300.0  # with timeout=0, warn once after waiting this long for one batch
_JOIN_S = 2.0  # how long shutdown waits for workers before terminating them


def _exit_description(exitcode) -> str:
    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    hint = "; this often means the system ran out of memory" if name == "SIGKILL" else ""
    return f"exit code {exitcode} (killed by {name}{hint})"


def shutdown_workers(workers, index_queues, result_queue, done_epoch, owner_pid: int) -> None:
    """Stop the workers (politely, then by force) and release the queues. Only the process that
    started them acts (a forked worker of another loader may inherit this finalizer)."""
    if os.getpid() != owner_pid:
        return
    if done_epoch is not None:
        done_epoch.value = -1  # workers skip whatever is left in their queues
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + _JOIN_S
    for p in workers:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in workers:
        if p.is_alive():
            p.terminate()
            p.join(timeout=_JOIN_S)
    for q in (*index_queues, result_queue):
        q.cancel_join_thread()
        q.close()


class MultiProcessIter(BaseIter):
    def __init__(self, loader: DataLoader):
        super().__init__(loader)
        ctx = loader.multiprocessing_context
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._epoch = 0
        self._epoch_value = ctx.Value("q", 0, lock=False)
        self._result_queue = ctx.Queue()
        self._index_queues, self._workers = [], []
        self._finalizer = weakref.finalize(self, shutdown_workers, self._workers, self._index_queues,
                                           self._result_queue, self._epoch_value, os.getpid())
        for wid in range(self._num_workers):
            self._start_worker(ctx, wid)
        self._begin_epoch()

    def _start_worker(self, ctx, wid: int) -> None:
        loader = self._loader
        spec = WorkerSpec(loader.dataset, loader._iterable, loader._auto_collation, loader.collate_fn,
                          loader.drop_last, loader.batch_size, wid, self._num_workers, self._base_seed,
                          loader.worker_init_fn)
        index_queue = ctx.Queue()
        proc = ctx.Process(target=worker_loop, args=(spec, index_queue, self._result_queue,
                                                     self._epoch_value), daemon=True)
        try:
            proc.start()
        except Exception as e:
            self._shutdown()
            raise RuntimeError(
                f"DataLoader could not start worker {wid} with the {ctx.get_start_method()!r} start method: "
                f"{type(e).__name__}: {e}. With 'spawn'/'forkserver' the dataset, collate_fn and "
                "worker_init_fn must be picklable (defined at module level, no lambdas).") from e
        self._index_queues.append(index_queue)
        self._workers.append(proc)

    def _begin_epoch(self) -> None:
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_worker = {}
        self._reorder = {}
        self._active = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        self._sampler_done = False
        self._warned_for = None
        for _ in range(self._loader.prefetch_factor * self._num_workers):
            self._put_task()

    @property
    def alive(self) -> bool:
        """Whether the workers are still running (False after a failure shut them down)."""
        return self._finalizer.alive

    def reset(self) -> None:
        """Start a new pass with the same (persistent) workers."""
        self._start_pass()
        self._epoch += 1
        self._epoch_value.value = self._epoch
        for q in self._index_queues:
            q.put(("resume", self._epoch, self._base_seed))
        self._begin_epoch()

    def _put_task(self) -> None:
        if self._sampler_done:
            return
        for _ in range(self._num_workers):
            wid = next(self._worker_cycle)
            if self._active[wid]:
                break
        else:
            return  # every worker's iterable dataset is exhausted
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            self._sampler_done = True
            return
        self._index_queues[wid].put((self._epoch, self._send_idx, index))
        self._task_worker[self._send_idx] = wid
        self._send_idx += 1

    def __next__(self):
        waiting_since = time.monotonic()  # the timeout counts from here, for this batch
        while True:
            if self._rcvd_idx in self._reorder:
                kind, body = self._reorder.pop(self._rcvd_idx)
                self._task_worker.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
                if kind == "stop":
                    continue
                self._put_task()
                if kind == "error":
                    reraise(body)
                return unpack(pickle.loads(body))
            if self._rcvd_idx >= self._send_idx:
                if not self._loader.persistent_workers:
                    self._shutdown()
                raise StopIteration
            self._receive(waiting_since)

    def _receive(self, start: float) -> None:
        """Wait for one result of this epoch and file it (raising for dead, hung or failed workers)."""
        while True:
            try:
                msg = self._result_queue.get(timeout=_POLL_S)
            except queue.Empty:
                self._check_alive()
                waited = time.monotonic() - start
                if self._timeout > 0 and waited >= self._timeout:
                    self._raise_timeout()
                if self._timeout == 0 and waited > _HANG_WARN_S and self._warned_for != self._rcvd_idx:
                    self._warned_for = self._rcvd_idx
                    warnings.warn(f"DataLoader has waited {waited:.0f} s for batch {self._rcvd_idx} from "
                                  f"{self._owner()}; pass timeout= to turn a hang into an error",
                                  RuntimeWarning, stacklevel=3)
                continue
            if self._file(msg):
                return

    def _file(self, msg) -> bool:
        epoch, idx, wid, kind, body = msg
        if kind == "init_error":
            self._shutdown()
            reraise(body)
        if epoch != self._epoch:
            return False  # a stale result from a pass that was abandoned early
        if kind == "stop":
            self._active[wid] = False
        self._reorder[idx] = (kind, body)
        return True

    def _owner(self) -> str:
        wid = self._task_worker.get(self._rcvd_idx)
        if wid is None:
            return "the workers"
        return f"worker {wid} (pid {self._workers[wid].pid})"

    def _check_alive(self) -> None:
        for wid, proc in enumerate(self._workers):
            if proc.is_alive():
                continue
            try:  # a worker that failed on purpose sent its error before exiting: report that instead
                while True:
                    self._file(self._result_queue.get(timeout=_POLL_S))
            except queue.Empty:
                pass
            exitcode = proc.exitcode
            self._shutdown(force=True)
            raise RuntimeError(f"DataLoader worker {wid} (pid {proc.pid}) exited unexpectedly with "
                               f"{_exit_description(exitcode)}")

    def _raise_timeout(self) -> None:
        owner = self._owner()
        self._shutdown(force=True)
        raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting for batch "
                           f"{self._rcvd_idx} from {owner}, which is still running. Its dataset "
                           "__getitem__/collate_fn may be stuck or slow; raise DataLoader(timeout=...) "
                           "or use timeout=0 to wait as long as the workers live.")

    def _shutdown(self, force: bool = False) -> None:
        """Stop the workers; ``force`` kills them at once (after a failure, they may be stuck)."""
        if force and self._finalizer.alive:
            for proc in self._workers:
                if proc.is_alive():
                    proc.terminate()
        self._finalizer()
