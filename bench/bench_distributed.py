"""Data-parallel scaling on this machine: 2 ranks x 1 thread vs 1 rank x 1 thread, Ember (ember-run + MPI +
DistributedDataParallel) and PyTorch (torchrun + gloo + DDP) on the same workloads, in one run.

    python -m bench.bench_distributed [--steps 20] [--repeats 3] [--workloads cnn transformer]

Each rank runs the workload's full per-rank batch, so throughput scaling is ``2 * t(1x1) / t(2x1 DDP)``
(ideal 2.0x). Three configurations per framework, each in its own processes, run in alternation
(``--repeats`` rounds of: 1x1, 2x1 without DDP, 2x1 with DDP; Ember then PyTorch) and reported as medians:

- ``1x1``: one process, one thread;
- ``2x1 alone``: two ranks training independently (no gradient exchange): what two ranks on two cores cost
  before any communication (memory bandwidth, the other engineers' load); every 2x1 step time is the
  slowest rank's (both start each step together, after a barrier);
- ``2x1 DDP``: two ranks with DDP.

Communication per step: ``all-reduce alone`` is the blocking all-reduce of every gradient (in DDP's buckets)
with nothing else running; ``exposed`` is what DDP adds to the step, ``t(2x1 DDP) - t(2x1 alone)``; so
``hidden = 1 - exposed / all-reduce alone`` is the share of the communication that overlapped with backward
(0 when exposed >= the all-reduce itself). For Ember, ``waited`` is the time DDP spent after backward's last
gradient waiting for the buckets (includes waiting for the slower rank). The machine is shared: figures are
noisy, the spread (min-max over repeats) is printed with each median.
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
CONFIGS = ("1x1", "2x1 alone", "2x1 DDP")


def _wrap_closure(loss_of, model, ddp):
    """Point the workload's loss closure at the DDP wrapper instead of the bare model."""
    for cell in loss_of.__closure__ or ():
        if cell.cell_contents is model:
            cell.cell_contents = ddp


def worker(lib_name, workload, steps, mode):
    import importlib

    import numpy as np

    lib = importlib.import_module(lib_name)
    if lib_name == "torch":
        lib.set_num_threads(1)
    from bench.workloads import WORKLOADS

    nn, optim = importlib.import_module(f"{lib_name}.nn"), importlib.import_module(f"{lib_name}.optim")
    dist = importlib.import_module(f"{lib_name}.distributed")
    if mode != "1x1":
        dist.init_process_group("mpi" if lib_name == "ember" else "gloo")
    lib.manual_seed(0)
    model, opt, loss_of = WORKLOADS[workload](lib, nn, optim, np.random.default_rng(0))
    wrapped = None
    if mode == "2x1 DDP":
        wrapped = nn.parallel.DistributedDataParallel(model)
        _wrap_closure(loss_of, model, wrapped)
    times = []
    for i in range(steps + 3):
        if mode != "1x1":
            dist.barrier()  # both ranks start each step together, so a step's time is not the other's lag
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_of().backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    out = {"step_ms": 1e3 * statistics.median(times)}
    if mode != "1x1":  # a step lasts as long as its slowest rank: the median over steps of the max over ranks
        every = [None] * dist.get_world_size()
        dist.all_gather_object(every, times)
        out["rank0_ms"] = out["step_ms"]
        out["step_ms"] = 1e3 * statistics.median(max(step) for step in zip(*every))
    if mode == "2x1 DDP":
        if lib_name == "ember":
            out["waited_ms"] = 1e3 * wrapped.comm_stats["exposed"] / (steps + 3)
        out["allreduce_ms"] = _standalone_allreduce(lib_name, dist, wrapped)
    if mode != "1x1":
        dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print("RESULT " + json.dumps(out), flush=True)


def _standalone_allreduce(lib_name, dist, wrapped):
    """Median ms of a blocking all-reduce of every gradient, bucket by bucket as DDP sends them."""
    import numpy as np

    if lib_name == "ember":
        from ember.distributed._group import resolve, world

        g, w = resolve(None, "bench"), world()
        buffers = [b.buffer.copy() for b in wrapped.reducer.buckets]

        def once():
            for buf in buffers:
                w.wait(g.comm.Iallreduce(w.MPI.IN_PLACE, buf, w.MPI.SUM), g, "bench all_reduce", g.next_seq())
    else:
        import torch

        n = sum(p.numel() for p in wrapped.parameters())
        flat = torch.ones(n)
        cap = 25 * 2**20 // 4  # DDP's default 25 MB buckets (the first one is 1 MB in PyTorch; close enough)
        parts = [flat[i:i + cap] for i in range(0, n, cap)]

        def once():
            for p in parts:
                dist.all_reduce(p)
    times = []
    for _ in range(7):
        dist.barrier()
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def _run(lib, workload, steps, config):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    me = [os.path.abspath(__file__), "--worker", lib, "--workload", workload, "--steps", str(steps), "--mode",
          config]
    if config == "1x1":
        cmd = [sys.executable] + me
    elif lib == "ember":
        cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc_per_node", "2", "--no-prefix"] + me
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"] + me
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{lib} {workload} {config} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def _med(runs, key):
    vals = [r[key] for r in runs if key in r]
    return (statistics.median(vals), min(vals), max(vals)) if vals else None


def measure(workload, steps, repeats):
    """{lib: {config: [result per repeat]}}, configurations alternating within every repeat."""
    got = {lib: {c: [] for c in CONFIGS} for lib in ("ember", "torch")}
    for rep in range(repeats):
        for lib in ("ember", "torch"):
            for config in CONFIGS:
                got[lib][config].append(_run(lib, workload, steps, config))
        print(f"  {workload}: repeat {rep + 1}/{repeats} done", file=sys.stderr, flush=True)
    return got


def report(workload, got):
    lines = []
    for lib, runs in got.items():
        one, alone, ddp = (_med(runs[c], "step_ms") for c in CONFIGS)
        ar = _med(runs["2x1 DDP"], "allreduce_ms")
        exposed = ddp[0] - alone[0]
        if exposed <= 0:
            hidden = "all (exposed within noise)"
        else:
            hidden = f"{100 * max(0.0, 1 - exposed / ar[0]):.0f}%" if ar[0] > 0 else "n/a"
        waited = _med(runs["2x1 DDP"], "waited_ms")
        lines.append(
            f"{workload:11} {lib:5} 1x1 {one[0]:6.1f} ms [{one[1]:.0f}-{one[2]:.0f}]  2x1 alone {alone[0]:6.1f} "
            f"[{alone[1]:.0f}-{alone[2]:.0f}]  2x1 DDP {ddp[0]:6.1f} [{ddp[1]:.0f}-{ddp[2]:.0f}]  "
            f"scaling {2 * one[0] / ddp[0]:.2f}x (best runs {2 * one[1] / ddp[1]:.2f}x; without communication "
            f"{2 * one[0] / alone[0]:.2f}x)  all-reduce alone {ar[0]:.1f} ms, exposed {exposed:.1f} ms/step, "
            f"hidden {hidden}" + (f", waited after backward {waited[0]:.1f} ms" if waited else ""))
    return lines


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--steps", type=int, default=20)
    a.add_argument("--repeats", type=int, default=3)
    a.add_argument("--workloads", nargs="+", default=["cnn", "transformer"])
    a.add_argument("--worker")
    a.add_argument("--workload")
    a.add_argument("--mode", default="1x1")
    args = a.parse_args()
    if args.worker:
        sys.path.insert(0, ROOT)
        return worker(args.worker, args.workload, args.steps, args.mode)
    out = []
    for wl in args.workloads:
        out += report(wl, measure(wl, args.steps, args.repeats))
    print("medians of alternating runs (ms per step, [min-max]); ideal scaling 2.00x")
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    main()
