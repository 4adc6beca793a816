"""MNIST and Fashion-MNIST from their IDX files (gzip-compressed or not), with optional download.

Files are looked for in ``root/<ClassName>/raw`` (torchvision's layout) and, for convenience, directly in
``root``; ``download=True`` fetches the missing ``.gz`` files from the official mirrors, checks their
published MD5 sums, and unpacks them into ``root/<ClassName>/raw``.
"""
from __future__ import annotations

import gzip
import math
import os
import struct

import numpy as np

from ...utils import download as dl
from ._base import ImageArrayDataset

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzip-compressed or not, into a native-endian NumPy array.

    >>> import gzip, os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> with gzip.open(p, "wb") as f: _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))
    >>> read_idx(p).tolist()
    [7, 9]
    """
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path!r} is not an IDX file (its magic number is {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path!r} is truncated or corrupt: its header promises shape {dims} of "
                         f"{dtype.name} ({expected} bytes) but {len(raw) - header} bytes follow")
    arr = np.frombuffer(bytearray(raw[header:]), dtype=dtype).reshape(dims)
    return arr if arr.dtype.isnative else arr.astype(dtype.newbyteorder("="))


def _find(name: str, folders) -> str | None:
    for folder in folders:
        for candidate in (name, name + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                return path
    return None


def _load_split(spec, root: str, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N x 28 x 28, labels int64 N)`` of one split of an MNIST-like dataset class."""
    raw = os.path.join(root, spec.__name__, "raw")
    names = spec.training_files if train else spec.test_files
    paths = [_find(n, (raw, root)) for n in names]
    if None in paths and download:
        for name in names:
            gz = dl.fetch(name + ".gz", spec.mirrors, raw, md5=spec.resources[name + ".gz"])
            dl.gunzip(gz, os.path.join(raw, name))
        paths = [_find(n, (raw, root)) for n in names]
    if None in paths:
        missing = ", ".join(f"{n}[.gz]" for n, p in zip(names, paths) if p is None)
        raise RuntimeError(f"{spec.__name__}: dataset files not found: {missing}. Looked in {raw!r} and "
                           f"{root!r}. Pass download=True to fetch them from {spec.mirrors[0]}, or copy the "
                           "IDX files (gzip-compressed or not) into one of those directories.")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{spec.__name__}: {paths[0]!r} and {paths[1]!r} do not match: images of shape "
                         f"{images.shape}, labels of shape {labels.shape}")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


class MNIST(ImageArrayDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28 x 28 uint8, labels 0-9.

    ``data`` is a uint8 tensor N x 28 x 28 and ``targets`` an int64 tensor (as in torchvision); ``ds[i]`` is
    ``(image HxW uint8 array, int label)`` after the transforms.

    >>> import os
    >>> root = "/path/to/data"  # holds MNIST/raw/t10k-images-idx3-ubyte.gz etc.
    >>> ds = MNIST(root, train=False) if os.path.isdir(root) else None
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    _data_as = _targets_as = "tensor"  # torchvision's MNIST.data / .targets are tensors
    training_files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    test_files = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        images, labels = _load_split(type(self), self.root, train, download)
        super().__init__(images, labels, transform, target_transform)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format with 10 kinds of clothing (files in ``root/FashionMNIST/raw``).

    >>> FashionMNIST.classes[9]
    'Ankle boot'
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def mnist_arrays(root=None, train: bool = True, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N x 28 x 28, labels int64 N)`` of MNIST's train or test split, read from ``root``
    (default ``ember.utils.download.default_data_dir()``), downloading it when ``download`` is true."""
    root = dl.default_data_dir() if root is None else os.path.expanduser(os.fspath(root))
    return _load_split(MNIST, root, train, download)


def fashion_mnist_arrays(root=None, train: bool = True, download: bool = False):
    """Like :func:`mnist_arrays`, for Fashion-MNIST."""
    root = dl.default_data_dir() if root is None else os.path.expanduser(os.fspath(root))
    return _load_split(FashionMNIST, root, train, download)
