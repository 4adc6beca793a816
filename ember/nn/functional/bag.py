"""embedding_bag: sums, means or maxima of bags of embedding rows, without materialising the per-bag lists.

>>> import ember
>>> import ember.nn.functional as F
>>> w = ember.arange(8.0).reshape(4, 2)
>>> F.embedding_bag(ember.tensor([0, 1, 3]), w, ember.tensor([0, 2]), mode="sum")
tensor([[2., 4.],
        [6., 7.]])
"""
from __future__ import annotations

import numpy as np

from ...errors import mark, with_user_line
from ...tensor import Tensor
from .sparse import _as_index, embedding

__all__ = ["embedding_bag"]


def _err(kind, msg):
    return mark(with_user_line(kind(msg), 3))


def _bags(input, offsets, include_last_offset):
    """``(flat indices, bag id per index (NumPy), number of bags)``."""
    if input.ndim == 2:
        if offsets is not None:
            raise _err(ValueError, "embedding_bag: offsets must be None when input is 2-D (each row is a bag), got "
                                   f"offsets of shape {tuple(offsets.shape)}")
        b, n = input.shape
        return input.reshape(-1), np.repeat(np.arange(b), n), b
    if input.ndim != 1:
        raise _err(ValueError, f"embedding_bag: input must be 1-D (with offsets) or 2-D (one bag per row), got "
                               f"shape {tuple(input.shape)}")
    if offsets is None:
        raise _err(ValueError, "embedding_bag: a 1-D input needs offsets (the start of each bag), e.g. "
                               "offsets=ember.tensor([0, 3]) for bags input[0:3] and input[3:]")
    off = np.asarray(offsets.detach().numpy() if isinstance(offsets, Tensor) else offsets, dtype=np.int64)
    if off.ndim != 1 or (off.size and (off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] > input.shape[0])):
        raise _err(ValueError, f"embedding_bag: offsets must be 1-D, start at 0, not decrease and stay within the "
                               f"input's {input.shape[0]} indices; got {off.tolist()}")
    ends = np.append(off[1:], input.shape[0])
    if include_last_offset:
        off, ends = off[:-1], off[1:]
    return input, np.repeat(np.arange(len(off)), ends - off), len(off)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """One row per bag: the ``mode`` ('sum', 'mean' or 'max') of the embeddings of its indices (PyTorch's
    ``F.embedding_bag``; empty bags give zeros, ``padding_idx`` entries are left out).

    >>> w = ember.arange(8.0).reshape(4, 2)
    >>> F.embedding_bag(ember.tensor([[0, 1], [2, 3]]), w, mode="max")
    tensor([[2., 3.],
            [6., 7.]])
    """
    if mode not in ("sum", "mean", "max"):
        raise _err(ValueError, f"embedding_bag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    input = _as_index(input, "embedding_bag")
    if per_sample_weights is not None:
        if mode != "sum":
            raise _err(NotImplementedError, f"embedding_bag: per_sample_weights is only supported with mode='sum' "
                                            f"(got mode={mode!r}), as in PyTorch")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise _err(ValueError, f"embedding_bag: per_sample_weights has shape {tuple(per_sample_weights.shape)} "
                                   f"but input has shape {tuple(input.shape)}")
    flat, bag_ids, n_bags = _bags(input, offsets, include_last_offset)
    rows = embedding(flat, weight, None, max_norm, norm_type)
    keep = np.ones(len(bag_ids), bool) if padding_idx is None else \
        flat.detach().numpy() != (padding_idx % weight.shape[0])
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1)
    if not keep.all():
        from ...creation import tensor

        rows = rows * tensor(keep, dtype=rows.dtype).reshape(-1, 1)
    if mode == "max":
        return _bag_max(rows, bag_ids, keep, n_bags)
    from ...creation import tensor, zeros

    out = zeros(n_bags, weight.shape[1], dtype=weight.dtype, device=weight.device)
    out = out.index_add(0, tensor(bag_ids), rows)
    if mode == "mean":
        counts = np.bincount(bag_ids[keep], minlength=n_bags).astype(np.float64)
        out = out / tensor(np.maximum(counts, 1.0), dtype=out.dtype).reshape(-1, 1)
    return out


def _bag_max(rows, bag_ids, keep, n_bags):
    from ...functional.shape import stack

    out = []
    for b in range(n_bags):
        members = np.nonzero((bag_ids == b) & keep)[0]
        out.append(rows[members.tolist()].amax(0) if len(members) else rows.new_zeros(rows.shape[1]))
    return stack(out) if out else rows.new_zeros(0, rows.shape[1])
