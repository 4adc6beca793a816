"""Ember quickstart: train a small MLP on MNIST with the PyTorch-style API and print its test accuracy.

    python examples/quickstart.py

Data: it downloads MNIST (60,000 training and 10,000 test images, checked against their MD5 sums) into
Ember's data cache ($EMBER_DATA_DIR or ~/.cache/ember/datasets) and uses the full splits. When the download
is not possible (offline, a proxy, ``--offline``) it says so and uses the 10,000-image test split shipped in
``examples/data/mnist`` instead: the first 8,000 images train and the last 2,000 test. ``--data DIR`` reads
the IDX files from a folder of your own. ``--tensorboard runs/`` also writes
TensorBoard logs there (loss per step, test accuracy per epoch, weight histograms, sample images, the graph);
view them with ``tensorboard --logdir runs/``.
"""
from __future__ import annotations

import argparse
import os
import time

import ember
from ember import nn, optim
from ember.utils.data import DataLoader, Subset
from ember.utils.download import DownloadError
from ember.vision import datasets, transforms

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist")
TF = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


def test_split_only(root: str):
    """8,000 / 2,000 images of the 10,000-image test split (all a folder may hold)."""
    split = datasets.MNIST(root, train=False, transform=TF)
    return Subset(split, range(8000)), Subset(split, range(8000, 10000))


def download(mirror: str | None):
    """Both full splits from the official mirrors (or ``mirror``) into Ember's data cache."""
    from ember.utils.download import default_data_dir

    if mirror:
        datasets.MNIST.mirrors = [mirror]
    root = default_data_dir()
    test = datasets.MNIST(root, train=False, download=True, transform=TF)
    train = datasets.MNIST(root, train=True, download=True, transform=TF)
    return train, test, f"full MNIST (60,000 / 10,000 images) downloaded to {os.path.join(root, 'MNIST')}"


def load(args):
    """``(train set, test set, a sentence saying which data is used)``."""
    if args.data:
        try:
            return (datasets.MNIST(args.data, train=True, transform=TF), datasets.MNIST(args.data, train=False,
                                                                                     transform=TF),
                    f"MNIST's full splits from {args.data}")
        except RuntimeError:  # only the test split there
            return (*test_split_only(args.data), f"MNIST's test split from {args.data} (8,000 train / 2,000 test)")
    if not args.offline:
        try:
            return download(args.mirror)
        except (DownloadError, OSError) as e:
            lines = str(e).strip().splitlines()
            print(f"Could not download MNIST: {(lines[1] if len(lines) > 1 else lines[0]).strip()}")
    return (*test_split_only(SHIPPED), "the 10,000-image MNIST test split shipped in examples/data/mnist "
            "(8,000 train / 2,000 test)")


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
    p.add_argument("--data", default=None, help="a folder with MNIST's IDX files (instead of downloading)")
    p.add_argument("--offline", action="store_true", help="skip the download; use the shipped test split")
    p.add_argument("--mirror", default=None, help="base URL of an MNIST mirror to download from")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--tensorboard", metavar="LOG_DIR", help="write TensorBoard logs under this folder")
    args = p.parse_args()

    ember.manual_seed(0)
    train_set, test_set, what = load(args)
    print(f"Using {what}.")
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
