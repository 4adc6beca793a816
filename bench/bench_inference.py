"""Inference latency (issue 11): the loaded ``model.ember`` artifact vs eager Ember vs eager PyTorch vs the
exported ONNX on onnxruntime vs the TFLite file on LiteRT, at batch 1 and 64, for the benchmark models.

Each framework runs in its own worker process (started once, 2 threads each); the parent asks them in turn
(rotating the order every round) to time a block of calls, and reports the median over rounds of each
block's median per-call latency. Ratios are taken within one run: absolute times on a shared machine mean
little. Formats a model cannot be exported to yet are reported as n/a with the reason.

Run: python -m bench.bench_inference [--models mlp cnn lstm transformer] [--rounds 7] [--seconds 0.2]
[--frameworks ember-artifact onnxruntime] [--threads 2] [--baseline DIR]. Beside each wall-clock median the
worker reports the process CPU time per call (all its threads: a busy-waiting BLAS thread counts), the figure
less moved by other processes on a shared machine, and the loaded artifact's worker the blocks per call its
inference helper threads ran (``ember.graph.infer_pool``: whether the batch-1 ``linear`` layers ran split).
``--baseline DIR`` adds the loaded artifact run by another
Ember tree (e.g. ``git worktree add /tmp/before main``) as one more worker: before/after in one run.
A pause between blocks lets the previous worker's BLAS threads stop spinning (NumPy's OpenBLAS and torch's
OpenMP busy-wait after a threaded call), so each block has the cores to itself.
Goal: the loaded artifact at batch 1 within 1.5x of onnxruntime on mlp and cnn.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

THREADS = int(os.environ.get("EMBER_BENCH_THREADS", "2"))  # per framework; the parent passes --threads down
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))
BATCHES = (1, 64)
FRAMEWORKS = ("ember-artifact", "ember-eager", "torch-eager", "onnxruntime", "litert")
BASELINE = "ember-artifact@baseline"  # --baseline DIR: the loaded artifact run by another Ember tree (before/after)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def example(name: str, batch: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name in ("lstm", "transformer"):
        return rng.integers(0, 64, (batch, 64)).astype(np.int64)
    if name == "cnn":
        return rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    return rng.standard_normal((batch, 784)).astype(np.float32)


def _model(name: str, lib):
    from bench.workloads import make

    return make(name, lib)[0].eval()


# ----------------------------------------------------------------------------------------------- prepare
def prepare(name: str, folder: str) -> dict:
    """Write the weights, the artifact(s), ONNX and TFLite files of ``name``; returns {format: note}."""
    import ember

    model = _model(name, ember)
    ember.save(model.state_dict(), os.path.join(folder, f"{name}.safetensors"))
    x = ember.tensor(example(name, 2))
    notes = {}
    try:  # one artifact with a dynamic batch, else one per batch size
        ember.export.save(ember.export.export(model, (x,), dynamic_batch=True), _path(folder, name, "ember"))
    except ember.export.ExportError as exc:
        notes["ember-artifact"] = f"static batch ({str(exc).split(':')[1].strip()[:60]}...)"
        for b in BATCHES:
            prog = ember.export.export(model, (ember.tensor(example(name, b)),))
            ember.export.save(prog, _path(folder, name, "ember", b))
    try:
        from ember.export.onnx import export as onnx_export

        onnx_export(model, (x,), _path(folder, name, "onnx"), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        notes["onnxruntime"] = f"n/a: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    try:
        try:
            ember.export.tflite(model, (x,), _path(folder, name, "tflite"), dynamic_batch=True)
        except ember.export.ExportError as exc:
            if "cannot make" not in str(exc):
                raise
            ember.export.tflite(model, (x,))  # a static batch would not do either: find the real reason
            raise
    except Exception as exc:  # noqa: BLE001
        notes["litert"] = f"n/a: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    return notes


def _path(folder, name, ext, batch=None):
    return os.path.join(folder, f"{name}{'' if batch is None else f'_b{batch}'}.{ext}")


# ----------------------------------------------------------------------------------------------- workers
def _runner(fw: str, name: str, folder: str, batch: int):
    """A zero-argument function running one inference of ``name`` at ``batch`` on framework ``fw``."""
    x = example(name, batch)
    if fw == "ember-artifact":
        import ember

        path = _path(folder, name, "ember")
        prog = ember.export.load(path if os.path.exists(path) else _path(folder, name, "ember", batch))
        prog.warmup()
        return lambda: prog.run([x])[0]
    if fw == "ember-eager":
        import ember

        model = _model(name, ember)
        model.load_state_dict(ember.load(os.path.join(folder, f"{name}.safetensors")))
        xt = ember.tensor(x)

        def run():
            with ember.no_grad():
                return model(xt).numpy()

        return run
    if fw == "torch-eager":
        import torch
        from safetensors.numpy import load_file

        torch.set_num_threads(THREADS)
        model = _model(name, torch)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in load_file(
            os.path.join(folder, f"{name}.safetensors")).items()})
        xt = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                return model(xt).numpy()

        return run
    if fw == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = THREADS, 1
        opts.log_severity_level = 3  # ember/export/onnx.py declares static output dims: ORT warns every call
        sess = ort.InferenceSession(_path(folder, name, "onnx"), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}
        return lambda: sess.run(None, feed)[0]
    if fw == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=_path(folder, name, "tflite"), num_threads=THREADS)
        inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
        interp.resize_tensor_input(inp, list(x.shape))
        interp.allocate_tensors()

        def run():
            interp.set_tensor(inp, x)
            interp.invoke()
            return interp.get_tensor(out)

        return run
    raise ValueError(fw)


def _helper_blocks():
    """Blocks Ember's inference helper threads (``ember.graph.infer_pool``) have run in this process so far
    (None when the process has none): shows whether a batch-1 ``linear`` ran split over the cores."""
    pool_mod = sys.modules.get("ember.graph.infer_pool")
    pool = pool_mod and getattr(pool_mod, "_POOL", {}).get("pool")
    layout = sys.modules.get("ember.graph.infer_pool_layout", pool_mod)  # (older trees: the words on infer_pool)
    return None if pool is None else int(pool.ctl[layout.TAKEN])


def worker(fw: str, name: str, folder: str) -> None:
    """Serve timing requests on stdin: {"batch", "seconds"} -> {"us": median per-call microseconds, "cpu_us":
    the block's process CPU time per call}."""
    runners = {b: _runner(fw, name, folder, b) for b in BATCHES}
    for b, run in runners.items():
        out = run()
        for _ in range(3):
            run()
        np.save(os.path.join(folder, f"out_{name}_{fw}_b{b}.npy"), np.asarray(out))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        run, times, end = runners[req["batch"]], [], time.perf_counter() + req["seconds"]
        cpu0, taken0 = time.process_time(), _helper_blocks()
        while time.perf_counter() < end or len(times) < 5:
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        cpu = (time.process_time() - cpu0) / len(times)
        reply = {"us": statistics.median(times) * 1e6, "cpu_us": cpu * 1e6, "calls": len(times)}
        if taken0 is not None:
            reply["helper_blocks"] = (_helper_blocks() - taken0) / len(times)
        print(json.dumps(reply), flush=True)


class Worker:
    def __init__(self, fw, name, folder, threads=THREADS, root=ROOT):
        if fw == BASELINE:
            fw = "ember-artifact"
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   EMBER_BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.helper: dict = {}
        self.log = open(os.path.join(folder, f"log_{name}_{fw}.txt"), "w+")  # a file: a full pipe would block
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.bench_inference", "--worker", fw, "--model",
                                      name, "--dir", folder], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, cwd=root, env=env)
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"{fw} worker for {name} failed:\n{self.log.read()[-2000:]}")

    def time(self, batch, seconds) -> tuple:
        """(median wall us, CPU us per call) of one timed block; ``self.helper[batch]`` collects the blocks
        Ember's inference helpers ran per call (when the worker has them)."""
        self.proc.stdin.write(json.dumps({"batch": batch, "seconds": seconds}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "helper_blocks" in reply:
            self.helper.setdefault(batch, []).append(reply["helper_blocks"])
        return reply["us"], reply.get("cpu_us", float("nan"))  # (an older tree's worker reports no CPU time)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


# ----------------------------------------------------------------------------------------------- main
def bench_model(name, folder, rounds, seconds, pause=0.15, threads=THREADS, frameworks=FRAMEWORKS,
                baseline=None) -> dict:
    notes = prepare(name, folder)
    workers = {}
    if baseline:  # first: its worker writes the artifact's outputs under the plain name, renamed before ours
        print(f"{name}: starting the {BASELINE} worker ({baseline})", file=sys.stderr, flush=True)
        workers[BASELINE] = Worker(BASELINE, name, folder, threads, root=baseline)
        for b in BATCHES:
            os.replace(os.path.join(folder, f"out_{name}_ember-artifact_b{b}.npy"),
                       os.path.join(folder, f"out_{name}_{BASELINE}_b{b}.npy"))
    for fw in frameworks:
        if notes.get(fw, "").startswith("n/a"):
            continue
        print(f"{name}: starting the {fw} worker", file=sys.stderr, flush=True)
        workers[fw] = Worker(fw, name, folder, threads)
    results = {(fw, b): [] for fw in workers for b in BATCHES}
    order = list(workers)
    try:
        for r in range(rounds):
            print(f"{name}: round {r + 1}/{rounds}", file=sys.stderr, flush=True)
            for b in BATCHES:
                for fw in order[r % len(order):] + order[: r % len(order)]:  # rotate who goes first
                    results[(fw, b)].append(workers[fw].time(b, seconds))
                    time.sleep(pause)  # the last worker's BLAS/OpenMP threads park before the next one runs
    finally:
        for w in workers.values():
            w.close()
    helper = {(fw, b): statistics.median(v) for fw, w in workers.items() for b, v in w.helper.items()}
    first = "ember-eager" if "ember-eager" in workers else next(iter(workers))
    ref = {b: np.load(os.path.join(folder, f"out_{name}_{first}_b{b}.npy")) for b in BATCHES}
    agree = {fw: max(float(np.max(np.abs(np.load(os.path.join(folder, f"out_{name}_{fw}_b{b}.npy")) - ref[b])))
                     for b in BATCHES) for fw in workers}
    return {"medians": {k: statistics.median(w for w, _ in v) for k, v in results.items()},
            "cpu": {k: statistics.median(c for _, c in v) for k, v in results.items()},
            "notes": notes, "agree": agree, "reference": first, "helper": helper}


def report(name, res, threads=THREADS) -> None:
    med, cpu, notes = res["medians"], res["cpu"], res["notes"]
    ref = res["reference"].replace("ember-", "")
    print(f"\n{name}: median per-call latency (us), {threads} thread(s) each; cpu: process CPU us per call; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'framework':16s} {'batch 1':>10s} {'cpu':>8s} {'batch 64':>10s} {'cpu':>9s} "
          f"{'max |out - ' + ref + '|':>18s}  note")
    for fw in FRAMEWORKS + (BASELINE,):
        if (fw, 1) not in med:
            if fw in notes:
                print(f"{fw:16s} {'n/a':>10s} {'':8s} {'n/a':>10s} {'':9s} {'':18s}  {notes[fw]}")
            continue
        print(f"{fw:16s} {med[(fw, 1)]:10.1f} {cpu[(fw, 1)]:8.1f} {med[(fw, 64)]:10.1f} {cpu[(fw, 64)]:9.1f} "
              f"{res['agree'][fw]:18.2e}  {notes.get(fw, '')}")
    for (fw, b), blocks in sorted(res.get("helper", {}).items()):
        print(f"  {fw} batch {b}: {blocks:.2f} blocks per call run by Ember's inference helper threads "
              "(median over blocks; 0: every layer ran on the calling thread)")
    base = ("ember-artifact", 1)
    if base not in med:
        return
    for other in ("onnxruntime", "torch-eager", "litert", "ember-eager", BASELINE):
        if (other, 1) in med:
            print(f"  artifact / {other}: batch 1 {med[base] / med[(other, 1)]:.2f}x (cpu "
                  f"{cpu[base] / cpu[(other, 1)]:.2f}x), batch 64 {med[('ember-artifact', 64)] / med[(other, 64)]:.2f}x"
                  f" (cpu {cpu[('ember-artifact', 64)] / cpu[(other, 64)]:.2f}x)")
    if (BASELINE, 1) in med and ("onnxruntime", 1) in med:
        print(f"  {BASELINE} / onnxruntime: batch 1 {med[(BASELINE, 1)] / med[('onnxruntime', 1)]:.2f}x, batch 64 "
              f"{med[(BASELINE, 64)] / med[('onnxruntime', 64)]:.2f}x")
    if ("onnxruntime", 1) in med and name in ("mlp", "cnn"):
        ratio = med[base] / med[("onnxruntime", 1)]
        print(f"  goal (artifact at batch 1 within 1.5x of onnxruntime): {'met' if ratio <= 1.5 else 'NOT met'} "
              f"({ratio:.2f}x)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["mlp", "cnn", "lstm", "transformer"])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=0.2, help="length of one timed block")
    p.add_argument("--pause", type=float, default=0.15, help="idle time between two workers' blocks")
    p.add_argument("--threads", type=int, default=THREADS, help="threads per framework (BLAS, torch, ORT, LiteRT)")
    p.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    p.add_argument("--baseline", help="another Ember tree (a worktree of an older commit): its loaded artifact "
                                      f"runs as {BASELINE!r} beside this tree's, for before/after ratios")
    p.add_argument("--worker")
    p.add_argument("--model")
    p.add_argument("--dir")
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.model, args.dir)
        return None
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            out[name] = bench_model(name, folder, args.rounds, args.seconds, args.pause, args.threads,
                                    tuple(args.frameworks), args.baseline)
            report(name, out[name], args.threads)
    return out


if __name__ == "__main__":
    main()
