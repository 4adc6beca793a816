"""Acceptance: the seed article's PyTorch MNIST program runs on Ember with only the imports changed.

The program below is ordinary PyTorch code. It is executed twice from the same source text: once under Ember's
imports (``import ember as torch``, ``from ember import nn, optim`` ...) and once under PyTorch's, trained on
the
first 8,000 images of the real MNIST test split and evaluated on the last 2,000. torchvision is not installed
here, so the PyTorch run gets a minimal ``datasets.MNIST`` / ``transforms.ToTensor`` with torchvision's
behaviour (uint8 HxW -> float (1, H, W) in [0, 1]) reading the same IDX files.
"""
import os
import time

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
HAVE_MNIST = os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))
pytestmark = pytest.mark.skipif(not HAVE_MNIST, reason="real MNIST test files not present in "
                                                       "shared/data/mnist")

PROGRAM = '''
def main(root, seed=0, compile_step=None):
    torch.manual_seed(seed)
    full = datasets.MNIST(root, train=False, download=False, transform=transforms.ToTensor())
    train_set = Subset(full, range(8000))
    test_set = Subset(full, range(8000, 10000))
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = nn.Linear(28 * 28, 10)
    optimizer = optim.Adam(model.parameters())
    criterion = nn.CrossEntropyLoss()

    def train_step(x, y):
        optimizer.zero_grad()
        output = model(x.view(-1, 28 * 28))
        loss = criterion(output, y)
        loss.backward()
        optimizer.step()
        return loss

    if compile_step is not None:
        train_step = compile_step(train_step)
    model.train()
    for x, y in train_loader:
        loss = train_step(x, y)

    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in test_loader:
            pred = model(x.view(-1, 28 * 28)).argmax(dim=1)
            correct += (pred == y).sum().item()
    return correct / len(test_set), loss.item()
'''

EMBER_IMPORTS = """
import ember as torch
from ember import nn, optim
from ember.utils.data import DataLoader, Subset
from ember.vision import datasets, transforms
"""

TORCH_IMPORTS = """
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, Subset
"""


def _run(imports, extra=None, **kw):
    env = dict(extra or {})
    exec(compile(imports + PROGRAM, "<mnist program>", "exec"), env)
    t0 = time.perf_counter()
    acc, last_loss = env["main"](DATA, **kw)
    return acc, last_loss, time.perf_counter() - t0


def _torch_vision_standins(torch):
    """torchvision.datasets.MNIST / transforms.ToTensor, minimal, over the same files."""
    from types import SimpleNamespace

    from ember.vision.datasets.mnist import read_idx

    class MNIST(torch.utils.data.Dataset):
        def __init__(self, root, train=True, download=False, transform=None):
            prefix = "train" if train else "t10k"
            self.data = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
            self.targets = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
            self.transform = transform

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            return self.transform(self.data[i]), int(self.targets[i])

    def to_tensor(img):
        return torch.from_numpy(img.astype(np.float32) / 255.0).unsqueeze(0)

    return {"datasets": SimpleNamespace(MNIST=MNIST),
            "transforms": SimpleNamespace(ToTensor=lambda: to_tensor)}


def test_seed_mnist_program_runs_with_only_imports_changed():
    acc, loss, secs = _run(EMBER_IMPORTS)
    print(f"\nEmber  : accuracy {acc:.4f} after one epoch (last batch loss {loss:.3f}, {secs:.1f}s)")
    assert acc >= 0.85
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    tacc, tloss, tsecs = _run(TORCH_IMPORTS, _torch_vision_standins(torch))
    print(f"PyTorch: accuracy {tacc:.4f} after one epoch (last batch loss {tloss:.3f}, {tsecs:.1f}s)")
    assert abs(acc - tacc) < 0.03


def test_seed_mnist_program_with_its_step_compiled_equals_eager():
    import ember

    acc, loss, _ = _run(EMBER_IMPORTS)
    step = {}

    def compile_step(fn):
        step["fn"] = ember.compile(fn, strict=True)
        return step["fn"]

    cacc, closs, secs = _run(EMBER_IMPORTS, compile_step=compile_step)
    print(f"\nEmber compiled step: accuracy {cacc:.4f} (last batch loss {closs:.3f}, {secs:.1f}s)")
    assert cacc == acc and abs(closs - loss) <= 1e-5 * max(1.0, abs(loss))
    assert ember.compile.stats(step["fn"])["cache_hits"] >= 100  # it really ran compiled
