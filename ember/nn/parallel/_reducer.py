"""DDP's gradient reducer: parameters in buckets, each all-reduced (MPI ``Iallreduce``) as soon as backward has
produced all of its gradients, while backward goes on; results are averaged and written back into ``.grad``.

Buckets hold parameters in reverse registration order (roughly the order backward produces their gradients),
one dtype per bucket, up to ``bucket_cap_mb`` (the first one up to 1 MiB, as in PyTorch). Buckets start in
index order on every rank (MPI needs the same order of collectives everywhere).

Open MPI moves a non-blocking collective along only inside MPI calls (no progress thread), so the reducer
tests the oldest in-flight bucket each time a gradient arrives; how much of the communication that hides
behind backward is measured by ``bench/bench_distributed.py``.

Under ``ember.compile`` the reduction is the ``all_reduce`` primitive, so the compiled training
step reduces gradients itself (synchronously, inside the graph).
"""
from __future__ import annotations

import time

import numpy as np

from ..._state import STATE
from ...errors import mark


class Bucket:
    __slots__ = ("index", "params", "offsets", "buffer", "pending", "req", "seq")

    def __init__(self, index, params, dtype):
        self.index, self.params = index, params
        self.offsets, total = [], 0
        for p in params:
            self.offsets.append(total)
            total += p._data.size
        self.buffer = np.zeros(total, dtype)
        self.pending, self.req, self.seq = 0, None, 0


FIRST_BUCKET_BYTES = 2**20  # PyTorch's first bucket is small too, so the first all-reduce starts early


def make_buckets(params, cap_bytes, first_cap=FIRST_BUCKET_BYTES):
    buckets, current, size, dtype = [], [], 0, None
    for p in reversed(params):
        nbytes = p._data.nbytes
        cap = min(first_cap, cap_bytes) if not buckets else cap_bytes
        if current and (p._data.dtype != dtype or size + nbytes > cap):
            buckets.append(Bucket(len(buckets), current, dtype))
            current, size = [], 0
        current.append(p)
        size += nbytes
        dtype = p._data.dtype
    if current:
        buckets.append(Bucket(len(buckets), current, dtype))
    return buckets


class Reducer:
    """Owns the buckets and the post-accumulate-grad hooks of one DistributedDataParallel."""

    def __init__(self, named_params, group, world, cap_bytes, find_unused):
        self.names = {id(p): n for n, p in named_params}
        self.params = [p for _, p in named_params]
        self.group, self.world, self.find_unused = group, world, find_unused
        self.buckets = make_buckets(self.params, cap_bytes)
        self.slot = {}
        for b in self.buckets:
            for i, p in enumerate(b.params):
                self.slot[id(p)] = (b, b.offsets[i])
        self.handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in self.params]
        self.enabled = True  # False inside no_sync(): gradients stay local
        self.unused: list = []
        self.comm_seconds = 0.0  # time spent in MPI calls and waits (for measurements)
        self.wait_seconds = 0.0  # time spent waiting after backward produced the last gradient
        self._reset()

    def _reset(self):
        self.in_round = False
        self.ready: set = set()
        self.next_launch = 0
        self.used_locally: set = set()
        for b in self.buckets:
            b.pending, b.req = len(b.params), None

    # ------------------------------------------------------------------ per iteration
    def check_finished(self):
        """Called by forward: a round left half-done means some parameters got no gradient."""
        if not self.in_round:
            return
        missing = [p for p in self.params if id(p) not in self.ready]
        listed = ", ".join(f"{self.names[id(p)]} {tuple(p.shape)}" for p in missing[:12])
        more = f" and {len(missing) - 12} more" if len(missing) > 12 else ""
        self._reset()
        raise mark(RuntimeError(
            f"rank {self.world.rank}: DistributedDataParallel gradient all_reduce: expected to have finished "
            f"reduction in the prior iteration before starting a new one, but these parameters received no "
            f"gradient in the previous backward: {listed}{more}. Pass find_unused_parameters=True to "
            "DistributedDataParallel if forward does not use every parameter, or make sure every output "
            "takes part in the loss."))

    def prepare(self, unused):
        self.unused = list(unused)

    def _on_grad(self, p):
        if not self.enabled:
            return
        if not self.in_round:
            self.in_round = True
            for q in self.unused:  # no gradient will come for these: their slot is zero
                self._mark_ready(q, None)
        self.used_locally.add(id(p))
        self._mark_ready(p, p.grad)
        if self.next_launch == len(self.buckets):
            self._finish()

    def _mark_ready(self, p, grad):
        if id(p) in self.ready:
            return
        self.ready.add(id(p))
        b, off = self.slot[id(p)]
        n = p._data.size
        if STATE.tracer is None:
            if grad is None:
                b.buffer[off:off + n] = 0
            else:
                b.buffer[off:off + n] = grad._data.reshape(-1)
        b.pending -= 1
        if b.pending == 0:
            self._launch_ready()
        elif STATE.tracer is None:
            self._progress()

    def _launch_ready(self):
        while self.next_launch < len(self.buckets) and self.buckets[self.next_launch].pending == 0:
            b = self.buckets[self.next_launch]
            self.next_launch += 1
            if STATE.tracer is not None:
                self._reduce_traced(b)
                continue
            t0 = time.perf_counter()
            b.seq = self.group.next_seq()
            b.req = self.group.comm.Iallreduce(self.world.MPI.IN_PLACE, b.buffer, self.world.MPI.SUM)
            self.comm_seconds += time.perf_counter() - t0

    def _progress(self):
        """Let MPI move in-flight buckets along (Open MPI progresses non-blocking collectives inside calls)."""
        t0 = time.perf_counter()
        for b in self.buckets[:self.next_launch]:
            if b.req is not None:
                b.req.Test()
                break
        self.comm_seconds += time.perf_counter() - t0

    def _reduce_traced(self, b):
        from ... import functional as F
        from ...ops import apply

        flats = [(p.grad if p.grad is not None else p.detach() * 0).reshape(-1) for p in b.params]
        total = apply("all_reduce", F.cat(flats) if len(flats) > 1 else flats[0], group=self.group.gid,
                      reduce="avg")
        for p, off in zip(b.params, b.offsets):
            part = total[off:off + p._data.size].reshape(tuple(p.shape))
            if p.grad is None:
                p.grad = part
            else:
                p.grad._write(part, "all_reduce")  # recorded: the compiled step's optimizer reads the average

    def _finish(self):
        if STATE.tracer is not None:
            self._reset()
            return
        t0 = time.perf_counter()
        size = self.group.size()
        for b in self.buckets:
            self.world.wait(b.req, self.group, f"all_reduce (DDP gradient bucket {b.index})", b.seq,
                            f"{b.buffer.size} elements {b.buffer.dtype}")
            b.buffer /= size
        globally_used = self._globally_used() if self.find_unused else None
        from ...tensor import Tensor

        for b in self.buckets:
            for p, off in zip(b.params, b.offsets):
                if globally_used is not None and not globally_used[id(p)]:
                    continue
                avg = Tensor._wrap(b.buffer[off:off + p._data.size].reshape(p._data.shape))
                if p.grad is None:
                    p.grad = avg.clone()
                else:
                    p.grad.copy_(avg)
        dt = time.perf_counter() - t0
        self.comm_seconds += dt
        self.wait_seconds += dt
        self._reset()

    def _globally_used(self):
        mask = np.array([id(p) in self.used_locally for p in self.params], np.int32)
        total = np.empty_like(mask)
        req = self.group.comm.Iallreduce(mask, total, self.world.MPI.SUM)
        self.world.wait(req, self.group, "all_reduce (DDP unused-parameter mask)", self.group.next_seq())
        return {id(p): bool(c) for p, c in zip(self.params, total)}

    def remove(self):
        for h in self.handles:
            h.remove()
