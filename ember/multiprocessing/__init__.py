"""ember.multiprocessing: start processes that run a function, and share tensors with them
(``torch.multiprocessing``'s ``spawn`` and ``share_memory_``).

``spawn(fn, args, nprocs)`` runs ``fn(i, *args)`` in ``nprocs`` fresh Python processes. A tensor moved to
shared memory with ``share_memory_()`` (or a whole model with ``model.share_memory()``) reaches them by the
name of its shared-memory block, so their in-place updates (an optimizer's ``step()``) are seen by every
process: enough for Hogwild-style training. Other tensors are copied.

Nothing is pickled: the function travels by name (it must be defined at the top level of a module or of the
main script), and the arguments as JSON and safetensors (see ``_wire``): JSON values, tensors, NumPy arrays,
``nn.Module``s and module-level functions. Python's pickling queues and pipes are therefore not re-exported
here; pass results back through shared tensors.

>>> import ember
>>> t = ember.zeros(3).share_memory_()
>>> t.is_shared()
True
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from multiprocessing import cpu_count

from ._wire import dumps

__all__ = ["Process", "ProcessContext", "ProcessExitedException", "ProcessRaisedException", "cpu_count",
           "get_all_start_methods", "get_start_method", "set_start_method", "spawn", "start_processes"]


class ProcessException(Exception):
    def __init__(self, msg, error_index=-1, pid=None):
        super().__init__(msg)
        self.error_index, self.pid = error_index, pid


class ProcessRaisedException(ProcessException):
    """A process started by ``spawn`` raised; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A process started by ``spawn`` exited with a non-zero code (or was killed) without a traceback."""

    def __init__(self, msg, error_index=-1, pid=None, exit_code=None):
        super().__init__(msg, error_index, pid)
        self.exit_code = exit_code


class ProcessContext:
    """The processes of one ``spawn(..., join=False)``; ``join()`` waits for them."""

    def __init__(self, procs, error_pipes):
        self.processes, self._pipes = procs, error_pipes

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None) -> bool:
        """Wait (at most ``timeout`` seconds) for every process; True when all ended well, False when some are
        still running; raise ``ProcessRaisedException``/``ProcessExitedException`` (after stopping the others)
        as soon as one failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for i, p in enumerate(self.processes):
                if p.poll() not in (None, 0):
                    self._fail(i)
            if all(p.returncode == 0 for p in self.processes):
                self._close()
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def _fail(self, i):
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        text = _read_all(self._pipes[i])
        self._close()
        p = self.processes[i]
        n = len(self.processes)
        if text:
            raise ProcessRaisedException(f"process {i} of {n} raised:\n{text}", i, p.pid)
        raise ProcessExitedException(f"process {i} of {n} exited with code {p.returncode}"
                                     + (" (killed by a signal)" if p.returncode < 0 else ""), i, p.pid,
                                     p.returncode)

    def _close(self):
        for fd in self._pipes:
            try:
                os.close(fd)
            except OSError:
                pass
        self._pipes = []


def _read_all(fd) -> str:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except (BlockingIOError, OSError):
        pass
    return b"".join(chunks).decode(errors="replace")


def _main_path():
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path and path.endswith(".py") else None


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` for i in range(nprocs), each in a fresh process; with ``join`` wait for all and
    raise if one failed, else return a ``ProcessContext``."""
    if start_method != "spawn":
        raise ValueError(f"ember.multiprocessing: start_method={start_method!r} is not available; Ember starts "
                         "fresh processes ('spawn') and hands them the function by name (no pickle)")
    payload = dumps(fn, args, _main_path() if getattr(fn, "__module__", "") == "__main__" else None)
    procs, pipes = [], []
    for i in range(nprocs):
        read_end, write_end = os.pipe()
        env = dict(os.environ, EMBER_MP_INDEX=str(i), EMBER_MP_ERROR_FD=str(write_end))
        procs.append(subprocess.Popen([sys.executable, "-m", "ember.multiprocessing._child"], env=env,
                                      stdin=subprocess.PIPE, pass_fds=(write_end,)))
        os.close(write_end)
        pipes.append(read_end)
    for p in procs:
        try:
            p.stdin.write(payload)
            p.stdin.close()
        except BrokenPipeError:  # the child died at start-up: join reports its exit code
            pass
    context = ProcessContext(procs, pipes)
    if not join:
        return context
    context.join()
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``torch.multiprocessing.spawn``: ``fn(i, *args)`` for i in range(nprocs), each in a fresh process."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)


# -- torch.multiprocessing.Process (Hogwild-style programs) -------------------------------------------------------
_START_METHODS = ("fork", "spawn", "forkserver")
_start_method = None


def set_start_method(method, force: bool = False):
    """Accepted for ``torch.multiprocessing`` programs; ``Process`` below always forks (see there).

    >>> import ember.multiprocessing as mp
    >>> mp.set_start_method("spawn", force=True); mp.get_start_method()
    'spawn'
    """
    global _start_method
    if method is not None and method not in _START_METHODS:
        raise ValueError(f"set_start_method: cannot find context for {method!r}; use one of {_START_METHODS}")
    if _start_method is not None and not force:
        raise RuntimeError("set_start_method: context has already been set (pass force=True to change it)")
    _start_method = method


def get_start_method(allow_none: bool = False):
    return _start_method if _start_method is not None or allow_none else "fork"


def get_all_start_methods():
    return ["fork"]


def _fork_process_class():
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork").Process


class Process(_fork_process_class() or object):
    """``mp.Process(target=fn, args=(...))``: runs ``fn(*args)`` in a forked child process.

    The child inherits the target and its arguments instead of receiving them pickled, so any argument works
    (datasets, argparse namespaces, models). Tensors moved to shared memory first (``model.share_memory()``)
    are the same memory in parent and child, so the child's in-place updates (``optimizer.step()``) are seen
    by the parent: Hogwild training. Whatever start method was requested, the process is forked (POSIX only);
    start it before the parent uses many BLAS threads, as with any fork.

    >>> import ember, ember.multiprocessing as mp
    >>> t = ember.zeros(2).share_memory_()
    >>> p = mp.Process(target=t.add_, args=(1.0,)); p.start(); p.join(); p.exitcode, t.tolist()
    (0, [1.0, 1.0])
    """

    def __init__(self, *args, **kwargs):
        if _fork_process_class() is None:
            raise RuntimeError("ember.multiprocessing.Process needs os.fork (POSIX); on this platform use "
                               "ember.multiprocessing.spawn(fn, args, nprocs)")
        super().__init__(*args, **kwargs)
