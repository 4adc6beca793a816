"""Collectives with PyTorch's names: all_reduce, broadcast, all_gather, reduce_scatter, barrier, objects.

Each one first checks, with one small all-gather of a header (op, dtype, shape), that every rank called the
same op with the same tensor shape, so a mismatch is an error naming the ranks and shapes instead of MPI
undefined behaviour. ``async_op=True`` returns a ``Work`` whose ``wait()`` completes it. Objects
(``all_gather_object``, ``broadcast_object_list``) travel as JSON, never pickle: they must be JSON values
(dicts, lists, strings, numbers, booleans, None).
"""
from __future__ import annotations

import enum
import json
import zlib

import numpy as np

from .. import errors
from .._state import STATE
from ._group import resolve, world
from ._mpi import DistBackendError

CHECK_SHAPES = True  # the header check; DDP's own bucket reductions skip it (layouts are checked at wrap time)
_MAX_DIMS = 8


class ReduceOp(enum.Enum):
    """Reduction operators (``torch.distributed.ReduceOp``)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


def mpi_op(MPI, op):
    return {"sum": MPI.SUM, "avg": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX,
            "band": MPI.BAND, "bor": MPI.BOR, "bxor": MPI.BXOR}[op]


def _op_name(op) -> str:
    if isinstance(op, ReduceOp):
        return op.value
    name = str(op).lower().rsplit(".", 1)[-1]
    if name not in {o.value for o in ReduceOp}:
        raise ValueError(f"unknown reduce op {op!r}; use ember.distributed.ReduceOp.SUM/AVG/PRODUCT/MIN/MAX")
    return name


class Work:
    """A collective in flight (``async_op=True``); ``wait()`` completes it and writes the result."""

    def __init__(self, req, group, op, seq, finish=None, detail=""):
        self._req, self._group, self._op, self._seq = req, group, op, seq
        self._finish, self._detail, self._done = finish, detail, req is None

    def wait(self, timeout=None) -> bool:
        if not self._done:
            secs = None if timeout is None else getattr(timeout, "total_seconds", lambda: timeout)()
            world().wait(self._req, self._group, self._op, self._seq, self._detail, secs)
            self._done = True
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self) -> bool:
        if self._done:
            return True
        return bool(self._req.Test()) and (self.wait() or True)

    def is_success(self) -> bool:
        return self.is_completed()


def _header(opname, arr, extra=0):
    shape = arr.shape
    dims = list(shape[:_MAX_DIMS]) + [0] * (_MAX_DIMS - len(shape[:_MAX_DIMS]))
    code = zlib.crc32(opname.encode()) & 0x7FFFFFFF
    return np.array([code, arr.dtype.num, arr.ndim, extra, zlib.crc32(str(shape).encode()), *dims], np.int64)


def _describe(h):
    nd = int(h[2])
    dims = tuple(int(d) for d in h[5:5 + min(nd, _MAX_DIMS)]) + (("...",) if nd > _MAX_DIMS else ())
    return f"{dims} {_dtype_name(int(h[1]))}"


def _dtype_name(num):
    for t in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_):
        if np.dtype(t).num == num:
            return np.dtype(t).name
    return f"dtype#{num}"


def check_agree(group, opname, arr, extra=0, what="tensor"):
    """All-gather (op, dtype, shape) headers; raise naming the ranks whose call differs."""
    if not CHECK_SHAPES or group.size() == 1:
        return
    w = world()
    mine = _header(opname, arr, extra)
    allh = np.empty((group.size(), mine.size), np.int64)
    seq = group.next_seq()
    w.wait(group.comm.Iallgather(mine, allh), group, opname, seq, "checking shapes")
    if (allh == mine).all():
        return
    me = group.ranks.index(w.rank)
    lines = []
    for i, h in enumerate(allh):
        if h[0] != mine[0]:
            lines.append(f"rank {group.ranks[i]} called a different collective")
        else:
            extra_txt = f", src/dst {int(h[3])}" if opname in ("broadcast",) else ""
            lines.append(f"rank {group.ranks[i]}: {what} {_describe(h)}{extra_txt}")
    raise errors.mark(errors.with_user_line(DistBackendError(
        f"rank {group.ranks[me]}: {opname}: the ranks passed different {what}s: " + "; ".join(lines)
        + f". Every rank must call {opname} with a {what} of the same shape and dtype"
        + (" and the same src" if opname == "broadcast" else "") + "."), 4))


def _contig(t):
    a = t._data  # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _wrap(arr):
    from ..tensor import Tensor

    return Tensor._wrap(arr)


def _mpi_buffer(arr):
    """float16 is summed as float32 (MPI has no half type); the rest go as they are."""
    return arr.astype(np.float32) if arr.dtype == np.float16 else arr


def _run(group, opname, start, finish, async_op, detail):
    seq = group.next_seq()
    work = Work(start(), group, opname, seq, finish, detail)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across ranks in place (``SUM`` by default; ``AVG`` for floating tensors)."""
    g = resolve(group, "all_reduce")
    if g.comm is None:
        return None
    name = _op_name(op)
    if name == "avg" and tensor._data.dtype.kind != "f":
        raise errors.mark(errors.with_user_line(TypeError(
            f"all_reduce: ReduceOp.AVG needs a floating tensor, got {tensor.dtype.name}; use SUM and divide"), 2))
    if STATE.tracer is not None:  # recorded in the graph, so a compiled step all-reduces every call
        from ..ops import apply

        tensor._write(apply("all_reduce", tensor, group=g.gid, reduce=name), "all_reduce")
        return Work(None, g, "all_reduce", 0) if async_op else None
    send = _mpi_buffer(_contig(tensor))
    check_agree(g, "all_reduce", send)
    recv = np.empty_like(send)
    MPI = world().MPI

    def finish():
        out = recv / g.size() if name == "avg" else recv
        tensor._write(_wrap(out.astype(tensor._data.dtype, copy=False)), "all_reduce")

    return _run(g, "all_reduce", lambda: g.comm.Iallreduce(send, recv, mpi_op(MPI, name)), finish, async_op,
                f"tensor {tuple(send.shape)} {send.dtype}")


def broadcast(tensor, src=0, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` from rank ``src`` (a global rank) to every rank of the group, in place."""
    g = resolve(group, "broadcast")
    if g.comm is None:
        return None
    if group_src is not None:
        src = g.ranks[group_src]
    if src not in g.ranks:
        raise errors.mark(errors.with_user_line(ValueError(
            f"broadcast: src={src} is not a member of the group (ranks {g.ranks})"), 2))
    buf = np.array(tensor._data, copy=True, order="C")
    check_agree(g, "broadcast", buf, extra=src)
    root = g.ranks.index(src)

    def finish():
        if g.rank() != root:
            tensor._write(_wrap(buf), "broadcast")

    return _run(g, "broadcast", lambda: g.comm.Ibcast(buf, root=root), finish, async_op,
                f"tensor {tuple(buf.shape)} {buf.dtype}, src {src}")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[i]`` with rank i's ``tensor``."""
    g = resolve(group, "all_gather")
    if g.comm is None:
        return None
    if len(tensor_list) != g.size():
        raise errors.mark(errors.with_user_line(ValueError(
            f"all_gather: tensor_list has {len(tensor_list)} tensors but the group has {g.size()} ranks"), 2))
    send = _contig(tensor)
    check_agree(g, "all_gather", send)
    recv = np.empty((g.size(),) + send.shape, send.dtype)

    def finish():
        for i, t in enumerate(tensor_list):
            t._write(_wrap(recv[i]), "all_gather")

    return _run(g, "all_gather", lambda: g.comm.Iallgather(send, recv), finish, async_op,
                f"tensor {tuple(send.shape)} {send.dtype}")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Concatenate every rank's ``input_tensor`` along dim 0 into ``output_tensor``."""
    g = resolve(group, "all_gather_into_tensor")
    if g.comm is None:
        return None
    send = _contig(input_tensor)
    check_agree(g, "all_gather_into_tensor", send)
    recv = np.empty((g.size() * send.shape[0],) + send.shape[1:] if send.ndim else (g.size(),), send.dtype)

    def finish():
        output_tensor._write(_wrap(recv.reshape(output_tensor._data.shape)), "all_gather_into_tensor")

    return _run(g, "all_gather_into_tensor", lambda: g.comm.Iallgather(send, recv), finish, async_op, "")


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list`` element-wise across ranks; rank i keeps the reduced ``input_list[i]``."""
    g = resolve(group, "reduce_scatter")
    if g.comm is None:
        return None
    if len(input_list) != g.size():
        raise errors.mark(errors.with_user_line(ValueError(
            f"reduce_scatter: input_list has {len(input_list)} tensors but the group has {g.size()} ranks"), 2))
    send = np.ascontiguousarray(np.stack([_mpi_buffer(t._data) for t in input_list]))
    return _reduce_scatter(g, output, send, _op_name(op), async_op, "reduce_scatter")


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Like ``reduce_scatter`` with the inputs concatenated along dim 0 in one tensor."""
    g = resolve(group, "reduce_scatter_tensor")
    if g.comm is None:
        return None
    send = _mpi_buffer(_contig(input)).reshape((g.size(),) + tuple(output.shape))
    return _reduce_scatter(g, output, send, _op_name(op), async_op, "reduce_scatter_tensor")


def _reduce_scatter(g, output, send, name, async_op, opname):
    check_agree(g, opname, send)
    recv = np.empty(send.shape[1:], send.dtype)
    MPI = world().MPI

    def finish():
        out = recv / g.size() if name == "avg" else recv
        output._write(_wrap(out.astype(output._data.dtype, copy=False)), opname)

    return _run(g, opname, lambda: g.comm.Ireduce_scatter_block(send, recv, mpi_op(MPI, name)), finish,
                async_op, f"input {tuple(send.shape)} {send.dtype}")


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group has called ``barrier``."""
    g = resolve(group, "barrier")
    if g.comm is None:
        return None
    return _run(g, "barrier", g.comm.Ibarrier, None, async_op, "")


def _encode(obj, op):
    try:
        return json.dumps(obj, allow_nan=True).encode()
    except (TypeError, ValueError) as exc:
        raise errors.mark(errors.with_user_line(TypeError(
            f"{op}: objects travel as JSON in Ember (never pickle), and this one is not a JSON value: {exc}. "
            "Send dicts, lists, strings, numbers, booleans or None (tensors: use all_gather)"), 3)) from None


def _gather_bytes(g, data, opname):
    w = world()
    sizes = np.empty(g.size(), np.int64)
    w.wait(g.comm.Iallgather(np.array([len(data)], np.int64), sizes), g, opname, g.next_seq(), "sizes")
    out = bytearray(int(sizes.sum()))
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    req = g.comm.Iallgatherv([data, w.MPI.BYTE], [out, (sizes.tolist(), displs.tolist()), w.MPI.BYTE])
    w.wait(req, g, opname, g.next_seq(), "payload")
    return [bytes(out[int(d):int(d + s)]) for d, s in zip(displs, sizes)]


def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` = rank i's ``obj`` (a JSON value: sent as JSON, never pickled)."""
    g = resolve(group, "all_gather_object")
    if g.comm is None:
        return None
    if len(object_list) != g.size():
        raise errors.mark(errors.with_user_line(ValueError(
            f"all_gather_object: object_list has {len(object_list)} slots but the group has {g.size()} ranks"), 2))
    for i, raw in enumerate(_gather_bytes(g, _encode(obj, "all_gather_object"), "all_gather_object")):
        object_list[i] = json.loads(raw.decode())
    return None


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace ``object_list`` on every rank with rank ``src``'s (JSON values, never pickled)."""
    g = resolve(group, "broadcast_object_list")
    if g.comm is None:
        return None
    w = world()
    data = _encode(list(object_list), "broadcast_object_list") if w.rank == src else b""
    root = g.ranks.index(src)
    n = np.array([len(data)], np.int64)
    w.wait(g.comm.Ibcast(n, root=root), g, "broadcast_object_list", g.next_seq(), "size")
    buf = bytearray(data) if w.rank == src else bytearray(int(n[0]))
    w.wait(g.comm.Ibcast([buf, w.MPI.BYTE], root=root), g, "broadcast_object_list", g.next_seq(), "payload")
    object_list[:] = json.loads(bytes(buf).decode())
    return None
