"""A small decoder-only transformer language model over characters (causal self-attention with
``nn.TransformerEncoder`` and a square subsequent mask, learned positions, AdamW with warm-up and cosine
decay), optionally compiled with ``ember.compile``; it reports validation loss and writes a sample.

    python examples/transformer_lm.py --steps 300 --compile

The default text is Ember's own README.md (90% train, 10% validation).
"""
from __future__ import annotations

import argparse
import math
import os

import ember
from ember import nn, optim
from ember.nn import functional as F

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


class TinyLM(nn.Module):
    def __init__(self, vocab, block=64, d_model=64, nhead=4, layers=2, dropout=0.1):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(block, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab, bias=False)
        self.head.weight = self.tok.weight  # tied input and output embeddings
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(block), persistent=False)

    def forward(self, idx):
        t = idx.shape[1]
        h = self.tok(idx) + self.pos(ember.arange(t))
        h = self.blocks(h, mask=self.mask[:t, :t], is_causal=True)
        return self.head(h)


def get_batch(data, block, batch_size):
    starts = ember.randint(0, len(data) - block - 1, (batch_size,))
    idx = starts.unsqueeze(1) + ember.arange(block + 1).unsqueeze(0)
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def generate(model, idx, steps, block, temperature=1.0):
    model.eval()
    with ember.no_grad():
        for _ in range(steps):
            logits = model(idx[:, -block:])[:, -1] / temperature
            nxt = ember.multinomial(F.softmax(logits, -1), 1)
            idx = ember.cat([idx, nxt], 1)
    return idx


def main():
    p = argparse.ArgumentParser(description="Ember character-level transformer LM")
    p.add_argument("--text", default=README)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--sample-length", type=int, default=120)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="run the model through ember.compile")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    ember.manual_seed(args.seed)
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    stoi, itos = {c: i for i, c in enumerate(chars)}, dict(enumerate(chars))
    data = ember.tensor([stoi[c] for c in text])
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]
    model = TinyLM(len(chars), block=args.block, d_model=args.d_model, layers=args.layers)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters, vocabulary of {len(chars)}")
    if args.compile:
        model.compile()
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / args.warmup) * 0.5 * (
        1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    for step in range(1, args.steps + 1):
        model.train()
        x, y = get_batch(train_data, args.block, args.batch_size)
        loss = F.cross_entropy(model(x).reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step == 1 or step % 50 == 0 or step == args.steps:
            model.eval()
            with ember.no_grad():
                vx, vy = get_batch(val_data, args.block, args.batch_size)
                val = F.cross_entropy(model(vx).reshape(-1, len(chars)), vy.reshape(-1)).item()
            print(f"step {step}: train loss {loss.item():.3f}, validation loss {val:.3f}")
    out = generate(model, ember.tensor([[stoi[c] for c in text[:8]]]), args.sample_length, args.block)
    print("--- sample ---")
    print("".join(itos[i] for i in out[0].tolist()))


if __name__ == "__main__":
    main()
