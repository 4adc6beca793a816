"""Random draws for samplers and loaders.

Each draw takes one 62-bit seed from an ``ember.Generator`` (or Ember's global generator) and does the rest
with a NumPy ``Generator`` seeded from it. So ``ember.manual_seed(s)`` or ``Generator().manual_seed(s)`` fixes
every permutation, and each epoch advances the Ember generator exactly once per draw.
"""
from __future__ import annotations

import numpy as np

SEED_BOUND = 2**62


def draw_seed(generator=None) -> int:
    """A seed in ``[0, 2**62)`` drawn from ``generator`` (``ember.Generator``, ``numpy.random.Generator``
    or None for Ember's global generator)."""
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(0, SEED_BOUND))
    from ember.random import Generator, numpy_generator

    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(f"generator must be an ember.Generator (or None for the global one), "
                        f"got {type(generator).__name__}")
    return int(numpy_generator(generator).integers(0, SEED_BOUND))


def numpy_rng(generator=None) -> np.random.Generator:
    """A fresh NumPy generator seeded by one draw from ``generator``."""
    return np.random.default_rng(draw_seed(generator))


def randperm(n: int, generator=None) -> list[int]:
    """A random permutation of ``range(n)`` as a list of ints."""
    return numpy_rng(generator).permutation(n).tolist()
