"""DistributedSampler against torch's: the same indices per rank for the same seed, epoch and options."""
import pytest
import torch
from torch.utils.data.distributed import DistributedSampler as TorchSampler

from ember.utils.data.distributed import DistributedSampler, torch_randperm

CASES = [  # (dataset size, replicas, shuffle, seed, drop_last, epoch)
    (10, 2, True, 0, False, 0), (11, 2, True, 0, False, 3), (11, 3, True, 42, True, 1),
    (7, 4, False, 0, False, 0), (7, 4, False, 0, True, 0), (1000, 3, True, 123, False, 5),
    (2, 5, True, 9, False, 2), (60000, 2, True, 0, False, 1),
]


@pytest.mark.parametrize("n,replicas,shuffle,seed,drop_last,epoch", CASES)
def test_same_indices_as_torch(n, replicas, shuffle, seed, drop_last, epoch):
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle, seed, drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle, seed, drop_last)
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n,seed", [(1, 0), (5, 2**33 + 7), (4096, 77)])
def test_randperm_matches_torch(n, seed):
    assert torch_randperm(n, seed) == torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()


def test_bad_rank_and_missing_group_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
