"""``keras.random``: random tensors drawn through Ember's random primitives (``uniform`` / ``normal``).

Those primitives draw from Ember's global generator when they run, so a compiled graph draws fresh numbers on
every call, in the same order and from the same generator state as the eager program: a run seeded with
``keras.utils.set_random_seed`` (or ``ember.manual_seed``) gives the same numbers compiled and eager.

``seed`` arguments follow Keras: ``None`` or a ``SeedGenerator`` draw new numbers on every call; an ``int``
gives the same numbers on every call (a fixed draw from that seed, a constant in a compiled graph). A
``SeedGenerator`` advances its ``state`` variable like Keras's, but its numbers come from the global
generator (reproducible through the global seed, not through the generator's own seed).

>>> from ember import keras
>>> keras.utils.set_random_seed(0)
>>> tuple(keras.random.normal((2, 3)).shape)
(2, 3)
>>> bool((keras.random.uniform((4,), seed=7) == keras.random.uniform((4,), seed=7)).all())
True
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.autograd import no_grad
from ember.nn import functional as NF

from . import backend as K
from .layers.variable import Variable

_COUNT = [0]


class SeedGenerator:
    """Keras's per-layer random state: ``state`` is ``[seed, counter]``; ``next()`` advances the counter."""

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs.pop("backend", None) is not None or kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments {sorted(kwargs)}")
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: seed must be an integer, got {seed!r}")
        _COUNT[0] += 1
        self.name = name or ("seed_generator" if _COUNT[0] == 1 else f"seed_generator_{_COUNT[0] - 1}")
        self._initial_seed = None if seed is None else int(seed)
        self.state = Variable(np.array([self._initial_seed or 0, 0], "int64"), name="seed_generator_state",
                              trainable=False, dtype="int64")

    def next(self, ordered=True):
        """The state before this draw (Keras's contract); the counter advances by one."""
        with no_grad():
            value = self.state.detach().clone()
            self.state.add_(K.convert(np.array([0, 1], "int64")))
        return value

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _fixed(seed, kind, shape, dtype, **params):
    """The numbers an ``int`` seed stands for (the same on every call)."""
    rng = np.random.default_rng(int(seed))
    arr = rng.uniform(size=shape) if kind == "uniform" else rng.standard_normal(size=shape)
    return K.convert(arr, dtype)


def _draw(kind, shape, dtype, seed):
    dtype = dtype or K.floatx()
    shape = tuple(int(d) for d in shape)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return _fixed(seed, kind, shape, dtype)
    if isinstance(seed, SeedGenerator):
        seed.next()
    elif seed is not None:
        raise ValueError(f"seed must be None, an int or a keras.random.SeedGenerator, got {seed!r}")
    fn = ember.rand if kind == "uniform" else ember.randn
    return fn(*shape, dtype=ember.dtypes.from_np(np.dtype(dtype)))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform numbers in ``[minval, maxval)``."""
    u = _draw("uniform", shape, dtype, seed)
    return u if (minval, maxval) == (0.0, 1.0) else u * (maxval - minval) + minval


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal numbers with ``mean`` and ``stddev``."""
    z = _draw("normal", shape, dtype, seed)
    return z if (mean, stddev) == (0.0, 1.0) else z * stddev + mean


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``."""
    u = uniform(shape, float(minval), float(maxval), "float32", seed)
    return F.clamp(F.floor(u), max=float(maxval - 1)).to(ember.dtypes.from_np(np.dtype(dtype)))


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order."""
    x = K.convert(x)
    order = uniform((x.shape[axis],), seed=seed).argsort()
    return x.index_select(axis, order)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero a ``rate`` fraction of ``inputs`` (one mask value per ``noise_shape`` entry, broadcast) and
    scale the rest by ``1 / (1 - rate)``: ``ember.nn.functional.dropout``."""
    x = K.convert(inputs)
    if rate == 0:
        return x
    if rate >= 1:
        return x * 0.0
    if noise_shape is None and not isinstance(seed, (int, np.integer)):
        if isinstance(seed, SeedGenerator):
            seed.next()
        return NF.dropout(x, float(rate), training=True)
    shape = tuple(x.shape) if noise_shape is None else tuple(
        s if n is None else int(n) for s, n in zip(x.shape, noise_shape))
    keep = uniform(shape, dtype=x.dtype.name, seed=seed) >= rate
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - rate)))


__all__ = ["SeedGenerator", "uniform", "normal", "randint", "shuffle", "dropout"]
