# A PyTorch DDP program; the only change is the import block (torch -> ember). Run with
# ember-run --nproc_per_node 2 torch_style.py OUT  or  mpirun -n 2 python torch_style.py OUT
import os
import sys

import ember as torch
import ember.distributed as dist
from ember import nn, optim
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DataLoader, TensorDataset
from ember.utils.data.distributed import DistributedSampler


def main(out_dir):
    dist.init_process_group(backend="gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.manual_seed(0)
    x = torch.randn(256, 10)
    y = (x.sum(1) > 0).long()
    data = TensorDataset(x, y)
    sampler = DistributedSampler(data, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=32, sampler=sampler)
    model = DDP(nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2)))
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        if rank == 0:
            torch.save(model.state_dict(), os.path.join(out_dir, "ckpt.pt"))
        dist.barrier()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean()
    dist.all_reduce(acc, op=dist.ReduceOp.AVG)
    print(f"rank {rank}/{world} local_rank {local_rank} accuracy {acc.item():.3f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
