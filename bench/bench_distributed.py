"""Data-parallel scaling on this machine: 2 ranks x 1 thread vs 1 rank x 1 thread, Ember (ember-run + MPI +
DistributedDataParallel) and PyTorch (torchrun + gloo + DDP) on the same workloads, in one run.

    python -m bench.bench_distributed [--steps 20] [--workloads cnn transformer]

Each rank runs the workload's full per-rank batch, so ideal throughput scaling is 2.0x. For Ember it also
reports the gradient communication per step: the time a standalone all-reduce of all gradients takes, the
time still waited for after backward produced the last gradient ("exposed"), and so how much was hidden
behind backward. Each configuration runs in its own processes; the machine is shared, so figures are noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _wrap_closure(loss_of, model, ddp):
    """Point the workload's loss closure at the DDP wrapper instead of the bare model."""
    for cell in loss_of.__closure__ or ():
        if cell.cell_contents is model:
            cell.cell_contents = ddp


def worker(lib_name, workload, steps, ddp):
    import importlib

    import numpy as np

    lib = importlib.import_module(lib_name)
    from bench.workloads import WORKLOADS

    nn, optim = importlib.import_module(f"{lib_name}.nn"), importlib.import_module(f"{lib_name}.optim")
    dist = importlib.import_module(f"{lib_name}.distributed")
    if ddp:
        dist.init_process_group("mpi" if lib_name == "ember" else "gloo")
    lib.manual_seed(0)
    model, opt, loss_of = WORKLOADS[workload](lib, nn, optim, np.random.default_rng(0))
    wrapped = None
    if ddp:
        wrapped = nn.parallel.DistributedDataParallel(model)
        _wrap_closure(loss_of, model, wrapped)
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_of().backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    out = {"step_ms": 1e3 * statistics.median(times)}
    if ddp and lib_name == "ember":
        stats = wrapped.comm_stats
        out["exposed_ms"] = 1e3 * stats["exposed"] / (steps + 3)
        out["standalone_allreduce_ms"] = _standalone_allreduce(model)
    if ddp:
        dist.destroy_process_group()
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)


def _standalone_allreduce(model):
    import numpy as np

    import ember.distributed as dist
    from ember.distributed._group import resolve, world

    n = sum(p.numel() for p in model.parameters())
    buf = np.ones(n, np.float32)
    g, w = resolve(None, "bench"), world()
    times = []
    for _ in range(5):
        dist.barrier()
        t0 = time.perf_counter()
        w.wait(g.comm.Iallreduce(w.MPI.IN_PLACE, buf, w.MPI.SUM), g, "bench all_reduce", g.next_seq())
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _run(lib, workload, steps, ranks):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    me = [os.path.abspath(__file__), "--worker", lib, "--workload", workload, "--steps", str(steps)]
    if ranks == 1:
        cmd = [sys.executable] + me + ["--ddp", "0"]
    elif lib == "ember":
        cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc_per_node", "2", "--no-prefix"] + me + [
            "--ddp", "1"]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"] + me + ["--ddp", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{lib} {workload} x{ranks} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--steps", type=int, default=20)
    a.add_argument("--workloads", nargs="+", default=["cnn", "transformer"])
    a.add_argument("--worker")
    a.add_argument("--workload")
    a.add_argument("--ddp", type=int, default=0)
    args = a.parse_args()
    if args.worker:
        sys.path.insert(0, ROOT)
        return worker(args.worker, args.workload, args.steps, bool(args.ddp))
    print(f"{'workload':12} {'lib':6} {'1x1 ms':>8} {'2x1 ms':>8} {'scaling':>8}  communication (ember)")
    for wl in args.workloads:
        for lib in ("ember", "torch"):
            one, two = _run(lib, wl, args.steps, 1), _run(lib, wl, args.steps, 2)
            scaling = 2 * one["step_ms"] / two["step_ms"]
            comm = ""
            if "exposed_ms" in two:
                alone, exposed = two["standalone_allreduce_ms"], two["exposed_ms"]
                hidden = max(0.0, 1 - exposed / alone) if alone > 0 else 0.0
                comm = f"all-reduce alone {alone:.1f} ms, exposed {exposed:.1f} ms/step, hidden {100 * hidden:.0f}%"
            print(f"{wl:12} {lib:6} {one['step_ms']:8.1f} {two['step_ms']:8.1f} {scaling:7.2f}x  {comm}", flush=True)


if __name__ == "__main__":
    main()
