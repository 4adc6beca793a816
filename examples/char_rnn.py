"""A character-level LSTM language model: it learns to continue text one character at a time, then writes
a sample (truncated backpropagation through time, gradient clipping, temperature sampling with
``distributions.Categorical``).

    python examples/char_rnn.py --steps 300 --text some_book.txt

The default text is Ember's own README.md, so it runs with nothing else beside the repository.
"""
from __future__ import annotations

import argparse
import math
import os

import ember
from ember import nn, optim
from ember.distributions import Categorical

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


class CharRNN(nn.Module):
    def __init__(self, vocab, embed=32, hidden=128, layers=2, dropout=0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, dropout=dropout, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


def batches(data, batch_size, seq_len):
    """Random windows of ``seq_len + 1`` characters: inputs and next-character targets."""
    starts = ember.randint(0, len(data) - seq_len - 1, (batch_size,))
    idx = starts.unsqueeze(1) + ember.arange(seq_len + 1).unsqueeze(0)
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def sample(model, stoi, itos, prime, length, temperature):
    model.eval()
    with ember.no_grad():
        x = ember.tensor([[stoi[c] for c in prime]])
        logits, state = model(x)
        out = list(prime)
        for _ in range(length):
            c = Categorical(logits=logits[0, -1] / temperature).sample()
            out.append(itos[c.item()])
            logits, state = model(c.view(1, 1), state)
    return "".join(out)


def main():
    p = argparse.ArgumentParser(description="Ember character-level LSTM")
    p.add_argument("--text", default=README)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--sample-length", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    ember.manual_seed(args.seed)
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    stoi, itos = {c: i for i, c in enumerate(chars)}, dict(enumerate(chars))
    data = ember.tensor([stoi[c] for c in text])
    print(f"{len(text):,} characters, {len(chars)} distinct, from {args.text}")
    model = CharRNN(len(chars), hidden=args.hidden, layers=args.layers)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(1, args.steps + 1):
        model.train()
        x, y = batches(data, args.batch_size, args.seq_len)
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        if step == 1 or step % 50 == 0 or step == args.steps:
            print(f"step {step}: loss {loss.item():.3f} (perplexity {math.exp(loss.item()):.1f})")
    print("--- sample ---")
    print(sample(model, stoi, itos, text[:10], args.sample_length, args.temperature))


if __name__ == "__main__":
    main()
