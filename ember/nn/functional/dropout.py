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
from ...errors import mark, warn_user, with_user_line
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
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity when not training).

    >>> _ = ember.manual_seed(0)
    >>> y = F.dropout(ember.ones(2, 4), p=0.5)
    >>> sorted(set(y.flatten().tolist()))    # dropped (0) or scaled by 1 / (1 - p)
    [0.0, 2.0]
    >>> F.dropout(ember.ones(2), training=False)
    tensor([1., 1.])
    """
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    return _apply_mask(input, tuple(input.shape), p, inplace)


def _feature_dropout(input, p, training, inplace, name, mask_shape):
    _check_p(p, name)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, mask_shape, p, inplace)


def _channels_first(shape):
    """The mask shape of feature dropout: one draw per (N, C) entry, shared over the remaining dims."""
    return tuple(shape[:2]) + (1,) * (len(shape) - 2)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, L) or unbatched (C, L) input with probability ``p``.

    >>> _ = ember.manual_seed(0)
    >>> y = F.dropout1d(ember.ones(2, 3, 4), p=0.5)
    >>> bool((y.amin(dim=2) == y.amax(dim=2)).all())    # each channel is dropped or kept whole
    True
    """
    if input.ndim not in (2, 3):
        raise mark(with_user_line(RuntimeError(
            f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {tuple(input.shape)}. For "
            "elementwise dropout use F.dropout; for images F.dropout2d."), 2))
    shape = _channels_first(input.shape) if input.ndim == 3 else (input.shape[0], 1)
    return _feature_dropout(input, p, training, inplace, "dropout1d", shape)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (dim 1) of an (N, C, H, W) input with probability ``p``.

    Like PyTorch: a 3-D input is taken as (N, C, L) (channel-wise 1-D dropout) and other ranks are
    deprecated, each with a warning.

    >>> _ = ember.manual_seed(0)
    >>> y = F.dropout2d(ember.ones(2, 3, 4, 4), p=0.5)
    >>> bool((y.amin(dim=(2, 3)) == y.amax(dim=(2, 3))).all())
    True
    """
    if input.ndim < 2:
        raise mark(with_user_line(RuntimeError(
            f"dropout2d: feature dropout needs at least 2 dims (N, C, ...), got shape {tuple(input.shape)}; "
            "use F.dropout for elementwise dropout"), 2))
    if input.ndim not in (3, 4):
        warn_user(f"dropout2d: received a {input.ndim}-D input of shape {tuple(input.shape)}, which is "
                  "deprecated (PyTorch will make it an error); it is treated as (N, C, ...) with one draw per "
                  "(N, C) entry. Use F.dropout for this input, or give dropout2d a 3-D or 4-D one.")
    if input.ndim == 3:
        warn_user(f"dropout2d: received a 3-D input of shape {tuple(input.shape)}; as in PyTorch it is taken "
                  "as (N, C, L) (channel-wise 1-D dropout), not as an unbatched (C, H, W) image. Use "
                  "F.dropout1d to say so, or add the batch dim (x.unsqueeze(0)) for an image.")
    return _feature_dropout(input, p, training, inplace, "dropout2d", _channels_first(input.shape))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, D, H, W) or unbatched (C, D, H, W) input with probability ``p``.

    >>> _ = ember.manual_seed(0)
    >>> F.dropout3d(ember.ones(2, 3, 2, 2, 2), p=0.5).shape
    ember.Size([2, 3, 2, 2, 2])
    """
    if input.ndim < 1:
        raise mark(with_user_line(RuntimeError("dropout3d: expected a 4-D or 5-D input, got a 0-d tensor"), 2))
    if input.ndim not in (4, 5):
        warn_user(f"dropout3d: received a {input.ndim}-D input of shape {tuple(input.shape)}, which is "
                  "deprecated (PyTorch will make it an error); it is treated as unbatched (C, ...). Give "
                  "dropout3d a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input.")
    shape = _channels_first(input.shape) if input.ndim == 5 else (input.shape[0],) + (1,) * (input.ndim - 1)
    return _feature_dropout(input, p, training, inplace, "dropout3d", shape)


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
