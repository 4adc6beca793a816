"""The convolutions of the keras.io GAN guide ("Customizing what happens in fit() with PyTorch"), one by one:
Ember vs PyTorch, channels-first, CPU time at one thread.

Each layer: forward alone (no gradient), then forward + backward (input and weight gradients), CPU ms,
median of ``--repeats``. Each framework runs in its own process (``--only ember|torch``; without it the
script starts one of each and prints them side by side). Process CPU time: the machine is shared, so wall
time measures the others.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m bench.bench_conv_gan
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

# (name, kind, input shape, weight shape, stride, padding, output_padding): the layers as Keras runs them on
# channels-first primitives ('same' with stride 2 is an explicit (0, 1) pad before a padding-0 conv)
LAYERS = [
    ("D conv1 3x3/2 1->64", "conv", (128, 1, 29, 29), (64, 1, 3, 3), 2, 0, 0),
    ("D conv2 3x3/2 64->128", "conv", (128, 64, 15, 15), (128, 64, 3, 3), 2, 0, 0),
    ("G convT1 4x4/2 128->128 7->14", "convT", (64, 128, 7, 7), (128, 128, 4, 4), 2, 1, 0),
    ("G convT2 4x4/2 128->128 14->28", "convT", (64, 128, 14, 14), (128, 128, 4, 4), 2, 1, 0),
    ("G conv 7x7 128->1 same", "conv", (64, 128, 28, 28), (1, 128, 7, 7), 1, 3, 0),
]


def _median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1e3 * float(np.median(times))


def run(fw, repeats):
    if fw == "torch":
        import torch as lib

        lib.set_num_threads(1)
        F = lib.nn.functional
    else:
        import ember as lib
        F = lib.nn.functional
    rng = np.random.default_rng(0)
    rows = {}
    for name, kind, xs, ws, s, p, op in LAYERS:
        x = lib.tensor(rng.standard_normal(xs).astype("float32"), requires_grad=True)
        w = lib.tensor((rng.standard_normal(ws) * 0.05).astype("float32"), requires_grad=True)

        def call(x=x, w=w, kind=kind, s=s, p=p, op=op):
            if kind == "conv":
                return F.conv2d(x, w, stride=s, padding=p)
            return F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op)

        g = lib.tensor(rng.standard_normal(tuple(call().shape)).astype("float32"))

        def fwd():
            with lib.no_grad():
                call()

        def fwd_bwd(g=g, x=x, w=w):
            x.grad = w.grad = None
            call().backward(g)

        rows[name] = (_median_ms(fwd, repeats), _median_ms(fwd_bwd, repeats))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["ember", "torch"])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if args.only:
        print(json.dumps(run(args.only, args.repeats)))
        return
    from bench.harness import run_alone  # (only here: it sets thread defaults when imported)

    res = {fw: run_alone("bench.bench_conv_gan", fw, "--repeats", str(args.repeats)) for fw in ("torch", "ember")}
    print(f"load average {os.getloadavg()[0]:.1f}; CPU ms, 1 thread, median of {args.repeats}")
    print(f"{'layer':34s} {'fwd torch':>10s} {'fwd ember':>10s} {'f+b torch':>10s} {'f+b ember':>10s}")
    for name in res["torch"]:
        (tf, tb), (ef, eb) = res["torch"][name], res["ember"][name]
        print(f"{name:34s} {tf:10.1f} {ef:10.1f} {tb:10.1f} {eb:10.1f}")


if __name__ == "__main__":
    main()
