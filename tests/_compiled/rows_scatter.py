"""Differential rows for the scatters with a reduction (every ``scatter_reduce`` mode, both ``include_self``,
``index_reduce``, the in-place forms), the ``*_scatter`` writes and ``frexp``: each a Linear's output through
the op, trained a few steps eagerly and compiled."""
from __future__ import annotations

import ember

from .harness import Row
from .rows_more import _op_program

_IDX = ember.tensor([[0, 0, 2], [1, 3, 1], [2, 2, 2], [0, 3, 0], [1, 1, 0]])  # repeated positions per row


def _reduces(h):
    outs = [h.scatter_reduce(1, _IDX, h[:, :3] * 0.5, r, include_self=inc)
            for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)]
    return tuple(outs)


def _index_reduces(h):
    idx = ember.tensor([0, 2, 0])
    base = h * 1.0
    base.index_reduce_(0, idx, h[1:4] * 0.5, "amax")
    other = h * 1.0
    other.scatter_reduce_(-1, _IDX, h[:, 1:], "mean", include_self=False)
    return base, other, ember.index_reduce(h, 1, ember.tensor([3, 3]), h[:, :2], "prod", include_self=False)


def _writes(h):
    return (ember.select_scatter(h, h[0] * 2, 0, 1), ember.slice_scatter(h, h[:, :2].exp(), 1, 1, None, 2),
            ember.diagonal_scatter(h, h[:4, 0] ** 2), h.diagonal_scatter(h[1:, 2], -1))


OPS = [
    ("scatter_reduce-every-mode", _reduces, 4, 5),
    ("index_reduce_-scatter_reduce_-index_reduce", _index_reduces, 4, 5),
    ("select-slice-diagonal_scatter", _writes, 4, 5),
    ("frexp-mantissa", lambda h: ember.frexp(h * 3.0)[0] * ember.frexp(h)[1].float(), 4, 5),
]

ROWS = [Row(f"op-{name}", (lambda f=f, n=n, b=b: _op_program(f, n, b))) for name, f, n, b in OPS]
