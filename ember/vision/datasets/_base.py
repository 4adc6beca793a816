"""The shared behaviour of in-memory image datasets: items, transforms, and vectorised batches."""
from __future__ import annotations

import numpy as np

from ...utils.data import Dataset, StackedSamples
from ..transforms import supports_batch


class ImageArrayDataset(Dataset):
    """A dataset over ``data`` (uint8 images, N x H x W [x C]) and ``targets`` (int64 labels).

    Items are ``(image, int label)`` after ``transform`` / ``target_transform``. When ``transform`` is None
    or batchable (``ToTensor``/``Normalize`` compositions) and there is no ``target_transform``,
    ``__getitems__`` builds a whole DataLoader batch with one fancy-index.

    >>> import numpy as np
    >>> ds = ImageArrayDataset(np.zeros((3, 2, 2), np.uint8), np.array([0, 1, 2]))
    >>> ds[1][0].shape, ds[1][1]
    ((2, 2), 1)
    """

    classes: list = []
    # how ``data`` / ``targets`` look from outside, as in torchvision: "tensor" (MNIST: uint8 and int64
    # tensors), "array" (CIFAR: a NumPy array; "list": a list of ints for targets)
    _data_as, _targets_as = "array", "array"

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform=None, target_transform=None):
        if len(data) != len(targets):
            raise ValueError(f"{type(self).__name__}: {len(data)} images but {len(targets)} labels")
        self._images = np.asarray(data)
        self._labels = np.asarray(targets, dtype=np.int64)
        self.transform = transform
        self.target_transform = target_transform

    @property
    def data(self):
        """The images (a tensor for MNIST-like datasets, a NumPy HxWxC array for CIFAR, as in torchvision);
        assigning a tensor or array replaces them (e.g. a filtered subset)."""
        return _present(self._images, self._data_as)

    @data.setter
    def data(self, value):
        self._images = _as_array(value)

    @property
    def targets(self):
        return _present(self._labels, self._targets_as)

    @targets.setter
    def targets(self, value):
        self._labels = _as_array(value).astype(np.int64, copy=False)

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index):
        img, target = self._images[index], int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _batchable(self) -> bool:
        return self.target_transform is None and (self.transform is None or supports_batch(self.transform))

    def __getitems__(self, indices):
        if not self._batchable():
            return [self[i] for i in indices]
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        images = self._images[idx]
        if self.transform is not None:
            images = self.transform.batch(images)
        return StackedSamples((images, self._labels[idx]), len(idx), lambda k: self[int(idx[k])])

    def __repr__(self):
        split = getattr(self, "train", None)
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if getattr(self, "root", None) is not None:
            lines.append(f"    Root location: {self.root}")
        if split is not None:
            lines.append(f"    Split: {'Train' if split else 'Test'}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


def _present(arr: np.ndarray, how: str):
    if how == "tensor":
        import ember

        return ember.from_numpy(arr)  # shares memory: in-place edits reach the dataset
    return arr.tolist() if how == "list" else arr


def _as_array(value) -> np.ndarray:
    import ember

    if isinstance(value, ember.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)
