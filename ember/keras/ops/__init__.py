"""``keras.ops``: NumPy-like and neural-network ops on Ember tensors, for custom layers, losses and metrics.

Inputs may be Ember tensors, NumPy arrays or Python numbers; outputs are Ember tensors, so gradients flow
through Ember's autograd. As in Keras, the names are grouped in submodules (``ops.numpy``, ``ops.nn``,
``ops.image``, ``ops.linalg``; ``ops.core`` and ``ops.math`` hold Keras's core / math groups) and the top level
re-exports them (except ``image``'s, which Keras keeps in the submodule).

>>> from ember.keras import ops
>>> x = ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])
>>> ops.convert_to_numpy(ops.sum(ops.matmul(x, x), axis=0)).tolist()
[22.0, 32.0]
>>> bool(ops.all(ops.equal(ops.einsum("ij,jk->ik", x, x), ops.nn.relu(ops.matmul(x, x)))))
True
"""

from __future__ import annotations

from . import core, image, linalg, math, nn, numpy
from ._rearrange import rearrange

_TOP = {"rearrange": rearrange}
for _module in (numpy, math, nn, core, linalg):
    _TOP.update({name: getattr(_module, name) for name in _module.__all__})
globals().update(_TOP)
__all__ = sorted(_TOP) + ["core", "image", "linalg", "math", "nn", "numpy"]
