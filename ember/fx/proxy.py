"""``ember.fx.Proxy``: the stand-in value symbolic tracing passes through a program (``torch.fx.Proxy``).

Every operator on a proxy (``+``, ``@``, ``x[i]``, ...) records a ``call_function`` node with an ``operator``
target, every method (``x.view(...)``) a ``call_method`` node, and every call of a public ``ember`` /
``ember.nn.functional`` function during tracing a ``call_function`` node whose target is that function. Using a
proxy where Python needs a concrete value (``if``, ``len``, ``int``) raises ``TraceError`` naming the user's line.

>>> from ember import fx
>>> g = fx.Graph()
>>> x = fx.Proxy(g.placeholder("x"))
>>> y = (x * 2).relu()
>>> [(n.op, str(n.target)) for n in g.nodes][1:]
[('call_function', '<built-in function mul>'), ('call_method', 'relu')]
"""
from __future__ import annotations

import dis
import inspect
import operator
from typing import Any

from ..errors import mark, with_user_line
from .graph import Graph
from .node import Node, Target, map_aggregate


class TraceError(ValueError):
    """A program did something symbolic tracing cannot record (control flow on a traced value, ...)."""


class TracerBase:
    """What a proxy needs from its tracer: ``create_proxy`` (which calls ``create_arg`` and ``create_node``)."""

    graph: Graph

    def create_node(self, kind: str, target: Target, args: tuple, kwargs: dict, name: str | None = None,
                    type_expr: Any = None) -> Node:
        """Add one node to ``self.graph``; override to tag or redirect nodes."""
        return self.graph.create_node(kind, target, args, kwargs, name, type_expr)

    def proxy(self, node: Node) -> Proxy:
        """Wrap a new node in a ``Proxy``."""
        return Proxy(node, self)

    def create_proxy(self, kind: str, target: Target, args: tuple, kwargs: dict, name: str | None = None,
                     type_expr: Any = None, proxy_factory_fn=None) -> Proxy:
        """Record one operation: map proxies in the arguments to their nodes, create the node, wrap it."""
        node = self.create_node(kind, target, self.create_arg(tuple(args)), self.create_arg(dict(kwargs)),
                                name, type_expr)
        return proxy_factory_fn(node) if proxy_factory_fn is not None else self.proxy(node)

    def create_arg(self, a: Any) -> Any:
        """Turn a value into a node argument: proxies become their nodes, containers are mapped."""
        def leaf(v):
            if isinstance(v, Proxy):
                return v.node
            return self._create_leaf_arg(v)
        return map_aggregate(a, leaf)

    def _create_leaf_arg(self, v: Any) -> Any:
        from ..nn import Module
        from ..tensor import Tensor

        if isinstance(v, (Module, Tensor)):
            raise mark(with_user_line(NotImplementedError(
                f"fx: cannot record a {type(v).__name__} as an argument outside symbolic_trace (no module to "
                "hold it); pass it as an input instead"), 3))
        return v

    def to_bool(self, obj: Proxy) -> bool:
        """Called by ``bool(proxy)`` (``if``, ``while``, ``and``): a traced value has no truth value."""
        raise mark(with_user_line(TraceError(
            f"symbolically traced variables cannot be used as inputs to control flow (the value of "
            f"{obj.node.name!r} is unknown while tracing); make it a concrete_args entry, move the branch into a "
            "function registered with ember.fx.wrap, or use ember.where" + _outside_trace_hint()), 3))

    def iter(self, obj: Proxy):
        """Called by ``iter(proxy)``; only unpacking ``a, b = proxy`` can be traced (as getitem nodes)."""
        frame = inspect.currentframe()
        caller = frame.f_back.f_back if frame and frame.f_back else None
        if caller is not None:
            for inst in dis.get_instructions(caller.f_code):
                if inst.offset == caller.f_lasti and inst.opname == "UNPACK_SEQUENCE":
                    return (obj[i] for i in range(inst.argval))
        raise mark(with_user_line(TraceError(
            f"Proxy object {obj.node.name!r} cannot be iterated while tracing (a loop over a traced value, or "
            "*args built from one); unpack a fixed number of values (a, b = x.chunk(2)) or index it"), 3))

    def keys(self, obj: Proxy):
        """Called by ``**proxy``; returns an attribute proxy for ``keys``."""
        return Attribute(obj, "keys")()


def _outside_trace_hint() -> str:
    from ._symbolic_trace import tracing

    if tracing():
        return ""
    return ("\n(no trace is running: ember functions and nn layers record calls on proxies only inside "
            "symbolic_trace or a GraphModule called on proxies; outside them use Proxy operators and methods, e.g. "
            "y.tanh(), or graph.call_function(ember.cat, ...))")


class GraphAppendingTracer(TracerBase):
    """A tracer that only appends to an existing graph (``torch.fx.proxy.GraphAppendingTracer``).

    >>> from ember import fx
    >>> g = fx.Graph()
    >>> t = fx.proxy.GraphAppendingTracer(g)
    >>> x = fx.Proxy(g.placeholder("x"), t)
    >>> out = g.output((x + 1).node)
    >>> len(g.nodes)
    3
    """

    def __init__(self, graph: Graph, *, _hold: bool = True):
        super().__init__()
        self.graph = graph
        if _hold:  # ember.cat(proxies) records a node while this tracer lives (outside a trace too)
            from ._symbolic_trace import hold_free_proxies

            hold_free_proxies(self)


class Proxy:
    """A traced value: wraps a ``Node`` and records every operation applied to it.

    >>> from ember import fx
    >>> g = fx.Graph()
    >>> p = fx.Proxy(g.placeholder("x"))
    >>> p, (p @ p).node.op
    (Proxy(x), 'call_function')
    """

    def __init__(self, node: Node, tracer: TracerBase | None = None):
        if tracer is None:
            tracer = GraphAppendingTracer(node.graph)
        self.tracer = tracer
        self.node = node

    def __repr__(self) -> str:
        return f"Proxy({self.node.name})"

    __hash__ = object.__hash__

    def __getattr__(self, k: str):
        if k.startswith("__") and k.endswith("__"):  # copy / pickle probes are not tensor attributes
            raise AttributeError(k)
        return Attribute(self, k)

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", "__call__", (self,) + args, kwargs)

    def __bool__(self):
        return self.tracer.to_bool(self)

    def __iter__(self):
        return self.tracer.iter(self)

    def __len__(self):
        raise mark(with_user_line(RuntimeError(
            "'len' is not supported in symbolic tracing by default (the length of a traced value is unknown); "
            "use x.shape[0] / x.size(0), or register the calling function with ember.fx.wrap"), 2))

    def __index__(self):
        raise mark(with_user_line(TraceError(
            f"symbolically traced variable {self.node.name!r} cannot be used as a Python int (index, range) "
            "while tracing; pass the value as concrete_args"), 2))

    def __setitem__(self, key, value):
        self.tracer.create_proxy("call_function", operator.setitem, (self, key, value), {})

    def keys(self):
        return self.tracer.keys(self)


class Attribute(Proxy):
    """``proxy.name``: a ``call_method`` when called, else a ``getattr`` node (created on first use)."""

    def __init__(self, root: Proxy, attr: str):
        self.root = root
        self.attr = attr
        self.tracer = root.tracer
        self._node = None

    @property
    def node(self) -> Node:
        if self._node is None:
            import builtins

            self._node = self.tracer.create_proxy("call_function", builtins.getattr, (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", self.attr, (self.root,) + args, kwargs)


_BINARY = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lshift", "rshift", "and_", "or_",
           "xor"]
_COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]
_UNARY = ["neg", "pos", "invert", "abs"]


def _install_magic() -> None:
    def dunder(name):
        return f"__{name.rstrip('_')}__"

    for name in _BINARY + _COMPARE + ["getitem"]:
        fn = getattr(operator, name)

        def method(self, other, _fn=fn):
            return self.tracer.create_proxy("call_function", _fn, (self, other), {})
        setattr(Proxy, dunder(name), method)
    for name in _BINARY:
        fn = getattr(operator, name)

        def rmethod(self, other, _fn=fn):
            return self.tracer.create_proxy("call_function", _fn, (other, self), {})
        setattr(Proxy, f"__r{name.rstrip('_')}__", rmethod)
    for name in _UNARY:
        fn = getattr(operator, name)

        def umethod(self, _fn=fn):
            return self.tracer.create_proxy("call_function", _fn, (self,), {})
        setattr(Proxy, dunder(name), umethod)


_install_magic()
