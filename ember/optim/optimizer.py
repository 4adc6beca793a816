"""Optimizer base class: param groups, per-parameter state, state_dict in PyTorch's format, step(closure).

Each optimizer's update is one function ``update_(p, g, *state, step=..., **hyper) -> state`` (its
``_update_fn``) that changes the parameter and its state tensors in place with the public in-place methods
(PyTorch's single-tensor algorithms); ``step`` is the 0-d step tensor. So there is one path: an eager step and a
step traced by ``ember.compile`` run the same Ember ops and writes. Eagerly, in-place arithmetic writes straight
into the buffers (``Tensor._inplace``), so an update makes few temporaries; Adam's whole update is one update
primitive (``ops/optim.py``, ``tensor.update_``).

The functional kernels (``kernel(K, p, g, *state, ...) -> (new_p, *new_state)``, ``K`` an array namespace such
as ``array_kernels(arr)``) state the same rules; ``ember.keras``' optimizers call them, and
tests/test_optim.py checks that each in-place update is bit-identical to its kernel.
"""
from __future__ import annotations

import copy
import itertools
from collections import OrderedDict, defaultdict

from .. import backend
from ..autograd import enable_grad, no_grad
from ..errors import mark, with_user_line
from ..tensor import Tensor

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

_required = object()


class _ArrayKernels:
    """Array namespace for kernels on NumPy/CuPy arrays."""

    def __init__(self, xp):
        self.xp = xp

    def sqrt(self, x):
        return self.xp.sqrt(x)

    def maximum(self, a, b):
        return self.xp.maximum(a, b)

    @staticmethod
    def copy(x):
        return x.copy() if hasattr(x, "copy") else x.clone()

    @staticmethod
    def lerp(start, end, weight):  # PyTorch's lerp formula (branch on the weight, as ATen does)
        return start + weight * (end - start) if weight < 0.5 else end - (end - start) * (1 - weight)


class _TensorKernels(_ArrayKernels):
    """The same namespace on Ember tensors: a functional kernel traced as Ember ops (the graph form of an
    update primitive, see ``adam.adam_update_``)."""

    def __init__(self):
        from .. import functional

        self.F = functional

    def sqrt(self, x):
        return self.F.sqrt(x)

    def maximum(self, a, b):
        return self.F.maximum(a, b)


TENSOR_KERNELS = _TensorKernels()
_ARRAY_K = {}


def array_kernels(arr):
    xp = backend.xp_of(arr)
    k = _ARRAY_K.get(xp.__name__)
    if k is None:
        k = _ARRAY_K[xp.__name__] = _ArrayKernels(xp)
    return k


def lerp_(start, end, weight):
    """``start`` moved toward ``end`` by the Python float ``weight``, in place (ATen's formula: it branches on
    the weight so that weight 1 gives ``end`` exactly)."""
    diff = end - start
    if weight < 0.5:
        return start.add_(diff.mul_(weight))
    return start.copy_(end - diff.mul_(1 - weight))


class Optimizer:
    """Base class of the optimizers (``torch.optim.Optimizer``).

    Subclasses define ``defaults``, ``_init_state(p, group)`` (the state tensors of a parameter),
    ``_state_keys`` and ``_update_fn(p, g, *state, step=..., **group)``, which updates ``p`` and the state in
    place and returns the state tensors (a new one where the state was None: SGD's first momentum buffer).

    >>> import ember
    >>> from ember import nn, optim
    >>> model = nn.Linear(3, 1)
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> model(ember.randn(4, 3)).sum().backward()
    >>> opt.step(); opt.zero_grad()
    """

    _state_keys = ()
    _hyper = ()

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        self._step_pre_hooks, self._step_post_hooks = OrderedDict(), OrderedDict()
        if isinstance(params, Tensor):
            raise mark(with_user_line(TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, but got a Tensor; "
                "pass [tensor] or model.parameters()"), 3))
        if not hasattr(params, "__iter__"):
            from ..nn.modules.module import Module  # a common slip: the model instead of its parameters

            fix = "model.parameters()" if isinstance(params, Module) else "an iterable of tensors"
            raise mark(with_user_line(TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, but got "
                f"{type(params).__name__}; pass {fix}"), 3))
        groups = list(params)
        if not groups:
            raise mark(with_user_line(ValueError(
                f"{type(self).__name__} got an empty parameter list (did the model define any parameters, "
                "or was the parameters() generator already consumed?)"), 3))
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise mark(TypeError(f"param_group must be a dict, got {type(param_group).__name__}"))
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise mark(TypeError(f"{type(self).__name__} can only optimize Tensors, got "
                                     f"{type(p).__name__}"))
            if not p.is_leaf:
                raise mark(ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor (shape "
                                      f"{tuple(p.shape)}); optimize the leaf it was computed from"))
        for k, v in self.defaults.items():
            if v is _required and k not in group:
                raise mark(ValueError(f"parameter group didn't specify a value of required optimization "
                                      f"parameter {k}"))
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise mark(ValueError("some parameters appear in more than one parameter group"))
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach()
                    with no_grad():
                        p.grad.zero_()

    # -- stepping ------------------------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss and is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for hook in [*_GLOBAL_STEP_PRE.values(), *self._step_pre_hooks.values()]:
            hook(self, (), {})
        self._apply_gradients()
        for hook in [*_GLOBAL_STEP_POST.values(), *self._step_post_hooks.values()]:
            hook(self, (), {})
        return loss

    def _apply_gradients(self):
        """``step``'s updates, between its hooks (the Keras optimizers apply theirs here)."""
        with no_grad():
            for group in self.param_groups:
                hyper = {k: group[k] for k in self._hyper}
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, group, hyper)

    def _update(self, p, group, hyper):
        state = self.state[p]
        if not state:
            state.update(self._init_state(p, group))
        if p.grad._data.dtype != p._data.dtype and p.grad._data.dtype.kind != "f":
            raise mark(RuntimeError(f"{type(self).__name__}: gradient of dtype {p.grad.dtype.name} for a "
                                    f"parameter of dtype {p.dtype.name}"))
        step_t = state.get("step")
        if step_t is not None:
            step_t.add_(1)
        vals = [state.get(k) for k in self._state_keys]
        if p._data.dtype.kind == "c":  # PyTorch's rule: a complex parameter steps as its real view (..., 2)
            out = _update_complex(type(self)._update_fn, p, vals, step_t, hyper)
        else:
            out = type(self)._update_fn(p, p.grad, *vals, step=step_t, **hyper)
        for k, old, new in zip(self._state_keys, vals, out):
            if old is None and new is not None:
                state[k] = new

    def _init_state(self, p, group):
        return {}

    # -- state dict ----------------------------------------------------------------------------------------
    def state_dict(self):
        """{'state': {index: {name: tensor}}, 'param_groups': [{hyper..., 'params': [index...]}]} (PyTorch's
        format: parameters are numbered in the order of the groups). State dict pre hooks ``hook(optimizer)``
        run first; post hooks ``hook(optimizer, state_dict)`` may return a replacement."""
        for hook in list(self._hooks("_state_dict_pre_hooks").values()):
            hook(self)
        out = self._state_dict()
        for hook in list(self._hooks("_state_dict_post_hooks").values()):
            res = hook(self, out)
            out = out if res is None else res
        return out

    def _state_dict(self):
        index, groups = {}, []
        counter = itertools.count()
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = next(counter)
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index and s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state and hyperparameters saved by ``state_dict`` (from Ember or PyTorch). Load pre hooks
        ``hook(optimizer, state_dict)`` may return a replacement; post hooks ``hook(optimizer)`` run after."""
        for hook in list(self._hooks("_load_state_dict_pre_hooks").values()):
            res = hook(self, state_dict)
            state_dict = state_dict if res is None else res
        self._load_state_dict(state_dict)
        for hook in list(self._hooks("_load_state_dict_post_hooks").values()):
            hook(self)

    def _load_state_dict(self, state_dict):
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise mark(with_user_line(ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups but the optimizer has "
                f"{len(self.param_groups)}"), 2))
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise mark(with_user_line(ValueError(
                    f"loaded state dict contains a parameter group {i} with {len(s['params'])} parameters "
                    f"that doesn't match the size of optimizer's group ({len(g['params'])})"), 2))
        id_map = {old: p for g, s in zip(self.param_groups, saved_groups) for old, p in zip(s["params"],
                                                                                            g["params"])}
        self.state = defaultdict(dict)
        for key, st in state_dict["state"].items():
            p = id_map.get(int(key))
            if p is None:
                continue
            self.state[p] = {k: _cast_state(k, v, p) for k, v in st.items()}
        for g, s in zip(self.param_groups, saved_groups):
            for k, v in s.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) and k == "betas" else copy.deepcopy(v)

    # -- hooks and printing --------------------------------------------------------------------------------
    def _hooks(self, name):
        table = self.__dict__.get(name)
        if table is None:
            table = self.__dict__[name] = OrderedDict()
        return table

    def _add_hook(self, name, hook, prepend=False):
        from ..nn.modules._hooks import HookHandle, next_hook_id

        table, key = self._hooks(name), next_hook_id()
        table[key] = hook
        if prepend:
            table.move_to_end(key, last=False)
        return HookHandle(_NoModule, table, key)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs before ``state_dict`` builds its result."""
        return self._add_hook("_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` runs on the result; it may return a replacement.

        >>> import ember
        >>> opt = ember.optim.SGD([ember.zeros(2, requires_grad=True)], lr=0.1)
        >>> h = opt.register_state_dict_post_hook(lambda o, sd: {**sd, "note": "v2"})
        >>> opt.state_dict()["note"]
        'v2'
        """
        return self._add_hook("_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` runs before loading; it may return a replacement state dict."""
        return self._add_hook("_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs after ``load_state_dict`` has loaded."""
        return self._add_hook("_load_state_dict_post_hooks", hook, prepend)

    def register_step_pre_hook(self, hook):
        from ..nn.modules._hooks import HookHandle, next_hook_id

        key = next_hook_id()
        self._step_pre_hooks[key] = hook
        return HookHandle(_NoModule, self._step_pre_hooks, key)

    def register_step_post_hook(self, hook):
        from ..nn.modules._hooks import HookHandle, next_hook_id

        key = next_hook_id()
        self._step_post_hooks[key] = hook
        return HookHandle(_NoModule, self._step_post_hooks, key)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)


_GLOBAL_STEP_PRE: OrderedDict = OrderedDict()
_GLOBAL_STEP_POST: OrderedDict = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs before every optimizer's ``step`` (before its own hooks).

    >>> import ember
    >>> h = ember.optim.optimizer.register_optimizer_step_pre_hook(lambda o, a, k: print(type(o).__name__))
    >>> ember.optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1).step()
    SGD
    >>> h.remove()
    """
    from ..nn.modules._hooks import HookHandle, next_hook_id

    key = next_hook_id()
    _GLOBAL_STEP_PRE[key] = hook
    return HookHandle(_NoModule, _GLOBAL_STEP_PRE, key)


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs after every optimizer's ``step`` (before its own hooks)."""
    from ..nn.modules._hooks import HookHandle, next_hook_id

    key = next_hook_id()
    _GLOBAL_STEP_POST[key] = hook
    return HookHandle(_NoModule, _GLOBAL_STEP_POST, key)


class _NoModule:
    @staticmethod
    def _update_hooked():
        pass


def _cast_state(key, value, p):
    """State tensors take the parameter's dtype and device (except 'step'); other values are copied."""
    if isinstance(value, Tensor):
        arr = value._data
        if key != "step" and arr.dtype.kind == "f" and arr.dtype != p._data.dtype:
            arr = arr.astype(p._data.dtype)
        arr = backend.to_device(arr, p.device)
        return Tensor._wrap(arr.copy() if arr is value._data else arr)
    if key == "step" and isinstance(value, (int, float)):
        return Tensor._wrap(backend.to_device(backend.numpy.asarray(float(value), dtype="float32"), p.device))
    return copy.deepcopy(value)


def check_hyper(name, value, low=0.0, what="value"):
    if not value >= low:
        raise mark(with_user_line(ValueError(f"Invalid {what}: {value}"), 4))


def zeros_state(p):
    """A zero tensor like ``p`` (same dtype, device)."""
    return Tensor._wrap(backend.xp_of(p._data).zeros_like(p._data))


def _update_complex(update_fn, p, vals, step_t, hyper):
    """``update_fn`` on the real views of a complex parameter, its gradient and its complex state (writes go to
    their memory); state it makes on the way comes back complex. Each real and imaginary part then steps as a
    real parameter of its own, as in PyTorch's optimizers."""
    from ..ops import apply

    def real(t):
        return t if t is None or t._data.dtype.kind != "c" else apply("view_as_real", t)

    shape = tuple(p.shape) + (2,)
    out = update_fn(real(p), real(p.grad), *[real(v) for v in vals], step=step_t, **hyper)
    return [apply("view_as_complex", v) if v is not None and v is not old and v._data.dtype.kind == "f" and
            tuple(v.shape) == shape else v for v, old in zip(out, list(vals) + [None] * len(out))]


def step_state(p):
    return Tensor._wrap(backend.to_device(backend.numpy.zeros((), dtype="float32"), p.device))
