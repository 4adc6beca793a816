"""Ember quickstart: train a small MLP on MNIST with the PyTorch-style API and print its test accuracy.

    python examples/quickstart.py --data ../shared/data/mnist

``--data`` is a folder holding MNIST's IDX files (``t10k-images-idx3-ubyte.gz`` ...). With only the official
10,000-image test split available, the first 8,000 images train and the last 2,000 test. Pass ``--download``
to fetch the full dataset from the official mirrors into ``--data`` instead.
"""
from __future__ import annotations

import argparse
import time

import ember
from ember import nn, optim
from ember.utils.data import DataLoader, Subset
from ember.vision import datasets, transforms


def load(root: str, download: bool):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    if download:
        return (datasets.MNIST(root, train=True, download=True, transform=tf),
                datasets.MNIST(root, train=False, download=True, transform=tf))
    test_split = datasets.MNIST(root, train=False, transform=tf)
    return Subset(test_split, range(8000)), Subset(test_split, range(8000, 10000))


def evaluate(model, loader) -> float:
    model.eval()
    correct = total = 0
    with ember.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.shape[0]
    return correct / total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="./data", help="folder with MNIST's IDX files")
    p.add_argument("--download", action="store_true", help="download MNIST into --data first")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()

    ember.manual_seed(0)
    train_set, test_set = load(args.data, args.download)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=500)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        start, total = time.perf_counter(), 0.0
        for x, y in train_loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * y.shape[0]
        print(f"epoch {epoch}: loss {total / len(train_set):.4f}, test accuracy {evaluate(model, test_loader):.4f} "
              f"({time.perf_counter() - start:.1f}s)")
    print(f"final test accuracy: {evaluate(model, test_loader):.4f}")


if __name__ == "__main__":
    main()
