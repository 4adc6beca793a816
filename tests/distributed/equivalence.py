"""Run by tests/test_distributed.py under 2 ranks: DDP on half batches == one process on full batches.

Each rank also trains the single-process reference itself (same seed, full batch, no DDP), so one launch
checks every case. float64 so that the 1e-6 bound measures the algorithm, not the summation order.
"""
import sys

import numpy as np

import ember
import ember.distributed as dist
from ember import nn, optim
from ember.nn import functional as F
from ember.nn.parallel import DistributedDataParallel as DDP

STEPS, TOL = 20, 1e-6


def mlp():
    return nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 5))


def cnn(sync):
    bn = nn.BatchNorm2d(6)
    m = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), bn, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(6 * 4 * 4, 5))
    return nn.SyncBatchNorm.convert_sync_batchnorm(m) if sync else m


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(20, 8), nn.LSTM(8, 16, batch_first=True), nn.Linear(16, 20)

    def forward(self, tokens):
        h, _ = self.rnn(self.emb(tokens))
        return self.out(h).reshape(-1, 20)


def batches(kind, rng, n=8):
    for _ in range(STEPS):
        if kind == "mlp":
            yield rng.standard_normal((n, 12)), rng.integers(0, 5, n)
        elif kind == "cnn":
            yield rng.standard_normal((n, 3, 8, 8)), rng.integers(0, 5, n)
        else:
            t = rng.integers(0, 20, (n, 7))
            yield t, np.roll(t, -1, 1).reshape(-1)


def tensor(a):
    return ember.tensor(a) if a.dtype.kind == "f" else ember.tensor(a, dtype=ember.int64)


def train(kind, make, opt_fn, distributed, compiled=False, accumulate=False):
    ember.manual_seed(0)
    model = make()
    if distributed:
        model = DDP(model)
    opt = opt_fn(model.parameters())
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)

    def shard(a):
        half = len(a) // world
        return a[rank * half:(rank + 1) * half]

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = ember.compile(step) if compiled else step
    rng = np.random.default_rng(1)
    for xb, yb in batches(kind, rng):
        if accumulate:  # two micro-batches: the first under no_sync, the second reduces the sum
            opt.zero_grad()
            for i, part in enumerate(np.array_split(np.arange(len(xb)), 2)):
                x, y = tensor(shard(xb[part])), tensor(shard(yb[part] if kind != "lm" else
                                                               yb.reshape(len(xb), -1)[part].reshape(-1)))
                ctx = model.no_sync() if (distributed and i == 0) else _null()
                with ctx:
                    F.cross_entropy(model(x), y).backward()
            opt.step()
            continue
        if kind == "lm":
            x, y = tensor(shard(xb)), tensor(shard(yb.reshape(len(xb), -1)).reshape(-1))
        else:
            x, y = tensor(shard(xb)), tensor(shard(yb))
        run(x, y)
    m = model.module if distributed else model
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}, (run if compiled else None)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


CASES = {
    "mlp_adam": ("mlp", mlp, lambda p: optim.Adam(p, lr=1e-2), {}),
    "cnn_syncbn_sgd_momentum": ("cnn", lambda: cnn(True), lambda p: optim.SGD(p, lr=0.05, momentum=0.9), {}),
    "lstm_lm_adam": ("lm", LM, lambda p: optim.Adam(p, lr=1e-2), {}),
    "mlp_adam_compiled": ("mlp", mlp, lambda p: optim.Adam(p, lr=1e-2), {"compiled": True}),
    "cnn_syncbn_compiled": ("cnn", lambda: cnn(True), lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
                            {"compiled": True}),
    "mlp_no_sync_accumulation": ("mlp", mlp, lambda p: optim.SGD(p, lr=0.1, momentum=0.9), {"accumulate": True}),
}
REFERENCE_MAKERS = {"cnn_syncbn_sgd_momentum": lambda: cnn(False), "cnn_syncbn_compiled": lambda: cnn(False)}


def run(names):
    """Train every case in ``names`` both ways (the process group is already initialized)."""
    previous = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        _compare(names, dist.get_rank())
    finally:
        ember.set_default_dtype(previous)


def _compare(names, rank):
    for name in names:
        kind, make, opt_fn, kw = CASES[name]
        got, compiled = train(kind, make, opt_fn, True, **kw)
        want, _ = train(kind, REFERENCE_MAKERS.get(name, make), opt_fn, False, **kw)  # compiled vs compiled
        worst = max(float(np.max(np.abs(got[k] - want[k]))) for k in want)
        assert set(got) == set(want), (sorted(got), sorted(want))
        traces = "" if compiled is None else f" traces={ember.compile.stats(compiled)['traces']} " \
                                             f"hits={ember.compile.stats(compiled)['cache_hits']}"
        status = "OK" if worst <= TOL else "FAIL"
        print(f"rank {rank} {name} {status} max_abs_diff={worst:.2e}{traces}", flush=True)


if __name__ == "__main__":
    dist.init_process_group("mpi")
    run(sys.argv[1:] or list(CASES))
    dist.destroy_process_group()
