"""DataLoader: batches from a dataset, in the main process or in worker processes.

Sampling always happens in the main process (from ``generator`` or Ember's global generator), so the same
seed gives the same batches whatever ``num_workers`` is. Each pass draws one base seed; worker ``i`` seeds
Python's ``random``, Ember and NumPy's global generator from ``base_seed + i``.
"""
from __future__ import annotations

import multiprocessing

from ._random import draw_seed
from ._worker import make_fetcher
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]


class _InfiniteConstantSampler(Sampler):
    """The 'sampler' of an iterable dataset: the dataset decides what comes next."""

    def __iter__(self):
        while True:
            yield None


def _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers, timeout,
                   prefetch_factor, persistent_workers) -> None:
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers option should be a non-negative integer, got "
                         f"num_workers={num_workers!r}; use num_workers=0 to disable multiprocessing")
    if timeout < 0:
        raise ValueError(f"DataLoader: timeout option should be non-negative, got timeout={timeout!r}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                         "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor=None")
    if prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError(f"DataLoader: prefetch_factor should be a positive integer, got {prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle; shuffle inside "
                         "the sampler instead (e.g. RandomSampler)")
    if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
        raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                         "sampler, and drop_last")
    if batch_size is None and drop_last:
        raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                         "exclusive with drop_last")


def _check_iterable_options(shuffle, sampler, batch_sampler) -> None:
    if shuffle not in (None, False):
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                         f"shuffle={shuffle}; shuffle inside the dataset's __iter__ instead")
    if sampler is not None:
        raise ValueError("DataLoader with IterableDataset: expected unspecified sampler option, but got "
                         f"sampler={sampler!r}")
    if batch_sampler is not None:
        raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                         f"got batch_sampler={batch_sampler!r}")


def _mp_context(ctx):
    if ctx is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else None)
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context should specify a valid start method in "
                             f"{methods!r}, but got multiprocessing_context={ctx!r}")
        return multiprocessing.get_context(ctx)
    if not hasattr(ctx, "Process"):
        raise TypeError(f"DataLoader: multiprocessing_context should be a start method name or a "
                        f"multiprocessing context, got {type(ctx).__name__}")
    return ctx


class DataLoader:
    """Iterates over ``dataset`` in batches, optionally shuffled, optionally in worker processes.

    Arguments follow ``torch.utils.data.DataLoader``: ``batch_size`` (None: no batching), ``shuffle``,
    ``sampler``, ``batch_sampler``, ``num_workers`` (0: load in this process), ``collate_fn``,
    ``pin_memory`` (accepted, no effect), ``drop_last``, ``timeout`` (seconds to wait for a worker's
    batch; 0: wait while the workers live), ``worker_init_fn``, ``multiprocessing_context`` (default
    'fork' where available), ``generator``, ``prefetch_factor`` (batches in flight per worker, default 2),
    ``persistent_workers``.

    >>> import ember
    >>> from ember.utils.data import TensorDataset
    >>> ds = TensorDataset(ember.arange(10, dtype=ember.float32), ember.arange(10))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=ember.Generator().manual_seed(0))
    >>> [tuple(x.shape) for x, y in loader]
    [(4,), (4,), (2,)]
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = ""):
        _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers, timeout,
                       prefetch_factor, persistent_workers)
        if not (hasattr(dataset, "__getitem__") or hasattr(dataset, "__iter__")):
            raise TypeError(f"DataLoader: dataset must be a map-style Dataset (with __getitem__ and __len__) or "
                            f"an iterable, got {type(dataset).__name__}. Wrap tensors in "
                            "ember.utils.data.TensorDataset(x, y)")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _mp_context(multiprocessing_context) if num_workers else None
        self.generator = generator
        self.persistent_workers = persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
            sampler = _InfiniteConstantSampler()
        elif batch_sampler is not None:
            batch_size, drop_last = None, False
        elif sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        from ._multiprocess import MultiProcessIter

        if not self.persistent_workers:
            return MultiProcessIter(self)
        if self._iterator is None or not self._iterator.alive:  # first pass, or workers lost to an error
            self._iterator = MultiProcessIter(self)
        else:
            self._iterator.reset()
        return self._iterator

    def __len__(self) -> int:
        if not self._iterable:
            return len(self._index_sampler)
        n = len(self.dataset)  # TypeError for an IterableDataset without __len__, as in PyTorch
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class BaseIter:
    """State shared by both iterators: the sampler pass and this pass's base seed."""

    def __init__(self, loader: DataLoader):
        self._loader = loader
        self._start_pass()

    def _start_pass(self) -> None:
        self._base_seed = draw_seed(self._loader.generator)
        self._sampler_iter = iter(self._loader._index_sampler)

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)


class _SingleProcessIter(BaseIter):
    def __init__(self, loader: DataLoader):
        super().__init__(loader)
        self._fetcher = make_fetcher(loader.dataset, loader._iterable, loader._auto_collation,
                                     loader.collate_fn, loader.drop_last, loader.batch_size)

    def __next__(self):
        index = next(self._sampler_iter)
        return self._fetcher.fetch(index)
