"""CIFAR-10: ``(x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()``; uint8 images
(N, 32, 32, 3) and uint8 labels (N, 1). Downloads Keras's file (``cifar-10-python.tar.gz``, sha256-checked)
into ``~/.keras/datasets/cifar-10-batches-py-target`` and reads its pickled batches with Ember's code-free
pickle data reader."""

import numpy as np

from ._cifar import fetch, join, load_batch, to_keras_layout

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
DIRNAME = "cifar-10-batches-py-target"


def load_data():
    folder = join(fetch(DIRNAME, ORIGIN, SHA256), "cifar-10-batches-py")
    parts = [load_batch(join(folder, f"data_batch_{i}")) for i in range(1, 6)]
    x_test, y_test = load_batch(join(folder, "test_batch"))
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([np.asarray(p[1]) for p in parts])
    return to_keras_layout(x_train, y_train, x_test, y_test)
