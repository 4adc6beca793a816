"""``keras.distribution`` on Ember: data-parallel ``fit`` across MPI ranks (Keras 3's names).

Start the same program on N ranks (``ember-run --nproc_per_node N train.py``) and call::

    keras.distribution.set_distribution(keras.distribution.DataParallel())

before ``fit``. Each global batch of ``batch_size`` rows is split across the ranks (rank r trains on its
slice), the optimizer averages the gradients over the ranks before applying them, and the first update
copies rank 0's weights to every rank. So N ranks train like one process with the same ``batch_size``:
pass every rank the same data and seed (``keras.utils.set_random_seed``) so they shuffle alike. Metrics
and logs are each rank's own (computed on its slice). ``ModelParallel`` is not available.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DataParallel", "DeviceMesh", "distribution", "initialize", "list_devices", "set_distribution"]

_CURRENT = {"distribution": None}


def _dist():
    import ember.distributed as dist

    return dist


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Join the MPI process group (the launcher decides addresses and ranks)."""
    dist = _dist()
    if not dist.is_initialized():
        dist.init_process_group("mpi", world_size=num_processes or -1, rank=-1 if process_id is None else process_id)


def list_devices(device_type=None):
    """One ``"cpu:<rank>"`` per rank of the process group."""
    initialize()
    return [f"cpu:{r}" for r in range(_dist().get_world_size())]


class DeviceMesh:
    def __init__(self, shape, axis_names, devices=None):
        self.shape, self.axis_names = tuple(shape), tuple(axis_names)
        self.devices = list_devices() if devices is None else list(devices)


class DataParallel:
    """Replicate the model on every rank; split each batch across them; average the gradients."""

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        initialize()
        dist = _dist()
        self.devices = list(devices) if devices is not None else list_devices()
        self.device_mesh = device_mesh or DeviceMesh((len(self.devices),), ("batch",), self.devices)
        self.batch_dim_name = self.device_mesh.axis_names[0]
        self.rank, self.num_replicas = dist.get_rank(), dist.get_world_size()
        self._synced: set = set()

    # ------------------------------------------------------------------ the hooks fit calls
    def shard(self, arrays):
        """This rank's rows of a batch (a nested structure of arrays / tensors)."""
        if arrays is None:
            return None
        if isinstance(arrays, (list, tuple)):
            return type(arrays)(self.shard(a) for a in arrays)
        if isinstance(arrays, dict):
            return {k: self.shard(v) for k, v in arrays.items()}
        n = len(arrays)
        bounds = np.linspace(0, n, self.num_replicas + 1).round().astype(int)
        return arrays[bounds[self.rank]:bounds[self.rank + 1]]

    def reduce_gradients(self, grads, variables):
        """Average NumPy gradient arrays over the ranks (one all-reduce per dtype); on the first call for a
        set of variables, copy rank 0's values to every rank first."""
        from ember.distributed._group import resolve, world

        group, w = resolve(None, "keras DataParallel"), world()
        key = tuple(id(v) for v in variables)
        if key not in self._synced:
            self._synced.add(key)
            from ember.nn.parallel.distributed import DistributedDataParallel

            DistributedDataParallel._sync_states(group, w, list(variables))
        present = [i for i, g in enumerate(grads) if g is not None]
        out = list(grads)
        for dtype in sorted({grads[i].dtype.str for i in present}):
            idx = [i for i in present if grads[i].dtype.str == dtype]
            flat = np.concatenate([np.ascontiguousarray(grads[i]).reshape(-1) for i in idx])
            w.wait(group.comm.Iallreduce(w.MPI.IN_PLACE, flat, w.MPI.SUM), group,
                   "all_reduce (keras DataParallel gradients)", group.next_seq())
            flat /= self.num_replicas
            off = 0
            for i in idx:
                n = grads[i].size
                out[i] = flat[off:off + n].reshape(grads[i].shape)
                off += n
        return out


def set_distribution(value):
    """Make ``value`` (a ``DataParallel`` or None) the distribution ``fit`` and optimizers use."""
    if value is not None and not isinstance(value, DataParallel):
        raise ValueError(f"set_distribution: Ember supports DataParallel (or None), got {type(value).__name__}")
    _CURRENT["distribution"] = value


def distribution():
    """The current distribution, or None."""
    return _CURRENT["distribution"]
