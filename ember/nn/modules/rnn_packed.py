"""RNN, LSTM and GRU over a PackedSequence (``RNNBase.forward`` comes here for one).

The packed steps are gathered into a padded (T, B, I) batch in sorted order (longest first) and run through
the ordinary layers with a ``Lengths`` that changes three things, each sequence keeping to its own steps:

- the reverse direction reverses each sequence within its own length (a gather), so that it starts at the
  sequence's last valid step and the padding stays at the end;
- the final state of each sequence is read at its own last valid step: the fused LSTM (``lstm_seq``) runs on
  through the padding (outputs there are discarded: they are never read, so their gradients are zero) and the
  final h and c are gathered from its stacked states; the cell loop (GRU, RNN, LSTM with ``fused=False``)
  keeps a finished sequence's state with ``where(t < length, new, old)``, so nothing grows in the padding;
- the outputs are gathered back into the packed layout.

``h_0``/``c_0`` are given in the batch's original order: they are put in sorted order, and ``h_n``/``c_n``
returned in the original order, as PyTorch does. The batch sizes are read on the host (data: a graph break
under ``ember.compile`` when they come from a traced tensor, constants of the graph otherwise).
"""
from __future__ import annotations

import numpy as np

from ... import creation
from ...errors import mark, with_user_line
from ...functional.shape import cat
from ..utils.rnn import PackedSequence, packed_rows, padded_rows, sorted_lengths

__all__ = ["Lengths", "packed_forward"]


class Lengths:
    """The sorted lengths of a packed batch on ``device``, and the gathers the layers need.

    >>> import ember
    >>> lens = Lengths([2, 1, 1], "cpu")  # lengths 3 and 1
    >>> seq = ember.tensor([[1, 4], [2, 0], [3, 0]]).unsqueeze(-1)  # (T, B, 1)
    >>> lens.reverse(seq)[:, :, 0].tolist(), lens.final(seq)[:, 0].tolist()
    ([[3, 4], [2, 0], [1, 0]], [3, 4])
    """

    def __init__(self, batch_sizes, device):
        self.sizes = list(batch_sizes)
        self.steps, self.batch = len(self.sizes), self.sizes[0]
        lengths = np.asarray(sorted_lengths(self.sizes), dtype=np.int64)
        t = np.arange(self.steps)[:, None]
        within = t < lengths[None, :]  # (T, B): the valid steps
        rev = np.where(within, lengths[None, :] - 1 - t, t)
        index = lambda a: creation.tensor(np.ascontiguousarray(a, dtype=np.int64), device=device)  # noqa: E731
        self.last = index(lengths - 1).reshape(1, -1, 1)
        self.rev = index(rev).unsqueeze(-1)
        self.mask = creation.tensor(within[:, :, None], device=device)
        self._pad_rows = index(padded_rows(self.sizes, self.steps))
        self._pack_rows = index(packed_rows(self.sizes, self.batch, 1))

    def pad(self, data):
        """Packed (N, I) -> padded (T, B, I) (zeros past each sequence's end)."""
        rows = data.new_zeros((1,) + tuple(data.shape[1:]))
        padded = cat([data, rows]).index_select(0, self._pad_rows)
        return padded.reshape(self.steps, self.batch, *data.shape[1:])

    def pack(self, out):
        """Padded (T, B, F) -> packed (N, F)."""
        return out.reshape(self.steps * self.batch, *out.shape[2:]).index_select(0, self._pack_rows)

    def reverse(self, seq):
        """(T, B, F): each sequence's valid steps in reverse order, its padding left in place."""
        return seq.gather(0, self.rev.expand(*seq.shape))

    def final(self, seq):
        """(T, B, F) -> (B, F): each sequence's element at its last valid step."""
        return seq.gather(0, self.last.expand(1, *seq.shape[1:]))[0]


def _err(exc, skip=4):
    return mark(with_user_line(exc, skip))


def _check(module, data):
    name = module._name
    if data.ndim != 2 or data.shape[-1] != module.input_size:
        raise _err(RuntimeError(f"{name}: a PackedSequence's data must be (N, input_size={module.input_size}), "
                                f"got {tuple(data.shape)}"))
    w = module.weight_ih_l0
    if data._data.dtype != w._data.dtype:
        raise _err(RuntimeError(f"{name}: input dtype {data.dtype.name} does not match the weights' "
                                f"{w.dtype.name}; convert with packed.to({w.dtype.name})"))


def _sorted_states(module, hx, x, sorted_idx):
    """The initial states as a list ([] for zeros), checked and put in the packed batch's sorted order."""
    if hx is None:
        return []
    h0, c0 = module._initial(hx, x.shape[1], x)
    states = [h0] if c0 is None else [h0, c0]
    for i, h in enumerate(states):
        module._check_hidden(h, x.shape[1], f"hidden[{i}]" if c0 is not None else "hx")
    if sorted_idx is not None:
        states = [h.index_select(1, sorted_idx) for h in states]
    return states


def packed_forward(module, packed: PackedSequence, hx=None):
    """``module`` (an RNNBase) over a PackedSequence: (PackedSequence output, h_n or (h_n, c_n))."""
    data, batch_sizes, sorted_idx, unsorted_idx = packed
    _check(module, data)
    sizes = batch_sizes.tolist()  # read as data (a graph break under ember.compile when traced)
    lens = Lengths(sizes, data.device)
    x = lens.pad(data)
    states = _sorted_states(module, hx, x, sorted_idx)
    outs = module._layers(x, states, lens)
    finals = list(outs[1:])
    if unsorted_idx is not None:
        finals = [h.index_select(1, unsorted_idx) for h in finals]
    out = PackedSequence(lens.pack(outs[0]), batch_sizes, sorted_idx, unsorted_idx)
    return out, (finals[0] if len(finals) == 1 else tuple(finals))
