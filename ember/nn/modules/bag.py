"""EmbeddingBag: sums, means or maxima over bags of embedding rows (PyTorch's ``nn.EmbeddingBag``)."""
from __future__ import annotations

from ... import creation
from ...autograd import no_grad
from ...errors import mark, with_user_line
from .. import functional as F
from .. import init
from .module import Module, Parameter

__all__ = ["EmbeddingBag"]


class EmbeddingBag(Module):
    """``num_embeddings`` vectors of size ``embedding_dim`` (initialised N(0, 1)); ``forward(input, offsets)``
    returns one row per bag, reduced by ``mode`` ('mean' by default, 'sum' or 'max').

    >>> import ember
    >>> from ember import nn
    >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
    >>> bag(ember.tensor([1, 2, 4, 5, 4]), ember.tensor([0, 2])).shape
    ember.Size([2, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None,
                 device=None, dtype=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise mark(with_user_line(ValueError(
                f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}"), 2))
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise mark(with_user_line(ValueError(
                    f"EmbeddingBag: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})"),
                    2))
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(creation.empty(num_embeddings, embedding_dim, device=device, dtype=dtype))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise mark(with_user_line(ValueError(
                    f"EmbeddingBag: _weight has shape {tuple(_weight.shape)}, expected ({num_embeddings}, "
                    f"{embedding_dim})"), 2))
            self.weight = Parameter(_weight)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        if embeddings.dim() != 2:
            raise mark(with_user_line(ValueError(
                f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}"), 2))
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings.detach(),
                  include_last_offset, padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag
