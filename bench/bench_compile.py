"""Compiled training steps and inference (ember.compile, issue 5) against PyTorch, ratios in one run.

Training: the five workloads of ``bench/workloads.py`` (real ``nn`` layers and ``optim`` optimizers, the
same program on both libraries), one full step each (zero_grad, forward, loss, backward, optimizer step).
Columns: Ember eager, Ember compiled (``ember.compile(step)``), PyTorch eager, and ``torch.compile`` (the
model compiled with ``model.compile()``, backward and optimizer eager) where it runs. Rounds of the
contenders are interleaved so machine drift hits all of them; each number is the best round.
Ratio = PyTorch-eager time / Ember-compiled time (> 1 means Ember compiled is faster).

Inference: the mlp's forward at batch 1 (eval mode, no grad): Ember compiled, Ember eager, PyTorch eager,
and onnxruntime on the graph exported by ``ember.export.onnx`` when onnx/onnxruntime are installed.

PyTorch run in the same process as NumPy's OpenBLAS is slower on small BLAS-bound work (their thread pools
contend), which flatters Ember's ratios. ``--torch-alone`` also times PyTorch eager in a child process that
runs nothing else, and prints the ratios against that too.

Run: python -m bench.bench_compile [--quick] [--torch-alone] [workload ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings

import ember
from bench.harness import torch_or_none
from bench.workloads import WORKLOADS, make

GOALS = {"seed_linear": 2.0, "mlp": 1.1, "cnn": 1.0, "lstm": 1.0, "transformer": 1.2}
STEPS = {"seed_linear": 100, "mlp": 10, "cnn": 2, "lstm": 2, "transformer": 2}
SETTLE = 0.25  # seconds; OpenBLAS worker threads spin ~0.1 s after a call before they sleep
COLUMNS = ("ember eager", "ember compiled", "torch eager", "torch.compile")


def interleave(fns: dict, number: int, rounds: int) -> dict:
    """{label: best seconds per call}; one round of each contender after the other, ``rounds`` times."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            time.sleep(SETTLE)  # let the previous contender's BLAS/OpenMP threads stop spinning
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / number)
    return best


def _warm(fn, n=3):
    for _ in range(n):
        fn()
    return fn


def _torch_compiled_step(torch, name, notes):
    try:
        model, _, step = make(name, torch)
        model.compile()
        return _warm(step)
    except Exception as exc:  # inductor needs a C++ toolchain and may not support everything
        notes.append(f"torch.compile failed on {name}: {type(exc).__name__}: {str(exc)[:160]}")
        return None


def training_contenders(name, torch, notes, with_torch_compile=True) -> tuple[dict, object]:
    fns = {"ember eager": _warm(make(name, ember)[2])}
    compiled = ember.compile(make(name, ember)[2])
    fns["ember compiled"] = _warm(compiled)
    if torch is not None:
        fns["torch eager"] = _warm(make(name, torch)[2])
        tc = _torch_compiled_step(torch, name, notes) if with_torch_compile else None
        if tc is not None:
            fns["torch.compile"] = tc
    return fns, compiled


def training_table(names, torch, quick=False, with_torch_compile=True):
    rows, notes = [], []
    for name in names:
        fns, compiled = training_contenders(name, torch, notes, with_torch_compile)
        number = max(1, STEPS[name] // (4 if quick else 1))
        best = interleave(fns, number, 3 if quick else 9)
        row = {"workload": name, **{k: 1.0 / v for k, v in best.items()}, "stats": ember.compile.stats(compiled)}
        if "torch eager" in row:
            row["ratio"] = row["ember compiled"] / row["torch eager"]
        rows.append(row)
    return rows, notes


def print_training(rows, notes):
    print("\nTraining steps/s (best of interleaved rounds); ratio = Ember compiled / PyTorch eager steps/s")
    print(f"{'workload':12s}" + "".join(f"{c:>16s}" for c in COLUMNS) + f"{'ratio':>9s}{'goal':>7s}")
    for r in rows:
        vals = "".join(f"{r[c]:16.1f}" if c in r else f"{'n/a':>16s}" for c in COLUMNS)
        ratio = f"{r['ratio']:8.2f}x" if "ratio" in r else f"{'n/a':>9s}"
        goal = GOALS[r["workload"]]
        verdict = "" if "ratio" not in r else ("  meets" if r["ratio"] >= goal else "  MISSES")
        print(f"{r['workload']:12s}{vals}{ratio}{goal:6.1f}x{verdict}")
    for r in rows:
        s = r["stats"]
        print(f"  {r['workload']}: traces={s['traces']} cache_hits={s['cache_hits']} fallbacks={s['fallbacks']}")
    for n in notes:
        print("  note:", n)


def inference_contenders(torch, notes) -> dict:
    model, _, _ = make("mlp", ember)
    model.eval()
    x = ember.randn(1, 784)
    fast = ember.compile(model)

    def ember_compiled():
        with ember.no_grad():
            return fast(x)

    def ember_eager():
        with ember.no_grad():
            return model(x)

    fns = {"ember compiled": _warm(ember_compiled), "ember eager": _warm(ember_eager)}
    if torch is not None:
        tmodel = make("mlp", torch)[0].eval()
        tx = torch.randn(1, 784)

        def torch_eager():
            with torch.no_grad():
                return tmodel(tx)

        fns["torch eager"] = _warm(torch_eager)
    ort = _onnxruntime_fn(fast, x, notes)
    if ort is not None:
        fns["onnxruntime"] = _warm(ort)
    return fns


def _onnxruntime_fn(fast, x, notes):
    try:
        import onnxruntime  # noqa: F401

        from ember.export.onnx import export_session
    except ImportError as exc:
        notes.append(f"onnxruntime skipped: {exc}")
        return None
    sess, feed = export_session(fast, x)
    return lambda: sess.run(None, feed)


def inference_table(torch, quick=False):
    notes: list = []
    fns = inference_contenders(torch, notes)
    best = interleave(fns, 200 if quick else 1000, 3 if quick else 7)
    print("\nInference: mlp forward at batch 1, latency in microseconds (best of interleaved rounds)")
    for k, v in best.items():
        print(f"  {k:16s}{v * 1e6:10.1f} us")
    if "torch eager" in best:
        ratio = best["torch eager"] / best["ember compiled"]
        print(f"  ember compiled vs torch eager: {ratio:.2f}x  ({'meets' if ratio >= 1 else 'MISSES'} goal 1.0x)")
    for n in notes:
        print("  note:", n)
    return best


def _torch_worker(names, quick):
    """Child process of --torch-alone: PyTorch eager steps/s per workload, as JSON on stdout."""
    torch = torch_or_none()
    out = {}
    for name in names:
        number = max(1, STEPS[name] // (4 if quick else 1))
        best = interleave({"t": _warm(make(name, torch)[2])}, number, 3 if quick else 9)
        out[name] = 1.0 / best["t"]
    print(json.dumps(out))


def print_torch_alone(rows, names, quick):
    cmd = [sys.executable, "-m", "bench.bench_compile", "--torch-worker", *names] + (["--quick"] if quick else [])
    alone = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    print("\nAgainst PyTorch eager alone in its own process (steps/s; ratio = Ember compiled / that)")
    for r in rows:
        t = alone[r["workload"]]
        ratio = r["ember compiled"] / t
        goal = GOALS[r["workload"]]
        verdict = "meets" if ratio >= goal else "MISSES"
        print(f"  {r['workload']:12s} torch alone {t:8.1f}   ratio {ratio:5.2f}x   goal {goal}x  {verdict}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    names = [a for a in argv if a in WORKLOADS] or list(STEPS)
    if "--torch-worker" in argv:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return _torch_worker(names, quick)
    # PyTorch's OpenMP threads spin at barriers; beside NumPy's OpenBLAS threads in one process on 2 busy
    # cores that made PyTorch 10-100x slower in interleaved rounds. Passive waiting removed that and cost
    # PyTorch nothing measurable run alone. It must be set before torch is imported (torch_or_none does).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = torch_or_none()
    print(f"load average: {os.getloadavg()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows, notes = training_table(names, torch, quick, with_torch_compile="--no-torch-compile" not in argv)
    print_training(rows, notes)
    if "--torch-alone" in argv and torch is not None:
        print_torch_alone(rows, names, quick)
    inference_table(torch, quick)
    return rows


if __name__ == "__main__":
    main()
