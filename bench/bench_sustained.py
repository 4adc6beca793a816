"""Sustained training throughput, measured the way a user measures it (issue 16).

Protocol, per contender (Ember eager, Ember compiled, PyTorch eager) and thread count:
- its own process, started with ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=<threads>`` (and
  ``torch.set_num_threads``), running nothing but that framework;
- per workload: 16 different pre-made batches (``bench.workloads.make_batches``) rotated step by step, 10
  warm-up steps (the compiled step traces and compiles there), then one sustained loop of ``--seconds``;
  steps/s = steps / elapsed;
- ``--repeats`` runs, alternating the contenders within each repeat so machine drift hits all of them; the
  figures are medians over repeats, with the spread.

The machine may be shared: every loop also records ``others' CPU``, the CPU time the rest of the machine used
during the loop (``/proc/stat`` busy time minus this process's own ``/proc/self/stat`` time), in cores. A
figure measured while others used a core or more is noisy; the table shows it beside every median.

Also printed: the peak RSS of each contender's process (MB), and achieved GFLOP/s: the FLOPs of one training
step (counted once by ``torch.utils.flop_counter.FlopCounterMode`` in the PyTorch worker, the same program for
every contender) times steps/s, beside the peak of a 2048x2048x2048 float32 matmul measured in each worker
process (NumPy's BLAS for Ember, ``torch.mm`` for PyTorch) at the same thread count.

Run: python -m bench.bench_sustained [--quick] [--seconds S] [--repeats N] [--threads 1 2] [workload ...]
(``--quick``: 1.5 s loops; a full run uses 8 s loops; both 3 repeats, 1 and 2 threads.)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENDERS = ("ember eager", "ember compiled", "torch eager")
NAMES = ("seed_linear", "mlp", "cnn", "lstm", "transformer", "vgg_block", "resnet_block", "word_lm")
N_BATCHES, WARMUP = 16, 10


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total


def _own_jiffies() -> int:
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime of every thread of this process


class CpuWatch:
    """CPU used by the rest of the machine (cores) while the ``with`` block ran."""

    def __enter__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), _busy_jiffies()[0], _own_jiffies()
        return self

    def __exit__(self, *exc):
        hz = os.sysconf("SC_CLK_TCK")
        elapsed = time.perf_counter() - self.t0
        own = (_own_jiffies() - self.own0) / hz
        others = (_busy_jiffies()[0] - self.busy0) / hz - own
        self.own_cores, self.others_cores = own / elapsed, max(0.0, others / elapsed)


def _sustained(step, batches, seconds):
    for i in range(WARMUP):
        step(*batches[i % len(batches)])
    steps, t0 = 0, time.perf_counter()
    with CpuWatch() as cpu:
        while True:
            step(*batches[steps % len(batches)])
            steps += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
    return {"steps_s": steps / elapsed, "steps": steps, "own_cpu": cpu.own_cores, "others_cpu": cpu.others_cores}


def _matmul_peak_gflops(lib) -> float:
    """GFLOP/s of a 2048^3 float32 matmul in this process (median of 5 after one warm-up)."""
    import numpy as np

    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    x = lib.from_numpy(a)  # each framework's own matmul (Ember's gives back a lingering one-thread BLAS hold)
    mm = lambda: lib.mm(x, x)  # noqa: E731
    mm()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        mm()
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def _rnn_layer_flops(input_shape, w_ih_shape, w_hh_shape, *_args, **_kwargs) -> int:
    """Multiply-adds x 2 of one fused RNN layer over a sequence: every (time step, batch row) multiplies the
    input by ``w_ih`` and the previous hidden state by ``w_hh`` (whatever the gate count or the layout)."""
    rows = math.prod(input_shape) // w_ih_shape[1]
    return 2 * rows * (math.prod(w_ih_shape) + math.prod(w_hh_shape))


def _rnn_layer_backward_flops(*shapes, **kwargs) -> int:
    return 2 * _rnn_layer_flops(*shapes, **kwargs)  # the input/state gradients and the weight gradients


def _step_flops(step, batch) -> float:
    """FLOPs of one PyTorch training step (forward, backward; the optimizer's elementwise work is not counted).

    PyTorch's counter has no formula for the oneDNN LSTM layer its CPU build runs (it counted 0.2 GFLOP for
    the lstm step's 4.2), so the fused RNN layers get theirs here."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    rnn = {torch.ops.aten.mkldnn_rnn_layer: _rnn_layer_flops,
           torch.ops.aten.mkldnn_rnn_layer_backward: _rnn_layer_backward_flops}
    with FlopCounterMode(display=False, custom_mapping=rnn) as counter:
        step(*batch)
    return float(counter.get_total_flops())


def worker(contender, threads, names, seconds):
    """Child process: one contender, every workload in turn; prints one JSON line."""
    import resource
    import warnings

    import numpy  # noqa: F401  (loads OpenBLAS with the thread count from the environment)

    warnings.simplefilter("ignore")
    from bench.workloads import make, make_batches

    if contender.startswith("torch"):
        import torch as lib

        lib.set_num_threads(threads)
    else:
        import ember as lib
    out = {}
    for name in names:
        step = make(name, lib)[2]
        if contender == "ember compiled":
            step = lib.compile(step)
        batches = make_batches(name, lib, N_BATCHES)
        result = _sustained(step, batches, seconds)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if contender.startswith("torch"):
            result["flops"] = _step_flops(step, batches[0])
        out[name] = result
    out["_peak_gflops"] = _matmul_peak_gflops(lib)
    print("RESULT " + json.dumps(out), flush=True)


def _run(contender, threads, names, seconds):
    env = dict(os.environ, PYTHONPATH=ROOT, **{v: str(threads) for v in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")})
    cmd = [sys.executable, "-m", "bench.bench_sustained", "--worker", contender, "--threads", str(threads),
           "--seconds", str(seconds), *names]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{contender} ({threads} threads) failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def measure(names, threads_list, seconds, repeats):
    """{threads: {contender: [per-repeat {workload: result}]}}; contenders alternate within each repeat."""
    got = {t: {c: [] for c in CONTENDERS} for t in threads_list}
    for rep in range(repeats):
        for t in threads_list:
            for c in CONTENDERS:
                got[t][c].append(_run(c, t, names, seconds))
                print(f"  {c}, {t} thread(s): " + ", ".join(  # progress, so a cut-short run still tells
                    f"{n} {r['steps_s']:.2f}/s (others {r['others_cpu']:.2f})" for n, r in got[t][c][-1].items()
                    if not n.startswith("_")),
                    file=sys.stderr, flush=True)
        print(f"  repeat {rep + 1}/{repeats} done", file=sys.stderr, flush=True)
    return got


def summarize(got, names):
    """Medians: {threads: {workload: {contender: (median steps/s, min, max, median others' CPU)}}}."""
    table = {}
    for t, per in got.items():
        table[t] = {}
        for name in names:
            row = {}
            for c, runs in per.items():
                vals = [r[name]["steps_s"] for r in runs]
                others = statistics.median(r[name]["others_cpu"] for r in runs)
                row[c] = (statistics.median(vals), min(vals), max(vals), others,
                          max(r[name]["peak_rss_mb"] for r in runs))
            table[t][name] = row
    return table


def flops_lines(got, table, names):
    """Achieved GFLOP/s per contender and its share of the same process's 2048^3 matmul peak."""
    lines = []
    for t, per in got.items():
        flops = {n: statistics.median(r[n]["flops"] for r in per["torch eager"]) for n in names}
        peaks = {c: statistics.median(r["_peak_gflops"] for r in runs) for c, runs in per.items()}
        lines.append(f"\n{t} thread(s): achieved GFLOP/s (% of the 2048^3 matmul peak: "
                     + ", ".join(f"{c} {p:.0f}" for c, p in peaks.items()) + " GFLOP/s)")
        for name in names:
            cells = []
            for c in CONTENDERS:
                g = flops[name] * table[t][name][c][0] / 1e9
                cells.append(f"{c} {g:.1f} ({100 * g / peaks[c]:.0f}%)")
            lines.append(f"{name:12s} {flops[name] / 1e9:7.2f} GFLOP/step  " + "  ".join(cells))
    return lines


def report(table, names):
    lines = []
    for t, rows in table.items():
        lines.append(f"\n{t} thread(s): steps/s median [min-max] (others' CPU in cores, median); "
                     "ratios = Ember / PyTorch eager")
        lines.append(f"{'workload':12s}" + "".join(f"{c:>30s}" for c in CONTENDERS) + f"{'eager/torch':>12s}"
                     f"{'compiled/torch':>15s}")
        for name in names:
            r = rows[name]
            cells = "".join(f"{m:9.1f} [{lo:.1f}-{hi:.1f}] ({o:.2f})".rjust(30) for m, lo, hi, o, _ in
                            (r[c] for c in CONTENDERS))
            torch_s = r["torch eager"][0]
            lines.append(f"{name:12s}{cells}{r['ember eager'][0] / torch_s:11.2f}x"
                         f"{r['ember compiled'][0] / torch_s:14.2f}x")
        lines.append("peak RSS MB: " + "; ".join(
            f"{name} " + "/".join(f"{rows[name][c][4]:.0f}" for c in CONTENDERS) for name in names)
            + "  (ember eager/compiled/torch)")
    if len(table) > 1:
        lo, hi = min(table), max(table)
        lines.append(f"\nscaling {lo} -> {hi} threads (steps/s ratio of medians)")
        for name in names:
            lines.append(f"{name:12s}" + "".join(
                f"  {c} {table[hi][name][c][0] / table[lo][name][c][0]:.2f}x" for c in CONTENDERS))
    return lines


def main(argv=None):
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("workloads", nargs="*", default=list(NAMES))
    a.add_argument("--quick", action="store_true", help="1.5 s loops, 3 repeats")
    a.add_argument("--seconds", type=float)
    a.add_argument("--repeats", type=int, default=3)
    a.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    a.add_argument("--worker", help=argparse.SUPPRESS)
    a.add_argument("--json", help="also write the raw results to this file")
    args = a.parse_args(argv)
    seconds = args.seconds or (1.5 if args.quick else 8.0)
    if args.worker:
        return worker(args.worker, args.threads[0], args.workloads, seconds)
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} CPUs; {seconds} s loops, "
          f"{args.repeats} repeats, threads {args.threads}", flush=True)
    got = measure(args.workloads, args.threads, seconds, args.repeats)
    table = summarize(got, args.workloads)
    print("\n".join(report(table, args.workloads) + flops_lines(got, table, args.workloads)))
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(t): v for t, v in got.items()}, f)
    return table


if __name__ == "__main__":
    main()
