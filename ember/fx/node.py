"""``ember.fx.Node``: one operation of an fx ``Graph`` (``torch.fx.Node``), and ``map_arg`` / ``map_aggregate``.

A node has an ``op`` (``placeholder``, ``get_attr``, ``call_function``, ``call_method``, ``call_module``,
``output``), a ``target`` (the function, method name, module path or attribute path), ``args`` / ``kwargs`` that
may hold other nodes, a unique ``name``, the ``users`` that read it and a free ``meta`` dict. Setting ``args`` or
``kwargs`` keeps ``users`` in sync.

>>> import ember
>>> from ember import fx
>>> gm = fx.symbolic_trace(lambda x: ember.relu(x) + 1)
>>> [(n.op, n.name) for n in gm.graph.nodes]
[('placeholder', 'x'), ('call_function', 'relu'), ('call_function', 'add'), ('output', 'output')]
"""
from __future__ import annotations

import builtins
import operator
from collections.abc import Callable
from typing import Any

Target = Any  # a callable (call_function) or a str (the others)
Argument = Any  # a Node, a literal, or a tuple/list/dict/slice of them

OPCODES = ("placeholder", "get_attr", "call_function", "call_method", "call_module", "output", "root")


def map_aggregate(a: Argument, fn: Callable[[Any], Any]) -> Argument:
    """Apply ``fn`` to every leaf of ``a`` (through tuples, lists, dicts and slices), keeping the structure.

    >>> from ember.fx.node import map_aggregate
    >>> map_aggregate((1, [2, {"k": 3}]), lambda v: v * 10)
    (10, [20, {'k': 30}])
    """
    if isinstance(a, tuple):
        t = tuple(map_aggregate(e, fn) for e in a)
        return t if not hasattr(a, "_fields") else type(a)(*t)  # namedtuples keep their type
    if isinstance(a, list):
        return [map_aggregate(e, fn) for e in a]
    if isinstance(a, dict):
        return {k: map_aggregate(v, fn) for k, v in a.items()}
    if isinstance(a, slice):
        return slice(map_aggregate(a.start, fn), map_aggregate(a.stop, fn), map_aggregate(a.step, fn))
    return fn(a)


def map_arg(a: Argument, fn: Callable[[Node], Argument]) -> Argument:
    """Apply ``fn`` to every ``Node`` inside ``a`` (other leaves are kept), e.g. to wrap nodes in ``Proxy``.

    >>> from ember import fx
    >>> from ember.fx.node import map_arg
    >>> g = fx.Graph()
    >>> x = g.placeholder("x")
    >>> map_arg((x, 2, [x]), lambda n: n.name)
    ('x', 2, ['x'])
    """
    return map_aggregate(a, lambda v: fn(v) if isinstance(v, Node) else v)


def _input_nodes(args, kwargs) -> dict:
    found: dict = {}
    map_arg((args, kwargs), lambda n: found.setdefault(n))
    return found


# call_function targets whose calls are kept by dead-code elimination even when nothing reads the result
_SIDE_EFFECT_NAMES = {"_assert", "print", "setitem", "manual_seed", "seed", "save"}


class Node:
    """One operation in a ``Graph``; create nodes with the ``Graph`` methods, not directly.

    >>> from ember import fx
    >>> g = fx.Graph()
    >>> x = g.placeholder("x")
    >>> y = g.call_method("relu", (x,))
    >>> out = g.output(y)
    >>> y.op, y.target, y.args, list(x.users)
    ('call_method', 'relu', (x,), [relu])
    """

    def __init__(self, graph, name: str, op: str, target: Target, args: tuple, kwargs: dict, return_type=None):
        if op not in OPCODES:
            raise ValueError(f"fx.Node: unknown op {op!r}; expected one of {OPCODES[:-1]}")
        if op in ("call_method", "call_module", "get_attr") and not isinstance(target, str):
            raise ValueError(f"fx.Node: a {op} node's target must be a str, got {type(target).__name__}")
        if op == "call_function" and not callable(target):
            raise ValueError(f"fx.Node: a call_function node's target must be callable, got {target!r}")
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self.type = return_type
        self.users: dict[Node, None] = {}
        self.meta: dict[str, Any] = {}
        self._input_nodes: dict[Node, None] = {}
        self._args: tuple = ()
        self._kwargs: dict = {}
        self._prev = self
        self._next = self
        self._erased = False
        self._update_args_kwargs(tuple(args), dict(kwargs))

    # --- the linked list
    @property
    def next(self) -> Node:
        """The node after this one in the graph (the graph's sentinel after the last)."""
        return self._next

    @property
    def prev(self) -> Node:
        """The node before this one in the graph."""
        return self._prev

    def prepend(self, x: Node) -> None:
        """Move ``x`` to just before this node."""
        if x is self:
            return
        x._remove_from_list()
        p = self._prev
        p._next, x._prev, x._next, self._prev = x, p, self, x

    def append(self, x: Node) -> None:
        """Move ``x`` to just after this node."""
        self._next.prepend(x)

    def _remove_from_list(self) -> None:
        p, n = self._prev, self._next
        p._next, n._prev = n, p

    # --- arguments and users
    @property
    def args(self) -> tuple:
        """The positional arguments (may hold nodes); assigning updates ``users``."""
        return self._args

    @args.setter
    def args(self, a) -> None:
        self._update_args_kwargs(tuple(a), self._kwargs)

    @property
    def kwargs(self) -> dict:
        """The keyword arguments (may hold nodes); assigning updates ``users``."""
        return self._kwargs

    @kwargs.setter
    def kwargs(self, k) -> None:
        self._update_args_kwargs(self._args, dict(k))

    @property
    def all_input_nodes(self) -> list[Node]:
        """The nodes this node reads, in order of first appearance in ``args`` then ``kwargs``."""
        return list(self._input_nodes)

    def update_arg(self, idx: int, arg: Argument) -> None:
        """Set ``args[idx]`` to ``arg``."""
        a = list(self._args)
        a[idx] = arg
        self.args = tuple(a)

    def update_kwarg(self, key: str, arg: Argument) -> None:
        """Set ``kwargs[key]`` to ``arg``."""
        self.kwargs = {**self._kwargs, key: arg}

    def _update_args_kwargs(self, args: tuple, kwargs: dict) -> None:
        for old in self._input_nodes:
            old.users.pop(self, None)
        self._args, self._kwargs = args, kwargs
        self._input_nodes = _input_nodes(args, kwargs)
        for new in self._input_nodes:
            new.users.setdefault(self)

    def replace_all_uses_with(self, replace_with: Node, delete_user_cb: Callable[[Node], bool] = lambda u: True,
                              *, propagate_meta: bool = False) -> list[Node]:
        """Make every user of this node read ``replace_with`` instead; returns the users changed.

        >>> from ember import fx
        >>> g = fx.Graph()
        >>> x = g.placeholder("x")
        >>> a = g.call_method("relu", (x,))
        >>> b = g.call_method("sigmoid", (x,))
        >>> out = g.output(a)
        >>> a.replace_all_uses_with(b)
        [output]
        >>> out.args
        (sigmoid,)
        """
        if propagate_meta:
            for k, v in self.meta.items():
                replace_with.meta.setdefault(k, v)
        changed = []
        for user in list(self.users):
            if user is replace_with or not delete_user_cb(user):
                continue
            user.replace_input_with(self, replace_with)
            changed.append(user)
        return changed

    def replace_input_with(self, old_input: Node, new_input: Argument) -> None:
        """Replace every occurrence of ``old_input`` in this node's arguments with ``new_input``."""
        def swap(n):
            return new_input if n is old_input else n
        self._update_args_kwargs(map_arg(self._args, swap), map_arg(self._kwargs, swap))

    def is_impure(self) -> bool:
        """Whether dead-code elimination must keep this node even with no users."""
        if self.op in ("placeholder", "output"):
            return True
        if self.op == "call_function":
            return getattr(self.target, "__name__", "") in _SIDE_EFFECT_NAMES
        if self.op == "call_method":  # in-place tensor methods (add_, copy_, ...) write their first argument
            return self.target.endswith("_") and not self.target.endswith("__")
        return False

    # --- printing
    def format_node(self) -> str:
        """One line in ``str(graph)`` form: ``%name : [num_users=N] = op[target=...](args = ..., kwargs = ...)``."""
        if self.op == "output":
            return f"return {self._args[0]!r}"
        head = f"%{self.name} : [num_users={len(self.users)}] = {self.op}[target={_target_str(self.target)}]"
        if self.op == "placeholder":
            return head + (f"(default={_fmt_print(self._args[0])})" if self._args else "")
        if self.op == "get_attr":
            return head
        return head + f"(args = {_fmt_print(self._args)}, kwargs = {_fmt_print(self._kwargs)})"

    def __repr__(self) -> str:
        return self.name


def _target_str(target) -> str:
    if isinstance(target, str):
        return target
    from .graph import qualified_name

    return qualified_name(target)


def _fmt_print(a) -> str:
    """Arguments as ``str(graph)`` prints them: nodes as ``%name``, strings bare, containers like Python."""
    if isinstance(a, Node):
        return f"%{a.name}"
    if isinstance(a, tuple) and not hasattr(a, "_fields"):
        inner = ", ".join(_fmt_print(e) for e in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, list):
        return "[" + ", ".join(_fmt_print(e) for e in a) + "]"
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k}: {_fmt_print(v)}" for k, v in a.items()) + "}"
    return str(a)


BINARY_MAGIC = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
                operator.floordiv: "//", operator.mod: "%", operator.pow: "**", operator.matmul: "@",
                operator.lshift: "<<", operator.rshift: ">>", operator.and_: "&", operator.or_: "|",
                operator.xor: "^", operator.eq: "==", operator.ne: "!=", operator.lt: "<", operator.le: "<=",
                operator.gt: ">", operator.ge: ">="}
UNARY_MAGIC = {operator.neg: "-", operator.pos: "+", operator.invert: "~"}
BUILTIN_TARGETS = {builtins.getattr, operator.getitem}
