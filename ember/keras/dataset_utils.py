"""``keras.utils`` dataset builders: ``image_dataset_from_directory``, ``text_dataset_from_directory``,
``timeseries_dataset_from_array``, ``split_dataset``. They return ``keras.utils.PyDataset`` objects (batches
of NumPy arrays, what ``fit`` / ``evaluate`` / ``predict`` take), with Keras 3's file order, labels, splits
and window arithmetic. Batches are read lazily; the shuffled order is fixed once (Keras's tf.data pipelines
also reshuffle within a buffer each epoch).

>>> import numpy as np
>>> from ember.keras import utils
>>> windows = utils.timeseries_dataset_from_array(np.arange(10), None, sequence_length=3, batch_size=4)
>>> [batch.tolist() for batch in windows][0]
[[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]
"""

from __future__ import annotations

import os
import random

import numpy as np

from ember.errors import user_errors

from .image_utils import img_to_array, load_img
from .utils import PyDataset, to_categorical

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


class ArrayDataset(PyDataset):
    """Batches of in-memory samples (``x`` or a tuple of arrays); ``batch_size=None``: one sample per item."""

    def __init__(self, arrays, batch_size=None, class_names=None, file_paths=None):
        super().__init__()
        self.arrays, self.batch_size = arrays, batch_size
        self.class_names, self.file_paths = class_names, file_paths

    def _size(self):
        first = self.arrays[0] if isinstance(self.arrays, tuple) else self.arrays
        return len(first)

    def __len__(self):
        n = self._size()
        return n if self.batch_size is None else -(-n // self.batch_size)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range for a dataset of {len(self)} batches")
        sl = i if self.batch_size is None else slice(i * self.batch_size, (i + 1) * self.batch_size)
        if isinstance(self.arrays, tuple):
            return tuple(a[sl] for a in self.arrays)
        return self.arrays[sl]

    def batch(self, batch_size):
        """The same samples in batches of ``batch_size`` (as ``tf.data.Dataset.batch``)."""
        return ArrayDataset(self.arrays, int(batch_size), self.class_names, self.file_paths)

    def cardinality(self):
        return len(self)

    def map(self, fn):
        """Apply ``fn`` to each item (a tuple item is passed as separate arguments, as ``tf.data``'s ``map``)."""
        return MappedDataset(self, fn)

    def prefetch(self, buffer_size=None):
        return self  # batches are read on demand; accepted for tf.data-style programs

    def cache(self, filename=""):
        return self


class MappedDataset(PyDataset):
    """``dataset.map(fn)``: items of ``dataset`` passed through ``fn`` when read."""

    def __init__(self, source, fn):
        super().__init__()
        self.source, self.fn = source, fn
        self.class_names = getattr(source, "class_names", None)

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        item = self.source[i]
        return self.fn(*item) if isinstance(item, tuple) else self.fn(item)

    def map(self, fn):
        return MappedDataset(self, fn)

    def prefetch(self, buffer_size=None):
        return self

    def cache(self, filename=""):
        return self


class _LazyFileDataset(ArrayDataset):
    """Batches read from files on demand (``load(path)`` gives one sample)."""

    def __init__(self, paths, labels, load, batch_size, class_names):
        super().__init__((np.asarray(paths, dtype=object),) if labels is None else
                         (np.asarray(paths, dtype=object), labels), batch_size, class_names, list(paths))
        self.load, self.has_labels = load, labels is not None

    def __getitem__(self, i):
        parts = super().__getitem__(i)
        paths = parts[0] if self.batch_size is not None else [parts[0]]
        x = np.stack([self.load(p) for p in paths]) if self.batch_size is not None else self.load(parts[0])
        return (x, parts[1]) if self.has_labels else x

    def batch(self, batch_size):
        labels = self.arrays[1] if self.has_labels else None
        return _LazyFileDataset(self.file_paths, labels, self.load, int(batch_size), self.class_names)


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False):
    """Keras's file listing: class folders in sorted order (or ``class_names``), files sorted within each;
    a shuffle with ``seed`` applies NumPy's RandomState to the paths and to the labels."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no directory at {directory!r}: pass the folder that holds one subfolder per "
                                f"class (or the files themselves with labels=None)")
    if labels == "inferred":
        found = sorted(d for d in os.listdir(directory)
                       if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
        if class_names is not None and not set(class_names) <= set(found):
            raise ValueError(f"class_names {list(class_names)} do not match the subdirectories of {directory!r}: "
                             f"{found}")
        subdirs = list(class_names) if class_names is not None else found
    else:
        if class_names is not None:
            raise ValueError("class_names applies to labels='inferred' only")
        subdirs = [""]
    paths, ids = [], []
    for index, sub in enumerate(subdirs):
        root_dir = os.path.join(directory, sub)
        for root, _, files in sorted(os.walk(root_dir, followlinks=follow_links), key=lambda w: w[0]):
            for name in sorted(files):
                if name.lower().endswith(formats):
                    paths.append(os.path.join(root, name))
                    ids.append(index)
    if labels == "inferred":
        label_array, names = np.asarray(ids, "int32"), subdirs
    elif labels is None:
        label_array, names = None, None
    else:
        label_array = np.asarray(labels)
        if len(label_array) != len(paths):
            raise ValueError(f"{len(label_array)} labels given for {len(paths)} files in {directory!r}")
        names = [str(v) for v in sorted(set(label_array.tolist()))]
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(paths)
        if label_array is not None:
            np.random.RandomState(seed).shuffle(label_array)
    return paths, label_array, names


def _split(paths, labels, validation_split, subset, shuffle, seed):
    if not validation_split:
        if subset is not None:
            raise ValueError("subset= needs validation_split=")
        return [(paths, labels)]
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    if subset not in ("training", "validation", "both"):
        raise ValueError(f"with validation_split, subset must be 'training', 'validation' or 'both', got {subset!r}")
    if shuffle and seed is None:
        raise ValueError("with validation_split and shuffle=True, pass seed= so the two subsets do not overlap")
    cut = len(paths) - int(validation_split * len(paths))
    take = lambda sl: (paths[sl], None if labels is None else labels[sl])  # noqa: E731
    parts = {"training": take(slice(0, cut)), "validation": take(slice(cut, None))}
    return [parts["training"], parts["validation"]] if subset == "both" else [parts[subset]]


def _encode_labels(labels, label_mode, num_classes):
    if labels is None or label_mode is None:
        return None
    if label_mode == "int":
        return labels.astype("int32")
    if label_mode == "categorical":
        return to_categorical(labels, num_classes)
    if num_classes != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes, found {num_classes}")
    return labels.astype("float32")[:, None]


def _check_label_mode(label_mode, labels):
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple, np.ndarray)):
        raise ValueError(f"labels must be 'inferred', None or a list of labels, got {labels!r}")


def _image_loader(color_mode, image_size, interpolation, crop_to_aspect_ratio):
    from .layers.preprocessing import Resizing

    resize = Resizing(image_size[0], image_size[1], interpolation, crop_to_aspect_ratio=crop_to_aspect_ratio)

    def load(path):
        x = img_to_array(load_img(path, color_mode=color_mode))
        return x if x.shape[:2] == tuple(image_size) else resize(x).numpy()

    return load


@user_errors
def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, data_format=None, verbose=True, **kwargs):
    """Batches ``(images, labels)`` from ``directory/<class>/<image>`` (Keras 3's rules): images resized to
    ``image_size`` as float32 (batch, height, width, channels); labels ``int`` / ``categorical`` (one-hot) /
    ``binary`` (float, shape (n, 1)) / None; ``validation_split`` with ``subset`` "training", "validation"
    or "both" (a list of two datasets). Each dataset has ``class_names`` and ``file_paths``."""
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(f"color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}")
    _check_label_mode(label_mode, labels)
    paths, ids, names = index_directory(directory, labels, IMAGE_FORMATS, class_names, shuffle, seed, follow_links)
    if verbose:
        print(f"Found {len(paths)} files" + ("." if names is None else f" belonging to {len(names)} classes."))
    load = _image_loader(color_mode, tuple(image_size), interpolation, crop_to_aspect_ratio)
    out = []
    for part_paths, part_ids in _split(paths, ids, validation_split, subset, shuffle, seed):
        if verbose and validation_split:
            print(f"Using {len(part_paths)} files.")
        encoded = _encode_labels(part_ids, label_mode, len(names or []))
        out.append(_LazyFileDataset(part_paths, encoded, load, batch_size, names))
    return out if len(out) > 1 else out[0]


def _read_text(max_length):
    def load(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return text if max_length is None else text[:max_length]

    return load


@user_errors
def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True, **kwargs):
    """Batches ``(texts, labels)`` from ``directory/<class>/<file>.txt``: texts as a NumPy array of str (feed
    them to ``TextVectorization``), labels as in ``image_dataset_from_directory``."""
    _check_label_mode(label_mode, labels)
    paths, ids, names = index_directory(directory, labels, (".txt",), class_names, shuffle, seed, follow_links)
    if verbose:
        print(f"Found {len(paths)} files" + ("." if names is None else f" belonging to {len(names)} classes."))
    out = []
    for part_paths, part_ids in _split(paths, ids, validation_split, subset, shuffle, seed):
        encoded = _encode_labels(part_ids, label_mode, len(names or []))
        ds = _LazyFileDataset(part_paths, encoded, _read_text(max_length), batch_size, names)
        out.append(ds)
    return out if len(out) > 1 else out[0]


@user_errors
def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """Sliding windows over ``data``: window ``i`` holds ``data[s + i*sequence_stride + j*sampling_rate]`` for
    ``j < sequence_length`` (``s = start_index``), and its target is ``targets[s + i*sequence_stride]``
    (Keras's alignment). ``shuffle`` permutes the windows with NumPy's RandomState(seed)."""
    data = np.asarray(data.numpy() if hasattr(data, "numpy") else data)
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if not 0 < value < len(data):
            raise ValueError(f"timeseries_dataset_from_array: {name} must be in (0, {len(data)}), got {value}")
    start = start_index or 0
    end = len(data) if end_index is None else end_index
    if not 0 <= start < len(data) or not start < end <= len(data):
        raise ValueError(f"timeseries_dataset_from_array: need 0 <= start_index < end_index <= {len(data)}, "
                         f"got start_index={start_index}, end_index={end_index}")
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets.numpy() if hasattr(targets, "numpy") else targets)
        num = min(num, len(targets))
    starts = np.arange(0, max(num, 0), sequence_stride)
    if shuffle:
        np.random.RandomState(np.random.randint(1e6) if seed is None else seed).shuffle(starts)
    window = starts[:, None] + np.arange(0, sequence_length * sampling_rate, sampling_rate)[None, :]
    x = data[start:end][window] if len(starts) else np.zeros((0, sequence_length) + data.shape[1:], data.dtype)
    arrays = x if targets is None else (x, targets[start:end][starts] if len(starts) else targets[:0])
    return ArrayDataset(arrays, batch_size)


def _as_samples(dataset):
    if isinstance(dataset, ArrayDataset) and dataset.batch_size is None and not isinstance(dataset, _LazyFileDataset):
        return dataset.arrays
    if isinstance(dataset, (list, tuple)) and dataset and all(hasattr(a, "__len__") for a in dataset):
        arrays = tuple(np.asarray(a.numpy() if hasattr(a, "numpy") else a) for a in dataset)
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"split_dataset: the arrays have different lengths {[len(a) for a in arrays]}")
        return arrays
    if hasattr(dataset, "__len__") and not isinstance(dataset, PyDataset):
        return np.asarray(dataset.numpy() if hasattr(dataset, "numpy") else dataset)
    raise TypeError(f"split_dataset: expected an array, a tuple of arrays or an unbatched dataset, got "
                    f"{type(dataset).__name__}")


def _split_sizes(left, right, total):
    for name, v in (("left_size", left), ("right_size", right)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or (isinstance(v, int) and not 0 < v < total)
                              or (isinstance(v, float) and not 0 < v < 1)):
            raise ValueError(f"split_dataset: {name} must be an int in (0, {total}) or a float in (0, 1), got {v!r}")
    if left is None and right is None:
        raise ValueError("split_dataset: pass left_size and/or right_size")
    left = round(left * total) if isinstance(left, float) else left
    right = round(right * total) if isinstance(right, float) else right
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total or left == 0 or right == 0:
        raise ValueError(f"split_dataset: sizes {left} + {right} do not fit {total} samples (or one is empty)")
    return left, right


@user_errors
def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Two unbatched datasets: the first ``left_size`` samples and the last ``right_size`` (ints, or floats
    as fractions, rounded; a missing size is the rest), after an optional shuffle (Python's
    ``random.Random(seed)``, as Keras). Call ``.batch(n)`` on each for ``fit``."""
    arrays = _as_samples(dataset)
    total = len(arrays[0] if isinstance(arrays, tuple) else arrays)
    left, right = _split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        random.Random(np.random.randint(1e6) if seed is None else seed).shuffle(order)
    pick = lambda idx: tuple(a[idx] for a in arrays) if isinstance(arrays, tuple) else arrays[idx]  # noqa: E731
    return (ArrayDataset(pick(np.asarray(order[:left], "int64"))),
            ArrayDataset(pick(np.asarray(order[total - right:], "int64"))))
