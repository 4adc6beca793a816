"""Datasets read from folders of files, one sub-folder per class (torchvision's ``DatasetFolder`` and
``ImageFolder``), and ``FakeData`` (random images, no files).

``root/dog/xxx.png``, ``root/cat/123.jpg`` ...: classes are the sub-folder names in sorted order, samples are
every file with an allowed extension below each, in sorted order. ``ImageFolder`` decodes images with
Pillow (``pip install 'ember[vision]'``) and returns RGB PIL images, as torchvision does.

>>> import numpy as np
>>> ds = FakeData(size=4, image_size=(3, 8, 8), num_classes=2)
>>> img, label = ds[0]
>>> img.shape, img.dtype.name, label in (0, 1)
((8, 8, 3), 'uint8', True)
"""
from __future__ import annotations

import os

import numpy as np

from ...utils.data import Dataset
from .. import _pil

__all__ = ["DatasetFolder", "ImageFolder", "FakeData", "IMG_EXTENSIONS", "default_loader", "pil_loader",
           "has_file_allowed_extension", "find_classes", "make_dataset"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions) -> bool:
    return filename.lower().endswith(extensions if isinstance(extensions, str) else tuple(extensions))


def find_classes(directory):
    """``(sorted class names, {name: index})`` from the sub-folders of ``directory``."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"dataset folder {directory!r} does not exist (absolute: "
                                f"{os.path.abspath(directory)!r}); check the path, or create it with one sub-folder "
                                "per class")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory!r}: expected one sub-folder per "
                                "class (root/cat/1.png, root/dog/2.png ...)")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None, allow_empty=False):
    """``[(path, class index)]`` of the valid files under each class folder, in sorted order."""
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("make_dataset: pass exactly one of extensions and is_valid_file")
    valid = is_valid_file or (lambda path: has_file_allowed_extension(path, extensions))
    samples, empty = [], []
    for name in sorted(class_to_idx):
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        found = 0
        for root, _, fnames in sorted(os.walk(folder, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if valid(path):
                    samples.append((path, class_to_idx[name]))
                    found += 1
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        allowed = f" Supported extensions are: {', '.join(extensions)}" if extensions else ""
        raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)} in {directory!r}.{allowed}"
                                " (pass allow_empty=True to allow empty classes)")
    return samples


def pil_loader(path):
    Image = _pil.require_pil("ImageFolder")
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


default_loader = pil_loader


class DatasetFolder(Dataset):
    """Files under ``root/<class>/...`` read by ``loader``; items are ``(transform(loader(path)), class index)``.
    Attributes as torchvision's: ``classes``, ``class_to_idx``, ``samples`` [(path, index)], ``targets``."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None, is_valid_file=None,
                 allow_empty=False):
        self.root = os.path.expanduser(os.fspath(root))
        self.transform, self.target_transform = transform, target_transform
        classes, class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file, allow_empty)
        self.loader, self.extensions = loader, extensions
        self.classes, self.class_to_idx = classes, class_to_idx
        self.targets = [s[1] for s in self.samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory):
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)

    def __repr__(self):
        return f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Root location: {self.root}"


class ImageFolder(DatasetFolder):
    """Images under ``root/<class>/...`` (the extensions in ``IMG_EXTENSIONS``), decoded as RGB PIL images."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform,
                         target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples


class FakeData(Dataset):
    """``size`` random images of ``image_size`` (C, H, W) with random labels, the same for the same index
    (seeded by ``index + random_offset``). Images are uint8 NumPy arrays HxWxC (HxW for one channel), like
    Ember's other in-memory datasets; torchvision returns PIL images of random pixels."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None, target_transform=None,
                 random_offset=0):
        if len(image_size) != 3:
            raise ValueError(f"FakeData: image_size must be (channels, height, width), got {image_size}")
        self.size, self.image_size, self.num_classes = size, tuple(image_size), num_classes
        self.transform, self.target_transform, self.random_offset = transform, target_transform, random_offset

    def __getitem__(self, index):
        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range: {index} (size {self.size})")
        rng = np.random.default_rng(index % self.size + self.random_offset)
        c, h, w = self.image_size
        img = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        img = img[:, :, 0] if c == 1 else img
        target = int(rng.integers(0, self.num_classes))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.size
