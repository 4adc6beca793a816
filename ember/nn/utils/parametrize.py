"""``nn.utils.parametrize``: a module's parameter computed by other modules from an ``original`` one.

``register_parametrization(module, "weight", P)`` stores the weight as
``module.parametrizations.weight.original`` and makes ``module.weight`` a property that returns
``P(original)`` on every read (``P.right_inverse``, when defined, maps an assigned value back). PyTorch's
names and state_dict keys (``parametrizations.weight.original``), so checkpoints load either way.

>>> import ember
>>> from ember import nn
>>> class Symmetric(nn.Module):
...     def forward(self, x):
...         return x.triu() + x.triu(1).mT
>>> layer = nn.utils.parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
>>> bool((layer.weight == layer.weight.mT).all())
True
>>> sorted(layer.state_dict())
['bias', 'parametrizations.weight.original']
"""
from __future__ import annotations

from contextlib import contextmanager

from ...autograd import no_grad
from ...errors import mark, with_user_line
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "type_before_parametrizations", "ParametrizationList"]

_CACHE = {"enabled": 0, "values": {}}


@contextmanager
def cached():
    """Within this block, each parametrized tensor is computed once and reused (for a model that reads its
    weights many times in one step)."""
    _CACHE["enabled"] += 1
    try:
        yield
    finally:
        _CACHE["enabled"] -= 1
        if not _CACHE["enabled"]:
            _CACHE["values"] = {}


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to ``original`` (or ``original0``, ``original1``,
    ... when the first one's ``right_inverse`` returns several tensors)."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with no_grad():
            value = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        self.is_tensor = not isinstance(value, (tuple, list))
        values = (value,) if self.is_tensor else tuple(value)
        self.ntensors = len(values)
        for i, v in enumerate(values):
            name = "original" if self.is_tensor else f"original{i}"
            if isinstance(original, Parameter):
                self.register_parameter(name, Parameter(v.detach(), original.requires_grad))
            else:
                self.register_buffer(name, v.detach())

    def originals(self):
        return (self.original,) if self.is_tensor else tuple(getattr(self, f"original{i}")
                                                              for i in range(self.ntensors))

    def forward(self):
        x = self[0](*self.originals())
        for module in list(self)[1:]:
            x = module(x)
        return x

    def right_inverse(self, value):
        """Write ``value`` through the parametrizations' right inverses into the originals."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise mark(with_user_line(RuntimeError(
                        f"parametrization {type(module).__name__} has no right_inverse, so the parametrized "
                        "tensor cannot be assigned"), 4))
                value = module.right_inverse(value)
            for original, v in zip(self.originals(), (value,) if self.is_tensor else value):
                original.copy_(v)


def _parametrized_class(module):
    """A subclass of ``module``'s class (made once per module, as PyTorch does) to hold the properties."""
    cls = type(module)
    if getattr(cls, "_ember_parametrized", False):
        return cls
    return type(f"Parametrized{cls.__name__}", (cls,), {"_ember_parametrized": True, "_original_class": cls})


def _property(name):
    def get(self):
        key = (id(self), name)
        if _CACHE["enabled"] and key in _CACHE["values"]:
            return _CACHE["values"][key]
        value = self.parametrizations[name]()
        if _CACHE["enabled"]:
            _CACHE["values"][key] = value
        return value

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(get, set_)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` the output of ``parametrization`` (a Module) applied to the stored
    original; a second call on the same name chains another parametrization after it. Returns ``module``."""
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            probe = parametrization(getattr(module, tensor_name))
            _check_same(probe, getattr(module, tensor_name), tensor_name)
        plist.append(parametrization)
        return module
    original = getattr(module, tensor_name, None)
    if original is None or not hasattr(original, "_data"):
        raise mark(with_user_line(ValueError(
            f"register_parametrization: {type(module).__name__} has no parameter or buffer {tensor_name!r}"), 2))
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        _check_same(plist(), original, tensor_name)
    if tensor_name in module._parameters:
        del module._parameters[tensor_name]
    else:
        del module._buffers[tensor_name]
    if not is_parametrized(module):
        module.__class__ = _parametrized_class(module)
        module.parametrizations = ModuleDict()
    setattr(module.__class__, tensor_name, _property(tensor_name))
    module.parametrizations[tensor_name] = plist
    return module


def _check_same(value, original, name):
    if tuple(value.shape) != tuple(original.shape) or value.dtype != original.dtype:
        raise mark(with_user_line(ValueError(
            f"register_parametrization: the parametrization of {name!r} changes it from {tuple(original.shape)} "
            f"{original.dtype.name} to {tuple(value.shape)} {value.dtype.name}; pass unsafe=True if that is "
            "intended"), 3))


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` has parametrizations (for ``tensor_name``, when given)."""
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if plists is None:
        return False
    return tensor_name is None or tensor_name in plists


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Make ``module.<tensor_name>`` a plain parameter (or buffer) again: its current parametrized value with
    ``leave_parametrized`` (the default), else the stored original."""
    if not is_parametrized(module, tensor_name):
        raise mark(with_user_line(ValueError(
            f"remove_parametrizations: {type(module).__name__} has no parametrization on {tensor_name!r}"), 2))
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        with no_grad():
            value = getattr(module, tensor_name).detach()
    elif plist.is_tensor:
        value = plist.original.detach()
    else:
        raise mark(with_user_line(ValueError(
            "remove_parametrizations: leave_parametrized=False needs a single original tensor"), 2))
    was_parameter = isinstance(plist.originals()[0], Parameter)
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if was_parameter:
        module.register_parameter(tensor_name, Parameter(value.clone(), plist.originals()[0].requires_grad))
    else:
        module.register_buffer(tensor_name, value.clone())
    if not len(module.parametrizations):
        del module._modules["parametrizations"]
        module.__class__ = module.__class__._original_class
    return module


def type_before_parametrizations(module):
    """The module's class before any parametrization was registered."""
    return module.__class__._original_class if is_parametrized(module) else type(module)

