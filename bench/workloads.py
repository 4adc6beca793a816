"""The training workloads of the benchmarks, written once against the PyTorch API.

The five of the first benches (seed_linear, mlp, cnn, lstm, transformer) plus three of issue 16: a VGG-style
block (3 convs 64->64 at 32x32, batch 32), a ResNet basic block with BatchNorm, and a word language model like
pytorch/examples' (2-layer LSTM, embedding and hidden 200, dropout 0.2, bptt 35, batch 20, gradient clipping
0.25, a WikiText-2-sized vocabulary).

``make(name, lib)`` builds the model, optimizer, a fixed batch and a ``step()`` closure for ``lib`` (the
``ember`` or ``torch`` module), so both frameworks run literally the same program.
"""
from __future__ import annotations

import numpy as np


def _images_batch(lib, rng, dev="cpu", b=1, uniform=False):
    shape = (64 * b, 1, 28, 28)
    x = rng.random(shape, dtype=np.float32) if uniform else rng.standard_normal(shape, dtype=np.float32)
    return lib.tensor(x, device=dev), lib.tensor(rng.integers(0, 10, 64 * b), device=dev)


def _features_batch(lib, rng, dev="cpu", b=1):
    x = lib.tensor(rng.standard_normal((128 * b, 784), dtype=np.float32), device=dev)
    return x, lib.tensor(rng.integers(0, 10, 128 * b), device=dev)


def _tokens_batch(lib, rng, dev="cpu", b=1):
    return (lib.tensor(rng.integers(0, 64, (32 * b, 65)), device=dev),)  # 64 positions + the next token


def _maps_batch(lib, rng, dev="cpu", b=1):
    x = lib.tensor(rng.standard_normal((32 * b, 64, 32, 32), dtype=np.float32), device=dev)
    return x, lib.tensor(rng.integers(0, 10, 32 * b), device=dev)


WORD_VOCAB, BPTT = 33278, 35  # WikiText-2's vocabulary size; pytorch/examples' default bptt


def _words_batch(lib, rng, dev="cpu", b=1):
    return (lib.tensor(rng.integers(0, WORD_VOCAB, (BPTT + 1, 20 * b)), device=dev),)  # (seq, batch), seq-first


def _seed_linear(lib, nn, optim, rng, dev="cpu", b=1):
    model = nn.Linear(28 * 28, 10)
    model.to(dev)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = _images_batch(lib, rng, dev, b, uniform=True)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda x=x, y=y: loss_fn(model(x.view(-1, 28 * 28)), y)


def _mlp(lib, nn, optim, rng, dev="cpu", b=1):
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    model.to(dev)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _features_batch(lib, rng, dev, b)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda x=x, y=y: loss_fn(model(x), y)


def _cnn(lib, nn, optim, rng, dev="cpu", b=1):
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))
    model.to(dev)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = _images_batch(lib, rng, dev, b)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda x=x, y=y: loss_fn(model(x), y)


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
    (tokens,) = _tokens_batch(lib, rng, dev, b)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda tokens=tokens: loss_fn(model(tokens[:, :-1]).reshape(-1, 64), tokens[:, 1:].reshape(-1))


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
    (tokens,) = _tokens_batch(lib, rng, dev, b)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda tokens=tokens: loss_fn(model(tokens[:, :-1]).reshape(-1, 64), tokens[:, 1:].reshape(-1))


def _vgg_block(lib, nn, optim, rng, dev="cpu", b=1):
    convs = [m for _ in range(3) for m in (nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())]
    model = nn.Sequential(*convs, nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16 * 16, 10))
    model.to(dev)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _maps_batch(lib, rng, dev, b)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda x=x, y=y: loss_fn(model(x), y)


def _resnet_block(lib, nn, optim, rng, dev="cpu", b=1):
    class BasicBlock(nn.Module):  # torchvision's BasicBlock at 64 channels, identity shortcut
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64)
            self.conv2, self.bn2 = nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64)
            self.relu = nn.ReLU()

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + x)

    model = nn.Sequential(BasicBlock(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    model.to(dev)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x, y = _maps_batch(lib, rng, dev, b)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda x=x, y=y: loss_fn(model(x), y)


def _word_lm(lib, nn, optim, rng, dev="cpu", b=1):
    class RNNModel(nn.Module):  # pytorch/examples word_language_model's LSTM model, untied weights
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.2)
            self.encoder = nn.Embedding(WORD_VOCAB, 200)
            self.rnn = nn.LSTM(200, 200, 2, dropout=0.2)
            self.decoder = nn.Linear(200, WORD_VOCAB)

        def forward(self, tokens):
            out, _ = self.rnn(self.drop(self.encoder(tokens)))
            return self.decoder(self.drop(out))

    model = RNNModel()
    model.to(dev)
    opt = optim.SGD(model.parameters(), lr=20.0)
    (tokens,) = _words_batch(lib, rng, dev, b)
    loss_fn = nn.CrossEntropyLoss()
    return model, opt, lambda tokens=tokens: loss_fn(
        model(tokens[:-1]).reshape(-1, WORD_VOCAB), tokens[1:].reshape(-1))


WORKLOADS = {"seed_linear": _seed_linear, "mlp": _mlp, "cnn": _cnn, "lstm": _lstm, "transformer": _transformer,
             "vgg_block": _vgg_block, "resnet_block": _resnet_block, "word_lm": _word_lm}
CLIP_NORM = {"word_lm": 0.25}  # clip_grad_norm_ between backward and step, as the example does


BATCHES = {"seed_linear": lambda *a: _images_batch(*a, uniform=True), "mlp": _features_batch,
           "cnn": _images_batch, "lstm": _tokens_batch, "transformer": _tokens_batch,
           "vgg_block": _maps_batch, "resnet_block": _maps_batch, "word_lm": _words_batch}


def make_batches(name: str, lib, count: int, seed: int = 1, device: str = "cpu", batch_scale: int = 1) -> list:
    """``count`` different batches for workload ``name``, each a tuple of tensors for its loss closure.

    The loss closure of every workload takes the batch as optional arguments (``loss_of(*batch)``; without
    them it uses the fixed batch it was built with), so a sustained loop can rotate pre-made batches."""
    rng = np.random.default_rng(seed)
    return [BATCHES[name](lib, rng, device, batch_scale) for _ in range(count)]


def make(name: str, lib, seed: int = 0, device: str = "cpu", batch_scale: int = 1):
    """(model, optimizer, step) for workload ``name`` on ``lib``; ``step()`` runs one training step.

    ``device``: where the model and batch live; ``batch_scale``: the batch is that many times the bench size.
    ``step(*batch)`` trains on ``batch`` (from ``make_batches``) instead of the fixed one."""
    import importlib

    nn = importlib.import_module(f"{lib.__name__}.nn")
    optim = importlib.import_module(f"{lib.__name__}.optim")
    lib.manual_seed(seed)
    model, opt, loss_of = WORKLOADS[name](lib, nn, optim, np.random.default_rng(seed), device, batch_scale)
    clip = CLIP_NORM.get(name)

    def step(*batch):
        opt.zero_grad()
        loss = loss_of(*batch)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss

    return model, opt, step
