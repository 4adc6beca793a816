"""Time the same workload on Ember and PyTorch in one run and print ratios.

Absolute times on a shared machine mean little; the ratio of two runs taken side by side means a lot. Each
workload is timed as the best of several rounds, interleaving the two frameworks so drift hits both.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")


def best_time(fn, number: int, rounds: int = 5, warmup: int = 2) -> float:
    """Seconds per call: the best of ``rounds`` rounds of ``number`` calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    return torch


def compare(name: str, ember_fn, torch_fn, number: int, rounds: int = 5, unit: str = "us") -> dict:
    """Time both (interleaved rounds) and return {'name', 'ember', 'torch', 'ratio'} (ratio = torch/ember speed)."""
    scale = {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]
    e_best = t_best = float("inf")
    for _ in range(rounds):
        e_best = min(e_best, best_time(ember_fn, number, rounds=1, warmup=1))
        if torch_fn is not None:
            t_best = min(t_best, best_time(torch_fn, number, rounds=1, warmup=1))
    row = {"name": name, "ember": e_best * scale, "unit": unit}
    if torch_fn is not None:
        row["torch"] = t_best * scale
        row["speed_vs_torch"] = t_best / e_best  # >1 means Ember is faster
    return row


def print_table(rows, title: str) -> None:
    print(f"\n{title}")
    print(f"{'workload':34s} {'ember':>12s} {'pytorch':>12s} {'ember speed / torch':>20s}")
    for r in rows:
        torch_txt = f"{r['torch']:10.1f}{r['unit']}" if "torch" in r else "       n/a"
        ratio = f"{r['speed_vs_torch']:19.2f}x" if "speed_vs_torch" in r else "                 n/a"
        print(f"{r['name']:34s} {r['ember']:10.1f}{r['unit']} {torch_txt} {ratio}")


def run_alone(module: str, framework: str, *args: str, threads: int = 1):
    """``python -m <module> --only <framework> <args>`` in a process of its own with BLAS/OpenMP at
    ``threads`` (each framework alone, as users run it): the JSON its last output line holds."""
    import json
    import os
    import subprocess
    import sys

    n = str(threads)
    env = dict(os.environ, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n)
    out = subprocess.run([sys.executable, "-m", module, "--only", framework, *args], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])

