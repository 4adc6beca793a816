"""Keras weights on the one engine: a ``Variable`` is an ``ember.nn.Parameter`` (so an ``nn.Module`` registers
it, optimizers update it and autograd differentiates it) with Keras's ``name``, ``path``, ``trainable``,
``assign`` and ``numpy()``.

>>> import numpy as np
>>> from ember import nn
>>> v = Variable(np.zeros(2, "float32"), name="b")
>>> v.assign([1.0, 2.0]).numpy().tolist(), isinstance(v, nn.Parameter)
([1.0, 2.0], True)
"""

from __future__ import annotations

import numpy as np

import ember
from ember.nn.modules.module import Parameter
from ember.tensor import Tensor

from .. import backend as K


class Variable(Parameter):
    """A Keras weight: an Ember leaf tensor (``requires_grad`` when trainable and floating point)."""

    def __init__(self, value, name="variable", trainable=True, dtype=None):
        arr = np.array(K.to_numpy(value), dtype=dtype or None, copy=True)
        if arr.dtype.kind == "f" and dtype is None and arr.dtype != np.dtype(K.floatx()):
            arr = arr.astype(K.floatx())
        self._init(arr)
        self.name = name
        self.path = name
        self._keras_trainable = bool(trainable)
        self.requires_grad = bool(trainable) and arr.dtype.kind == "f"
        self.regularizer = self.constraint = None

    @property
    def trainable(self):
        return self._keras_trainable

    @trainable.setter
    def trainable(self, value):
        self._keras_trainable = bool(value)
        self.requires_grad = bool(value) and self._data.dtype.kind == "f"

    @property
    def value(self):
        return self

    def numpy(self, *, force=False):
        return K.to_numpy(Tensor._wrap(self._data)).copy()

    def assign(self, value):
        assign_weight(self, value)
        return self

    def assign_add(self, value):
        self._data += K.to_array(value).astype(self._data.dtype, copy=False)
        return self

    def assign_sub(self, value):
        self._data -= K.to_array(value).astype(self._data.dtype, copy=False)
        return self

    def __repr__(self):
        return f"<Variable path={self.path}, shape={tuple(self._data.shape)}, dtype={self._data.dtype}>"

    __str__ = __repr__


def weight_value(w):
    """A NumPy copy of a weight (a Variable or any Ember tensor, e.g. a wrapped module's Parameter)."""
    return K.to_numpy(Tensor._wrap(w._data)).copy()


def assign_weight(w, value):
    """Overwrite a weight's values in place (shape checked)."""
    arr = K.to_array(value)
    if tuple(arr.shape) != tuple(w._data.shape):
        raise ValueError(
            f"weight {getattr(w, 'path', '?')!r}: cannot assign a value of shape {tuple(arr.shape)} "
            f"to a weight of shape {tuple(w._data.shape)}"
        )
    w._data[...] = ember.backend.xp_of(w._data).asarray(arr, dtype=w._data.dtype)
