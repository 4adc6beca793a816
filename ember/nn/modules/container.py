"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict (torch.nn's semantics)."""
from __future__ import annotations

import operator
from collections import OrderedDict

from ...errors import mark
from .module import Module, Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(n, idx, what):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise mark(IndexError(f"index {idx} is out of range for a {what} of length {n}"))
    return idx % n


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules keyed "0".."n-1", iteration, append/extend/insert."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)
        return self


class Sequential(_ModuleSequence):
    """Modules applied in order; indexable, sliceable and appendable.

    >>> import ember
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> model(ember.randn(3, 4)).shape
    ember.Size([3, 2])
    >>> len(model), type(model[1]).__name__, len(model[:2])
    (3, 'ReLU', 2)
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, m in args[0].items():
                self.add_module(key, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(len(self), idx, "Sequential")]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(len(self), idx, "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for k in (keys[idx] if isinstance(idx, slice) else [keys[_index(len(self), idx, "Sequential")]]):
            del self._modules[k]
        items = list(self._modules.values())
        if all(k.isdigit() for k in keys):  # keep the keys 0..n-1, as PyTorch does
            self._modules.clear()
            for i, m in enumerate(items):
                self._modules[str(i)] = m


    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise mark(TypeError(f"can only add Sequential to Sequential, got {type(other).__name__}"))
        return Sequential(*self, *other)


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered.

    >>> from ember import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_index(len(self), idx, "ModuleList"))]

    def __setitem__(self, idx, module):
        self.add_module(str(_index(len(self), idx, "ModuleList")), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        del items[idx if isinstance(idx, slice) else _index(len(self), idx, "ModuleList")]
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m


    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def forward(self, *args, **kwargs):
        raise mark(NotImplementedError("ModuleList is not callable; iterate over it and call each module"))


class ModuleDict(Module):
    """A dict of modules whose parameters are registered.

    >>> from ember import nn
    >>> d = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    >>> list(d.keys())
    ['a', 'b']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        return self._modules.pop(key)

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def forward(self, *args, **kwargs):
        raise mark(NotImplementedError("ModuleDict is not callable; index it and call the module"))


def _as_param(value):
    from ...tensor import Tensor

    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _describe(p):
    kind = "Parameter containing" if isinstance(p, Parameter) else "Object of type"
    return f"{kind}: [{p.dtype!r} of size {'x'.join(map(str, p.shape))}]"


class ParameterList(Module):
    """A list of Parameters registered with the module (tensors are wrapped into Parameters).

    >>> import ember
    >>> from ember import nn
    >>> ps = nn.ParameterList([nn.Parameter(ember.zeros(2)) for _ in range(2)])
    >>> len(list(ps.parameters()))
    2
    """

    def __init__(self, values=None):
        super().__init__()
        self.__dict__["_size"] = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index(len(self), idx, "ParameterList")))

    def __setitem__(self, idx, value):
        setattr(self, str(_index(len(self), idx, "ParameterList")), _as_param(value))

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        n = self._size
        self.__dict__["_size"] = n + 1
        setattr(self, str(n), _as_param(value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({i}): {_describe(p)}" for i, p in enumerate(self))

    def forward(self, *args, **kwargs):
        raise mark(NotImplementedError("ParameterList is not callable"))


class ParameterDict(Module):
    """A dict of Parameters registered with the module.

    >>> import ember
    >>> from ember import nn
    >>> pd = nn.ParameterDict({"scale": nn.Parameter(ember.ones(1))})
    >>> list(pd.keys())
    ['scale']
    """

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        setattr(self, key, _as_param(value))

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._parameters) + len(self._buffers)

    def __iter__(self):
        return iter(list(self._parameters) + list(self._buffers))

    def __contains__(self, key):
        return key in self._parameters or key in self._buffers

    def keys(self):
        return list(self)

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v

    def extra_repr(self):
        return "\n".join(f"  ({k}): {_describe(p)}" for k, p in self.items())

    def forward(self, *args, **kwargs):
        raise mark(NotImplementedError("ParameterDict is not callable"))
