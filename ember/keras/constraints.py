"""Weight constraints (``kernel_constraint=keras.constraints.MaxNorm(3)`` or ``'max_norm'``): the optimizer
applies them to the variable after each update, as Keras does. Norms are taken along ``axis`` (Keras's default
0: for a Dense kernel ``(in, out)``, the incoming weights of each unit) with Keras's ``epsilon()`` guard.

>>> import ember
>>> from ember.keras import constraints
>>> constraints.MaxNorm(1.0)(ember.tensor([[3.0], [4.0]])).tolist()
[[0.6000000238418579], [0.800000011920929]]
"""

from __future__ import annotations

from ember.errors import user_errors

from . import backend as K


def _norms(w, axis):
    return (w * w).sum(dim=axis, keepdim=True).sqrt()


def _dims(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)


class Constraint:
    """The base: ``constraint(w)`` returns the projected weights (here: unchanged)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose L2 norm exceeds ``max_value`` down to ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, _dims(self.axis))
        return w * (norms.clamp(0.0, float(self.max_value)) / (K.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Pull each slice's norm into ``[min_value, max_value]``, by the fraction ``rate`` per application."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, _dims(self.axis))
        desired = self.rate * norms.clamp(float(self.min_value), float(self.max_value)) + (1 - self.rate) * norms
        return w * (desired / (K.epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    """Zero the negative weights."""

    def __call__(self, w):
        return w * (w >= 0).to(w.dtype)


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (K.epsilon() + _norms(w, _dims(self.axis)))

    def get_config(self):
        return {"axis": self.axis}


ALL = {c.__name__: c for c in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
_ALIASES = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
            "maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm}
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm  # Keras's lower-case names


@user_errors
def get(identifier):
    """A constraint from ``None``, an instance or callable, a name (``'max_norm'``, ``'NonNeg'``) or a config."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        cls = ALL.get(identifier) or _ALIASES.get(identifier.lower())
        if cls is not None:
            return cls()
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    raise ValueError(f"unknown constraint {identifier!r}; known: {', '.join(sorted(ALL) + sorted(_ALIASES))}")


def serialize(constraint):
    from .saving import serialize_keras_object

    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    from .saving import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects)
