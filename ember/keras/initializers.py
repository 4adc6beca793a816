"""Keras initializers: ``glorot_uniform`` (the Dense/Conv kernel default), ``zeros``, ``orthogonal`` (LSTM/GRU
recurrent kernels), He/LeCun variants, random normal/uniform, constants. They return NumPy arrays.

Draws come from Ember's default generator (``keras.utils.set_random_seed`` seeds it) unless a
``seed`` is given.

>>> from ember.keras import initializers
>>> w = initializers.get("glorot_uniform")((784, 10))
>>> w.shape, bool(abs(w).max() <= (6 / 794) ** 0.5)
((784, 10), True)
"""

from __future__ import annotations

import math

import numpy as np

from ember import random as _random
from ember.errors import did_you_mean

from .backend import floatx


def compute_fans(shape):
    """``(fan_in, fan_out)`` like Keras: dense ``(in, out)``; conv kernels ``(*spatial, in, out)``."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``__call__(shape, dtype=None) -> np.ndarray``; ``get_config``/``from_config``."""

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        if self.seed is None:
            return _random.numpy_generator()
        return np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype)")

    def get_config(self):
        return {"seed": self.seed} if "seed" in vars(self) else {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    def __init__(self):
        pass

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype or floatx())


class Ones(Initializer):
    def __init__(self):
        pass

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype or floatx())


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype or floatx())

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        return (self.gain * np.eye(*shape)).astype(dtype or floatx())

    def get_config(self):
        return {"gain": self.gain}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, shape).astype(dtype or floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _truncated(rng, shape, stddev, mean=0.0):
    """Normal draws redrawn until within two standard deviations."""
    out = rng.normal(0.0, 1.0, shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2.0
    return mean + stddev * out


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None):
        return _truncated(self._rng(), shape, self.stddev, self.mean).astype(dtype or floatx())


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, shape).astype(dtype or floatx())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class VarianceScaling(Initializer):
    """Keras's variance scaling: ``scale / n`` with n = fan_in, fan_out or their mean."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes  # Keras 3.12+: fans over these axes

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        if self.input_axes is not None:
            fan_in = math.prod(shape[a] for a in self.input_axes)
        if self.output_axes is not None:
            fan_out = math.prod(shape[a] for a in self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            out = rng.uniform(-limit, limit, shape)
        elif self.distribution == "untruncated_normal":
            out = rng.normal(0.0, math.sqrt(var), shape)
        else:  # truncated at 2 sigma; 0.8796... is the std of a unit normal truncated there
            out = _truncated(rng, shape, math.sqrt(var) / 0.87962566103423978)
        return out.astype(dtype or floatx())

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _scaling(name, scale, mode, distribution):
    class Init(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    Init.__name__ = Init.__qualname__ = name
    return Init


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a normal draw."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype or floatx())

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


ALL = {
    c.__name__: c
    for c in (
        Zeros,
        Ones,
        Constant,
        Identity,
        RandomNormal,
        TruncatedNormal,
        RandomUniform,
        VarianceScaling,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
        Orthogonal,
    )
}
_ALIASES = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "identity": Identity,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "random_uniform": RandomUniform,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
    "uniform": RandomUniform,  # Keras 3's short aliases
    "normal": RandomNormal,
    "one": Ones,
    "zero": Zeros,
}


# Keras's lower-case names are the classes themselves (``initializers.glorot_uniform(seed=0)``)
zeros, ones, constant, identity, orthogonal = Zeros, Ones, Constant, Identity, Orthogonal
random_normal, truncated_normal, random_uniform, variance_scaling = (
    RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling)
glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal = (
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal)
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal


def get(identifier):
    """An initializer from a name (``"glorot_uniform"``), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or ALL.get(identifier)
        if cls is None:
            raise ValueError(f"unknown initializer {identifier!r}{did_you_mean(identifier, {**_ALIASES, **ALL})}; "
                             f"known: {', '.join(sorted(_ALIASES))}")
        return cls()
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"could not interpret initializer {identifier!r}")


def serialize(init):
    from .saving import serialize_keras_object

    return serialize_keras_object(init)


def deserialize(config, custom_objects=None):
    """The initializer described by ``config`` (from ``serialize``) or named by a string."""
    if isinstance(config, str) and not (custom_objects and config in custom_objects):
        return get(config)
    from .saving import deserialize_keras_object

    return deserialize_keras_object(config, {**ALL, **(custom_objects or {})})
