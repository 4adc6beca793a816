"""PyTorch's layout and memory-format names: ``ember.strided``, ``ember.contiguous_format``,
``ember.channels_last``, ``ember.channels_last_3d``, ``ember.preserve_format``.

A memory format is where the elements sit in memory, never what they are: ``x.contiguous(memory_format=
ember.channels_last)`` gives the same values with NHWC strides (channels vary fastest), and
``x.is_contiguous(memory_format=...)`` reads the strides. Every op accepts either layout. Ember's only layout is
``strided`` (dense arrays; ``sparse_coo_tensor`` keeps a dense array too).

>>> import ember
>>> x = ember.randn(2, 3, 4, 5).contiguous(memory_format=ember.channels_last)
>>> x.is_contiguous(memory_format=ember.channels_last), x.stride()
(True, (60, 1, 15, 3))
"""
from __future__ import annotations

from .errors import mark, with_user_line


class layout:  # noqa: N801  (torch's name)
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"ember.{self.name}"


class memory_format:  # noqa: N801  (torch's name)
    def __init__(self, name, order=None):
        self.name, self.order = name, order  # order: the dims from slowest to fastest varying in memory

    def __repr__(self):
        return f"ember.{self.name}"


strided = layout("strided")
contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last", (0, 2, 3, 1))
channels_last_3d = memory_format("channels_last_3d", (0, 2, 3, 4, 1))


def check_layout(fn: str, value) -> None:
    """``layout=`` arguments: None or ``ember.strided`` (the only layout Ember has)."""
    if value is not None and value is not strided:
        raise mark(with_user_line(ValueError(
            f"{fn}: layout {value!r} is not supported; Ember tensors are dense (layout=ember.strided)"), 3))


def check_format(fn: str, fmt, ndim: int | None = None):
    """``fmt`` checked (a memory_format; channels_last needs 4 dims, channels_last_3d 5) and returned."""
    if fmt is None:
        return contiguous_format
    if not isinstance(fmt, memory_format):
        raise mark(with_user_line(TypeError(f"{fn}: memory_format must be an ember memory format such as "
                                            f"ember.channels_last, got {fmt!r}"), 3))
    if fmt.order is not None and ndim is not None and ndim != len(fmt.order):
        raise mark(with_user_line(RuntimeError(
            f"{fn}: {fmt!r} needs a {len(fmt.order)}-d tensor, got {ndim} dims"), 3))
    return fmt


def dense_strides(shape, order) -> tuple:
    """Element strides of a dense array of ``shape`` whose dims lie in memory in ``order`` (slowest first)."""
    strides, step = [0] * len(shape), 1
    for d in reversed(order):
        strides[d] = step
        step *= shape[d]
    return tuple(strides)


def is_in_format(shape, strides, fmt) -> bool:
    """Whether element ``strides`` lay ``shape`` out densely in ``fmt``'s order (dims of size 1 may have any
    stride, as in PyTorch)."""
    order = fmt.order if fmt.order is not None else tuple(range(len(shape)))
    want = dense_strides(shape, order)
    return all(n == 1 or s == w for n, s, w in zip(shape, strides, want))
