"""The GEMM floor of a training step: the time its matrix products alone take on NumPy's BLAS (issue 16).

One eager Ember step of the workload runs with ``ember.ops.linalg.gemm`` recorded (every matmul and linear GEMM:
shapes, and whether each operand is a transposed view, as Ember passes them to BLAS). The recorded GEMMs are
then replayed alone, on fresh arrays of the same layouts, in a loop: median of 15 rounds. No step of that
workload can run faster than this with the same BLAS, so a speed goal whose step time is under it cannot be met
by work outside the GEMMs. The LSTM's recurrent GEMMs run inside its compiled loop (``graph/blas_calls``) and are
not seen here.

Run: python -m bench.gemm_floor [--threads N] [workload ...]    (default: mlp transformer, 2 threads)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _recorded_gemms(name):
    import ember
    from bench.workloads import make, make_batches
    from ember.ops import linalg
    from ember.ops import nn as ops_nn

    calls, original = [], linalg.gemm

    def record(xp, a, b, out=None, split=True):
        calls.append((a.shape, a.strides, b.shape, b.strides, a.dtype))
        return original(xp, a, b, out, split)

    step = make(name, ember)[2]
    batches = make_batches(name, ember, 4)
    for i in range(3):
        step(*batches[i % 4])
    linalg.gemm = ops_nn.gemm = record
    try:
        step(*batches[0])
    finally:
        linalg.gemm = ops_nn.gemm = original
    return calls


def _like(rng, shape, strides, dtype):
    """A fresh array of ``shape`` in the same memory order (a transposed view where the strides say so)."""
    import numpy as np

    if len(shape) >= 2 and strides[-1] != dtype.itemsize and strides[-2] == dtype.itemsize:
        return np.swapaxes(rng.standard_normal(shape[:-2] + (shape[-1], shape[-2])).astype(dtype), -1, -2)
    return rng.standard_normal(shape).astype(dtype)


def _flops(a, b) -> float:
    import numpy as np

    batch = np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])) if b.ndim > 2 else a.size // a.shape[-1]
    rows = a.shape[-2] if b.ndim > 2 else 1
    return 2.0 * batch * rows * a.shape[-1] * b.shape[-1]


def measure(name) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    pairs = [(_like(rng, sa, ta, dt), _like(rng, sb, tb, dt)) for sa, ta, sb, tb, dt in _recorded_gemms(name)]
    for _ in range(5):
        for a, b in pairs:
            np.matmul(a, b)
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        for a, b in pairs:
            np.matmul(a, b)
        times.append(time.perf_counter() - t0)
    median = sorted(times)[7]
    flops = sum(_flops(a, b) for a, b in pairs)
    return {"gemms": len(pairs), "gflop": flops / 1e9, "median_ms": median * 1e3, "min_ms": min(times) * 1e3,
            "gflops": flops / median / 1e9}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["mlp", "transformer"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        r = measure(args.worker)
        print(f"{args.worker:12s} {r['gemms']:3d} GEMMs  {r['gflop']:.3f} GFLOP  median {r['median_ms']:.2f} ms  "
              f"(min {r['min_ms']:.2f})  {r['gflops']:.0f} GFLOP/s")
        return
    env = dict(os.environ, **{k: str(args.threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                             "MKL_NUM_THREADS")})
    print(f"GEMMs of one eager Ember step, replayed alone on NumPy's BLAS, {args.threads} thread(s):")
    for name in args.workloads:  # each in its own process: BLAS threads are fixed when NumPy loads
        subprocess.run([sys.executable, "-m", "bench.gemm_floor", "--worker", name], cwd=ROOT, env=env,
                       check=True)


if __name__ == "__main__":
    main()
