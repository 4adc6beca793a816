"""``DistributedSampler``: each rank's share of a dataset, with PyTorch's exact indices.

For the same ``seed`` and epoch the permutation equals ``torch.randperm(n, generator=torch.Generator()
.manual_seed(seed + epoch))`` (a Mersenne Twister seeded like PyTorch's CPU generator, then PyTorch's
Fisher-Yates walk), so a program moved from PyTorch sees the same samples on the same ranks.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _mt19937_words(seed: int, count: int) -> np.ndarray:
    """The first ``count`` 32-bit outputs of MT19937 initialised like ``torch.Generator().manual_seed(seed)``."""
    key = np.empty(624, np.uint32)
    s = seed & 0xFFFFFFFF
    key[0] = s
    for j in range(1, 624):
        s = (1812433253 * (s ^ (s >> 30)) + j) & 0xFFFFFFFF
        key[j] = s
    bits = np.random.MT19937()
    bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 624}}
    return bits.random_raw(count).astype(np.uint64)


def torch_randperm(n: int, seed: int) -> list[int]:
    """``torch.randperm(n)`` on the CPU after ``manual_seed(seed)``: swap i with i + (draw % (n - i))."""
    if n <= 1:
        return list(range(n))
    draws = (_mt19937_words(seed, n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).astype(np.int64).tolist()
    perm = list(range(n))
    for i, z in enumerate(draws):
        k = i + z
        perm[i], perm[k] = perm[k], perm[i]
    return perm


def _default(kind: str) -> int:
    dist = __import__("sys").modules.get("ember.distributed")
    if dist is not None and dist.is_initialized():
        return dist.get_world_size() if kind == "size" else dist.get_rank()
    env = os.environ.get("WORLD_SIZE" if kind == "size" else "RANK")
    if env is None:
        raise RuntimeError(
            f"DistributedSampler: no {'num_replicas' if kind == 'size' else 'rank'} given and no process group: "
            "call ember.distributed.init_process_group() first or pass num_replicas= and rank=")
    return int(env)


class DistributedSampler(Sampler):
    """Rank ``rank`` of ``num_replicas`` gets every ``num_replicas``-th index of the (shuffled) dataset,
    padded by wrapping around (or, with ``drop_last``, trimmed) so every rank has the same count.
    Call ``set_epoch(epoch)`` before each epoch so the shuffle changes.

    >>> s = DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    >>> list(s)
    [1, 3, 5, 7, 9]
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        num_replicas = _default("size") if num_replicas is None else num_replicas
        rank = _default("rank") if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        indices = torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
