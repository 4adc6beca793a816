"""Keras weights on the one engine: a ``Variable`` is an ``ember.nn.Parameter`` (so an ``nn.Module`` registers
it, optimizers update it and autograd differentiates it) with Keras's ``name``, ``path``, ``trainable``,
``assign`` and ``numpy()``. ``assign`` / ``assign_add`` / ``assign_sub`` are Ember's in-place ops
(``copy_`` / ``add_`` / ``sub_`` under ``no_grad``): they bump the version counter and a compiled graph sees
them.

>>> import numpy as np
>>> from ember import nn
>>> v = Variable(np.zeros(2, "float32"), name="b")
>>> v.assign([1.0, 2.0]).numpy().tolist(), isinstance(v, nn.Parameter)
([1.0, 2.0], True)
"""

from __future__ import annotations

import numpy as np

import ember
from ember.autograd import no_grad
from ember.nn.modules.module import Parameter
from ember.tensor import Tensor

from .. import backend as K
from ..scopes import current_path


class Variable(Parameter):
    """A Keras weight: an Ember leaf tensor (``requires_grad`` when trainable and floating point); ``like``
    puts it on that tensor's device."""

    def __init__(self, value, name="variable", trainable=True, dtype=None, like=None):
        arr = np.array(K.to_numpy(value), dtype=dtype or None, copy=True)
        if arr.dtype.kind == "f" and dtype is None and arr.dtype != np.dtype(K.floatx()):
            arr = arr.astype(K.floatx())
        if like is not None and like.device.type != "cpu":
            arr = ember.backend.to_device(arr, like.device)
        self._init(arr)
        self.name = name
        self.path = current_path() + str(name)
        self._keras_trainable = bool(trainable)
        self.requires_grad = bool(trainable) and arr.dtype.kind == "f"
        self.regularizer = self.constraint = None

    @property
    def trainable(self):
        return self._keras_trainable

    @trainable.setter
    def trainable(self, value):
        self._keras_trainable = bool(value)
        self.requires_grad = bool(value) and self.dtype.is_floating_point

    @property
    def value(self):
        return self

    def numpy(self, *, force=False):
        return weight_value(self)

    def assign(self, value):
        assign_weight(self, value)
        return self

    def assign_add(self, value):
        with no_grad():
            self.add_(_operand(value, self))
        return self

    def assign_sub(self, value):
        with no_grad():
            self.sub_(_operand(value, self))
        return self

    def __repr__(self):
        return f"<Variable path={self.path}, shape={tuple(self.shape)}, dtype={self.dtype.name}>"

    __str__ = __repr__


def _operand(value, like):
    """``value`` as a tensor of ``like``'s dtype (an Ember tensor passes through, cast if needed)."""
    t = value if isinstance(value, Tensor) else K.convert(np.asarray(K.to_numpy(value)), like.dtype.name)
    return t if t.dtype == like.dtype else t.to(like.dtype)


def weight_value(w):
    """A NumPy copy of a weight (a Variable or any Ember tensor, e.g. a wrapped module's Parameter)."""
    return np.array(K.to_numpy(w.detach()), copy=True)


def assign_weight(w, value):
    """Overwrite a weight's values in place (shape checked) with ``copy_``."""
    src = _operand(value, w)
    if tuple(src.shape) != tuple(w.shape):
        raise ValueError(
            f"weight {getattr(w, 'path', '?')!r}: cannot assign a value of shape {tuple(src.shape)} "
            f"to a weight of shape {tuple(w.shape)}"
        )
    with no_grad():
        w.copy_(src)
