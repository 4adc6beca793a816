"""``ember.fx.Graph``: an ordered, doubly linked list of ``Node`` s plus the Python source it compiles to.

The API is ``torch.fx.Graph``'s: ``placeholder``, ``get_attr``, ``call_function``, ``call_method``,
``call_module``, ``output``, ``create_node``, ``inserting_before/after``, ``erase_node``, ``node_copy``,
``graph_copy``, ``eliminate_dead_code``, ``lint``, ``print_tabular`` and ``str(graph)``.

>>> import ember
>>> from ember import fx
>>> g = fx.Graph()
>>> x = g.placeholder("x")
>>> y = g.call_function(ember.sin, (x,))
>>> out = g.output(y)
>>> print(g)
graph():
    %x : [num_users=1] = placeholder[target=x]
    %sin : [num_users=1] = call_function[target=ember.sin](args = (%x,), kwargs = {})
    return sin
>>> fx.GraphModule(ember.nn.Module(), g)(ember.tensor([0.0])).tolist()
[0.0]
"""
from __future__ import annotations

import builtins
import contextlib
import inspect
import keyword
import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .node import BINARY_MAGIC, UNARY_MAGIC, Argument, Node, Target, map_arg

_ILLEGAL = set(dir(builtins)) | set(keyword.kwlist) | {"ember", "operator", "self", "inf", "nan", "device"}


class _Namespace:
    """Unique Python identifiers for nodes: ``add``, ``add_1``, ...; never a keyword or a builtin's name."""

    def __init__(self):
        self._used: set[str] = set()
        self._base_count: dict[str, int] = defaultdict(int)

    def create_name(self, candidate: str) -> str:
        candidate = re.sub(r"[^0-9a-zA-Z_]+", "_", candidate) or "_unnamed"
        if candidate[0].isdigit():
            candidate = "_" + candidate
        m = re.match(r"(.*)_(\d+)$", candidate)
        base, num = (candidate, None) if m is None else (m.group(1), int(m.group(2)))
        if not num:
            num = self._base_count[base]
        while candidate in self._used or candidate in _ILLEGAL:
            num += 1
            candidate = f"{base}_{num}"
        self._used.add(candidate)
        self._base_count[base] = num
        return candidate


def _snake_case(s: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", s).lower()


def _target_name(target: Target) -> str:
    if isinstance(target, str):
        name = target[2:-2] if target.startswith("__") and target.endswith("__") else target
        return _snake_case(name)
    return _snake_case(getattr(target, "__name__", type(target).__name__))


_PUBLIC_NAMESPACES = ("ember", "ember.nn.functional", "ember.linalg", "ember.special", "ember.fft")


def qualified_name(fn: Callable) -> str:
    """How a call_function target prints: ``ember.add``, ``ember.nn.functional.relu``, ``operator.add``, ..."""
    import importlib
    import sys

    name = getattr(fn, "__name__", None)
    if fn is getattr(operator, str(name), None):
        return f"operator.{name}"
    if fn is getattr(builtins, str(name), None):
        return f"builtins.{name}"
    for mod_name in _PUBLIC_NAMESPACES:
        mod = sys.modules.get(mod_name)
        if mod is None and mod_name == "ember":
            mod = importlib.import_module("ember")
        if mod is not None and name and _unwrapped(getattr(mod, name, None)) is fn:
            return f"{mod_name}.{name}"
    return f"{getattr(fn, '__module__', None) or '_'}.{getattr(fn, '__qualname__', name)}"


def _unwrapped(f):
    return getattr(f, "__fx_original__", f)


class PythonCode:
    """The generated ``forward``: its source ``src`` and the ``globals`` it runs with."""

    def __init__(self, src: str, globals: dict):
        self.src = src
        self.globals = globals


class _CodeGen:
    def __init__(self, root_module: str):
        import ember

        self.root = root_module
        self.globals: dict[str, Any] = {"ember": ember, "operator": operator, "builtins": builtins,
                                        "inf": math.inf, "nan": math.nan, "device": ember.device}
        self._by_id: dict[int, str] = {}

    def add_global(self, obj: Any, hint: str) -> str:
        if id(obj) in self._by_id:
            return self._by_id[id(obj)]
        name = base = re.sub(r"[^0-9a-zA-Z_]", "_", hint)
        i = 0
        while name in self.globals or name in _ILLEGAL:
            i += 1
            name = f"{base}_{i}"
        self.globals[name] = obj
        self._by_id[id(obj)] = name
        return name

    def fn_name(self, fn: Callable) -> str:
        q = qualified_name(fn)
        if q.startswith(("ember.", "operator.")):
            return q
        if q.startswith("builtins."):
            return q[len("builtins."):]
        return self.add_global(fn, q)

    def arg(self, a: Argument) -> str:
        import ember

        if isinstance(a, Node):
            return a.name
        if isinstance(a, tuple) and not hasattr(a, "_fields"):
            inner = ", ".join(self.arg(e) for e in a)
            return f"({inner},)" if len(a) == 1 else f"({inner})"
        if isinstance(a, list):
            return "[" + ", ".join(self.arg(e) for e in a) + "]"
        if isinstance(a, dict):
            return "{" + ", ".join(f"{self.arg(k)}: {self.arg(v)}" for k, v in a.items()) + "}"
        if isinstance(a, slice):
            return f"slice({self.arg(a.start)}, {self.arg(a.stop)}, {self.arg(a.step)})"
        if a is None or a is Ellipsis or isinstance(a, (bool, int, float, complex, str, bytes)):
            return repr(a)
        if isinstance(a, ember.dtype) and getattr(ember, str(a).rpartition(".")[2], None) is a:
            return str(a)
        if isinstance(a, ember.device):
            return repr(a)
        if callable(a) and hasattr(a, "__name__"):
            return self.fn_name(a)
        return self.add_global(a, f"_{type(a).__name__}_const")

    def call_args(self, args, kwargs) -> str:
        parts = [self.arg(a) for a in args] + [f"{k} = {self.arg(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)

    def attr_path(self, target: str) -> str:
        expr = self.root
        for part in target.split("."):
            expr = f"{expr}.{part}" if part.isidentifier() and not keyword.iskeyword(part) \
                else f'getattr({expr}, "{part}")'
        return expr

    def expr(self, n: Node) -> str:
        args, kwargs = n.args, n.kwargs
        if n.op == "get_attr":
            return self.attr_path(n.target)
        if n.op == "call_module":
            return f"{self.attr_path(n.target)}({self.call_args(args, kwargs)})"
        if n.op == "call_method":
            return f"{self.arg(args[0])}.{n.target}({self.call_args(args[1:], kwargs)})"
        t = n.target
        if not kwargs and len(args) == 2 and t in BINARY_MAGIC:
            return f"{self.arg(args[0])} {BINARY_MAGIC[t]} {self.arg(args[1])}"
        if not kwargs and len(args) == 1 and t in UNARY_MAGIC:
            return f"{UNARY_MAGIC[t]}{self.arg(args[0])}"
        if not kwargs and len(args) == 2 and t is operator.getitem:
            return f"{self.arg(args[0])}[{self.arg(args[1])}]"
        if (not kwargs and len(args) == 2 and t is builtins.getattr and isinstance(args[1], str)
                and args[1].isidentifier()):
            return f"{self.arg(args[0])}.{args[1]}"
        return f"{self.fn_name(t)}({self.call_args(args, kwargs)})"


class _NodeList:
    """``graph.nodes``: iterable forwards and ``reversed``; erasing the current node while iterating is safe."""

    def __init__(self, graph: Graph, reverse: bool = False):
        self.graph, self.reverse = graph, reverse

    def __len__(self) -> int:
        return self.graph._len

    def __iter__(self):
        root = self.graph._root
        cur = root._prev if self.reverse else root._next
        while cur is not root:
            if not cur._erased:
                yield cur
            cur = cur._prev if self.reverse else cur._next

    def __reversed__(self):
        return iter(_NodeList(self.graph, not self.reverse))

    def __repr__(self) -> str:
        return repr(list(self))


class Graph:
    """The fx graph: nodes in execution order, unique names, and ``python_code`` that turns it into ``forward``.

    >>> import operator
    >>> from ember import fx
    >>> g = fx.Graph()
    >>> a, b = g.placeholder("a"), g.placeholder("b")
    >>> s = g.call_function(operator.add, (a, b))
    >>> out = g.output(s)
    >>> print(g.python_code("self").src.strip())
    def forward(self, a, b):
        add = a + b;  a = b = None
        return add
    """

    def __init__(self, owning_module=None, tracer_cls=None, tracer_extras=None):
        self._root = Node(self, "", "root", "", (), {})
        self._len = 0
        self._namespace = _Namespace()
        self._insert = self._root.prepend
        self._owning_module = owning_module
        self._tracer_cls = tracer_cls
        self._tracer_extras = tracer_extras

    @property
    def owning_module(self):
        """The ``GraphModule`` this graph belongs to (or None)."""
        return self._owning_module

    @owning_module.setter
    def owning_module(self, mod) -> None:
        self._owning_module = mod

    @property
    def nodes(self) -> _NodeList:
        """The nodes in order; ``reversed(graph.nodes)`` walks them backwards."""
        return _NodeList(self)

    def find_nodes(self, *, op: str, target: Target = None) -> list[Node]:
        """The nodes with this ``op`` (and ``target``, when given)."""
        return [n for n in self.nodes if n.op == op and (target is None or n.target == target)]

    # --- building
    def create_node(self, op: str, target: Target, args: tuple | None = None, kwargs: dict | None = None,
                    name: str | None = None, type_expr: Any = None) -> Node:
        """Insert a new node at the current insert point (the end unless inside ``inserting_before/after``)."""
        name = self._namespace.create_name(name if name is not None else _target_name(target))
        n = Node(self, name, op, target, tuple(args or ()), dict(kwargs or {}), type_expr)
        self._insert(n)
        self._len += 1
        return n

    def placeholder(self, name: str, type_expr: Any = None, default_value: Any = inspect.Signature.empty) -> Node:
        """An input of ``forward`` called ``name`` (with an optional default value)."""
        args = () if default_value is inspect.Signature.empty else (default_value,)
        return self.create_node("placeholder", name, args, {}, type_expr=type_expr)

    def get_attr(self, qualified_name: str, type_expr: Any = None) -> Node:
        """Read the parameter, buffer or attribute at ``qualified_name`` (``"sub.weight"``) of the module."""
        return self.create_node("get_attr", qualified_name, (), {}, type_expr=type_expr)

    def call_module(self, module_name: str, args: tuple | None = None, kwargs: dict | None = None,
                    type_expr: Any = None) -> Node:
        """Call the submodule at ``module_name``."""
        return self.create_node("call_module", module_name, args, kwargs, type_expr=type_expr)

    def call_method(self, method_name: str, args: tuple | None = None, kwargs: dict | None = None,
                    type_expr: Any = None) -> Node:
        """Call ``args[0].method_name(*args[1:], **kwargs)``."""
        return self.create_node("call_method", method_name, args, kwargs, type_expr=type_expr)

    def call_function(self, the_function: Callable, args: tuple | None = None, kwargs: dict | None = None,
                      type_expr: Any = None) -> Node:
        """Call ``the_function(*args, **kwargs)``."""
        return self.create_node("call_function", the_function, args, kwargs, type_expr=type_expr)

    def output(self, result: Argument, type_expr: Any = None) -> Node:
        """The value ``forward`` returns."""
        return self.create_node("output", "output", (result,), {}, type_expr=type_expr)

    @contextlib.contextmanager
    def _insert_point(self, fn):
        old, self._insert = self._insert, fn
        try:
            yield
        finally:
            self._insert = old

    def inserting_before(self, n: Node | None = None):
        """``with graph.inserting_before(n):`` new nodes go just before ``n`` (the start when ``n`` is None)."""
        return self._insert_point(n.prepend if n is not None else self._root.append)

    def inserting_after(self, n: Node | None = None):
        """``with graph.inserting_after(n):`` new nodes go just after ``n`` (the end when ``n`` is None)."""
        if n is None:
            return self._insert_point(self._root.prepend)
        return self._insert_point(n.append)

    def erase_node(self, to_erase: Node) -> None:
        """Remove a node that nobody reads any more (raises if it still has users)."""
        if to_erase.users:
            raise RuntimeError(f"Tried to erase Node {to_erase} but it still had {len(to_erase.users)} users in "
                               f"the graph: {to_erase.users}! Call replace_all_uses_with first.")
        if to_erase.graph is not self or to_erase._erased:
            raise RuntimeError(f"fx.Graph.erase_node: node {to_erase} is not in this graph")
        to_erase._remove_from_list()
        to_erase._erased = True
        self._len -= 1
        to_erase._update_args_kwargs((), {})

    def node_copy(self, node: Node, arg_transform: Callable[[Node], Argument] = lambda x: x) -> Node:
        """Copy ``node`` (from any graph) into this one, mapping its input nodes with ``arg_transform``."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        new = self.create_node(node.op, node.target, args, kwargs, node.name, node.type)
        new.meta = dict(node.meta)
        return new

    def graph_copy(self, g: Graph, val_map: dict, return_output_node: bool = False):
        """Copy all nodes of ``g`` except its output into this graph; returns what ``g`` outputs, mapped."""
        for node in g.nodes:
            if node in val_map:
                continue
            if node.op == "output":
                rv = map_arg(node.args[0], lambda n: val_map[n])
                return (rv, node) if return_output_node else rv
            val_map[node] = self.node_copy(node, lambda n: val_map[n])
        return None

    def __deepcopy__(self, memo) -> Graph:
        g = Graph(tracer_cls=self._tracer_cls)
        copied = g.graph_copy(self, {}, return_output_node=True)
        if copied is not None:
            rv, out = copied
            g.output(rv, out.type).meta = dict(out.meta)
        return g

    def eliminate_dead_code(self) -> bool:
        """Erase nodes whose result nobody reads (keeping placeholders, output and side effects); True if any."""
        changed = False
        for node in reversed(self.nodes):
            if not node.users and not node.is_impure():
                self.erase_node(node)
                changed = True
        return changed

    def lint(self) -> None:
        """Check the graph's invariants: known ops, unique names, inputs defined before use, ``users`` in sync,
        and (with an owning module) that get_attr / call_module targets exist. Raises RuntimeError."""
        seen: set[Node] = set()
        names: set[str] = set()
        for n in self.nodes:
            if n.graph is not self:
                raise RuntimeError(f"fx lint: node {n} does not belong to this graph")
            if n.name in names:
                raise RuntimeError(f"fx lint: node name {n.name!r} is used twice")
            names.add(n.name)
            for inp in n.all_input_nodes:
                if inp.graph is not self or inp._erased:
                    raise RuntimeError(f"fx lint: argument {inp} of node {n} is not in this graph")
                if inp not in seen:
                    raise RuntimeError(f"fx lint: argument {inp} of node {n} is used before it is defined")
                if n not in inp.users:
                    raise RuntimeError(f"fx lint: {n} reads {inp} but is missing from {inp}.users")
            for u in n.users:
                if n not in u._input_nodes:
                    raise RuntimeError(f"fx lint: {u} is in {n}.users but does not read it")
            seen.add(n)
            self._lint_target(n)

    def _lint_target(self, n: Node) -> None:
        m = self._owning_module
        if m is None or n.op not in ("get_attr", "call_module"):
            return
        obj = m
        for part in n.target.split("."):
            if not hasattr(obj, part):
                raise RuntimeError(f"fx lint: node {n} ({n.op}) refers to {n.target!r}, which the module lacks")
            obj = getattr(obj, part)

    # --- printing and code
    def __str__(self) -> str:
        lines = ["graph():"]
        lines += ["    " + n.format_node() for n in self.nodes]
        return "\n".join(lines)

    def print_tabular(self) -> None:
        """Print one row per node: opcode, name, target, args, kwargs (no third-party table library needed)."""
        print(_tabulate([[n.op, n.name, str(n.target), str(n.args), str(n.kwargs)] for n in self.nodes],
                        ["opcode", "name", "target", "args", "kwargs"]))

    def python_code(self, root_module: str = "self") -> PythonCode:
        """The source of ``def forward(self, ...)`` for this graph and the globals it needs to run."""
        cg = _CodeGen(root_module)
        last_use: dict[Node, Node] = {}
        to_free: dict[Node, list[Node]] = defaultdict(list)
        for n in reversed(self.nodes):
            for inp in n.all_input_nodes:
                if inp not in last_use:
                    last_use[inp] = n
                    to_free[n].append(inp)
        sig, body = [root_module], []
        for n in self.nodes:
            if n.op == "placeholder":
                t = n.target
                sig.append(t if t.startswith("*") or not n.args else f"{t} = {cg.arg(n.args[0])}")
                if t.lstrip("*") != n.name:  # the node was renamed (`input` is a builtin): bind the new name
                    body.append(f"{n.name} = {t.lstrip('*')}")
                continue
            if n.op == "output":
                body.append(f"return {cg.arg(n.args[0])}")
                continue
            free = to_free.get(n, []) + ([n] if not n.users else [])
            line = f"{n.name} = {cg.expr(n)}"
            if free:
                line += ";  " + " = ".join(f.name for f in free) + " = None"
            body.append(line)
        src = f"\n\n\ndef forward({', '.join(sig)}):\n" + "".join(f"    {b}\n" for b in body or ["pass"]) + "    "
        return PythonCode(src, cg.globals)


def _tabulate(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    def fmt(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])
