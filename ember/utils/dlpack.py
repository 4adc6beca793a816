"""``torch.utils.dlpack``: share tensor memory with other array libraries through DLPack, without copying.

``to_dlpack(t)`` gives a capsule that a consumer takes once; ``from_dlpack(x)`` accepts a capsule or, better,
the producing object itself (anything with ``__dlpack__``: NumPy, CuPy, torch, JAX): a bare capsule is read
through NumPy, which makes it read-only (its legacy form cannot say whether writing is allowed), while the
object shares writable memory. Ember tensors have
``__dlpack__`` too, so ``np.from_dlpack(t)`` and ``torch.from_dlpack(t)`` work directly.

>>> import numpy as np, ember
>>> from ember.utils.dlpack import from_dlpack, to_dlpack
>>> t = ember.arange(3.0)
>>> back = from_dlpack(to_dlpack(t))
>>> t[0] = 7.0
>>> back
tensor([7., 1., 2.])
"""
from __future__ import annotations

from ..creation import from_dlpack

__all__ = ["from_dlpack", "to_dlpack"]


def to_dlpack(tensor):
    """A DLPack capsule of ``tensor``'s memory (read it once with a consumer's ``from_dlpack``)."""
    return tensor.__dlpack__()
