"""Shared pieces of the serving tests: MNIST models (MLP, CNN), version folders, HTTP helpers."""

import functools
import json
import os
import urllib.error
import urllib.request

import numpy as np

import ember
from ember import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.environ.get("EMBER_MNIST_DIR") or os.path.join(REPO, "..", "shared", "data", "mnist")
HAVE_MNIST = os.path.exists(os.path.join(MNIST, "t10k-images-idx3-ubyte.gz"))
NORMALIZE = (0.1307, 0.3081)


@functools.lru_cache(maxsize=1)
def mnist_images():
    """(images float32 [N, 1, 28, 28] normalized, labels int64) of the real MNIST test split."""
    from ember.vision import datasets

    ds = datasets.MNIST(MNIST, train=False)
    images = (np.asarray(ds.data, np.float32) / 255.0 - NORMALIZE[0]) / NORMALIZE[1]
    return images[:, None], np.asarray(ds.targets, np.int64)


def mlp(seed=0):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).eval()


def cnn(seed=0):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 10)).eval()


def train_mlp(steps=80):
    """The MLP after one short pass over 8,000 real MNIST digits (enough to read a drawn digit)."""
    model = mlp().train()
    images, labels = mnist_images()
    opt = ember.optim.Adam(model.parameters(), lr=2e-3)
    for i in range(steps):
        x, y = ember.tensor(images[i * 100:(i + 1) * 100]), ember.tensor(labels[i * 100:(i + 1) * 100])
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def example():
    return (ember.randn(2, 1, 28, 28),)


def save_ember(model, folder, metadata=None):
    os.makedirs(folder, exist_ok=True)
    prog = ember.export.export(model, example(), dynamic_batch=True, metadata=metadata)
    ember.export.save(prog, os.path.join(folder, "model.ember"))
    return prog


def save_onnx(model, folder):
    from ember.export.browser import onnx_model_bytes

    os.makedirs(folder, exist_ok=True)
    data = onnx_model_bytes(model, example(), ["input"], ["output"])
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(data)


def eager(model, x):
    with ember.no_grad():
        return model(ember.tensor(x)).numpy()


def call(url, body=None, method=None, raw=None, headers=None, timeout=30):
    """(status, parsed JSON or text) of an HTTP request; never raises on 4xx/5xx."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode("utf-8", "replace")
