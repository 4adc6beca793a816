"""Where a training step's CPU goes between the calling thread and the others (issue 16): wall ms, process CPU
ms and main-thread CPU ms per step of one workload, Ember eager or compiled, in this process.

On a machine shared with other work the wall time of a 2-thread step is mostly the scheduler's; the main
thread's CPU per step is the steadier view of the critical path (on an idle machine a step's wall time is
about that plus waits), and process CPU minus it is what the helpers (Ember's pool, OpenBLAS's workers) did.

Run: OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 python -m bench.bench_step_cpu cnn compiled [--seconds 6]
(5 warm-up steps, then at least ``--seconds`` and 4 steps on 16 rotated batches).
"""
from __future__ import annotations

import argparse
import os
import time

TICK = os.sysconf("SC_CLK_TCK")


def _thread_cpu(tid: int) -> float:
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime of that thread


def main():
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("workload")
    a.add_argument("mode", choices=("eager", "compiled"))
    a.add_argument("--seconds", type=float, default=6.0)
    args = a.parse_args()
    import numpy  # noqa: F401  (loads OpenBLAS with the thread count from the environment)

    import ember
    from bench.workloads import make, make_batches

    step = make(args.workload, ember)[2]
    if args.mode == "compiled":
        step = ember.compile(step)
    batches = make_batches(args.workload, ember, 16)
    for i in range(5):
        step(*batches[i])
    main_tid = os.getpid()  # the main thread's id is the process id on Linux
    t, cpu, own, k = time.perf_counter(), time.process_time(), _thread_cpu(main_tid), 0
    while time.perf_counter() - t < args.seconds or k < 4:
        step(*batches[k % 16])
        k += 1
    wall = time.perf_counter() - t
    print(f"{args.workload} {args.mode} threads={os.environ.get('OMP_NUM_THREADS')} steps={k}: wall "
          f"{1e3 * wall / k:.0f}, CPU {1e3 * (time.process_time() - cpu) / k:.0f}, main-thread CPU "
          f"{1e3 * (_thread_cpu(main_tid) - own) / k:.0f} ms/step (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
