"""``DistributedDataParallel``: the same model on every rank, gradients averaged during backward.

Run with ``ember-run --nproc_per_node 2 train.py`` (or ``mpirun -n 2 python train.py``)::

    import ember
    import ember.distributed as dist
    from ember import nn

    dist.init_process_group()
    model = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))   # rank 0's weights on every rank
    loss = model(ember.randn(8, 4)).pow(2).mean()
    loss.backward()          # each .grad is now the average over the ranks
    dist.destroy_process_group()
"""
from __future__ import annotations

import contextlib
import warnings
import zlib

import numpy as np

from ...autograd import no_grad
from ...errors import mark, with_user_line
from ..modules.module import Module
from ._reducer import Reducer

PREFIX = "module."


def _dist():
    import ember.distributed as dist  # the distributed layer sits above nn: imported when DDP is built

    return dist


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (``torch.nn.parallel.DistributedDataParallel``).

    At construction every rank checks it holds the same parameters (names, shapes, dtypes) and takes rank 0's
    parameters and buffers. Each backward then all-reduces gradients bucket by bucket while it runs; inside
    ``no_sync()`` gradients accumulate locally. ``find_unused_parameters=True`` is needed when forward may
    leave parameters out of the graph. ``broadcast_buffers`` (default) copies rank 0's buffers before each
    training forward, like PyTorch.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        dist = _dist()
        from ember.distributed._group import resolve, world

        self.module = module
        group = resolve(process_group, "DistributedDataParallel")
        self.process_group = group
        self.find_unused_parameters = bool(find_unused_parameters)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.device_ids = device_ids
        self.require_backward_grad_sync = True
        self._sync_this_backward = True
        self._check_same_model(dist)
        self._sync_states(group, world(), [p for _, p in self._named_states()])
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self.reducer = Reducer(named, group, world(), max(float(bucket_cap_mb), 1e-6) * 2**20,
                               self.find_unused_parameters)

    # ------------------------------------------------------------------ construction checks
    def _named_states(self):
        return list(self.module.named_parameters()) + [
            (n, b) for n, b in self.module.named_buffers() if b is not None]

    def _check_same_model(self, dist):
        layout = [[n, list(t.shape), t.dtype.name] for n, t in self._named_states()]
        mine = zlib.crc32(repr(layout).encode())
        ranks = [None] * self.process_group.size()
        dist.all_gather_object(ranks, {"crc": mine, "n": len(layout)}, group=self.process_group)
        if all(r["crc"] == mine for r in ranks):
            return
        first = [None]
        if dist.get_rank() == self.process_group.ranks[0]:
            first = [layout]
        dist.broadcast_object_list(first, src=self.process_group.ranks[0], group=self.process_group)
        ref = {n: (s, d) for n, s, d in first[0]}
        own = {n: (s, d) for n, s, d in layout}
        diffs = [f"{n}: {own.get(n)} here vs {ref.get(n)} on rank 0" for n in sorted(set(ref) | set(own))
                 if own.get(n) != ref.get(n)]
        raise mark(with_user_line(RuntimeError(
            f"rank {dist.get_rank()}: DistributedDataParallel: the ranks hold different models (parameters and "
            f"buffers must match in name, shape and dtype): " + "; ".join(diffs[:10] or
                                                                          ["same names, different order"])),
            3))

    @staticmethod
    def _sync_states(group, world, tensors):
        """Copy rank 0's tensors to every rank: one broadcast per dtype of everything concatenated."""
        if group.size() == 1 or not tensors:
            return
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype.str, []).append(t)
        root = 0
        for _, ts in sorted(by_dtype.items()):
            flat = np.concatenate([np.ascontiguousarray(t._data).reshape(-1) for t in ts])
            world.wait(group.comm.Ibcast(flat, root=root), group, "broadcast (DDP parameters and buffers)",
                       group.next_seq())
            off = 0
            with no_grad():
                for t in ts:
                    n = t._data.size
                    from ...tensor import Tensor

                    t.copy_(Tensor._wrap(flat[off:off + n].reshape(t._data.shape)))
                    off += n

    # ------------------------------------------------------------------ training
    def forward(self, *inputs, **kwargs):
        from ..._state import STATE

        self.reducer.check_finished()
        if self.broadcast_buffers and self.training and STATE.tracer is None:
            from ember.distributed._group import world

            bufs = [b for _, b in self.module.named_buffers() if b is not None]
            self._sync_states(self.process_group, world(), bufs)
        out = self.module(*inputs, **kwargs)
        sync = self.require_backward_grad_sync
        self.reducer.enabled = sync
        if sync and self.find_unused_parameters:
            self.reducer.prepare(self._unused_params(out))
        return out

    def _unused_params(self, out):
        reached, stack, seen = set(), list(_tensors_in(out)), set()
        nodes = [t._node for t in stack if t._node is not None]
        reached.update(id(t) for t in stack if t._node is None)
        while nodes:
            node = nodes.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for e in node.edges:
                if e is None:
                    continue
                if hasattr(e, "edges"):
                    nodes.append(e)
                else:
                    reached.add(id(e))
        return [p for p in self.reducer.params if id(p) not in reached]

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context gradients are not all-reduced: they accumulate in ``.grad`` until the first
        backward after it, which reduces the accumulated sum."""
        prev = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    # ------------------------------------------------------------------ checkpoints
    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Also accepts a bare model's state_dict (keys without ``module.``): the prefix is added, with a
        warning saying so."""
        keys = list(state_dict)
        if keys and not any(k.startswith(PREFIX) for k in keys):
            warnings.warn("DistributedDataParallel.load_state_dict: the keys have no 'module.' prefix (a bare "
                          "model's state_dict); loading them into the wrapped module", UserWarning, stacklevel=2)
            return self.module.load_state_dict(state_dict, strict=strict, assign=assign)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    @property
    def comm_stats(self) -> dict:
        """Seconds spent in gradient communication: ``total`` and ``exposed`` (waited for after the last
        gradient was produced, i.e. not hidden behind backward)."""
        return {"total": self.reducer.comm_seconds, "exposed": self.reducer.wait_seconds}

    def extra_repr(self):
        return f"world_size={self.process_group.size()}, buckets={len(self.reducer.buckets)}"


def _tensors_in(obj):
    if hasattr(obj, "_data"):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors_in(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors_in(v)


def consume_prefix_in_state_dict_if_present(state_dict, prefix):
    """Strip ``prefix`` from every key that has it, in place (PyTorch's helper for DDP checkpoints)."""
    for key in list(state_dict):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
