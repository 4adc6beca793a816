"""Training steps on a CUDA GPU: Ember eager and compiled vs PyTorch eager, at the bench sizes and 8x the batch.

Each contender runs in its own process (``--child``), contenders alternate over ``--rounds`` rounds and the
median of each contender's rounds is reported. Per workload and batch scale a child measures:
- ``step_ms``: wall time per training step (N steps, then a device synchronize), median of 3 repeats;
- ``kernels``: CUDA kernels launched per step and ``gpu_ms``: their summed duration, from one profiled step
  (torch.profiler/CUPTI sees every kernel in the process, CuPy's included; "n/a" when it cannot run);
- ``busy``: gpu_ms / step_ms. A low figure means the step is host-bound: the rest is Python and launch
  overhead, which fusing kernels (fewer launches) or CUDA graphs would remove.

Run: python -m bench.bench_gpu [--quick] [--rounds 2] [--out DIR] [workload ...]
(needs CuPy and a GPU for Ember and a CUDA build of PyTorch for the PyTorch column; says so otherwise)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = ("mlp", "transformer", "cnn", "lstm")
SCALES = (1, 8)
CONTENDERS = ("ember:eager", "ember:compiled", "torch:eager")
GOALS = {"mlp": 1.0, "transformer": 1.0}  # compiled / torch eager at 8x batch (issue 17)


# -- child: one contender, every workload and scale ------------------------------------------------------------
DEVICE = "cuda"  # --device cpu: a dry run of this script's own code on a machine without a GPU


def _sync(lib_name):
    if DEVICE == "cpu":
        return
    if lib_name == "torch":
        import torch

        torch.cuda.synchronize()
    else:
        import ember

        ember.cuda.synchronize()


def _time_steps(step, lib_name, n, repeats=3):
    times = []
    for _ in range(repeats):
        _sync(lib_name)
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        _sync(lib_name)
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def _profile(step, lib_name):
    """(kernels, gpu_ms) for one step, or (None, None) when the profiler cannot see CUDA kernels here."""
    try:
        import torch
        from torch.profiler import ProfilerActivity, profile

        if not torch.cuda.is_available() or DEVICE == "cpu":
            return None, None
        _sync(lib_name)
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            step()
            _sync(lib_name)
        kernels = [e for e in prof.events() if getattr(e, "device_type", None) is not None
                   and "CUDA" in str(e.device_type) and not e.name.startswith(("Memcpy", "Memset"))]
        if not kernels:
            return None, None
        return len(kernels), sum(e.device_time_total if hasattr(e, "device_time_total") else e.cuda_time_total
                                 for e in kernels) / 1000.0
    except Exception:  # noqa: BLE001  (profiling is extra information; never fail the bench on it)
        return None, None


def child(contender: str, workloads, scales, quick: bool) -> list:
    lib_name, mode = contender.split(":")
    if lib_name == "torch":
        import torch as lib

        if DEVICE == "cuda" and not lib.cuda.is_available():
            return [{"contender": contender, "error": "PyTorch has no CUDA here"}]
    else:
        import ember as lib

        if DEVICE == "cuda" and not lib.cuda.is_available():
            return [{"contender": contender, "error": f"no CUDA for Ember: {lib.backend.cuda_problem()}"}]
    from bench.workloads import make

    rows = []
    for name in workloads:
        for scale in scales:
            row = {"contender": contender, "workload": name, "scale": scale}
            try:
                _, _, step = make(name, lib, device=DEVICE, batch_scale=scale)
                if mode == "compiled":
                    step = lib.compile(step)
                t0 = time.perf_counter()
                for _ in range(3):  # warm up: compile, CuPy kernel builds, allocator pools
                    step()
                _sync(lib_name)
                row["warmup_s"] = time.perf_counter() - t0
                probe = _time_steps(step, lib_name, 2, repeats=1)
                n = max(2, min(200, int((0.15 if quick else 0.4) / max(probe, 1e-5))))
                row["step_ms"] = 1000 * _time_steps(step, lib_name, n)
                row["kernels"], row["gpu_ms"] = _profile(step, lib_name)
                if mode == "compiled" and lib_name == "ember":
                    row["compile_stats"] = {k: v for k, v in step.stats.items() if k != "graph_breaks"}
                    row["graph_breaks"] = len(step.stats["graph_breaks"])
            except Exception as exc:  # noqa: BLE001  (report and go on to the next workload)
                row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


# -- parent: alternate contenders in their own processes --------------------------------------------------------
def _run_child(contender, workloads, scales, quick, timeout):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "bench.bench_gpu", "--child", contender, "--device", DEVICE, "--scales",
           ",".join(map(str, scales)), *workloads] + (["--quick"] if quick else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=root)
        out, err = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = f"timed out after {timeout}s"
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if err.strip():
        rows.append({"contender": contender, "stderr": err.strip()[-1500:]})
    return rows


def summarize(all_rows):
    """Median step_ms per (contender, workload, scale) over the rounds, with the other fields of the last."""
    groups = {}
    for r in all_rows:
        if "workload" in r and "step_ms" in r:
            groups.setdefault((r["contender"], r["workload"], r["scale"]), []).append(r)
    table = {}
    for key, rs in groups.items():
        row = dict(rs[-1])
        row["step_ms"] = statistics.median(r["step_ms"] for r in rs)
        row["rounds"] = len(rs)
        table[key] = row
    return table


def print_table(table, workloads, scales, file=sys.stdout):
    def fmt(v, spec):
        width = int("".join(c for c in spec.split(".")[0] if c.isdigit()) or 0)
        return format(v, spec) if isinstance(v, (int, float)) else "n/a".rjust(width)

    print(f"{'workload':12s} {'batch':>5s} {'contender':15s} {'ms/step':>9s} {'kernels':>8s} {'gpu ms':>8s} "
          f"{'busy':>6s} {'torch/this':>10s}", file=file)
    for name in workloads:
        for scale in scales:
            ref = table.get(("torch:eager", name, scale), {}).get("step_ms")
            for c in CONTENDERS:
                r = table.get((c, name, scale))
                if r is None:
                    print(f"{name:12s} {scale:>4d}x {c:15s} {'(no result)':>9s}", file=file)
                    continue
                busy = r["gpu_ms"] / r["step_ms"] if r.get("gpu_ms") else None
                ratio = ref / r["step_ms"] if ref else None
                print(f"{name:12s} {scale:>4d}x {c:15s} {r['step_ms']:9.3f} {fmt(r.get('kernels'), '8d')} "
                      f"{fmt(r.get('gpu_ms'), '8.3f')} {fmt(busy, '6.0%')} {fmt(ratio, '9.2f')}x", file=file)
    for name, goal in GOALS.items():
        r, ref = table.get(("ember:compiled", name, 8)), table.get(("torch:eager", name, 8))
        if r and ref:
            ratio = ref["step_ms"] / r["step_ms"]
            print(f"goal {name} 8x: compiled {ratio:.2f}x PyTorch eager (goal >= {goal}) "
                  f"{'MET' if ratio >= goal else 'NOT MET'}", file=file)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--scales", default=",".join(map(str, SCALES)))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="shorter timings")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per child process")
    ap.add_argument("--out", default=os.environ.get("OUT"), help="folder for bench_gpu.json / .txt")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help="cpu: dry run without a GPU")
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    scales = [int(s) for s in args.scales.split(",")]
    if args.child:
        for row in child(args.child, args.workloads, scales, args.quick):
            if "workload" not in row:  # the per-workload rows were printed as they came
                print(json.dumps(row), flush=True)
        return
    all_rows = []
    for rnd in range(args.rounds):
        for contender in CONTENDERS:
            t0 = time.perf_counter()
            rows = _run_child(contender, args.workloads, scales, args.quick, args.timeout)
            all_rows.extend(rows)
            errors = [r for r in rows if "error" in r or "stderr" in r]
            print(f"round {rnd + 1} {contender}: {len(rows) - len(errors)} results in "
                  f"{time.perf_counter() - t0:.0f}s" + (f"; {len(errors)} errors/notes" if errors else ""),
                  flush=True)
            for e in errors:
                print("   ", json.dumps(e)[:600], flush=True)
            if args.out:  # partial results survive a timeout of the whole run
                os.makedirs(args.out, exist_ok=True)
                with open(os.path.join(args.out, "bench_gpu_partial.json"), "w") as f:
                    json.dump(all_rows, f)
    table = summarize(all_rows)
    print()
    print_table(table, args.workloads, scales)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench_gpu.json"), "w") as f:
            json.dump({"rows": all_rows, "medians": [dict(v, key=list(k)) for k, v in table.items()]}, f, indent=1)
        with open(os.path.join(args.out, "bench_gpu.txt"), "w") as f:
            print_table(table, args.workloads, scales, file=f)


if __name__ == "__main__":
    main()
