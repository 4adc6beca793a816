"""Compiled training steps (ember.compile) against eager PyTorch, ratios in one run (issue 5).

Each workload is one training step (forward, backward, optimizer update) written once against a library
``lib`` (ember or torch), with plain tensors and a hand-written optimizer so the same code runs on both.
Rows: Ember eager, Ember compiled, PyTorch eager (same code), PyTorch eager with torch.nn/torch.optim
(its own fused optimizers: the fair "PyTorch steps/s"), and torch.compile where it works.

Run: python -m bench.bench_compile [--quick]
"""

from __future__ import annotations

import math
import sys
import warnings

import ember
from bench.harness import best_time, torch_or_none
from ember.graph.compile import compile as ember_compile


def _params(lib, shapes, seed=0):
    lib.manual_seed(seed)
    out = []
    for fan_in, fan_out in shapes:
        bound = 1 / math.sqrt(fan_in)
        w = (lib.rand(fan_in, fan_out) * 2 - 1) * bound
        b = (lib.rand(fan_out) * 2 - 1) * bound
        out += [w.requires_grad_(), b.requires_grad_()]
    return out


def _adam(lib, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam with its step count kept in a tensor, so a compiled step sees it change."""
    t = lib.zeros(())
    ms = [lib.zeros_like(p) for p in params]
    vs = [lib.zeros_like(p) for p in params]

    def update():
        with lib.no_grad():
            t.add_(1)
            bc1, bc2 = 1 - b1**t, 1 - b2**t
            for p, m, v in zip(params, ms, vs):
                g = p.grad
                m.mul_(b1).add_(g * (1 - b1))
                v.mul_(b2).add_(g * g * (1 - b2))
                p.sub_((m / bc1) * lr / ((v / bc2).sqrt() + eps))

    return update


def _sgd_momentum(lib, params, lr=0.01, momentum=0.9):
    bufs = [lib.zeros_like(p) for p in params]

    def update():
        with lib.no_grad():
            for p, buf in zip(params, bufs):
                buf.mul_(momentum).add_(p.grad)
                p.sub_(buf * lr)

    return update


def _mlp_forward(lib, params, x):
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = h.relu()
    return h


def _data(lib, batch, n_in, n_out, seed=1):
    lib.manual_seed(seed)
    x = lib.randn(batch, n_in)
    onehot = lib.zeros(batch, n_out)
    idx = (lib.rand(batch) * n_out).floor()
    for i in range(batch):  # plain setup code, outside the timed step
        onehot[i, int(idx[i].item())] = 1.0
    return x, onehot


def make_step(lib, workload):
    """(step function taking (x, onehot), x, onehot, params)."""
    if workload == "seed_linear":
        params, batch, opt = _params(lib, [(784, 10)]), 64, _adam
    else:
        params, batch, opt = _params(lib, [(784, 512), (512, 256), (256, 10)]), 128, _sgd_momentum
    update = opt(lib, params)
    x, onehot = _data(lib, batch, 784, 10)

    def step(x, onehot):
        for p in params:
            p.grad = None
        logits = _mlp_forward(lib, params, x)
        loss = -(lib.log_softmax(logits, dim=1) * onehot).sum() / x.shape[0]
        loss.backward()
        update()
        return loss.detach()

    return step, x, onehot, params


def torch_native_step(torch, workload):
    """The same model with torch.nn.Linear, F.cross_entropy and torch.optim (foreach implementations)."""
    torch.manual_seed(0)
    sizes = [784, 10] if workload == "seed_linear" else [784, 512, 256, 10]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    batch = 64 if workload == "seed_linear" else 128
    opt = (
        torch.optim.Adam(model.parameters(), lr=1e-3)
        if workload == "seed_linear"
        else torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    )
    x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, model


def _time(fn, number, rounds):
    return best_time(fn, number, rounds=rounds, warmup=3) * 1e6


def run_workload(workload, torch, number, rounds):
    row = {"workload": workload}
    step, x, oh, _ = make_step(ember, workload)
    row["ember eager"] = _time(lambda: step(x, oh), number, rounds)
    step, x, oh, params = make_step(ember, workload)
    compiled = ember_compile(step)
    row["ember compiled"] = _time(lambda: compiled(x, oh), number, rounds)
    row["_stats"] = dict(compiled.stats)
    if torch is not None:
        tstep, tx, toh, _ = make_step(torch, workload)
        row["torch eager (same code)"] = _time(lambda: tstep(tx, toh), number, rounds)
        nstep, model = torch_native_step(torch, workload)
        row["torch eager (nn+optim)"] = _time(nstep, number, rounds)
        row["torch.compile"] = _torch_compile_time(torch, workload, number, rounds)
    return row


def _torch_compile_time(torch, workload, number, rounds):
    try:
        nstep, _ = torch_native_step(torch, workload)
        cstep = torch.compile(nstep)
        for _ in range(3):
            cstep()
        return _time(cstep, number, rounds)
    except Exception as exc:  # inductor needs a working C++ toolchain; report, don't fail
        warnings.warn(
            f"torch.compile failed on {workload}: {type(exc).__name__}: {str(exc)[:200]}", stacklevel=2
        )
        return None


def print_rows(rows):
    cols = [
        "ember eager",
        "ember compiled",
        "torch eager (same code)",
        "torch eager (nn+optim)",
        "torch.compile",
    ]
    print(
        "\nTraining step (us, best of rounds, 2 threads); ratio = torch nn+optim time / ember compiled time"
    )
    print(f"{'workload':12s}" + "".join(f"{c:>26s}" for c in cols) + f"{'ratio':>10s}")
    for r in rows:
        vals = "".join(f"{r[c]:26.1f}" if r.get(c) else f"{'n/a':>26s}" for c in cols)
        ratio = r.get("torch eager (nn+optim)", 0) / r["ember compiled"]
        print(f"{r['workload']:12s}{vals}{ratio:9.2f}x")
    for r in rows:
        print(f"{r['workload']}: compile stats {r['_stats']}")


def main(argv=None):
    quick = "--quick" in (argv or sys.argv[1:])
    torch = torch_or_none()
    rows = [
        run_workload("seed_linear", torch, 50 if quick else 300, 3 if quick else 7),
        run_workload("mlp", torch, 10 if quick else 40, 3 if quick else 7),
    ]
    print_rows(rows)
    return rows


if __name__ == "__main__":
    main()
