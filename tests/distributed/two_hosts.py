"""Run by tests/test_distributed.py on 2 "hosts" (network namespaces joined by a veth pair): the ranks find
each other through the hostfile over TCP, then train a DDP model; every rank must end with the same weights."""
import socket

import numpy as np

import ember
import ember.distributed as dist
from ember import nn, optim
from ember.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
rank = dist.get_rank()
hosts = [None, None]
dist.all_gather_object(hosts, socket.gethostname())
ember.manual_seed(rank)  # different initial weights: DDP's broadcast from rank 0 must make them equal
model = DDP(nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)))
opt = optim.SGD(model.parameters(), lr=0.1)
for _ in range(5):
    opt.zero_grad()
    model(ember.randn(4, 8)).pow(2).mean().backward()  # each rank its own data
    opt.step()
flat = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
mine = ember.tensor(flat)
both = [ember.zeros_like(mine), ember.zeros_like(mine)]
dist.all_gather(both, mine)
same = bool(np.array_equal(both[0].numpy(), both[1].numpy()))
print(f"rank {rank} hosts {hosts} same_weights {same}", flush=True)
dist.destroy_process_group()
