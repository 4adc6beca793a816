"""``ember.fx.Interpreter`` and ``Transformer``: run a GraphModule node by node, or rebuild it node by node.

Override one method per op (``call_function``, ``call_method``, ``call_module``, ``get_attr``, ``placeholder``,
``output``) or ``run_node`` to observe or change what each node does (``torch.fx.Interpreter``).

>>> import ember
>>> from ember import fx
>>> class NegateSigmoid(fx.Interpreter):
...     def call_function(self, target, args, kwargs):
...         out = super().call_function(target, args, kwargs)
...         return -out if target is ember.sigmoid else out
>>> gm = fx.symbolic_trace(lambda x: ember.sigmoid(x))
>>> NegateSigmoid(gm).run(ember.tensor([0.0])).tolist()
[-0.5]
"""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import mark
from .graph import Graph
from .graph_module import GraphModule
from .node import Node, map_arg
from .proxy import GraphAppendingTracer, Proxy


class Interpreter:
    """Execute ``module.graph`` one node at a time (values kept in ``self.env``, freed after their last use)."""

    def __init__(self, module, garbage_collect_values: bool = True, graph: Graph | None = None):
        self.module = module
        self.graph = graph if graph is not None else module.graph
        self.env: dict[Node, Any] = {}
        self.garbage_collect_values = garbage_collect_values
        self._last_uses: dict[Node, list[Node]] = {}
        seen: set[Node] = set()
        for n in reversed(self.graph.nodes):
            for inp in n.all_input_nodes:
                if inp not in seen:
                    seen.add(inp)
                    self._last_uses.setdefault(n, []).append(inp)

    def run(self, *args, initial_env: dict | None = None) -> Any:
        """Run the graph on ``args`` and return what its output node returns."""
        self.env = dict(initial_env or {})
        self.args_iter = iter(args)
        for node in self.graph.nodes:
            if node in self.env:
                continue
            self.env[node] = self.run_node(node)
            if self.garbage_collect_values:
                for dead in self._last_uses.get(node, ()):
                    self.env.pop(dead, None)
            if node.op == "output":
                return self.env[node]
        return None

    def run_node(self, n: Node) -> Any:
        """Fetch ``n``'s argument values and call the method named after its op."""
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        return getattr(self, n.op)(n.target, args, kwargs)

    def placeholder(self, target: str, args: tuple, kwargs: dict) -> Any:
        if target.startswith("**"):
            return {}
        if target.startswith("*"):
            return list(self.args_iter)
        try:
            return next(self.args_iter)
        except StopIteration:
            if args:
                return args[0]
            raise mark(RuntimeError(f"fx.Interpreter: expected a value for input {target!r}, got too few "
                                    "arguments")) from None

    def get_attr(self, target: str, args: tuple, kwargs: dict) -> Any:
        return self.fetch_attr(target)

    def call_function(self, target, args: tuple, kwargs: dict) -> Any:
        return target(*args, **kwargs)

    def call_method(self, target: str, args: tuple, kwargs: dict) -> Any:
        self_obj, *rest = args
        return getattr(self_obj, target)(*rest, **kwargs)

    def call_module(self, target: str, args: tuple, kwargs: dict) -> Any:
        return self.fetch_attr(target)(*args, **kwargs)

    def output(self, target, args: tuple, kwargs: dict) -> Any:
        return args[0]

    def fetch_attr(self, target: str) -> Any:
        """The attribute at dotted path ``target`` of the module."""
        obj = self.module
        for i, part in enumerate(target.split(".")):
            if not hasattr(obj, part):
                raise mark(RuntimeError(f"fx.Interpreter: node target {target!r} does not exist (no attribute "
                                        f"{'.'.join(target.split('.')[:i + 1])!r})"))
            obj = getattr(obj, part)
        return obj

    def fetch_args_kwargs_from_env(self, n: Node) -> tuple[tuple, dict]:
        """``n.args`` / ``n.kwargs`` with every node replaced by its computed value."""
        return map_arg(n.args, self.env.__getitem__), map_arg(n.kwargs, self.env.__getitem__)


class Transformer(Interpreter):
    """Rebuild a GraphModule node by node: each method returns a ``Proxy`` in a new graph; ``transform()``
    returns the new ``GraphModule``. Override ``call_function`` etc. to substitute operations.

    >>> import ember
    >>> from ember import fx
    >>> class ExpToSin(fx.Transformer):
    ...     def call_function(self, target, args, kwargs):
    ...         return super().call_function(ember.sin if target is ember.exp else target, args, kwargs)
    >>> gm = ExpToSin(fx.symbolic_trace(lambda x: ember.exp(x))).transform()
    >>> [n.target.__name__ for n in gm.graph.nodes if n.op == "call_function"]
    ['sin']
    """

    def __init__(self, module):
        super().__init__(module)
        self.new_graph = Graph()
        self.tracer = GraphAppendingTracer(self.new_graph, _hold=False)  # no library-wide recorders
        self.tracer.root = module

    def placeholder(self, target: str, args: tuple, kwargs: dict) -> Proxy:
        default = args[0] if args else inspect.Signature.empty
        return Proxy(self.new_graph.placeholder(target, default_value=default), self.tracer)

    def get_attr(self, target: str, args: tuple, kwargs: dict) -> Proxy:
        return self.tracer.create_proxy("get_attr", target, args, kwargs)

    def call_function(self, target, args: tuple, kwargs: dict) -> Proxy:
        return self.tracer.create_proxy("call_function", target, args, kwargs)

    def call_method(self, target: str, args: tuple, kwargs: dict) -> Proxy:
        return self.tracer.create_proxy("call_method", target, args, kwargs)

    def call_module(self, target: str, args: tuple, kwargs: dict) -> Proxy:
        return self.tracer.create_proxy("call_module", target, args, kwargs)

    def run_node(self, n: Node) -> Any:
        out = super().run_node(n)
        if isinstance(out, Proxy) and n.op != "output":
            out.node.meta = dict(n.meta)
        return out

    def transform(self) -> GraphModule:
        """Run the transformation and return the new GraphModule (sharing the original's submodules)."""
        result = self.run()  # placeholders make their own proxies, so no inputs are needed
        self.new_graph.output(self.tracer.create_arg(result))
        return GraphModule(self.module, self.new_graph)
