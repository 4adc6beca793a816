"""CIFAR-10 from the official *binary* archive (no pickle): records of 1 label byte + 3072 pixel bytes
(1024 red, 1024 green, 1024 blue, each 32 x 32 row-major), 10,000 records per batch file."""
from __future__ import annotations

import os

import numpy as np

from ...utils import download as dl
from ._base import ImageArrayDataset

_RECORD = 1 + 3 * 32 * 32


def _read_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _RECORD:
        raise ValueError(f"{path!r} is not a CIFAR-10 binary batch: its size ({raw.size} bytes) is not a "
                         f"multiple of {_RECORD}-byte records")
    records = raw.reshape(-1, _RECORD)
    images = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, records[:, 0].astype(np.int64)


class CIFAR10(ImageArrayDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32 x 32 x 3 uint8, in 10 classes.

    Reads ``root/cifar-10-batches-bin/*.bin``; ``download=True`` fetches ``cifar-10-binary.tar.gz`` from
    cs.toronto.edu, checks its MD5 and extracts the batch files. ``data`` is N x 32 x 32 x 3 (HWC).

    >>> CIFAR10.classes[:3]
    ['airplane', 'automobile', 'bird']
    """

    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    filename = "cifar-10-binary.tar.gz"
    tgz_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    base_folder = "cifar-10-batches-bin"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    meta_file = "batches.meta.txt"
    _targets_as = "list"  # torchvision: data is an N x 32 x 32 x 3 array, targets a list of ints
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        images, labels = _load(self.root, train, download)
        super().__init__(images, labels, transform, target_transform)
        meta = os.path.join(self.root, self.base_folder, self.meta_file)
        if os.path.isfile(meta):
            with open(meta, encoding="ascii", errors="replace") as f:
                names = [line.strip() for line in f if line.strip()]
            if len(names) == 10:
                self.classes = names


def _download(root: str) -> None:
    spec = CIFAR10
    archive = dl.fetch(spec.filename, spec.mirrors, root, md5=spec.tgz_md5)
    names = spec.train_list + spec.test_list + [spec.meta_file]
    dl.extract_tar_members(archive, {f"{spec.base_folder}/{n}": os.path.join(root, spec.base_folder, n)
                                     for n in names})


def _load(root: str, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray]:
    folder = os.path.join(root, CIFAR10.base_folder)
    names = CIFAR10.train_list if train else CIFAR10.test_list
    if download and not all(os.path.isfile(os.path.join(folder, n)) for n in names):
        _download(root)
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise RuntimeError(f"CIFAR10: dataset files not found in {folder!r}: {', '.join(missing)}. Pass "
                           f"download=True to fetch {CIFAR10.filename} from {CIFAR10.mirrors[0]}, or extract "
                           f"that archive (the binary version, not the pickled python one) into {root!r}.")
    parts = [_read_batch(os.path.join(folder, n)) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def cifar10_arrays(root=None, train: bool = True, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N x 32 x 32 x 3, labels int64 N)`` of CIFAR-10's train or test split."""
    root = dl.default_data_dir() if root is None else os.path.expanduser(os.fspath(root))
    return _load(root, train, download)
