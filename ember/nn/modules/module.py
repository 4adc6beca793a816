"""Module and Parameter with PyTorch's semantics: attributes register parameters, buffers and submodules.

>>> import ember
>>> from ember import nn
>>> class Net(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc = nn.Linear(4, 2)
...         self.register_buffer("steps", ember.zeros(()))
...     def forward(self, x):
...         return self.fc(x)
>>> net = Net()
>>> [name for name, _ in net.named_parameters()]
['fc.weight', 'fc.bias']
>>> sorted(net.state_dict())
['fc.bias', 'fc.weight', 'steps']
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from ... import backend, dtypes
from ..._state import STATE
from ...autograd import no_grad
from ...errors import mark, with_user_line
from ...tensor import Tensor
from ._hooks import BackwardHookState, HookHandle, next_hook_id

__all__ = ["Module", "Parameter"]


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


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(text, n):
    lines = text.split("\n")
    return lines[0] if len(lines) == 1 else lines[0] + "\n" + "\n".join(" " * n + s for s in lines[1:])


class Module:
    """Base class of all layers and models (``torch.nn.Module``).

    Subclasses set parameters and submodules as attributes in ``__init__`` and define ``forward``.

    >>> from ember import nn
    >>> m = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    >>> sum(p.numel() for p in m.parameters())
    16
    """

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise mark(TypeError(f"{type(self).__name__}.__init__() got unexpected arguments; "
                                 "Module.__init__ takes none (call super().__init__() without arguments)"))
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_hooked"] = False

    def forward(self, *args, **kwargs):
        raise mark(NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" '
                                       'function'))

    # -- calling -----------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if STATE.tracer is not None and hasattr(STATE.tracer, "call_module"):  # nodes record the module path
            return STATE.tracer.call_module(self, lambda: self._call(args, kwargs))
        if not self._hooked:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call(self, args, kwargs):
        return self.forward(*args, **kwargs) if not self._hooked else self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        d = self.__dict__
        compiled = d.get("_compiled_call")
        if compiled is not None and not d.get("_in_compiled_call"):  # after module.compile()
            d["_in_compiled_call"] = True  # the compiled wrapper calls back into this module
            try:
                return compiled(*args, **kwargs)
            finally:
                d["_in_compiled_call"] = False
        for hook, with_kwargs in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        bw = list(self._backward_hooks.values())
        if bw and STATE.grad_enabled:
            args = BackwardHookState(self, bw).wrap_inputs(args)
            state = args[0]
            args = args[1]
        else:
            state = None
        out = self.forward(*args, **kwargs)
        for hook, with_kwargs in list(self._forward_hooks.values()):
            res = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if res is not None:
                out = res
        if state is not None:
            state.watch_outputs(out)
        return out

    def _update_hooked(self):
        d = self.__dict__
        d["_hooked"] = bool(d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"]
                            or d.get("_compiled_call") is not None)

    def compile(self, *args, **kwargs):
        """Compile this module in place (``torch.nn.Module.compile``): later calls run through
        ``ember.compile``. ``fullgraph=True`` makes a graph break an error; ``dynamic`` is passed on;
        ``backend``/``mode``/``options`` are accepted and ignored; ``disable=True`` keeps it eager."""
        from ...graph.compile import compile as _compile

        kw = dict(kwargs)
        fullgraph, dynamic = kw.pop("fullgraph", False), kw.pop("dynamic", None)
        for ignored in ("backend", "mode", "options"):
            kw.pop(ignored, None)
        disable = kw.pop("disable", False)
        if args or kw:
            import difflib

            known = ["fullgraph", "dynamic", "backend", "mode", "options", "disable"]
            close = [m for k in kw for m in difflib.get_close_matches(k, known, n=1)]
            raise mark(TypeError(f"{type(self).__name__}.compile() got unexpected arguments {list(kw) or args}; "
                                 f"it takes {', '.join(known)}" + (f". Did you mean {close[0]!r}?" if close else "")))
        self.__dict__["_compiled_call"] = None if disable else _compile(self, dynamic=dynamic, strict=fullgraph)
        self._update_hooked()

    def _add_hook(self, table, value, prepend):
        key = next_hook_id()
        table[key] = value
        if prepend:
            table.move_to_end(key, last=False)
        self._update_hooked()
        return HookHandle(self, table, key)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` runs before ``forward``; it may return replacement args."""
        return self._add_hook(self._forward_pre_hooks, (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output)`` runs after ``forward``; it may return a replacement output."""
        return self._add_hook(self._forward_hooks, (hook, with_kwargs), prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients w.r.t. the module's tensor inputs
        are computed; it may return a replacement ``grad_input`` tuple."""
        return self._add_hook(self._backward_hooks, hook, prepend)

    register_backward_hook = register_full_backward_hook

    # -- attribute registration -------------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise mark(AttributeError("cannot assign parameters before Module.__init__() call"))
            _remove_from(d, name, ("_buffers", "_modules"))
            d.pop(name, None)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise mark(with_user_line(TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' of {type(self).__name__} "
                    "(ember.nn.Parameter or None expected); wrap it: nn.Parameter(tensor)"), 2))
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise mark(AttributeError("cannot assign module before Module.__init__() call"))
            _remove_from(d, name, ("_parameters", "_buffers"))
            d.pop(name, None)
            d["_modules"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise mark(TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                     "(ember.nn.Module or None expected)"))
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise mark(TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                     "(ember.Tensor or None expected)"))
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            t = d.get(table)
            if t is not None and name in t:
                return t[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if name in d.get(table, ()):
                del d[table][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(super().__dir__())
        for table in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__.get(table, ()))
        return sorted(keys)

    def _check_name(self, name, what):
        if not isinstance(name, str):
            raise mark(TypeError(f"{what} name should be a string, got {type(name).__name__}"))
        if "." in name or name == "":
            raise mark(KeyError(f"{what} name can't contain '.' or be empty, got {name!r}"))
        if "_parameters" not in self.__dict__:
            raise mark(AttributeError(f"cannot assign {what} before Module.__init__() call"))

    def register_parameter(self, name, param):
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise mark(KeyError(f"attribute '{name}' already exists"))
        if param is not None and not isinstance(param, Parameter):
            raise mark(TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                                 "(ember.nn.Parameter or None required)"))
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise mark(KeyError(f"attribute '{name}' already exists"))
        if tensor is not None and not isinstance(tensor, Tensor):
            raise mark(TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                                 "(ember.Tensor or None required)"))
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise mark(TypeError(f"{type(module).__name__} is not a Module subclass"))
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise mark(KeyError(f"attribute '{name}' already exists"))
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        mod = self
        for item in target.split(".") if target else ():
            sub = mod._modules.get(item) if isinstance(mod, Module) else None
            if sub is None:
                raise mark(AttributeError(f"{type(mod).__name__} has no submodule `{item}` (looking up "
                                          f"'{target}')"))
            mod = sub
        return mod

    def get_parameter(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise mark(AttributeError(f"{type(mod).__name__} has no parameter `{name}`"))
        return mod._parameters[name]

    def get_buffer(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise mark(AttributeError(f"{type(mod).__name__} has no buffer `{name}`"))
        return mod._buffers[name]

    # -- iteration -----------------------------------------------------------------------------------------
    def _named_members(self, get, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else \
            [(prefix, self)]
        for mod_prefix, mod in mods:
            for k, v in get(mod):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                memo.add(id(v))
                yield (mod_prefix + "." + k if mod_prefix else k), v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self):
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    # -- modes and conversion ------------------------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise mark(ValueError("training mode is expected to be a bool"))
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def share_memory(self):
        """Move every parameter and buffer into shared memory (``Tensor.share_memory_``); returns self."""
        for t in list(self.parameters()) + [b for b in self.buffers() if b is not None]:
            t.share_memory_()
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()
                with no_grad():
                    p.grad.zero_()

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn):
        """Convert every parameter (in place, keeping the Parameter objects) and buffer with ``fn``."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                p.data = fn(p)
                if p.grad is not None:
                    p.grad = fn(p.grad).detach()
            for k, b in m._buffers.items():
                if isinstance(b, Parameter):  # a weight kept as a buffer (Keras non-trainable): keep it
                    b.data = fn(b)
                elif b is not None:
                    m._buffers[k] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``: floating-point parameters
        and buffers take the dtype; all move to the device."""
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, backend.device, int)) and not isinstance(a, bool):
                device = a
            else:
                dtype = a
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise mark(with_user_line(TypeError(
                    f"{type(self).__name__}.to only accepts floating point dtypes, got {dtype.name}"), 2))
        dev = None if device is None else backend.device(device)

        def convert(t):
            arr = t._data
            if dtype is not None and dtypes.is_float(arr.dtype) and arr.dtype != dtype.np:
                arr = arr.astype(dtype.np)
            if dev is not None and backend.device_of(arr) != dev:
                arr = backend.to_device(arr, dev)
            if arr is t._data:
                return t
            out = Tensor._wrap(arr)
            out.requires_grad = t.requires_grad and not isinstance(t, Parameter)
            return out

        return self._apply(convert)

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def type(self, dst_type):
        return self.to(dst_type)

    # -- state dict ----------------------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered mapping from dotted names to parameters and persistent buffers (sharing memory)."""
        out = OrderedDict() if destination is None else destination
        for name, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            pre = name + "." if name else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    out[pre + k] = p if keep_vars else p.detach()
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers_set:
                    out[pre + k] = b if keep_vars else b.detach()
        return out

    def _state_entries(self):
        """{key: (owner module, kind, name)} for every entry ``state_dict`` would hold."""
        entries = {}
        for name, mod in self.named_modules(remove_duplicate=False):
            pre = name + "." if name else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    entries[pre + k] = (mod, "_parameters", k)
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers_set:
                    entries[pre + k] = (mod, "_buffers", k)
        return entries

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into this module's parameters and buffers (in place).

        With ``strict`` every key must match; errors list each missing and unexpected key and each shape
        mismatch with the expected and found shapes. A DistributedDataParallel checkpoint (every key with
        the ``module.`` prefix) loads into the bare model, with a warning."""
        entries = self._state_entries()
        state_dict = _without_ddp_prefix(state_dict, entries)
        missing = [k for k in entries if k not in state_dict]
        unexpected = [k for k in state_dict if k not in entries]
        mismatched = []
        for k, (mod, table, name) in entries.items():
            if k in state_dict:
                cur = getattr(mod, table)[name]
                shape = tuple(getattr(state_dict[k], "shape", ()))
                if shape != tuple(cur.shape):
                    mismatched.append(f"size mismatch for {k}: copying a param with shape {shape} from "
                                      f"checkpoint, the shape in current model is {tuple(cur.shape)}.")
        errors = list(mismatched)
        if strict:
            if unexpected:
                errors.insert(0,
                              "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected)
                              + ".")
            if missing:
                errors.insert(0,
                              "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise mark(with_user_line(RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)), 2))
        for k, (mod, table, name) in entries.items():
            if k in state_dict:
                _copy_into(mod, table, name, state_dict[k], assign)
        return IncompatibleKeys(missing, unexpected)

    # -- printing ------------------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for key, mod in self._modules.items():
            lines.append(f"({key}): " + _addindent(repr(mod), 2))
        head = self._get_name() + "("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_hooked", False)


def _without_ddp_prefix(state_dict, entries):
    keys = list(state_dict)
    if not keys or not all(k.startswith("module.") for k in keys) or any(k.startswith("module.") for k in entries):
        return state_dict
    import warnings

    warnings.warn("load_state_dict: every key has the 'module.' prefix of a DistributedDataParallel checkpoint; "
                  "loading them into the bare model without it", UserWarning, stacklevel=3)
    return OrderedDict((k[len("module."):], v) for k, v in state_dict.items())


def _remove_from(d, name, tables):
    for t in tables:
        table = d.get(t)
        if table is not None and name in table:
            del table[name]


def _copy_into(mod, table, name, value, assign):
    cur = getattr(mod, table)[name]
    if not isinstance(value, Tensor):
        value = Tensor(value)
    if assign:
        if table == "_parameters":
            new = Parameter(value, requires_grad=cur.requires_grad)
            mod._parameters[name] = new
        else:
            mod._buffers[name] = value
        return
    with no_grad():
        cur.copy_(value.detach())
