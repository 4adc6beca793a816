"""Eager training steps, Ember vs PyTorch (issue 3): seed_linear, mlp, cnn, lstm, transformer.

Run: python -m bench.bench_training [workload ...]
"""
from __future__ import annotations

import sys

import ember
from bench.harness import compare, print_table, torch_or_none
from bench.workloads import make

GOALS = {"seed_linear": 1.0, "mlp": 0.9, "cnn": 0.6, "lstm": 0.6, "transformer": 0.6}
STEPS = {"seed_linear": 200, "mlp": 20, "cnn": 3, "lstm": 2, "transformer": 2}


def main(names=None):
    torch = torch_or_none()
    rows = []
    for name in names or list(STEPS):
        _, _, e_step = make(name, ember)
        t_step = make(name, torch)[2] if torch else None
        row = compare(name, e_step, t_step, STEPS[name], rounds=3, unit="ms")
        row["goal"] = GOALS[name]
        rows.append(row)
    print_table(rows, "Eager training step (2 threads); speed ratio = torch time / ember time")
    for r in rows:
        if "speed_vs_torch" in r:
            verdict = "meets" if r["speed_vs_torch"] >= r["goal"] else "MISSES"
            print(f"  {r['name']}: {r['speed_vs_torch']:.2f}x vs goal {r['goal']}x -> {verdict}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:] or None)
