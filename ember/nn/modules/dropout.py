"""Dropout layers (active in training mode, identity in eval mode)."""
from __future__ import annotations

from ...errors import mark
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise mark(ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, "
                                  f"but got {p}"))
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes elements with probability ``p`` during training and scales the rest by 1/(1-p).

    >>> import ember
    >>> from ember import nn
    >>> m = nn.Dropout(0.5).eval()
    >>> bool((m(ember.ones(3)) == 1).all())
    True
    """

    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.Dropout1d(0.5)(ember.ones(2, 3, 4)).shape
    ember.Size([2, 3, 4])
    """

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) inputs with probability ``p``.

    >>> import ember
    >>> from ember import nn
    >>> nn.Dropout2d(0.5)(ember.ones(2, 3, 4, 4)).shape
    ember.Size([2, 3, 4, 4])
    """

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.Dropout3d(0.5)(ember.ones(1, 2, 2, 2, 2)).shape
    ember.Size([1, 2, 2, 2, 2])
    """

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps the mean and variance of SELU activations.

    >>> import ember
    >>> from ember import nn
    >>> nn.AlphaDropout(0.2)(ember.ones(2, 3)).shape
    ember.Size([2, 3])
    """

    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout over whole channels (dim 1) of (N, C, ...) inputs.

    >>> import ember
    >>> from ember import nn
    >>> nn.FeatureAlphaDropout(0.2)(ember.ones(2, 3, 4)).shape
    ember.Size([2, 3, 4])
    """

    _fn = staticmethod(F.feature_alpha_dropout)
