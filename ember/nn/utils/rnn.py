"""Sequence helpers for the recurrent layers: padding (pad_sequence / unpad_sequence) and packing
(PackedSequence, pack_padded_sequence, pad_packed_sequence, pack_sequence, unpack_sequence), as in
torch.nn.utils.rnn.

A packed batch stores the valid time steps only, time-major: the ``batch_sizes[t]`` sequences still running at
step ``t`` (longest first) follow those of step ``t - 1``. ``nn.RNN``/``LSTM``/``GRU`` take one and return one.
Packing and unpacking are gathers with host-built index tables, so gradients flow through them. The lengths
(``batch_sizes``) are read as data: under ``ember.compile`` lengths that come from a traced tensor are a graph
break; lengths given as Python numbers are constants of the graph.

>>> import ember
>>> from ember.nn.utils.rnn import pack_sequence, pad_packed_sequence, pad_sequence
>>> pad_sequence([ember.ones(3), ember.ones(1)], batch_first=True)
tensor([[1., 1., 1.],
        [1., 0., 0.]])
>>> packed = pack_sequence([ember.tensor([1., 2., 3.]), ember.tensor([4.])])
>>> packed.data, packed.batch_sizes
(tensor([1., 4., 2., 3.]), tensor([2, 1, 1]))
>>> pad_packed_sequence(packed, batch_first=True)
(tensor([[1., 2., 3.],
        [4., 0., 0.]]), tensor([3, 1]))
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import creation
from ...errors import mark, with_user_line
from ...functional.shape import cat, stack
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence", "pad_sequence", "unpad_sequence"]


def _err(exc, skip=3):
    return mark(with_user_line(exc, skip))


# -- index tables (host arrays built from the batch sizes) ----------------------------------------------------
def sorted_lengths(batch_sizes) -> list:
    """The length of each sequence of a packed batch, longest first, from its ``batch_sizes`` (a list)."""
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    top = int(sizes[0]) if sizes.size else 0
    return [int(v) for v in (sizes[None, :] > np.arange(top)[:, None]).sum(1)]


def packed_rows(batch_sizes, stride_t, stride_b, order=None):
    """For every packed row (time-major), its row in a flattened padded layout whose element (t, k) is row
    ``t * stride_t + order[k] * stride_b`` (``order``: the batch column of the k-th longest sequence)."""
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    cols = np.arange(int(sizes[0]) if sizes.size else 0)
    cols = cols if order is None else np.asarray(order, dtype=np.int64)
    t_of = np.repeat(np.arange(sizes.size), sizes)
    k_of = np.concatenate([np.arange(n) for n in sizes]) if sizes.size else np.zeros(0, np.int64)
    return t_of * stride_t + cols[k_of] * stride_b


def padded_rows(batch_sizes, total, batch_first=False):
    """For every element of a padded (total, B) layout ((B, total) with ``batch_first``), flattened, its row in
    the packed data, or ``N`` (one past the last packed row) where it is padding. Columns in sorted order."""
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    b = int(sizes[0])
    table = np.full((total, b), int(sizes.sum()), dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for t, n in enumerate(sizes):
        table[t, :n] = offset[t] + np.arange(n)
    return (table.T if batch_first else table).reshape(-1)


def _index(values, like):
    return creation.tensor(np.ascontiguousarray(values, dtype=np.int64), device=like.device)


# -- the packed batch ---------------------------------------------------------------------------------------
class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of variable-length sequences with only their valid steps stored: ``data`` (N, *) time-major,
    ``batch_sizes`` (an int64 CPU tensor: how many sequences are still running at each step), and
    ``sorted_indices`` / ``unsorted_indices`` (the batch order by decreasing length and back; None when the
    batch was given sorted). Made by pack_padded_sequence / pack_sequence, not by hand.

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence
    >>> p = pack_sequence([ember.ones(1, 2), ember.ones(2, 2)], enforce_sorted=False)
    >>> p.batch_sizes, p.sorted_indices, p.double().data.dtype, p.is_cuda
    (tensor([2, 1]), tensor([1, 0]), ember.float64, False)
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)): the pair as one argument
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = creation.tensor(list(batch_sizes), dtype="int64")
        if batch_sizes.device.type != "cpu":
            raise _err(ValueError(f"PackedSequence: batch_sizes must be a CPU tensor (it is read on the host at "
                                  f"every step), got one on {batch_sizes.device}"))
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)``; the indices follow the data's device (``batch_sizes`` stays on the CPU)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))  # noqa: E731
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        return self.to(self.data.cuda(*args, **kwargs).device)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype="float64")

    def float(self):
        return self.to(dtype="float32")

    def half(self):
        return self.to(dtype="float16")

    def long(self):
        return self.to(dtype="int64")

    def int(self):
        return self.to(dtype="int32")

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return self.data.is_pinned()


def invert_permutation(permutation):
    """The inverse of a permutation tensor (``out[permutation[i]] = i``), or None for None.

    >>> import ember
    >>> from ember.nn.utils.rnn import invert_permutation
    >>> invert_permutation(ember.tensor([2, 0, 1]))
    tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    positions = creation.arange(permutation.shape[0], dtype=permutation.dtype, device=permutation.device)
    return creation.zeros_like(permutation).scatter(0, permutation, positions)


def _host_lengths(lengths, batch):
    """``lengths`` (a list or a 1-D CPU tensor) as Python ints, checked against the batch size."""
    if isinstance(lengths, Tensor):
        if lengths.device.type != "cpu" or lengths.ndim != 1:
            raise _err(RuntimeError(
                f"pack_padded_sequence: lengths must be a 1-D CPU tensor or a list, got a {lengths.ndim}-D tensor "
                f"on {lengths.device} (the lengths are read on the host: pass lengths.cpu())"), 4)
        values = lengths.tolist()  # read as data (a graph break under ember.compile when traced)
    else:
        values = list(np.asarray(lengths).reshape(-1).tolist())
    values = [int(v) for v in values]
    if len(values) != batch:
        raise _err(RuntimeError(f"pack_padded_sequence: got {len(values)} lengths for a batch of {batch}"), 4)
    return values


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) whose sequence ``b`` has ``lengths[b]``
    valid steps. With ``enforce_sorted`` the lengths must be decreasing; otherwise the batch is sorted here
    (stably) and the order kept in ``sorted_indices`` to be undone by the RNN and pad_packed_sequence.

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_padded_sequence
    >>> x = ember.tensor([[1., 4.], [2., 0.], [3., 0.]])  # (T=3, B=2), lengths 3 and 1
    >>> pack_padded_sequence(x, [3, 1])
    PackedSequence(data=tensor([1., 4., 2., 3.]), batch_sizes=tensor([2, 1, 1]), sorted_indices=None, \
unsorted_indices=None)
    """
    if not isinstance(input, Tensor) or input.ndim < 2:
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise _err(ValueError(f"pack_padded_sequence: expected a padded tensor of at least 2 dims, got {got}"))
    b_dim, t_dim = (0, 1) if batch_first else (1, 0)
    values = _host_lengths(lengths, input.shape[b_dim])
    if any(v <= 0 for v in values) or any(v > input.shape[t_dim] for v in values):
        raise _err(RuntimeError(
            f"pack_padded_sequence: every length must be in 1..{input.shape[t_dim]} (the padded length), got "
            f"{values}; drop the empty sequences before packing"))
    if enforce_sorted:
        if any(a < b for a, b in zip(values, values[1:])):
            raise _err(RuntimeError(
                f"pack_padded_sequence: lengths {values} are not in decreasing order, which enforce_sorted=True "
                "requires; sort the batch, or pass enforce_sorted=False to have it sorted (and unsorted) for you"))
        order, sorted_idx = None, None
    else:
        order = np.argsort(-np.asarray(values), kind="stable")
        sorted_idx = _index(order, input)
    ordered = sorted(values, reverse=True)
    sizes = [sum(v > t for v in ordered) for t in range(ordered[0])]
    strides = (1, input.shape[1]) if batch_first else (input.shape[1], 1)
    rows = packed_rows(sizes, *strides, order=order)
    flat = input.reshape((-1,) + tuple(input.shape[2:]))
    data = flat.index_select(0, _index(rows, input))
    return PackedSequence(data, creation.tensor(sizes, dtype="int64"), sorted_idx, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo packing: the padded batch (T, B, *) (or (B, T, *)) in the original batch order, filled with
    ``padding_value`` past each sequence's end and out to ``total_length`` steps if given, and the lengths
    (an int64 CPU tensor).

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> out, lengths = pad_packed_sequence(pack_sequence([ember.ones(2), ember.ones(1)]), padding_value=-1.0)
    >>> out.tolist(), lengths.tolist()
    ([[1.0, 1.0], [1.0, -1.0]], [2, 1])
    """
    if not isinstance(sequence, PackedSequence):
        raise _err(TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}"))
    data, batch_sizes, _, unsorted = sequence
    sizes = batch_sizes.tolist()  # read as data (a graph break under ember.compile when traced)
    steps = len(sizes)
    if total_length is None:
        total_length = steps
    elif total_length < steps:
        raise _err(ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than the longest "
                              f"sequence ({steps} steps); pass at least {steps}"))
    fill = data.new_full((1,) + tuple(data.shape[1:]), padding_value)
    rows = padded_rows(sizes, total_length, batch_first)
    padded = cat([data, fill]).index_select(0, _index(rows, data))
    layout = (sizes[0], total_length) if batch_first else (total_length, sizes[0])
    padded = padded.reshape(layout + tuple(data.shape[1:]))
    lengths = creation.tensor(sorted_lengths(sizes), dtype="int64")
    if unsorted is not None:
        padded = padded.index_select(0 if batch_first else 1, unsorted)
        lengths = lengths.index_select(0, unsorted.cpu())
    return padded, lengths


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) (``pad_sequence`` then ``pack_padded_sequence``).

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence
    >>> pack_sequence([ember.tensor([1, 2]), ember.tensor([3])]).data
    tensor([1, 3, 2])
    """
    seqs = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Undo pack_sequence: the list of tensors (L_i, *) in their original order.

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence, unpack_sequence
    >>> unpack_sequence(pack_sequence([ember.tensor([3]), ember.tensor([1, 2])], enforce_sorted=False))
    [tensor([3]), tensor([1, 2])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length tensors (L_i, *) into (max_L, B, *) (or (B, max_L, *)), filling with
    ``padding_value`` on ``padding_side`` ('right' or 'left'). Gradients flow back to every sequence.

    >>> import ember
    >>> from ember.nn.utils.rnn import pad_sequence
    >>> pad_sequence([ember.ones(2), ember.ones(1)], batch_first=True, padding_side="left")
    tensor([[1., 1.],
            [0., 1.]])
    """
    seqs = list(sequences.unbind(0)) if isinstance(sequences, Tensor) else list(sequences)
    if not seqs:
        raise mark(with_user_line(ValueError("pad_sequence: received an empty list of sequences"), 2))
    if padding_side not in ("right", "left"):
        raise mark(with_user_line(ValueError(
            f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}"), 2))
    trailing = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor) or s.ndim < 1 or tuple(s.shape[1:]) != trailing:
            got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
            raise mark(with_user_line(RuntimeError(
                f"pad_sequence: every sequence must be a tensor (L, *) with the same trailing dims "
                f"{trailing}; sequence {i} has shape {got}"), 2))
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        n = longest - s.shape[0]
        if n:
            fill = s.new_full((n,) + trailing, padding_value)
            s = cat([s, fill]) if padding_side == "right" else cat([fill, s])
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of pad_sequence: a list of the unpadded sequences, given their ``lengths``.

    >>> import ember
    >>> from ember.nn.utils.rnn import unpad_sequence
    >>> unpad_sequence(ember.tensor([[1, 2], [3, 0]]), [2, 1], batch_first=True)
    [tensor([1, 2]), tensor([3])]
    """
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(lengths)]
