"""Acceptance: small PyTorch training programs (LSTM language model, VAE, GAN, causal transformer) run on
Ember with only the imports changed, and train as they do on PyTorch.

Each program is ordinary PyTorch code, executed twice from the same text: under PyTorch's imports and under
Ember's. The Ember model gets the PyTorch model's initial weights (copied through its state_dict), both see
the same batches (and the same noise, passed in as data), and the loss curves must agree step by step.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import ember  # noqa: E402

EMBER_IMPORTS = """
import ember as torch
from ember import nn, optim
import ember.nn.functional as F
"""

TORCH_IMPORTS = """
import torch
from torch import nn, optim
import torch.nn.functional as F
"""

LSTM_LM = """
class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight  # weight tying
        self.nlayers, self.nhid = nlayers, nhid
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.decoder.out_features)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        shape = (self.nlayers, bsz, self.nhid)
        return (weight.new_zeros(shape), weight.new_zeros(shape))


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def build():
    return RNNModel(ntoken=40, ninp=32, nhid=32, nlayers=2)


def train(model, batches, lr=5.0, clip=0.25, compile_step=lambda step: step):
    criterion = nn.NLLLoss()
    model.train()
    hidden = model.init_hidden(batches[0][0].shape[1])

    def train_step(data, targets, hidden):
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        return loss, hidden

    train_step = compile_step(train_step)
    losses = []
    for data, targets in batches:
        data, targets = torch.from_numpy(data), torch.from_numpy(targets)
        loss, hidden = train_step(data, targets, hidden)
        losses.append(loss.item())
    return losses
"""

VAE = """
class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc21 = nn.Linear(32, 8)
        self.fc22 = nn.Linear(32, 8)
        self.fc3 = nn.Linear(8, 32)
        self.fc4 = nn.Linear(32, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps):
        std = torch.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def build():
    return VAE()


def train(model, batches, compile_step=lambda step: step):
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    model.train()

    def train_step(data, eps):
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data, eps)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        optimizer.step()
        return loss

    train_step = compile_step(train_step)
    losses = []
    for data, eps in batches:
        data, eps = torch.from_numpy(data), torch.from_numpy(eps)
        losses.append(train_step(data, eps).item() / len(data))
    return losses
"""

GAN = """
class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(8, 32), nn.ReLU(True), nn.Linear(32, 16), nn.Tanh())

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2, inplace=True), nn.Linear(32, 1),
                                  nn.Sigmoid())

    def forward(self, x):
        return self.main(x).view(-1)


def build():
    return nn.ModuleDict({"G": Generator(), "D": Discriminator()})


def train(models, batches, compile_step=lambda step: step):
    netG, netD = models["G"], models["D"]
    criterion = nn.BCELoss()
    optimizerD = optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))

    def train_step(real, noise):
        netD.zero_grad()
        label = torch.full((real.size(0),), 1.0)
        errD_real = criterion(netD(real), label)
        errD_real.backward()
        fake = netG(noise)
        label.fill_(0.0)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        optimizerD.step()
        netG.zero_grad()
        label.fill_(1.0)
        errG = criterion(netD(fake), label)
        errG.backward()
        optimizerG.step()
        return errD_real + errD_fake, errG

    train_step = compile_step(train_step)
    losses = []
    for real, noise in batches:
        errD, errG = train_step(torch.from_numpy(real), torch.from_numpy(noise))
        losses.append(errD.item())
        losses.append(errG.item())
    return losses
"""

GPT = """
class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head, self.n_embd = n_head, n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size=32, block_size=16, n_embd=32, n_head=4, n_layer=2):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.mha = nn.MultiheadAttention(n_embd, n_head, batch_first=True)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying

    def forward(self, idx, targets):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        x = x + self.mha(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)[0]
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def build():
    return GPT()


def train(model, batches, warmup=5, compile_step=lambda step: step):
    optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    model.train()

    def train_step(x, y):
        loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    train_step = compile_step(train_step)
    losses = []
    for x, y in batches:
        loss = train_step(torch.from_numpy(x), torch.from_numpy(y))
        scheduler.step()
        losses.append(loss.item())
    return losses
"""


def _corpus(rng, n, vocab):
    """A token stream with structure to learn: noisy repeats of a few fixed phrases."""
    phrases = [rng.integers(0, vocab, size=rng.integers(4, 9)) for _ in range(6)]
    out = []
    while len(out) < n:
        out.extend(phrases[rng.integers(0, len(phrases))])
    return np.array(out[:n], dtype=np.int64)


def _lm_batches(rng):
    stream = _corpus(rng, 20 * 8 * 12 + 1, 40).astype(np.int64)
    data = stream[:-1].reshape(8, -1).T  # (time, batch), as batchify() lays it out
    targets = stream[1:].reshape(8, -1).T
    return [
        (np.ascontiguousarray(data[i : i + 12]), np.ascontiguousarray(targets[i : i + 12]))
        for i in range(0, 20 * 12, 12)
    ]


def _vae_batches(rng):
    protos = (rng.random((4, 64)) > 0.5).astype(np.float32)
    out = []
    for _ in range(20):
        x = protos[rng.integers(0, 4, 32)] * 0.9 + 0.05
        out.append((x.astype(np.float32), rng.standard_normal((32, 8)).astype(np.float32)))
    return out


def _gan_batches(rng):
    centre = rng.standard_normal(16).astype(np.float32) * 0.5
    return [
        (
            (centre + 0.1 * rng.standard_normal((32, 16))).astype(np.float32).clip(-0.99, 0.99),
            rng.standard_normal((32, 8)).astype(np.float32),
        )
        for _ in range(15)
    ]


def _gpt_batches(rng):
    stream = _corpus(rng, 4000, 32)
    out = []
    for _ in range(20):
        starts = rng.integers(0, len(stream) - 17, 16)
        out.append(
            (
                np.stack([stream[s : s + 16] for s in starts]),
                np.stack([stream[s + 1 : s + 17] for s in starts]),
            )
        )
    return out


def _program(imports, source):
    env = {}
    exec(compile(imports + source, "<program>", "exec"), env)
    return env


def _curves(source, batches_fn, seed=0):
    torch.set_num_threads(2)
    t_env, e_env = _program(TORCH_IMPORTS, source), _program(EMBER_IMPORTS, source)
    torch.manual_seed(seed)
    t_model, e_model = t_env["build"](), e_env["build"]()
    e_model.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t_model.state_dict().items()})
    t_losses = t_env["train"](t_model, batches_fn(np.random.default_rng(seed)))
    e_losses = e_env["train"](e_model, batches_fn(np.random.default_rng(seed)))
    return np.array(e_losses), np.array(t_losses)


@pytest.mark.parametrize(
    "name,source,batches,rtol",
    [
        ("lstm_lm", LSTM_LM, _lm_batches, 2e-3),
        ("vae", VAE, _vae_batches, 2e-3),
        ("gan", GAN, _gan_batches, 2e-3),
        ("causal_transformer", GPT, _gpt_batches, 2e-3),
    ],
)
def test_program_trains_like_pytorch(name, source, batches, rtol):
    e, t = _curves(source, batches)
    print(f"\n{name}: ember {np.round(e[[0, -1]], 4)} pytorch {np.round(t[[0, -1]], 4)}")
    np.testing.assert_allclose(e, t, rtol=rtol, atol=1e-4)
    if name != "gan":  # a GAN's losses oscillate; the others must fall
        assert e[-3:].mean() < 0.9 * e[:3].mean()


@pytest.mark.parametrize(
    "name,source,batches,kw",
    [("lstm_lm", LSTM_LM, _lm_batches, {}), ("vae", VAE, _vae_batches, {}), ("gan", GAN, _gan_batches, {}),
     ("causal_transformer", GPT, _gpt_batches, {"warmup": 2})],  # a short warmup: each new lr retraces
    ids=["lstm_lm", "vae", "gan", "causal_transformer"],
)
def test_program_with_its_step_compiled_equals_eager(name, source, batches, kw):
    """The same Ember program with its training step under ember.compile: the same loss curve (on the NumPy
    executor; tests/test_compiled_equals_eager.py runs rows on the numba kernels too)."""
    curves, steps = [], []

    def compile_step(fn):
        steps.append(ember.compile(fn, strict=True, jit=False))
        return steps[-1]

    for extra in ({}, {"compile_step": compile_step}):
        env = _program(EMBER_IMPORTS, source)
        ember.manual_seed(0)
        model = env["build"]()
        curves.append(env["train"](model, batches(np.random.default_rng(0)), **kw, **extra))
    np.testing.assert_allclose(curves[1], curves[0], rtol=1e-5, atol=1e-6)
    assert ember.compile.stats(steps[0])["cache_hits"] >= 5
