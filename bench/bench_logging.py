"""What TensorBoard logging costs a training step (issue 13): the seed_linear eager step alone vs the same step
followed by one ``SummaryWriter.add_scalar`` of its loss. Rounds alternate; the median ratios of wall time and
of process CPU time (all threads: the event writer's thread included) are reported. On a loaded machine the
wall-time ratio is noisy; the CPU-time ratio is the steadier measure of the work logging adds.

Run: python -m bench.bench_logging
"""
from __future__ import annotations

import statistics
import tempfile
import time

import ember
from bench.workloads import make

STEPS, ROUNDS = 100, 15


def _time(fn, n):
    """(wall seconds, process CPU seconds) per call."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def main():
    from ember.utils.tensorboard import SummaryWriter

    _, _, step = make("seed_linear", ember)
    with tempfile.TemporaryDirectory() as d, SummaryWriter(d) as writer:
        counter = [0]

        def logged_step():
            loss = step()
            writer.add_scalar("loss", loss.item(), counter[0])
            counter[0] += 1

        def plain_step():
            step().item()  # the same host read of the loss, without the logging

        _time(plain_step, 20), _time(logged_step, 20)
        plain, logged = [], []
        for _ in range(ROUNDS):
            plain.append(_time(plain_step, STEPS))
            logged.append(_time(logged_step, STEPS))
        writer.flush()
    for k, what in enumerate(["wall time", "CPU time"]):
        ratios = [b[k] / a[k] for a, b in zip(plain, logged)]
        print(f"\nseed_linear step {what}: {statistics.median(p[k] for p in plain) * 1e3:.3f} ms plain, "
              f"{statistics.median(b[k] for b in logged) * 1e3:.3f} ms with add_scalar per step "
              f"(median of {ROUNDS} alternating rounds of {STEPS} steps)")
        print(f"  overhead: {100 * (statistics.median(ratios) - 1):+.1f}% (goal < 5%); per-round ratios "
              f"{', '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()
