"""Winograd convolutions over the cores (issue 16): wall, CPU and caller-thread CPU ms per call of the forward,
input gradient and weight gradient on the bench's shapes, at 1 thread, spread over 2 threads on Ember's pool
(BLAS held at one thread), and the old way at 2 threads (transforms on the caller, OpenBLAS threading the GEMMs).

Run: python -m bench.bench_conv_cores [--reps N]. Medians of N calls after 2 warm-up calls, in one process
(set OPENBLAS_NUM_THREADS=2 or more, or the third column measures nothing); the load average is printed,
since on a shared machine the 2-thread wall figures move with it.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import numpy as np

from ember import _threads
from ember.ops import winograd as W

SHAPES = {"cnn conv2": (64, 32, 64, 26, 0), "vgg/resnet": (32, 64, 64, 32, 1),
          "small (64,8,16,26)": (64, 8, 16, 26, 0)}


def _calls(shape):
    n, c, o, h, p = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
    g = rng.standard_normal((n, o, h + 2 * p - 2, h + 2 * p - 2)).astype(np.float32)
    pad = ((p, p), (p, p))
    return {"forward": lambda: W._conv_fwd(np, x, w, pad),
            "input grad": lambda: W._conv_fwd(np, g, w, W._flip_pad(pad), True),
            "weight grad": lambda: W._wgrad_fwd(np, x, g, pad)}


@contextlib.contextmanager
def _mode(mode):
    """'1': one thread; 'pool': 2 threads on Ember's pool; 'blas': transforms on one core, OpenBLAS threaded."""
    saved = (_threads._STATE["n"], W._one_blas_thread)
    _threads._STATE["n"] = 1 if mode == "1" else 2
    if mode == "blas":
        _threads._STATE["n"] = 1
        W._one_blas_thread = contextlib.nullcontext
    try:
        yield
    finally:
        _threads._STATE["n"], W._one_blas_thread = saved


def _time(fn, reps):
    """Medians of wall, process CPU and the calling thread's CPU ms (on a busy machine the last is the
    steadiest view of the critical path: the caller's share of the work)."""
    fn(), fn()
    wall, cpu, own = [], [], []
    for _ in range(reps):
        t, c, o = time.perf_counter(), time.process_time(), time.thread_time()
        fn()
        wall.append(1e3 * (time.perf_counter() - t))
        cpu.append(1e3 * (time.process_time() - c))
        own.append(1e3 * (time.thread_time() - o))
    return statistics.median(wall), statistics.median(cpu), statistics.median(own)


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--reps", type=int, default=9)
    args = a.parse_args()
    print(f"load average {os.getloadavg()}; BLAS threads {_threads.get_num_threads()}")
    print("| shape | call | 1 thread: wall / CPU / caller CPU | 2 threads, pool | 2 threads, OpenBLAS |")
    print("|---|---|---|---|---|")
    for name, shape in SHAPES.items():
        for call, fn in _calls(shape).items():
            cells = []
            for mode in ("1", "pool", "blas"):
                with _mode(mode):
                    cells.append("{:.1f} / {:.1f} / {:.1f}".format(*_time(fn, args.reps)))
            print(f"| {name} | {call} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
