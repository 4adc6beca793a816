"""``keras.random``: random tensors drawn through Ember's random primitives.

``seed`` arguments follow Keras:

- ``None``: numbers from Ember's global generator (the ``uniform`` / ``normal`` primitives), new on every call and
  reproduced by ``keras.utils.set_random_seed`` (or ``ember.manual_seed``);
- a ``SeedGenerator(seed=int)``: numbers from that generator's own stream (the ``keyed_uniform`` /
  ``keyed_normal`` primitives read its ``state`` ``[seed, counter]`` and each draw advances the counter), new on
  every call and reproduced by building the generator with the same seed, whatever the global seed;
  a ``SeedGenerator()`` without a seed draws from the global generator (and advances its counter);
- an ``int``: the same numbers on every call (the stream of ``SeedGenerator(seed)``'s first draw).

Every draw is a graph op and a generator's state is a tensor the graph reads and updates, so a compiled function
draws on each call exactly what the eager program draws.

>>> from ember import keras
>>> keras.utils.set_random_seed(0)
>>> tuple(keras.random.normal((2, 3)).shape)
(2, 3)
>>> bool((keras.random.uniform((4,), seed=7) == keras.random.uniform((4,), seed=7)).all())
True
>>> a, b = keras.random.SeedGenerator(3), keras.random.SeedGenerator(3)
>>> bool((keras.random.normal((4,), seed=a) == keras.random.normal((4,), seed=b)).all())
True
"""

from __future__ import annotations

import numpy as np

import ember
from ember import functional as F
from ember.autograd import no_grad
from ember.nn import functional as NF
from ember.ops import apply

from . import backend as K
from .layers.variable import Variable

_COUNT = [0]


class SeedGenerator:
    """Keras's per-layer random state: ``state`` is ``[seed, counter]``; ``next()`` advances the counter. With
    a ``seed`` the draws come from this generator's own stream; without one, from Ember's global generator."""

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


def _key(seed):
    """The ``[seed, counter]`` key a draw uses, or None for a draw from the global generator."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return K.convert(np.array([int(seed), 0], "int64"))
    if isinstance(seed, SeedGenerator):
        key = seed.next()
        return None if seed._initial_seed is None else key
    if seed is not None:
        raise ValueError(f"seed must be None, an int or a keras.random.SeedGenerator, got {seed!r}")
    return None


def _draw(kind, shape, dtype, seed):
    dtype = dtype or K.floatx()
    shape = tuple(int(d) for d in shape)
    key = _key(seed)
    if key is None:
        fn = ember.rand if kind == "uniform" else ember.randn
        return fn(*shape, dtype=ember.dtypes.from_np(np.dtype(dtype)))
    return apply(f"keyed_{kind}", key, shape=shape, dtype=np.dtype(dtype).name, device=str(key.device))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform numbers in ``[minval, maxval)``."""
    u = _draw("uniform", shape, dtype, seed)
    return u if (minval, maxval) == (0.0, 1.0) else u * (maxval - minval) + minval


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal numbers with ``mean`` and ``stddev``."""
    z = _draw("normal", shape, dtype, seed)
    return z if (mean, stddev) == (0.0, 1.0) else z * stddev + mean


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal numbers redrawn when further than two ``stddev`` from ``mean``: as Keras's torch backend, four
    candidates per value and the first inside (-2, 2) is kept (the ~4e-6 of values with none inside are clipped
    to the bound instead of kept outside).

    >>> from ember import keras
    >>> bool((keras.random.truncated_normal((1000,), seed=1).abs() < 2).all())
    True
    """
    shape = tuple(int(d) for d in shape)
    z = _draw("normal", shape + (4,), dtype, seed)
    valid = ((z > -2) & (z < 2)).to(ember.int8)
    first = valid.argmax(-1, keepdim=True)
    picked = z.gather(-1, first).squeeze(-1).clamp(-2.0, 2.0)
    return picked if (mean, stddev) == (0.0, 1.0) else picked * stddev + mean


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``."""
    u = uniform(shape, float(minval), float(maxval), "float32", seed)
    return F.clamp(F.floor(u), max=float(maxval - 1)).to(ember.dtypes.from_np(np.dtype(dtype)))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class ids per row of ``logits`` ``(batch, classes)`` (unnormalised log-probabilities),
    drawn by the Gumbel-max rule: ``argmax(logits + Gumbel noise)``; returns ``(batch, num_samples)``.

    >>> from ember import keras
    >>> keras.random.categorical([[0.0, 50.0], [50.0, 0.0]], 3, seed=1).tolist()
    [[1, 1, 1], [0, 0, 0]]
    """
    logits = K.convert(logits)
    if logits.ndim != 2:
        raise ValueError(f"keras.random.categorical: logits must be (batch, classes), got shape "
                         f"{tuple(logits.shape)}; for one distribution pass logits[None]")
    batch, classes = logits.shape
    u = uniform((batch, int(num_samples), classes), dtype=logits.dtype.name, seed=seed)
    gumbel = -(-(u.clamp(min=float(np.finfo(np.float32).tiny))).log()).log()
    picked = (logits.unsqueeze(1) + gumbel).argmax(-1)
    return picked.to(ember.dtypes.from_np(np.dtype(dtype)))


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
    if noise_shape is None and (seed is None or isinstance(seed, SeedGenerator) and seed._initial_seed is None):
        if seed is not None:
            seed.next()
        return NF.dropout(x, float(rate), training=True)  # the global generator's dropout primitive
    shape = tuple(x.shape) if noise_shape is None else tuple(
        s if n is None else int(n) for s, n in zip(x.shape, noise_shape))
    keep = uniform(shape, dtype=x.dtype.name, seed=seed) >= rate
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - rate)))


def _param_draw(kind, shape, params, dtype, seed):
    """A draw whose parameters (tensors or numbers, broadcast to ``shape``) are inputs of the primitive."""
    dtype = np.dtype(dtype or K.floatx()).name
    shape = tuple(int(d) for d in shape)
    params = [K.convert(np.asarray(p, "float32")) if not isinstance(p, ember.Tensor) else p for p in params]
    key = _key(seed)
    device = str(params[0].device)
    if key is None:
        return apply(kind, *params, shape=shape, dtype=dtype, device=device)
    return apply(f"keyed_{kind}", key, *params, shape=shape, dtype=dtype, device=device)


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma(``alpha``, scale 1) numbers.

    >>> from ember import keras
    >>> round(float(keras.random.gamma((20000,), alpha=3.0, seed=1).mean()), 1)
    3.0
    """
    return _param_draw("gamma", shape, [alpha], dtype, seed)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Beta(``alpha``, ``beta``) numbers in [0, 1]; the parameters broadcast against ``shape``."""
    return _param_draw("beta", shape, [alpha, beta], dtype, seed)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """The number of successes in ``counts`` trials of probability ``probabilities`` (broadcast against
    ``shape``), as floats of ``dtype`` (Keras's default: floatx)."""
    return _param_draw("binomial", shape, [counts, probabilities], dtype, seed)


__all__ = ["SeedGenerator", "uniform", "normal", "randint", "truncated_normal", "categorical", "shuffle", "dropout",
           "gamma", "beta", "binomial"]
