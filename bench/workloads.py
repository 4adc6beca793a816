"""The five training workloads of the benchmarks, written once against the PyTorch API.

``make(name, lib)`` builds the model, optimizer, a fixed batch and a ``step()`` closure for ``lib`` (the
``ember`` or ``torch`` module), so both frameworks run literally the same program.
"""
from __future__ import annotations

import numpy as np


def _seed_linear(lib, nn, optim, rng, dev="cpu", b=1):
    model = nn.Linear(28 * 28, 10)
    model.to(dev)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(rng.random((64 * b, 1, 28, 28), dtype=np.float32), device=dev)
    y = lib.tensor(rng.integers(0, 10, 64 * b), device=dev)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda: loss_fn(model(x.view(-1, 28 * 28)), y)


def _mlp(lib, nn, optim, rng, dev="cpu", b=1):
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    model.to(dev)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = lib.tensor(rng.standard_normal((128 * b, 784), dtype=np.float32), device=dev)
    y = lib.tensor(rng.integers(0, 10, 128 * b), device=dev)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda: loss_fn(model(x), y)


def _cnn(lib, nn, optim, rng, dev="cpu", b=1):
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))
    model.to(dev)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(rng.standard_normal((64 * b, 1, 28, 28), dtype=np.float32), device=dev)
    y = lib.tensor(rng.integers(0, 10, 64 * b), device=dev)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda: loss_fn(model(x), y)


def _lstm(lib, nn, optim, rng, dev="cpu", b=1):
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(64, 64)
            self.lstm = nn.LSTM(64, 256, batch_first=True)
            self.head = nn.Linear(256, 64)

        def forward(self, tokens):
            out, _ = self.lstm(self.emb(tokens))
            return self.head(out)

    model = LM()
    model.to(dev)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    tokens = lib.tensor(rng.integers(0, 64, (32 * b, 65)), device=dev)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda: loss_fn(model(tokens[:, :-1]).reshape(-1, 64), tokens[:, 1:].reshape(-1))


def _transformer(lib, nn, optim, rng, dev="cpu", b=1):
    seq, d = 64, 128

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, 4, batch_first=True)
            self.ff = nn.Sequential(nn.Linear(d, 512), nn.GELU(), nn.Linear(512, d))

        def forward(self, x, mask):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.ff(self.ln2(x))

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(64, d)
            self.pos = nn.Parameter(lib.zeros(seq, d))
            self.blocks = nn.ModuleList([Block(), Block()])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, 64, bias=False)
            self.head.weight = self.tok.weight  # weight tying

        def forward(self, tokens):
            mask = lib.triu(lib.ones(seq, seq, dtype=lib.bool, device=dev), diagonal=1)
            x = self.tok(tokens) + self.pos
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.ln(x))

    model = LM()
    model.to(dev)
    opt = optim.AdamW(model.parameters(), lr=3e-4)
    tokens = lib.tensor(rng.integers(0, 64, (32 * b, seq + 1)), device=dev)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda: loss_fn(model(tokens[:, :-1]).reshape(-1, 64), tokens[:, 1:].reshape(-1))


WORKLOADS = {"seed_linear": _seed_linear, "mlp": _mlp, "cnn": _cnn, "lstm": _lstm, "transformer": _transformer}


def make(name: str, lib, seed: int = 0, device: str = "cpu", batch_scale: int = 1):
    """(model, optimizer, step) for workload ``name`` on ``lib``; ``step()`` runs one training step.

    ``device``: where the model and batch live; ``batch_scale``: the batch is that many times the bench size."""
    import importlib

    nn = importlib.import_module(f"{lib.__name__}.nn")
    optim = importlib.import_module(f"{lib.__name__}.optim")
    lib.manual_seed(seed)
    model, opt, loss_of = WORKLOADS[name](lib, nn, optim, np.random.default_rng(seed), device, batch_scale)

    def step():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        return loss

    return model, opt, step
