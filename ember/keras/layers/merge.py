"""Layers that combine a list of inputs: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum.

>>> from ember import keras
>>> a, b = keras.ops.ones((2, 3)), keras.ops.ones((2, 5))
>>> tuple(keras.layers.Concatenate()([a, b]).shape)
(2, 8)
"""

from __future__ import annotations

from ember import functional as F

from .base import Layer


class _Merge(Layer):
    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects a list of at least 2 inputs, got "
                f"{type(inputs).__name__}"
            )
        return list(inputs)

    def call(self, inputs):
        xs = self._check(inputs)
        shapes = {tuple(x.shape) for x in xs}
        try:
            out = xs[0]
            for x in xs[1:]:
                out = self._merge(out, x)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: inputs of shapes {sorted(shapes)} cannot be "
                f"combined elementwise ({exc})"
            ) from None
        return self._finish(out, len(xs))

    def _finish(self, out, n):
        return out


class Add(_Merge):
    def _merge(self, a, b):
        return a + b


class Subtract(_Merge):
    def _check(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"Subtract {self.name!r} expects exactly 2 inputs, got {len(inputs)}")
        return list(inputs)

    def _merge(self, a, b):
        return a - b


class Multiply(_Merge):
    def _merge(self, a, b):
        return a * b


class Average(Add):
    def _finish(self, out, n):
        return out / float(n)


class Maximum(_Merge):
    def _merge(self, a, b):
        return F.maximum(a, b)


class Minimum(_Merge):
    def _merge(self, a, b):
        return F.minimum(a, b)


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        xs = self._check(inputs)
        ranks = {x.ndim for x in xs}
        ax = self.axis % xs[0].ndim
        others = {tuple(s for i, s in enumerate(x.shape) if i != ax) for x in xs}
        if len(ranks) != 1 or len(others) != 1:
            raise ValueError(
                f"Concatenate {self.name!r}: inputs must match except on axis {self.axis}; got "
                f"shapes {[tuple(x.shape) for x in xs]}"
            )
        return F.cat(xs, ax)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _functional(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"The functional form of ``{cls.__name__}``: ``{cls.__name__.lower()}([a, b], **kwargs)``."
    return merge


add, subtract, multiply, average = _functional(Add), _functional(Subtract), _functional(Multiply), _functional(Average)
maximum, minimum = _functional(Maximum), _functional(Minimum)


def concatenate(inputs, axis=-1, **kwargs):
    """The functional form of ``Concatenate``: ``concatenate([a, b], axis=-1)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
