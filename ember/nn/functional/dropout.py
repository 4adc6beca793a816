"""dropout and dropout2d: masks drawn with ``ember.rand`` (the random primitive, so compiled graphs redraw).

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

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout"]


def _check_p(p, name):
    if not 0.0 <= p <= 1.0:
        raise mark(with_user_line(ValueError(f"{name}: dropout probability has to be between 0 and 1, but "
                                             f"got {p}"),
                                  3))


def _apply_mask(input, mask_shape, p, inplace):
    if p == 1.0:
        out = input * 0.0
    else:
        u = rand(*mask_shape, dtype=input.dtype, device=input.device)
        keep = cast(apply("ge", u, u._scalar(float(p))), input.dtype)
        out = input * (keep * (1.0 / (1.0 - p)))
    if inplace and not (STATE.grad_enabled and input.requires_grad):
        input._data[...] = out._data
        input._bump("dropout")
        return input
    return out


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


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p, "alpha_dropout")
    if not training or p == 0.0:
        return input
    alpha = -1.7580993408473766
    a = (1.0 / ((1 - p) * (1 + p * alpha * alpha))) ** 0.5
    b = -a * alpha * p
    u = rand(*input.shape, dtype=input.dtype, device=input.device)
    keep = cast(apply("ge", u, u._scalar(float(p))), input.dtype)
    return (input * keep + (1 - keep) * alpha) * a + b
