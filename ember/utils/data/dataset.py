"""Datasets: map-style (``__getitem__`` + ``__len__``) and iterable-style (``__iter__``), plus the wrappers
PyTorch users expect (TensorDataset, Subset, ConcatDataset, ChainDataset, random_split).

A map-style dataset may also define ``__getitems__(indices)`` returning a list-like of samples; the
DataLoader then fetches a whole batch with one call. Returning a :class:`StackedSamples` (samples already
stacked along a new first axis) lets ``default_collate`` skip per-sample work entirely.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

import numpy as np

from ._random import randperm

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "StackedSamples", "random_split"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__(index)`` and ``__len__()``.

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return i * i
    >>> [Squares()[i] for i in range(4)]
    [0, 1, 4, 9]
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __iter__(self):
        """``for x in dataset`` reads indices 0, 1, ... until ``__getitem__`` raises IndexError (Python's and
        PyTorch's protocol). When that stop disagrees with ``__len__``, a warning says so: an IndexError
        raised by a bug inside ``__getitem__`` would otherwise end the loop early without a word."""
        try:
            n = len(self)
        except TypeError:
            n = None
        i = 0
        while True:
            try:
                item = self[i]
            except IndexError as exc:
                if n is not None and i != n:
                    from ...errors import warn_user

                    warn_user(f"iterating over {type(self).__name__} stopped after {i} items because "
                              f"__getitem__({i}) raised IndexError ({exc}), but len() says {n}. If that "
                              "IndexError is a bug inside __getitem__, iteration ended early; index the "
                              f"dataset directly (dataset[{i}]) to see its traceback.")
                return
            yield item
            i += 1

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of iterable-style datasets: subclasses define ``__iter__``. With DataLoader workers, each
    worker iterates its own copy; use ``get_worker_info()`` inside ``__iter__`` to split the stream.

    >>> class Count(IterableDataset):
    ...     def __iter__(self): return iter(range(3))
    >>> list(Count())
    [0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: IterableDataset) -> ChainDataset:
        return ChainDataset([self, other])


class StackedSamples(Sequence):
    """A batch fetched in one go: ``columns`` holds the samples stacked along a new first axis.

    ``columns`` has the structure of one sample (a tuple, dict or namedtuple of arrays/tensors; a list leaf
    holds one non-array item per sample, e.g. strings). ``default_collate`` turns it into a batch without
    looking at single samples; custom collate functions still see a sequence of ordinary samples, each
    made by ``sample_fn(k)``.

    >>> import numpy as np
    >>> s = StackedSamples((np.zeros((2, 3)), np.array([4, 5])), 2, lambda k: ("sample", k))
    >>> len(s), s[1]
    (2, ('sample', 1))
    """

    def __init__(self, columns, length: int, sample_fn: Callable[[int], object]):
        self.columns = columns
        self._length = int(length)
        self._sample_fn = sample_fn

    def __len__(self):
        return self._length

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self._sample_fn(i) for i in range(*k.indices(self._length))]
        if not -self._length <= k < self._length:
            raise IndexError(f"StackedSamples index {k} out of range for {self._length} samples")
        return self._sample_fn(k % self._length)


def _is_tensor(x) -> bool:
    import ember

    return isinstance(x, ember.Tensor)


def _take(column, idx: np.ndarray):
    """Rows ``idx`` of an ember tensor or NumPy array (one fancy-index)."""
    if _is_tensor(column):
        import ember

        return column[ember.from_numpy(idx)]
    return column[idx]


class TensorDataset(Dataset):
    """Samples are the ``i``-th rows of each given tensor (or NumPy array); batches are one fancy-index.

    >>> import ember
    >>> ds = TensorDataset(ember.arange(6).reshape(3, 2), ember.tensor([0, 1, 0]))
    >>> len(ds), [t.tolist() for t in ds[1]]
    (3, [[2, 3], 1])
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [int(t.shape[0]) if len(t.shape) else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors; every tensor needs the same "
                             f"size in dim 0, got sizes {sizes}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices) -> StackedSamples:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        columns = tuple(_take(t, idx) for t in self.tensors)
        return StackedSamples(columns, len(idx), lambda k: self[int(idx[k])])

    def __len__(self):
        return int(self.tensors[0].shape[0])

    def __getstate__(self):  # workers started with 'spawn' receive NumPy arrays, not tensors
        from .collate import pack

        return {"tensors": pack(self.tensors)}

    def __setstate__(self, state):
        from .collate import unpack

        self.tensors = tuple(unpack(state["tensors"]))


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> Subset(list("abcde"), [4, 0])[0]
    'e'
    """

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        mapped = [self.indices[i] for i in indices]
        getitems = getattr(self.dataset, "__getitems__", None)
        return getitems(mapped) if callable(getitems) else [self.dataset[i] for i in mapped]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after another.

    >>> ds = ConcatDataset([[1, 2], [3]])
    >>> len(ds), ds[2], ds[-1]
    (3, 3, 3)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; use ChainDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise IndexError(f"ConcatDataset index {idx} out of range for length {len(self)}")
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        if which >= len(self.datasets):
            raise IndexError(f"ConcatDataset index {idx} out of range for length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets one after another.

    >>> class R(IterableDataset):
    ...     def __init__(self, n): self.n = n
    ...     def __iter__(self): return iter(range(self.n))
    >>> list(ChainDataset([R(2), R(1)]))
    [0, 1, 0]
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:  # fractions, as in PyTorch
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {list(lengths)}")
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):  # hand out the remainder round-robin
            sizes[i % len(sizes)] += 1
        return sizes
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, "
                         f"got {list(lengths)}")
    return [int(x) for x in lengths]


def random_split(dataset, lengths: Sequence[float], generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths (or fractions).

    >>> import ember
    >>> a, b = random_split(range(10), [0.8, 0.2], generator=ember.Generator().manual_seed(0))
    >>> len(a), len(b), sorted(list(a) + list(b)) == list(range(10))
    (8, 2, True)
    """
    n = len(dataset)
    sizes = _split_lengths(n, lengths)
    if sum(sizes) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(sizes)}) does not equal the length of "
                         f"the input dataset ({n})")
    perm = randperm(n, generator)
    offsets = np.cumsum([0] + sizes).tolist()
    return [Subset(dataset, perm[offsets[i]:offsets[i + 1]]) for i in range(len(sizes))]
