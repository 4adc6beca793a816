"""torch.nn.parameter's other names: ``Buffer`` (assigning one to a Module attribute registers a buffer) and the
uninitialized parameters and buffers of lazy modules, which take their shape at the first call.

An uninitialized tensor holds no values; ``materialize(shape)`` gives it storage in place and turns it into a
plain Parameter (or Tensor), so anything that kept a reference (an optimizer built before the first call)
sees the materialized tensor.

>>> import ember
>>> from ember import nn
>>> p = nn.UninitializedParameter()
>>> p
<UninitializedParameter>
>>> p.materialize((2, 3))
>>> type(p).__name__, tuple(p.shape)
('Parameter', (2, 3))
"""
from __future__ import annotations

from .. import creation
from ..errors import mark, with_user_line
from ..tensor import Tensor
from .modules.module import Parameter

__all__ = ["Buffer", "UninitializedParameter", "UninitializedBuffer"]


class _BufferMeta(type):
    def __instancecheck__(cls, instance):  # a Buffer is a plain tensor marked at construction, as in PyTorch
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """A tensor that registers itself as a buffer when assigned to a Module attribute (``persistent=False``
    keeps it out of the state_dict). ``Buffer(t)`` returns ``t.detach()`` marked as a buffer.

    >>> import ember
    >>> from ember import nn
    >>> class Counter(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.steps = nn.Buffer(ember.zeros(()))
    ...         self.scratch = nn.Buffer(ember.ones(2), persistent=False)
    >>> list(Counter().state_dict()), [n for n, _ in Counter().named_buffers()]
    (['steps'], ['steps', 'scratch'])
    """

    def __new__(cls, data=None, *, persistent=True):
        data = creation.empty(0) if data is None else data
        t = data.detach()
        if data.requires_grad:
            t.requires_grad_(True)
        t.persistent, t._is_buffer = persistent, True
        return t


def _uninitialized_error(what):
    return mark(with_user_line(RuntimeError(
        f"can't {what} of an uninitialized parameter or buffer: a lazy module sets it at its first call. Call "
        "the module (or its model) once on a batch of inputs (a dry run), or load a state_dict, first"), 3))


class UninitializedTensorMixin:
    """What uninitialized parameters and buffers share: no shape until ``materialize``."""

    __slots__ = ()
    _uninitialized = True
    cls_to_become = Tensor

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor storage of ``shape`` (uninitialized values) in place; it becomes ``cls_to_become``."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.data = creation.empty(*shape, device=device or self.device, dtype=dtype or self.dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise _uninitialized_error("access the shape")

    def size(self, dim=None):
        raise _uninitialized_error("access the size")

    def numel(self):
        raise _uninitialized_error("count the elements")

    def dim(self):
        raise _uninitialized_error("access the number of dims")

    @property
    def ndim(self):
        raise _uninitialized_error("access the number of dims")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter of a lazy module before its first call (no shape yet; it becomes a Parameter in place).

    >>> from ember import nn
    >>> p = nn.UninitializedParameter()
    >>> p.requires_grad, isinstance(p, nn.Parameter)
    (True, True)
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        Parameter.__init__(self, creation.empty(0, device=device, dtype=dtype), requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer of a lazy module before its first call (it becomes a plain Tensor in place).

    >>> from ember import nn
    >>> b = nn.UninitializedBuffer()
    >>> b.materialize(3)
    >>> b.shape
    ember.Size([3])
    """

    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        self._init(creation.empty(0, device=device, dtype=dtype)._data)
        if requires_grad:
            self.requires_grad_(True)
