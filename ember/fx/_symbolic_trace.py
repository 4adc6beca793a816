"""``ember.fx.symbolic_trace`` and ``Tracer``: run a module's ``forward`` on ``Proxy`` inputs and record a Graph.

While a trace runs, the public functions of ``ember``, ``ember.nn.functional``, ``ember.linalg`` (and the
traced function's own global names for them) are swapped for recorders that add a ``call_function`` node whose
target is the original function when any argument is a proxy; ``Module.__call__`` routes submodule calls through
``Tracer.call_module`` (``ember.nn`` built-ins are leaves, recorded as ``call_module``), and reading a parameter
or buffer records ``get_attr``. Everything is restored when the trace ends, also on error.

>>> import ember
>>> from ember import fx, nn
>>> class Net(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc = nn.Linear(3, 2)
...     def forward(self, x):
...         return ember.relu(self.fc(x)) * 2
>>> gm = fx.symbolic_trace(Net())
>>> print(gm.code.strip())
def forward(self, x):
    fc = self.fc(x);  x = None
    relu = ember.relu(fc);  fc = None
    mul = relu * 2;  relu = None
    return mul
"""
from __future__ import annotations

import builtins
import functools
import inspect
import sys
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

from ..errors import mark, with_user_line
from .graph import Graph
from .proxy import Proxy, TracerBase

_PATCHED_MODULES = ("ember", "ember.nn.functional", "ember.linalg", "ember.special", "ember.fft", "ember.ops.profiler")
_PRIVATE_OPS = ("ember.ops.profiler",)  # torch.ops namespaces: their functions' names start with "_"
_INNER_PREFIXES = ("ember.nn.functional.", "ember.nn.modules.")
_WRAPPED: list[tuple[dict, str]] = []  # (globals dict, name) registered with ember.fx.wrap
_LOCK = threading.RLock()
_ACTIVE = threading.local()


def _find_proxy(args, kwargs) -> Proxy | None:
    found = []

    def look(v):
        if isinstance(v, Proxy):
            found.append(v)
        elif isinstance(v, (tuple, list)):
            for e in v:
                look(e)
        elif isinstance(v, dict):
            for e in v.values():
                look(e)
    look(args)
    look(kwargs)
    return found[0] if found else None


class _Recorder:
    """A stand-in for library function ``orig`` that records a call_function node when a proxy is among the
    arguments, and calls ``orig`` otherwise. It compares and hashes as ``orig`` (``node.target == ember.add``
    and ``in {ember.add}`` hold while it is installed); only ``is`` tells them apart."""

    def __init__(self, orig: Callable):
        functools.update_wrapper(self, orig)
        self.__fx_original__ = orig

    def __call__(self, *args, **kwargs):
        p = _find_proxy(args, kwargs)
        if p is None:
            return self.__fx_original__(*args, **kwargs)
        return p.tracer.create_proxy("call_function", self.__fx_original__, args, kwargs)

    def __eq__(self, other):
        return other is self.__fx_original__ or getattr(other, "__fx_original__", None) is self.__fx_original__

    def __hash__(self):
        return hash(self.__fx_original__)

    def __repr__(self):
        return repr(self.__fx_original__)


def _recorder(orig: Callable) -> Callable:
    return _Recorder(orig)


def _is_patchable(v) -> bool:
    return isinstance(v, (types.FunctionType, types.BuiltinFunctionType)) and not hasattr(v, "__fx_original__")


class _Patcher:
    """Set attributes / dict entries and put every one back on ``restore`` (in reverse order)."""

    def __init__(self):
        self._undo: list[Callable[[], None]] = []

    def set_attr(self, obj, name: str, value) -> None:
        old = obj.__dict__.get(name, _MISSING) if isinstance(obj, type) else getattr(obj, name, _MISSING)
        setattr(obj, name, value)
        self._undo.append(lambda: delattr(obj, name) if old is _MISSING else setattr(obj, name, old))

    def set_item(self, d: dict, name: str, value) -> None:
        old = d.get(name, _MISSING)
        d[name] = value
        self._undo.append(lambda: d.pop(name, None) if old is _MISSING else d.__setitem__(name, old))

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


_MISSING = object()


def _patch_library(patcher: _Patcher) -> None:
    """Swap the public functions of ``_PATCHED_MODULES`` (and ember's layers' own references) for recorders."""
    originals: dict[int, Callable] = {}
    for mod_name in _PATCHED_MODULES:
        mod = sys.modules.get(mod_name)
        if mod is None:
            continue
        for name, v in list(vars(mod).items()):
            if (not name.startswith("_") or mod_name in _PRIVATE_OPS) and _is_patchable(v):
                originals[id(v)] = v
                patcher.set_attr(mod, name, _recorder(v))
    # ember's own layers reach functions through submodules (nn.modules.conv's `_F.conv2d`) or by direct import
    inner = [m.__dict__ for name, m in list(sys.modules.items())
             if m is not None and name.startswith(_INNER_PREFIXES) and name not in _PATCHED_MODULES]
    _patch_globals(patcher, inner, originals)


def _patch_globals(patcher: _Patcher, dicts: list[dict], originals: dict[int, Callable] | None = None) -> None:
    """Swap, in each globals dict, the names bound to a patched library function (``from ember import add``)."""
    if originals is None:
        originals = {}
        for mod_name in _PATCHED_MODULES:
            for v in vars(sys.modules.get(mod_name) or types.ModuleType("_")).values():
                orig = getattr(v, "__fx_original__", None)
                if orig is not None:
                    originals[id(orig)] = orig
    for g in dicts:
        for name, v in list(g.items()):
            if id(v) in originals and originals[id(v)] is v:
                patcher.set_item(g, name, _recorder(v))


def _patch_wrapped(patcher: _Patcher) -> None:
    for g, name in _WRAPPED:  # a wrapped builtin (`wrap("len")`) is shadowed by a global for the trace
        fn = _global_or_builtin(g, name)
        if fn is not None and not hasattr(fn, "__fx_original__"):
            patcher.set_item(g, name, _recorder(fn))


# The library's recorders are installed once for every user at a time: traces and live free tracers (below).
_LIBRARY: dict = {"users": 0, "patcher": None}


def _acquire_library() -> None:
    with _LOCK:
        if _LIBRARY["users"] == 0:
            _LIBRARY["patcher"] = _Patcher()
            _patch_library(_LIBRARY["patcher"])
        _LIBRARY["users"] += 1


def _release_library() -> None:
    with _LOCK:
        _LIBRARY["users"] -= 1
        if _LIBRARY["users"] == 0:
            _LIBRARY["patcher"].restore()
            _LIBRARY["patcher"] = None


def tracing() -> bool:
    """Whether public ember functions currently record calls on proxies (inside a trace on this thread)."""
    return getattr(_ACTIVE, "depth", 0) > 0


class _proxy_functions:
    """Context: public ember functions record nodes when called with proxies (re-entrant; one trace at a time)."""

    def __init__(self, extra_globals: list[dict] | None = None):
        self.extra = extra_globals or []
        self.patcher: _Patcher | None = None

    def __enter__(self):
        _LOCK.acquire()
        if getattr(_ACTIVE, "depth", 0) == 0:
            _acquire_library()
            self.patcher = _Patcher()
            _patch_globals(self.patcher, self.extra)
            _patch_wrapped(self.patcher)
        _ACTIVE.depth = getattr(_ACTIVE, "depth", 0) + 1
        return self

    def __exit__(self, *exc):
        _ACTIVE.depth -= 1
        try:
            if self.patcher is not None:
                self.patcher.restore()
                _release_library()
        finally:
            _LOCK.release()


def hold_free_proxies(tracer) -> None:
    """Keep public functions recording calls on proxies while ``tracer`` lives, outside any trace too.

    Why: torch.fx programs build graphs by hand (``Proxy(graph.placeholder("x"), GraphAppendingTracer(g))``,
    then ``torch.cat([y, z])``); torch records those through ``__torch_function__``. Ember gets the same by
    keeping the library's recorders installed while such a tracer exists (each call of a public function then
    looks for proxies among its arguments, ~1 us); they are removed when the last user is gone."""
    _acquire_library()
    weakref.finalize(tracer, _release_library)


def wrap(fn_or_name):
    """Record calls to a module-level function as one ``call_function`` node instead of tracing into it.

    Call it at module scope with the function or its name (``torch.fx.wrap``).

    >>> from ember import fx
    >>> def double_if_positive(x):
    ...     return x * 2 if x.sum() > 0 else x
    >>> _ = fx.wrap(double_if_positive)
    >>> gm = fx.symbolic_trace(lambda x: double_if_positive(x) + 1)
    >>> [n.op for n in gm.graph.nodes]
    ['placeholder', 'call_function', 'call_function', 'output']
    """
    frame = inspect.currentframe().f_back
    if frame is None or frame.f_code.co_name != "<module>":
        raise mark(with_user_line(NotImplementedError(
            "ember.fx.wrap must be called at the top level of a module (it patches that module's global name)")))
    name = fn_or_name if isinstance(fn_or_name, str) else fn_or_name.__name__
    if _global_or_builtin(frame.f_globals, name) is None:
        raise mark(NameError(f"ember.fx.wrap: no global named {name!r} in {frame.f_globals.get('__name__')}"))
    _WRAPPED.append((frame.f_globals, name))
    return fn_or_name


def _global_or_builtin(g: dict, name: str):
    if name in g:
        return g[name]
    b = g.get("__builtins__", builtins)
    return (vars(b) if isinstance(b, types.ModuleType) else b).get(name)


class Tracer(TracerBase):
    """Symbolic tracer (``torch.fx.Tracer``): ``trace(root)`` returns the Graph of ``root``'s forward.

    Subclass it and override ``is_leaf_module``, ``call_module``, ``create_node`` or ``create_proxy``.

    >>> import ember
    >>> from ember import fx, nn
    >>> class NoLeaves(fx.Tracer):
    ...     def is_leaf_module(self, m, qualname):
    ...         return False
    >>> g = NoLeaves().trace(nn.Sequential(nn.ReLU()))
    >>> [n.target for n in g.nodes if n.op == "call_function"] == [nn.functional.relu]
    True
    """

    def __init__(self, autowrap_modules=(), autowrap_functions=(), param_shapes_constant: bool = False):
        super().__init__()
        self.autowrap_functions = tuple(autowrap_functions)
        self.param_shapes_constant = param_shapes_constant
        self.root = None
        self.graph = None
        self.tensor_attrs: dict[int, str] = {}

    def is_leaf_module(self, m, module_qualified_name: str) -> bool:
        """Built-in ``ember.nn`` layers are leaves (one ``call_module`` node); user modules are traced through."""
        from ..nn import Sequential

        mod = type(m).__module__ or ""
        return (mod == "ember.nn" or mod.startswith("ember.nn.")) and not isinstance(m, Sequential)

    def path_of_module(self, mod) -> str:
        """The qualified name of ``mod`` inside the traced root (``"layer1.0.conv1"``)."""
        path = self._module_paths.get(id(mod))
        if path is None:
            raise mark(NameError(f"fx: module {type(mod).__name__} is not installed as a submodule of the traced "
                                 "root; assign it as an attribute in __init__"))
        return path

    def call_module(self, m, forward: Callable, args: tuple, kwargs: dict) -> Any:
        """A submodule call: a ``call_module`` node for a leaf, else trace through ``forward``."""
        qualname = self.path_of_module(m)
        if not self.is_leaf_module(m, qualname):
            return forward(*args, **kwargs)
        return self.create_proxy("call_module", qualname, args, kwargs)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
        """Reading a module attribute while tracing: parameters and buffers become ``get_attr`` proxies."""
        from ..tensor import Tensor

        if isinstance(attr_val, Tensor):
            path = self._tensor_paths.get(id(attr_val))
            if path is not None:
                if path not in parameter_proxy_cache:
                    parameter_proxy_cache[path] = self.create_proxy("get_attr", path, (), {})
                return parameter_proxy_cache[path]
        return attr_val

    def _create_leaf_arg(self, v: Any) -> Any:
        from ..nn import Module
        from ..tensor import Tensor

        if isinstance(v, Tensor):
            path = self._tensor_paths.get(id(v))
            if path is None:  # a tensor constant captured by the program: store it on the root
                path = self.tensor_attrs.get(id(v))
                if path is None:
                    path = f"_tensor_constant{len(self.tensor_attrs)}"
                    self.tensor_attrs[id(v)] = path
                    object.__setattr__(self.root, path, v)
                    self._tensor_paths[id(v)] = path
            return self.create_node("get_attr", path, (), {})
        if isinstance(v, Module):
            raise mark(with_user_line(NotImplementedError(
                f"fx: a module ({type(v).__name__}) cannot be an argument of a traced call; call it instead")))
        return v

    # --- the trace
    def trace(self, root, concrete_args: dict[str, Any] | None = None) -> Graph:
        """Trace ``root`` (an ``nn.Module`` or a function) into a new ``Graph`` (also ``self.graph``)."""
        from ..nn import Module
        from ..tensor import Tensor

        if isinstance(root, Module):
            self.root = root
            fn = type(root).forward
            fn_self: tuple = (root,)
        else:
            self.root = Module()
            fn = root
            fn_self = ()
        self.graph = Graph(tracer_cls=type(self))
        self._module_paths = {id(m): name for name, m in self.root.named_modules()}
        # plain tensor attributes (in a module's __dict__) keep their names, as torch.fx's tensor_attrs do
        self._tensor_paths = {id(v): f"{prefix}.{k}" if prefix else k for prefix, m in self.root.named_modules()
                              for k, v in vars(m).items() if isinstance(v, Tensor)}
        self._tensor_paths.update({id(t): n for n, t in self.root.named_buffers()})
        self._tensor_paths.update({id(t): n for n, t in self.root.named_parameters()})
        self.tensor_attrs = {}
        args = self._create_args_for_root(fn, concrete_args or {})
        g = getattr(inspect.unwrap(fn), "__globals__", None)
        with _proxy_functions([g] if g is not None else []), self._patch_module_class():
            result = fn(*fn_self, *args)
        self.create_node("output", "output", (self.create_arg(result),), {})
        return self.graph

    def _create_args_for_root(self, fn: Callable, concrete_args: dict) -> list:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        if params and params[0].name == "self" and isinstance(fn, types.FunctionType) and \
                self.root is not None and fn is getattr(type(self.root), "forward", None):
            params = params[1:]
        unknown = set(concrete_args) - {p.name for p in params}
        if unknown:
            raise mark(TypeError(f"fx.symbolic_trace: concrete_args names {sorted(unknown)} are not parameters "
                                 f"of {getattr(fn, '__qualname__', fn)} ({[p.name for p in params]})"))
        args = []
        for p in params:
            if p.kind is p.VAR_KEYWORD:  # **kwargs: an input of the generated forward, empty while tracing
                self.create_proxy("placeholder", "**" + p.name, (), {})
                continue
            if p.kind is p.VAR_POSITIONAL:
                self.create_proxy("placeholder", "*" + p.name, (), {})
                continue
            if p.name in concrete_args:  # specialised: the value is traced in, the input keeps it as default
                value = concrete_args[p.name]
                self.create_proxy("placeholder", p.name, (value,), {})
                args.append(value)
                continue
            default = () if p.default is inspect.Parameter.empty else (p.default,)
            args.append(self.create_proxy("placeholder", p.name, default, {}))
        return args

    def _patch_module_class(self):
        from ..nn import Module

        tracer = self
        orig_call = Module.__call__
        cache: dict = {}

        class _Patch:
            def __enter__(self):
                self.p = _Patcher()

                def module_call(mod, *args, **kwargs):
                    def forward(*a, **k):
                        return orig_call(mod, *a, **k)
                    return tracer.call_module(mod, forward, args, kwargs)

                def module_getattr(mod, name):
                    val = orig_getattr(mod, name)
                    return tracer.getattr(name, val, cache)
                orig_getattr = Module.__getattr__
                self.p.set_attr(Module, "__call__", module_call)
                self.p.set_attr(Module, "__getattr__", module_getattr)
                return self

            def __exit__(self, *exc):
                self.p.restore()
        return _Patch()


def symbolic_trace(root, concrete_args: dict[str, Any] | None = None):
    """Trace ``root`` (a module or function) and return a ``GraphModule`` that runs the recorded graph.

    >>> import ember
    >>> from ember import fx
    >>> gm = fx.symbolic_trace(lambda x, y: ember.add(x, y) * y)
    >>> gm(ember.tensor([1.0]), ember.tensor([3.0])).tolist()
    [12.0]
    """
    from ..nn import Module
    from .graph_module import GraphModule

    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    name = type(root).__name__ if isinstance(root, Module) else getattr(root, "__name__", "GraphModule")
    return GraphModule(tracer.root, graph, name if name.isidentifier() else "GraphModule")

