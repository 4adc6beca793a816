"""Acceptance: the classic PyTorch MNIST CNN program runs on Ember with only the imports changed.

The program is pytorch/examples' mnist/main.py in miniature (narrower layers so it trains in well under a
minute on two cores): Conv2d, Dropout, F.max_pool2d, F.log_softmax + F.nll_loss, Adadelta + StepLR,
train()/eval(), a no_grad test loop, and a state_dict saved with ``torch.save`` and loaded into a fresh model.
It trains on the first 8,000 images of the real MNIST test split and is evaluated on the last 2,000.
"""
import os
import time

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
HAVE_MNIST = os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))
pytestmark = pytest.mark.skipif(not HAVE_MNIST, reason="MNIST test files not present in shared/data/mnist")

PROGRAM = '''
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(2304, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def make_train_step(model, optimizer):
    def train_step(data, target):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        return loss
    return train_step


def train(model, train_loader, train_step, max_batches=None):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        if batch_idx == max_batches:
            break
        loss = train_step(data, target)
    return loss.item()


def test(model, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return correct / len(test_loader.dataset)


def main(root, path, epochs=2, seed=1, compile_step=None, max_batches=None, n_test=2000):
    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    full = datasets.MNIST(root, train=False, transform=transform)
    train_loader = DataLoader(Subset(full, range(8000)), batch_size=64, shuffle=True)
    test_loader = DataLoader(Subset(full, range(8000, 8000 + n_test)), batch_size=1000)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    train_step = make_train_step(model, optimizer)
    if compile_step is not None:
        train_step = compile_step(train_step)
    for epoch in range(1, epochs + 1):
        loss = train(model, train_loader, train_step, max_batches)
        scheduler.step()
    accuracy = test(model, test_loader)
    torch.save(model.state_dict(), path)
    fresh = Net()
    fresh.load_state_dict(torch.load(path))
    return accuracy, test(fresh, test_loader), loss
'''

EMBER_IMPORTS = """
import ember as torch
from ember import nn, optim
import ember.nn.functional as F
from ember.optim.lr_scheduler import StepLR
from ember.utils.data import DataLoader, Subset
from ember.vision import datasets, transforms
"""

TORCH_IMPORTS = """
import torch
from torch import nn, optim
import torch.nn.functional as F
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, Subset
"""


def _torch_vision_standins(torch):
    """torchvision's MNIST / ToTensor / Normalize / Compose, minimal, over the same files (not installed)."""
    from types import SimpleNamespace

    from ember.vision.datasets.mnist import read_idx

    class MNIST(torch.utils.data.Dataset):
        def __init__(self, root, train=True, transform=None):
            self.data = read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz"))
            self.targets = read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
            self.transform = transform

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            return self.transform(self.data[i]), int(self.targets[i])

    def compose(fns):
        def run(x):
            for f in fns:
                x = f(x)
            return x
        return run

    transforms = SimpleNamespace(
        ToTensor=lambda: (lambda img: torch.from_numpy(img.astype(np.float32) / 255.0).unsqueeze(0)),
        Normalize=lambda mean, std: (lambda t: (t - mean[0]) / std[0]), Compose=compose)
    return {"datasets": SimpleNamespace(MNIST=MNIST), "transforms": transforms}


def _run(imports, path, extra=None, **kw):
    env = dict(extra or {})
    exec(compile(imports + PROGRAM, "<cnn program>", "exec"), env)
    t0 = time.perf_counter()
    acc, reloaded_acc, loss = env["main"](DATA, path, **kw)
    return acc, reloaded_acc, loss, time.perf_counter() - t0


def test_classic_cnn_program_runs_with_only_imports_changed(tmp_path):
    acc, reloaded, loss, secs = _run(EMBER_IMPORTS, str(tmp_path / "cnn.safetensors"))
    print(f"\nEmber  : accuracy {acc:.4f} after 2 epochs (last batch loss {loss:.3f}, {secs:.1f}s)")
    assert acc >= 0.95
    assert reloaded == acc  # the saved and reloaded state_dict gives the same model
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    tacc, _, tloss, tsecs = _run(TORCH_IMPORTS, str(tmp_path / "cnn.pt"), _torch_vision_standins(torch))
    print(f"PyTorch: accuracy {tacc:.4f} after 2 epochs (last batch loss {tloss:.3f}, {tsecs:.1f}s)")
    assert abs(acc - tacc) < 0.03


def test_classic_cnn_program_with_its_step_compiled_equals_eager(tmp_path):
    import ember

    kw = dict(max_batches=4, n_test=200)  # two short epochs: dropout masks, Adadelta state, a StepLR change
    want = _run(EMBER_IMPORTS, str(tmp_path / "eager.safetensors"), **kw)
    step = {}

    def compile_step(fn):  # the NumPy executor (the seed program's test runs the numba kernels)
        step["fn"] = ember.compile(fn, strict=True, jit=False)
        return step["fn"]

    got = _run(EMBER_IMPORTS, str(tmp_path / "compiled.safetensors"), compile_step=compile_step, **kw)
    assert got[:2] == want[:2] and abs(got[2] - want[2]) <= 1e-5 * max(1.0, abs(want[2])), (got, want)
    assert ember.compile.stats(step["fn"])["cache_hits"] >= 4
