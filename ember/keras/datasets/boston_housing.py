"""Boston housing prices: ``keras.datasets.boston_housing.load_data(path="boston_housing.npz",
test_split=0.2, seed=113)``; float64 features (N, 13) and prices (N,), shuffled with NumPy's
``RandomState(seed)`` as Keras does, so the split is the same as Keras's."""

import numpy as np

from ..file_utils import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    if not 0 <= test_split < 1:
        raise ValueError(f"boston_housing.load_data: test_split must be in [0, 1), got {test_split}")
    path = get_file(path, origin=ORIGIN, file_hash=SHA256)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
