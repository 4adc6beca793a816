"""ember.multiprocessing: Python's multiprocessing plus shared-memory tensors (``torch.multiprocessing``).

A tensor moved to shared memory with ``share_memory_()`` (or a model with ``model.share_memory()``) is passed
to processes started here by name: the child maps the same memory, so its in-place updates (an optimizer's
``step()``) are seen by every process: enough for Hogwild-style training. Other tensors are copied.

Objects reach child processes the way Python's multiprocessing sends them (its pickler, between this program
and the processes it started); files are never unpickled.

>>> import ember
>>> t = ember.zeros(3).share_memory_()
>>> t.is_shared()
True
"""
from __future__ import annotations

import multiprocessing as _mp
import traceback
from multiprocessing import *  # noqa: F401,F403
from multiprocessing import reduction as _reduction

import numpy as np

from ..nn.modules.module import Parameter
from ..tensor import Tensor

__all__ = ["ProcessRaisedException", "spawn", "start_processes"] + [
    n for n in dir(_mp) if not n.startswith("_")]


def _rebuild_shared(cls, name, shape, dtype, requires_grad):
    from multiprocessing import shared_memory

    # the creating process owns (and unlinks) the block; a spawned child shares its resource tracker, whose
    # registry is a set, so the child's attach adds nothing to clean up
    shm = shared_memory.SharedMemory(name=name)
    t = Tensor._wrap(np.ndarray(shape, np.dtype(dtype), buffer=shm.buf))
    t.__dict__["_shm"] = shm
    if cls is Parameter:
        t = Parameter(t, requires_grad=requires_grad)
        t.__dict__["_shm"] = shm
    elif requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_copy(cls, arr, requires_grad):
    t = Tensor._wrap(arr)
    if cls is Parameter:
        return Parameter(t, requires_grad=requires_grad)
    return t.requires_grad_(True) if requires_grad else t


def _reduce_tensor(t):
    shm = t.__dict__.get("_shm")
    if shm is not None:
        return _rebuild_shared, (type(t), shm.name, t._data.shape, t._data.dtype.str, t.requires_grad)
    return _rebuild_copy, (type(t), np.array(t._data), t.requires_grad)


for _cls in (Tensor, Parameter):
    _reduction.ForkingPickler.register(_cls, _reduce_tensor)


class ProcessRaisedException(Exception):
    """A process started by ``spawn`` raised; the message holds its traceback."""


def _wrap(fn, i, args, errors):
    try:
        fn(i, *args)
    except BaseException:
        errors.put((i, traceback.format_exc()))
        raise SystemExit(1) from None


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` in ``nprocs`` new processes; with ``join`` wait for all and raise if one failed."""
    ctx = _mp.get_context(start_method)
    errors = ctx.SimpleQueue()
    procs = [ctx.Process(target=_wrap, args=(fn, i, args, errors), daemon=daemon) for i in range(nprocs)]
    for p in procs:
        p.start()
    if not join:
        return procs
    for p in procs:
        p.join()
    if not errors.empty():
        i, tb = errors.get()
        for p in procs:
            if p.is_alive():
                p.terminate()
        raise ProcessRaisedException(f"process {i} of {nprocs} raised:\n{tb}")
    bad = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode != 0]
    if bad:
        raise ProcessRaisedException(f"process {bad[0][0]} exited with code {bad[0][1]}")
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``torch.multiprocessing.spawn``: ``fn(i, *args)`` for i in range(nprocs), each in a fresh process."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
