"""Keras conv / pooling / RNN layers on ember.nn's functional ops vs the earlier Keras-only code, in one run.

Times forward + backward (best of several repeats, milliseconds) for each layer both ways and prints the
ratio (earlier / shared: above 1 means the shared op is faster). Baselines: ``conv2d_nhwc_slices`` and
``pool2d_slices`` (strided slices + one matmul), and the RNN step loop with Keras's formulas.

    /work/venv/bin/python bench/bench_keras_layers.py
"""

from __future__ import annotations

import time

import numpy as np

import ember
from ember.keras import layers
from ember.keras.layers.conv import conv2d_nhwc_slices, conv_nhwc
from ember.keras.layers.pooling import pool2d_slices, pool_nhwc


def best_ms(fn, inputs, repeats=7):
    times = []
    for _ in range(repeats):
        for t in inputs:
            t.grad = None
        start = time.perf_counter()
        fn().sum().backward()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times[1:])


def tensor(rng, shape):
    return ember.tensor(rng.normal(size=shape).astype("float32"), requires_grad=True)


def conv_cases(rng):
    for n, h, cin, cout in [(32, 28, 1, 32), (32, 13, 32, 64), (64, 16, 16, 16)]:
        x, k = tensor(rng, (n, h, h, cin)), tensor(rng, (3, 3, cin, cout))
        yield (
            f"Conv2D 3x3 {(n, h, h, cin)}->{cout}",
            lambda x=x, k=k: conv2d_nhwc_slices(x, k, (1, 1), "valid", (1, 1)),
            lambda x=x, k=k: conv_nhwc(x, k, (1, 1), "valid", (1, 1)),
            [x, k],
        )


def pool_cases(rng):
    for shape, pad in [((32, 26, 26, 32), "valid"), ((32, 11, 11, 64), "same")]:
        x = tensor(rng, shape)
        yield (
            f"MaxPooling2D 2 {shape} {pad}",
            lambda x=x, p=pad: pool2d_slices(x, (2, 2), (2, 2), p, "max"),
            lambda x=x, p=pad: pool_nhwc(x, (2, 2), (2, 2), p, "max"),
            [x],
        )


def rnn_cases(rng):
    x = tensor(rng, (32, 20, 32))
    for cls in (layers.LSTM, layers.GRU, layers.SimpleRNN):
        layer = cls(64, return_sequences=True)
        layer(x)

        def loop(layer=layer):
            layer._shared_ok = lambda: False
            try:
                return layer(x)
            finally:
                del layer._shared_ok

        yield (
            f"{cls.__name__}(64) on {tuple(x.shape)}",
            loop,
            lambda layer=layer: layer(x),
            [x] + layer.weights,
        )


def main():
    rng = np.random.default_rng(0)
    print(f"{'layer':44s} {'earlier ms':>11s} {'shared ms':>10s} {'ratio':>6s}")
    for gen in (conv_cases, pool_cases, rnn_cases):
        for name, old, new, inputs in gen(rng):
            np.testing.assert_allclose(old().detach().numpy(), new().detach().numpy(), rtol=1e-3, atol=1e-3)
            a, b = best_ms(old, inputs), best_ms(new, inputs)
            print(f"{name:44s} {a:11.2f} {b:10.2f} {a / b:6.2f}")


if __name__ == "__main__":
    main()
