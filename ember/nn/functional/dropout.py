"""dropout, dropout1d/2d/3d, alpha_dropout, feature_alpha_dropout: masks drawn with ``ember.rand`` (the random
primitive, so a compiled graph draws a fresh mask on every call, from the generator eager code uses).

>>> import ember
>>> import ember.nn.functional as F
>>> x = ember.ones(4, 4)
>>> bool((F.dropout(x, 0.5, training=False) == x).all())
True
"""
from __future__ import annotations

from ..._state import STATE
from ...creation import rand
from ...errors import mark, with_user_line
from ...functional.math import cast
from ...ops import apply

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]


def _check_p(p, name):
    if not 0.0 <= p <= 1.0:
        raise mark(with_user_line(ValueError(f"{name}: dropout probability has to be between 0 and 1, but "
                                             f"got {p}"),
                                  3))


def _keep_mask(input, mask_shape, p):
    u = rand(*mask_shape, dtype=input.dtype, device=input.device)
    return cast(apply("ge", u, u._scalar(float(p))), input.dtype)


def _result(input, out, inplace):
    """``inplace=True`` overwrites ``input`` (``copy_``: versioned and traced) unless autograd records it."""
    if inplace and not (STATE.grad_enabled and input.requires_grad):
        return input.copy_(out)
    return out


def _apply_mask(input, mask_shape, p, inplace):
    if p == 1.0:
        out = input * 0.0
    else:
        out = input * (_keep_mask(input, mask_shape, p) * (1.0 / (1.0 - p)))
    return _result(input, out, inplace)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity when not training)."""
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    return _apply_mask(input, tuple(input.shape), p, inplace)


def _channel_dropout(input, p, training, inplace, name, min_dim):
    _check_p(p, name)
    if input.ndim < min_dim:
        raise mark(with_user_line(RuntimeError(
            f"{name}: expected an input with at least {min_dim} dims (N, C, ...), got shape "
            f"{tuple(input.shape)}"), 3))
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _apply_mask(input, shape, p, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _channel_dropout(input, p, training, inplace, "dropout1d", 2)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (dim 1) of an (N, C, H, W) input with probability ``p``."""
    return _channel_dropout(input, p, training, inplace, "dropout2d", 3)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _channel_dropout(input, p, training, inplace, "dropout3d", 4)


def _alpha_dropout(input, mask_shape, p, inplace):
    """SELU-preserving dropout: dropped units take SELU's negative saturation value, then an affine map
    restores zero mean and unit variance (PyTorch's formula)."""
    alpha = -1.7580993408473766
    a = (1.0 / ((1 - p) * (1 + p * alpha * alpha))) ** 0.5
    b = -a * alpha * p
    keep = _keep_mask(input, mask_shape, p)
    return _result(input, (input * keep + (1 - keep) * alpha) * a + b, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: keeps the mean and variance of the activations.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.alpha_dropout(ember.ones(2, 3), 0.2, training=False).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    _check_p(p, "alpha_dropout")
    if not training or p == 0.0:
        return input
    return _alpha_dropout(input, tuple(input.shape), p, inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout over whole channels (dim 1) of an (N, C, ...) input.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.feature_alpha_dropout(ember.ones(2, 3, 4), 0.5, training=True).shape
    ember.Size([2, 3, 4])
    """
    _check_p(p, "feature_alpha_dropout")
    if input.ndim < 2:
        raise mark(with_user_line(RuntimeError(
            f"feature_alpha_dropout: expected an input with at least 2 dims (N, C, ...), got shape "
            f"{tuple(input.shape)}"), 2))
    if not training or p == 0.0:
        return input
    return _alpha_dropout(input, tuple(input.shape[:2]) + (1,) * (input.ndim - 2), p, inplace)
