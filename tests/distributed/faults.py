"""Run under 2 ranks by tests/test_distributed.py: rank 1 fails in the way named by argv[1]; rank 0 must fail
with an error naming rank 1 (and, for a hang, the op), well within the process group's timeout.

While training, rank 0 writes a checkpoint every step with ember.save (atomic: temp file + os.replace), so
the test can check the file is whole after the failure.
"""
import datetime
import os
import signal
import sys
import time

import ember
import ember.distributed as dist
from ember import nn, optim
from ember.nn.parallel import DistributedDataParallel as DDP

mode, ckpt = sys.argv[1], sys.argv[2]
# a hang can only be noticed by the timeout: short, so the test is quick; the other failures are noticed at
# once, so their timeout is long enough that a busy machine never trips it first
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=3 if mode == "hang" else 30))
rank = dist.get_rank()
model = DDP(nn.Linear(64, 64))
opt = optim.SGD(model.parameters(), lr=0.01)
start = time.monotonic()
for step in range(4):
    if rank == 1 and step == 2:
        if mode == "raise":
            raise ValueError("rank 1 gives up")
        if mode == "exit":
            sys.exit(3)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "hang":
            time.sleep(30)
    opt.zero_grad()
    model(ember.randn(8, 64)).pow(2).mean().backward()
    opt.step()
    if rank == 0:
        ember.save(model.module.state_dict(), ckpt)
    start = time.monotonic()
print(f"rank {rank} finished without noticing the failure", flush=True)
