"""A convolutional network on MNIST in the style of pytorch/examples' mnist (two convolutions, max-pooling,
dropout, two linear layers; Adadelta with a step learning-rate schedule).

    python examples/mnist_cnn.py --epochs 2

Data: ``--data DIR`` (a folder with MNIST's IDX files; the full training split when present), else the
10,000-image test split shipped in examples/data/mnist (8,000 images train, 2,000 test).
"""
from __future__ import annotations

import argparse
import os

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember.optim.lr_scheduler import StepLR
from ember.utils.data import DataLoader, Subset
from ember.vision import datasets, transforms

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout1(x).flatten(1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def mnist(root):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    try:
        return datasets.MNIST(root, train=True, transform=tf), datasets.MNIST(root, train=False, transform=tf)
    except RuntimeError:  # only the test split: 8,000 / 2,000
        test = datasets.MNIST(root, train=False, transform=tf)
        return Subset(test, range(8000)), Subset(test, range(8000, 10000))


def train(model, loader, optimizer, epoch, args):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        if args.max_batches is not None and batch_idx >= args.max_batches:
            break
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(loader.dataset)}]\tLoss: {loss.item():.6f}")


def test(model, loader, args):
    model.eval()
    test_loss, correct, seen = 0.0, 0, 0
    with ember.no_grad():
        for batch_idx, (data, target) in enumerate(loader):
            if args.max_batches is not None and batch_idx >= args.max_batches:
                break
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
            seen += len(target)
    print(f"Test set: Average loss: {test_loss / seen:.4f}, Accuracy: {correct}/{seen} ({100.0 * correct / seen:.0f}%)")
    return correct / seen


def main():
    parser = argparse.ArgumentParser(description="Ember MNIST CNN")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--max-batches", type=int, default=None, help="stop each epoch after this many batches")
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--data", default=SHIPPED)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save-model", default=None, help="save the trained weights to this file")
    args = parser.parse_args()

    ember.manual_seed(args.seed)
    train_set, test_set = mnist(args.data)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(model, train_loader, optimizer, epoch, args)
        test(model, test_loader, args)
        scheduler.step()
    if args.save_model:
        ember.save(model.state_dict(), args.save_model)


if __name__ == "__main__":
    main()
