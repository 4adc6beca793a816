"""The ``all_reduce`` primitive: an all-reduce as one op of Ember's registry, so it is differentiable and a
graph traced by ``ember.compile`` holds it (DDP's gradient reduction and SyncBatchNorm's statistics then run
inside compiled training steps). Attrs: ``group`` (process group id), ``reduce`` (``"sum"`` or ``"avg"``).

Its vjp is the same all-reduce of the incoming gradient: every rank's output depends on every rank's input.
"""
from __future__ import annotations

import numpy as np

from ..ops import Aval, apply, register, unsupported


def _forward(xp, x, group, reduce):
    from ._collectives import mpi_op
    from ._group import group_by_id, world

    g = group_by_id(group)
    w = world()
    send = np.ascontiguousarray(x, dtype=np.float32 if x.dtype == np.float16 else None).reshape(x.shape)
    recv = np.empty_like(send)
    w.wait(g.comm.Iallreduce(send, recv, mpi_op(w.MPI, reduce)), g, "all_reduce", g.next_seq(),
           f"tensor {tuple(send.shape)} {send.dtype}")
    if reduce == "avg":
        recv /= g.size()
    return recv.astype(x.dtype, copy=False)


def _vjp(g, out, x, group, reduce):
    return (apply("all_reduce", g, group=group, reduce=reduce),)


def _infer(x, group, reduce):
    return Aval(x.shape, x.dtype, x.device)


# kind "collective": every rank must run it, in the same order, so graph passes never drop, merge or move it
register("all_reduce", _forward, vjp=_vjp, infer=_infer, kind="collective")
for _target in ("onnx", "tflite"):
    unsupported("all_reduce", _target, "a collective of a distributed training step; export the model alone "
                "(model.module of a DistributedDataParallel), not its training step")


def all_reduce(x, group_id: int = 0, reduce: str = "sum"):
    """The differentiable all-reduce (``torch.distributed.nn.functional.all_reduce``): a new tensor."""
    return apply("all_reduce", x, group=group_id, reduce=reduce)
