"""Turning samples into batches: ``default_collate`` / ``default_convert`` (PyTorch's rules), and the
worker-side variants that produce NumPy arrays to send to the main process.

Rules of ``default_collate`` (same as ``torch.utils.data.default_collate``): tensors are stacked; NumPy
arrays and NumPy scalars become stacked tensors of their dtype; Python floats become a float64 tensor,
ints an int64 tensor, bools a bool tensor; strings/bytes stay a list; dicts, namedtuples and sequences are
collated field by field (tuples give lists). A :class:`StackedSamples` batch is converted column-wise.

Inside worker processes the same rules run with ``payload=True``: every array that will become a tensor is
wrapped in ``_ArrayPayload`` and rebuilt with ``ember.from_numpy`` in the main process (``unpack``).
"""
from __future__ import annotations

import collections.abc as cabc

import numpy as np

from .dataset import StackedSamples

__all__ = ["default_collate", "default_convert"]

_NON_NUMERIC_KINDS = "USOV"  # str, bytes, object, void arrays cannot become tensors


class _ArrayPayload:
    """A NumPy array sent by a worker that becomes an ember tensor in the main process."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    def __reduce__(self):
        return (_ArrayPayload, (self.array,))


def _ember():
    import ember

    return ember


def _is_tensor(x) -> bool:
    return isinstance(x, _ember().Tensor)


def tensor_to_numpy(t) -> np.ndarray:
    """A CPU NumPy array with the values of ember tensor ``t`` (zero-copy when it already is on CPU)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    return t.numpy()


def _finish(arr: np.ndarray, payload: bool):
    if arr.dtype.kind in _NON_NUMERIC_KINDS:
        raise TypeError(f"default_collate: NumPy arrays of dtype {arr.dtype} cannot become tensors; "
                        "convert them to numbers in the dataset or pass a custom collate_fn")
    if not arr.flags.c_contiguous:
        arr = np.array(arr, order="C")  # (np.ascontiguousarray would make 0-d arrays 1-d)
    return _ArrayPayload(arr) if payload else _ember().from_numpy(arr)


def _check_same_shapes(shapes, what: str) -> None:
    first = shapes[0]
    for i, s in enumerate(shapes):
        if s != first:
            raise RuntimeError(f"default_collate: {what} in a batch must have the same shape to be stacked, "
                               f"but got {first} at entry 0 and {s} at entry {i}; pad or resize them in the "
                               "dataset/transform, or pass a custom collate_fn")


def _stack_tensors(batch, payload: bool):
    _check_same_shapes([tuple(t.shape) for t in batch], "tensors")
    if payload:
        return _ArrayPayload(np.stack([tensor_to_numpy(t) for t in batch]))
    return _ember().stack(list(batch), 0)


def _numbers(batch, elem):
    if isinstance(elem, bool):
        arr = np.asarray(batch)
        return arr if arr.dtype == np.bool_ else arr.astype(np.int64)
    if isinstance(elem, float):
        return np.asarray(batch, dtype=np.float64)
    arr = np.asarray(batch)  # ints; a float among them gives the default float dtype, as torch.tensor does
    return arr.astype(np.float32) if arr.dtype.kind == "f" else arr.astype(np.int64)


def _rebuild(elem, items):
    """A container of elem's type holding ``items`` (falls back to a plain list/dict)."""
    try:
        return type(elem)(items)
    except TypeError:
        return items


def _collate_sequence(batch, payload: bool):
    elem = batch[0]
    size = len(elem)
    if any(len(s) != size for s in batch):
        raise RuntimeError("each element in list of batch should be of equal size")
    columns = [_collate(list(col), payload) for col in zip(*batch)]
    if isinstance(elem, tuple):
        return columns  # PyTorch gives a list for tuple samples
    return _rebuild(elem, columns)


def _collate(batch, payload: bool):
    if isinstance(batch, StackedSamples):
        return _collate_stacked(batch.columns, payload)
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if _is_tensor(elem):
        return _stack_tensors(batch, payload)
    if isinstance(elem, np.ndarray):
        _check_same_shapes([a.shape for a in batch], "NumPy arrays")
        return _finish(np.stack(batch), payload)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, np.generic):
        return _finish(np.asarray(batch), payload)
    if isinstance(elem, (bool, int, float)):
        return _finish(_numbers(batch, elem), payload)
    if isinstance(elem, cabc.Mapping):
        return _rebuild(elem, {k: _collate([d[k] for d in batch], payload) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(_collate(list(col), payload) for col in zip(*batch)))
    if isinstance(elem, cabc.Sequence):
        return _collate_sequence(batch, payload)
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}. Convert it in the dataset or pass a custom collate_fn")


def _collate_stacked(columns, payload: bool):
    if _is_tensor(columns):
        return _ArrayPayload(tensor_to_numpy(columns)) if payload else columns
    if isinstance(columns, np.ndarray):
        return _finish(columns, payload)
    if isinstance(columns, list):  # one non-array item per sample (e.g. strings): kept as a list
        return list(columns)
    if isinstance(columns, cabc.Mapping):
        return _rebuild(columns, {k: _collate_stacked(v, payload) for k, v in columns.items()})
    if isinstance(columns, tuple) and hasattr(columns, "_fields"):
        return type(columns)(*(_collate_stacked(c, payload) for c in columns))
    if isinstance(columns, tuple):
        return [_collate_stacked(c, payload) for c in columns]
    raise TypeError(f"StackedSamples columns must be tensors, arrays, lists, tuples or dicts; "
                    f"found {type(columns).__name__}")


def default_collate(batch):
    """Stack a list of samples into a batch of ember tensors (PyTorch's ``default_collate`` rules).

    >>> import numpy as np
    >>> out = default_collate([(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 0)])
    >>> tuple(out[0].shape), out[0].dtype, out[1].tolist()
    ((2, 2), ember.float32, [1, 0])
    """
    return _collate(batch, payload=False)


def collate_payload(batch):
    """``default_collate`` as run inside a worker: NumPy payloads instead of tensors."""
    return _collate(batch, payload=True)


def _convert(data, payload: bool):
    if _is_tensor(data):
        return _ArrayPayload(tensor_to_numpy(data)) if payload else data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in _NON_NUMERIC_KINDS else _finish(data, payload)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _finish(np.asarray(data), payload)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, cabc.Mapping):
        return _rebuild(data, {k: _convert(v, payload) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_convert(d, payload) for d in data))
    if isinstance(data, tuple):
        return [_convert(d, payload) for d in data]
    if isinstance(data, cabc.Sequence):
        return _rebuild(data, [_convert(d, payload) for d in data])
    return data


def default_convert(data):
    """Turn NumPy arrays (and NumPy scalars) inside ``data`` into ember tensors, leaving the rest as is.
    Used when a DataLoader does no batching (``batch_size=None``).

    >>> import numpy as np
    >>> default_convert({"x": np.arange(3)})["x"].tolist()
    [0, 1, 2]
    """
    return _convert(data, payload=False)


def convert_payload(data):
    """``default_convert`` as run inside a worker."""
    return _convert(data, payload=True)


def _walk(obj, leaf):
    """Apply ``leaf`` to every non-container value of a nest of dicts, lists and tuples."""
    if isinstance(obj, cabc.Mapping):
        return _rebuild(obj, {k: _walk(v, leaf) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_walk(v, leaf) for v in obj))
    if isinstance(obj, (list, tuple)):
        return _rebuild(obj, [_walk(v, leaf) for v in obj])
    return leaf(obj)


def pack(obj):
    """Replace every ember tensor in ``obj`` by an ``_ArrayPayload`` (so it can cross processes)."""
    return _walk(obj, lambda x: _ArrayPayload(tensor_to_numpy(x)) if _is_tensor(x) else x)


def unpack(obj):
    """Turn every ``_ArrayPayload`` in ``obj`` back into an ember tensor (zero-copy)."""
    return _walk(obj, lambda x: _ember().from_numpy(x.array) if isinstance(x, _ArrayPayload) else x)


def worker_collate(collate_fn):
    """The function a worker runs on fetched samples: PyTorch's semantics of ``collate_fn``, with every
    tensor in the result turned into a payload for the trip to the main process."""
    if collate_fn is default_collate:
        return collate_payload
    if collate_fn is default_convert:
        return convert_payload
    return lambda batch: pack(collate_fn(batch))
