"""Ember quickstart: train a small MLP on MNIST with the PyTorch-style API and print its test accuracy.

    python examples/quickstart.py --data ../shared/data/mnist

``--data`` is a folder holding MNIST's IDX files (``t10k-images-idx3-ubyte.gz`` ...). With only the official
10,000-image test split available, the first 8,000 images train and the last 2,000 test. Pass ``--download``
to fetch the full dataset from the official mirrors into ``--data`` instead. ``--tensorboard runs/`` also writes
TensorBoard logs there (loss per step, test accuracy per epoch, weight histograms, sample images, the graph);
view them with ``tensorboard --logdir runs/``.
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
    p.add_argument("--tensorboard", metavar="LOG_DIR", help="write TensorBoard logs under this folder")
    args = p.parse_args()

    ember.manual_seed(0)
    train_set, test_set = load(args.data, args.download)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=500)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    writer = open_writer(args.tensorboard, model, train_loader)
    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        start, total = time.perf_counter(), 0.0
        for x, y in train_loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * y.shape[0]
            if writer is not None:
                writer.add_scalar("loss/train", loss.item(), step)
            step += 1
        accuracy = evaluate(model, test_loader)
        print(f"epoch {epoch}: loss {total / len(train_set):.4f}, test accuracy {accuracy:.4f} "
              f"({time.perf_counter() - start:.1f}s)")
        if writer is not None:
            writer.add_scalar("accuracy/test", accuracy, epoch)
            for name, p in model.named_parameters():
                writer.add_histogram(name, p, epoch)
    print(f"final test accuracy: {evaluate(model, test_loader):.4f}")
    if writer is not None:
        writer.close()
        print(f"TensorBoard logs in {writer.get_logdir()}: tensorboard --logdir {args.tensorboard}")


def open_writer(log_root, model, loader):
    """A SummaryWriter in a new run folder under ``log_root`` with the graph and a few inputs, or None."""
    if not log_root:
        return None
    import os

    from ember.utils.tensorboard import SummaryWriter, default_log_dir

    writer = SummaryWriter(os.path.join(log_root, os.path.basename(default_log_dir())))
    x, _ = next(iter(loader))
    writer.add_graph(model, x[:8])
    writer.add_images("inputs", (x[:16] * 0.3081 + 0.1307).clamp(0, 1), 0)
    return writer


if __name__ == "__main__":
    main()
