"""``keras.ops.numpy``: NumPy's API on Ember tensors (elementwise math, reductions, shapes, products).

The functions live in ``_np_math``, ``_np_reduce``, ``_np_shape`` and ``_np_products``; this module gathers
them under Keras's names.

>>> from ember.keras.ops import numpy as knp
>>> [float(v) for v in knp.linspace(0.0, 1.0, 3)]
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

from . import _np_math, _np_products, _np_reduce, _np_shape
from ._common import public_names
from ._rearrange import vectorize

_NAMES = {"vectorize": vectorize}
for _module in (_np_math, _np_reduce, _np_shape, _np_products):
    _NAMES.update({n: getattr(_module, n) for n in public_names(vars(_module), _module.__name__)})
_NAMES.pop("shape", None)  # keras.ops.shape belongs to the core group
globals().update(_NAMES)
__all__ = sorted(_NAMES)
