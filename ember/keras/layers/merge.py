"""Layers that combine a list of inputs: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot.

>>> from ember import keras
>>> a, b = keras.ops.ones((2, 3)), keras.ops.ones((2, 5))
>>> tuple(keras.layers.Concatenate()([a, b]).shape)
(2, 8)
"""

from __future__ import annotations

from ember import functional as F
from ember.errors import user_errors

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


def _l2_normalize(x, axis, eps=1e-7):
    return x / (x * x).sum(dim=axis, keepdim=True).sqrt().clamp(min=eps)


class Dot(Layer):
    """Per-sample dot products of two inputs along ``axes`` (an int, or one axis per input; the batch axis 0 is
    shared), Keras's ``batch_dot``: the result keeps the first input's other axes then the second's, and a
    ``(batch,)`` result becomes ``(batch, 1)``. ``normalize=True`` gives cosine similarities.

    >>> from ember import keras
    >>> a, b = keras.ops.ones((2, 4)), keras.ops.ones((2, 4))
    >>> keras.layers.Dot(axes=1)([a, b]).tolist()
    [[4.0], [4.0]]
    """

    @user_errors
    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int) and not (isinstance(axes, (list, tuple)) and len(axes) == 2
                                              and all(isinstance(a, int) for a in axes)):
            raise ValueError(f"Dot: axes must be an int or a pair of ints, got {axes!r}")
        self.axes, self.normalize = axes, normalize

    @user_errors
    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"Dot {self.name!r} expects exactly 2 inputs, got {type(inputs).__name__}")
        x1, x2 = inputs
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        a1, a2 = pair[0] % x1.ndim, pair[1] % x2.ndim
        if min(a1, a2) == 0 or x1.shape[a1] != x2.shape[a2] or x1.shape[0] != x2.shape[0]:
            raise ValueError(f"Dot {self.name!r}: cannot contract axis {a1} of shape {tuple(x1.shape)} with axis "
                             f"{a2} of shape {tuple(x2.shape)} (the batch axis 0 is shared, sizes must match)")
        if self.normalize:
            x1, x2 = _l2_normalize(x1, a1), _l2_normalize(x2, a2)
        rest1 = [d for i, d in enumerate(x1.shape) if i not in (0, a1)]
        rest2 = [d for i, d in enumerate(x2.shape) if i not in (0, a2)]
        left = x1.movedim(a1, -1).reshape(x1.shape[0], -1, x1.shape[a1])
        right = x2.movedim(a2, 1).reshape(x2.shape[0], x2.shape[a2], -1)
        out = (left @ right).reshape(x1.shape[0], *rest1, *rest2)
        return out.unsqueeze(1) if out.ndim == 1 else out

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    """The functional form of ``Dot``: ``dot([a, b], axes=1)``."""
    return Dot(axes=axes, **kwargs)(inputs)


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
