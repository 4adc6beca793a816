"""Module hooks beyond forward/backward: full backward pre hooks, the global hooks of every module
(``nn.modules.module.register_module_forward_hook`` ...) and ``set_submodule``; a mixin of ``Module``."""
from __future__ import annotations

from collections import OrderedDict

from ...autograd_function import Function
from ...errors import mark, with_user_line
from ...tensor import RemovableHandle, Tensor
from ._hooks import next_hook_id


class _Global:
    """The hooks every module runs (``register_module_*``); ``active`` is read on each module call."""

    active = False
    forward_pre: OrderedDict = OrderedDict()
    forward: OrderedDict = OrderedDict()
    backward: OrderedDict = OrderedDict()
    backward_pre: OrderedDict = OrderedDict()

    @classmethod
    def update(cls):
        cls.active = bool(cls.forward_pre or cls.forward or cls.backward or cls.backward_pre)


class _GlobalHandle(RemovableHandle):
    def __init__(self, table, key):
        self.table, self.id = table, key

    def remove(self):
        self.table.pop(self.id, None)
        _Global.update()


def _add_global(table, value):
    key = next_hook_id()
    table[key] = value
    _Global.update()
    return _GlobalHandle(table, key)


def register_module_forward_pre_hook(hook):
    """``hook(module, args)`` runs before every module's forward (before the module's own pre hooks).

    >>> import ember
    >>> from ember import nn
    >>> h = nn.modules.module.register_module_forward_pre_hook(lambda m, args: print(type(m).__name__))
    >>> _ = nn.ReLU()(ember.zeros(1))
    ReLU
    >>> h.remove()
    """
    return _add_global(_Global.forward_pre, (hook, False))


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """``hook(module, args, output)`` runs after every module's forward (before the module's own hooks)."""
    return _add_global(_Global.forward, (hook, with_kwargs))


def register_module_full_backward_hook(hook):
    """``hook(module, grad_input, grad_output)`` for every module whose inputs get gradients."""
    return _add_global(_Global.backward, hook)


def register_module_full_backward_pre_hook(hook):
    """``hook(module, grad_output)`` for every module, before its inputs' gradients are computed."""
    return _add_global(_Global.backward_pre, hook)


def forward_pre_hooks(module):
    hooks = list(module._forward_pre_hooks.values())
    return list(_Global.forward_pre.values()) + hooks if _Global.forward_pre else hooks


def forward_hooks(module):
    hooks = list(module._forward_hooks.values())
    return list(_Global.forward.values()) + hooks if _Global.forward else hooks


def backward_hooks(module):
    hooks = list(module._backward_hooks.values())
    return list(_Global.backward.values()) + hooks if _Global.backward else hooks


class _BackwardPre(Function):
    """Identity on a module's outputs whose backward runs the full backward pre hooks on all grad outputs."""

    @staticmethod
    def forward(ctx, module, hooks, *tensors):
        ctx.set_materialize_grads(False)
        ctx.module, ctx.hooks = module, hooks
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        for hook in ctx.hooks:
            res = hook(ctx.module, grads)
            if res is not None:
                grads = tuple(res) if isinstance(res, (tuple, list)) else (res,)
                if len(grads) != len(ctx.needs_input_grad) - 2:
                    raise mark(RuntimeError(f"a backward pre hook of {type(ctx.module).__name__} returned "
                                            f"{len(grads)} gradients for {len(ctx.needs_input_grad) - 2} outputs"))
        return (None, None) + tuple(grads)


def run_backward_pre_hooks(module, out):
    """Route ``out``'s tensors that require grad through ``_BackwardPre`` (when there are pre hooks)."""
    hooks = list(_Global.backward_pre.values()) + list(module.__dict__.get("_backward_pre_hooks", {}).values())
    if not hooks:
        return out
    items = list(out) if isinstance(out, (tuple, list)) else [out]
    slots = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.requires_grad]
    if not slots:
        return out
    new = _BackwardPre.apply(module, hooks, *[items[i] for i in slots])
    for i, t in zip(slots, new):
        items[i] = t
    return type(out)(items) if isinstance(out, (tuple, list)) else items[0]


class ModuleHooks:
    """``register_full_backward_pre_hook`` and ``set_submodule``; ``Module`` inherits them."""

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` runs when the gradients w.r.t. the module's outputs arrive, before
        those w.r.t. its inputs are computed; it may return a replacement ``grad_output`` tuple.

        >>> import ember
        >>> from ember import nn
        >>> m = nn.Linear(2, 1)
        >>> h = m.register_full_backward_pre_hook(lambda mod, g: (g[0] * 0,))
        >>> m(ember.ones(1, 2)).sum().backward(); m.weight.grad
        tensor([[0., 0.]])
        """
        table = self.__dict__.get("_backward_pre_hooks")
        if table is None:
            table = self.__dict__["_backward_pre_hooks"] = OrderedDict()
        return self._add_hook(table, hook, prepend)

    def set_submodule(self, target: str, module, strict: bool = False):
        """Set the submodule at dotted path ``target`` (its parent must exist); with ``strict`` the attribute
        must exist already.

        >>> from ember import nn
        >>> m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        >>> m.set_submodule("1", nn.Tanh()); m[1]
        Tanh()
        """
        from .module import Module

        if not isinstance(module, Module):
            raise mark(with_user_line(ValueError(f"set_submodule: {module!r} is not a Module"), 2))
        if target == "":
            raise mark(with_user_line(ValueError("set_submodule: cannot set the root module"), 2))
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path) if parent_path else self
        if strict and not hasattr(parent, name):
            raise mark(with_user_line(AttributeError(
                f"{type(parent).__name__} has no attribute `{name}` (set_submodule with strict=True)"), 2))
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise mark(with_user_line(AttributeError(f"`{name}` is not an nn.Module"), 2))
        setattr(parent, name, module)
