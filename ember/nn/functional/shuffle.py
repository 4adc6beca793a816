"""pixel_shuffle / pixel_unshuffle / channel_shuffle: rearrangements of channels and pixels (reshape +
permute composites, so gradients come for free).

>>> import ember
>>> import ember.nn.functional as F
>>> F.pixel_shuffle(ember.zeros(1, 8, 3, 3), 2).shape
ember.Size([1, 2, 6, 6])
"""
from __future__ import annotations

from ...errors import mark, with_user_line

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle"]


def _err(msg):
    return mark(with_user_line(RuntimeError(msg), 3))


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r block of pixels.

    >>> F.pixel_shuffle(ember.arange(8.0).reshape(1, 8, 1, 1), 2).shape
    ember.Size([1, 2, 2, 2])
    """
    r = int(upscale_factor)
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise _err(f"pixel_shuffle: expected an input of shape (*, C * {r}^2, H, W) with at least 3 dims, got "
                   f"{tuple(input.shape)}; its channel count must be divisible by upscale_factor^2 = {r * r}")
    *batch, c, h, w = input.shape
    oc = c // (r * r)
    x = input.reshape(*batch, oc, r, r, h, w)
    nb = len(batch)
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(*batch, oc, h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """The inverse of ``pixel_shuffle``: (*, C, H r, W r) -> (*, C r^2, H, W).

    >>> F.pixel_unshuffle(ember.ones(1, 2, 4, 4), 2).shape
    ember.Size([1, 8, 2, 2])
    """
    r = int(downscale_factor)
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise _err(f"pixel_unshuffle: expected an input of shape (*, C, H, W) with H and W divisible by "
                   f"downscale_factor={r}, got {tuple(input.shape)}")
    *batch, c, h, w = input.shape
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    nb = len(batch)
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """(N, g k, ...) -> channels regrouped as k groups of g (ShuffleNet's channel shuffle).

    >>> F.channel_shuffle(ember.arange(6.0).reshape(1, 6, 1, 1), 2).flatten()
    tensor([0., 3., 1., 4., 2., 5.])
    """
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise _err(f"channel_shuffle: {c} channels cannot be split into {groups} groups")
    rest = tuple(input.shape[2:])
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)
