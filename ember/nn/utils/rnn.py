"""Sequence helpers for the recurrent layers (torch.nn.utils.rnn.pad_sequence / unpad_sequence).

>>> import ember
>>> from ember.nn.utils.rnn import pad_sequence
>>> pad_sequence([ember.ones(3), ember.ones(1)], batch_first=True)
tensor([[1., 1., 1.],
        [1., 0., 0.]])
"""
from __future__ import annotations

from ...errors import mark, with_user_line
from ...functional.shape import cat, stack
from ...tensor import Tensor

__all__ = ["pad_sequence", "unpad_sequence"]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length tensors (L_i, *) into (max_L, B, *) (or (B, max_L, *)), filling with
    ``padding_value`` on ``padding_side`` ('right' or 'left'). Gradients flow back to every sequence."""
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
    """The inverse of pad_sequence: a list of the unpadded sequences, given their ``lengths``."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(lengths)]
