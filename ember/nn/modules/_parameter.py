"""``nn.Parameter``: a Tensor that a Module registers as a parameter when assigned as an attribute."""
from __future__ import annotations

from ... import dtypes
from ...tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute.

    >>> import ember
    >>> p = Parameter(ember.zeros(2))
    >>> p.requires_grad
    True
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            from ...creation import empty

            data = empty(0)
        self._init(data._data if isinstance(data, Tensor) else Tensor(data)._data)
        if requires_grad and (dtypes.is_float(self._data.dtype) or self._data.dtype.kind == "c"):
            self.requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__
