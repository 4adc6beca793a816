"""What the Keras-hosted regression sets share: an ``.npz`` of ``x`` and ``y``, shuffled with NumPy's
``RandomState(seed)`` and cut at ``1 - test_split`` as Keras does (so the split is the same as Keras's)."""

import numpy as np

from ..file_utils import get_file


def load_split(name, path, origin, sha256, test_split, seed, keep=None):
    if not 0 <= test_split < 1:
        raise ValueError(f"{name}.load_data: test_split must be in [0, 1), got {test_split}")
    path = get_file(path, origin=origin, file_hash=sha256)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if keep is not None:
        x, y = x[:keep], y[:keep]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
