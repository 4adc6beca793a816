"""Per-op overhead (issue 2): tiny-tensor arithmetic and a 784x10 linear layer, forward and backward.

Run: python -m bench.bench_overhead
"""
from __future__ import annotations

import ember
from bench.harness import compare, print_table, torch_or_none


def tiny_ops(lib):
    x = lib.ones(1, requires_grad=True)

    def forward():
        x * 2 + 1

    def forward_backward():
        y = x * 2 + 1
        y.sum().backward()

    return forward, forward_backward


def linear(lib):
    lib.manual_seed(0)
    w = lib.randn(10, 784, requires_grad=True)
    b = lib.zeros(10, requires_grad=True)
    xb = lib.randn(64, 784)

    def step():
        out = xb @ w.t() + b
        out.sum().backward()

    return step


def main():
    torch = torch_or_none()
    rows = []
    ef, efb = tiny_ops(ember)
    tf, tfb = tiny_ops(torch) if torch else (None, None)
    rows.append(compare("x*2+1 forward (1 elem, grad)", ef, tf, 5000))
    rows.append(compare("x*2+1 forward+backward", efb, tfb, 2000))
    rows.append(compare("linear 784->10 b64 fwd+bwd", linear(ember), linear(torch) if torch else None, 500))
    print_table(rows, "Per-op overhead (2 threads); speed ratio = torch time / ember time")
    return rows


if __name__ == "__main__":
    main()
