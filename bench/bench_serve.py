"""Serving throughput (issue 12): req/s and p50/p99 latency of batch-1 ``:predict`` requests at 1, 8 and 32
concurrent clients, without and with dynamic batching, for the MNIST mlp and cnn, served from the Ember
artifact and from the same model as ONNX on onnxruntime, behind the same ``ember serve``.

The server runs in its own process (``python -m ember.serve``); the load generator is this machine too (2
processes of keep-alive ``http.client`` threads), so figures include its CPU: they are what one box does.
Each cell runs ``--seconds`` after a short warm-up; on a shared machine the numbers are noisy, compare within
one run. Goal: mlp from the artifact >= 1,000 req/s at 8 clients, within 20% of onnxruntime, p99 < 20 ms.

Run: python -m bench.bench_serve [--models mlp cnn] [--clients 1 8 32] [--seconds 3] [--inline]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_models(folder: str) -> dict:
    """{(model, backend): base path}; backends that cannot be written are left out (with the reason printed)."""
    import ember
    from ember import nn
    from ember.export.browser import onnx_model_bytes

    ember.manual_seed(0)
    models = {
        "mlp": nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).eval(),
        "cnn": nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(16 * 7 * 7, 10)).eval(),
    }
    example = (ember.randn(2, 1, 28, 28),)
    out = {}
    for name, model in models.items():
        base = os.path.join(folder, f"{name}-ember", "1")
        os.makedirs(base)
        ember.export.save(ember.export.export(model, example, dynamic_batch=True), os.path.join(base, "model.ember"))
        out[(name, "ember")] = os.path.dirname(base)
        try:
            data = onnx_model_bytes(model, example, ["input"], ["output"])
        except Exception as exc:
            print(f"  {name}: no ONNX form ({str(exc)[:100]}); onnxruntime rows are n/a", flush=True)
            continue
        base = os.path.join(folder, f"{name}-onnx", "1")
        os.makedirs(base)
        with open(os.path.join(base, "model.onnx"), "wb") as f:
            f.write(data)
        out[(name, "onnx")] = os.path.dirname(base)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(base: str, batching: bool, inline: bool):
    port = free_port()
    cmd = [sys.executable, "-m", "ember.serve", "--model_name", "m", "--model_base_path", base,
           "--rest_api_port", str(port), "--onnx_threads", "1"]
    if batching:
        cmd += ["--enable_batching", "--max_batch_size", "32", "--batch_timeout_micros", "1000"]
    if inline:
        cmd += ["--inline"]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "REST API at" in line:
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining the log
    return proc, port


def _client_process(port, threads, body, seconds, queue):
    """One load-generator process: ``threads`` keep-alive clients; returns per-request latencies."""
    latencies, lock, stop = [], threading.Lock(), time.monotonic() + seconds
    errors = [0]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            conn.request("POST", "/v1/models/m:predict", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors[0] += 1
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    ts = [threading.Thread(target=client) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    queue.put((latencies, errors[0]))


def load(port: int, clients: int, seconds: float, body: bytes) -> dict:
    procs = min(2, clients)
    queue = multiprocessing.get_context("fork").Queue()
    split = [clients // procs + (i < clients % procs) for i in range(procs)]
    workers = [multiprocessing.get_context("fork").Process(target=_client_process,
                                                           args=(port, n, body, seconds, queue)) for n in split]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    lat = np.array([x for r, _ in results for x in r])
    errors = sum(e for _, e in results)
    return {"rps": len(lat) / seconds, "p50_ms": float(np.percentile(lat, 50) * 1e3),
            "p99_ms": float(np.percentile(lat, 99) * 1e3), "errors": errors}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["mlp", "cnn"])
    p.add_argument("--clients", nargs="+", type=int, default=[1, 8, 32])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--inline", action="store_true", help="serve with --inline (models on the event loop)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    body = json.dumps({"instances": np.round(rng.standard_normal((1, 1, 28, 28)), 4).tolist()}).encode()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        print("building the models (Ember artifact and ONNX)...", flush=True)
        bases = build_models(folder)
        for model in args.models:
            for batching in (False, True):
                for backend in ("ember", "onnx"):
                    base = bases.get((model, backend))
                    if base is None:
                        continue
                    proc, port = start_server(base, batching, args.inline)
                    try:
                        load(port, 4, 1.0, body)  # warm-up
                        for clients in args.clients:
                            r = load(port, clients, args.seconds, body)
                            row = {"model": model, "backend": backend, "batching": batching, "clients": clients, **r}
                            rows.append(row)
                            print(f"{model:4s} {backend:6s} {'batching' if batching else 'sequential':10s} "
                                  f"{clients:3d} clients: {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                                  f"p99 {r['p99_ms']:6.2f} ms" + (f"  {r['errors']} errors" if r["errors"] else ""),
                                  flush=True)
                    finally:
                        proc.terminate()
                        proc.wait(timeout=30)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
