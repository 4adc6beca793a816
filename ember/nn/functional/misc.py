"""Odds and ends of torch.nn.functional: pad (from ember.functional.shape), cosine_similarity,
pairwise_distance.

>>> import ember
>>> import ember.nn.functional as F
>>> F.pad(ember.ones(1, 2), (1, 1)).tolist()
[[0.0, 1.0, 1.0, 0.0]]
"""
from __future__ import annotations

from ..._autocast import autocast_op
from ...functional.shape import pad

__all__ = ["pad", "cosine_similarity", "pairwise_distance"]


@autocast_op
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / max(||x1|| * ||x2||, eps) along ``dim``.

    >>> F.cosine_similarity(ember.tensor([[1.0, 0.0], [1.0, 1.0]]), ember.tensor([[0.0, 1.0], [2.0, 2.0]]))
    tensor([0., 1.])
    """
    dot = (x1 * x2).sum(dim)
    n1 = (x1 * x1).sum(dim)
    n2 = (x2 * x2).sum(dim)
    return dot / (n1 * n2).clamp(min=eps * eps).sqrt()


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of ``x1 - x2 + eps`` along the last dim (row-wise distances).

    >>> F.pairwise_distance(ember.tensor([[0.0, 0.0]]), ember.tensor([[3.0, 4.0]]))
    tensor([5.0000])
    """
    return (x1 - x2 + eps).norm(p, dim=-1, keepdim=keepdim)
