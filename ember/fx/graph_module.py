"""``ember.fx.GraphModule``: an ``nn.Module`` whose ``forward`` is Python generated from an fx ``Graph``.

``GraphModule(root, graph)`` copies the submodules, parameters and buffers the graph's ``call_module`` /
``get_attr`` nodes name from ``root`` (a module or a dict), generates ``forward`` (``.code``) and runs it when
called. After editing ``gm.graph`` call ``gm.recompile()``.

>>> import ember
>>> from ember import fx
>>> gm = fx.symbolic_trace(lambda x: ember.exp(x) - 1)
>>> print(gm.code.strip())
def forward(self, x):
    exp = ember.exp(x);  x = None
    sub = exp - 1;  exp = None
    return sub
>>> gm(ember.tensor([0.0])).tolist()
[0.0]
"""
from __future__ import annotations

import copy
import itertools
import linecache

from ..errors import mark
from ..nn import Module
from ..tensor import Tensor
from ._symbolic_trace import _find_proxy, _proxy_functions
from .graph import Graph, PythonCode

_counter = itertools.count()


def _copy_attr(from_module, to_module, target: str) -> None:
    *prefix, field = target.split(".")
    for item in prefix:
        f = getattr(from_module, item)
        t = getattr(to_module, item, None)
        if f is t:  # the whole submodule is already there
            return
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        from_module, to_module = f, t
    _assign(getattr(from_module, field), to_module, field, from_module)


def _assign(value, to_module, field: str, from_module=None) -> None:
    from ..nn import Parameter

    is_buffer = isinstance(value, Tensor) and not isinstance(value, Parameter)
    if is_buffer and field not in getattr(to_module, "_buffers", {}):
        to_module.register_buffer(field, value)
    else:
        setattr(to_module, field, value)


def _assign_path(value, to_module, target: str) -> None:
    *prefix, field = target.split(".")
    for item in prefix:
        t = getattr(to_module, item, None)
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        to_module = t
    _assign(value, to_module, field)


class GraphModule(Module):
    """A module generated from a ``Graph`` (``torch.fx.GraphModule``); each instance has its own class.

    >>> import operator
    >>> import ember
    >>> from ember import fx
    >>> g = fx.Graph()
    >>> x = g.placeholder("x")
    >>> w = g.get_attr("w")
    >>> out = g.output(g.call_function(operator.mul, (x, w)))
    >>> gm = fx.GraphModule({"w": ember.tensor([2.0])}, g)
    >>> gm(ember.tensor([4.0])).tolist()
    [8.0]
    """

    def __new__(cls, *args, **kwargs):
        base = cls
        while base.__dict__.get("_fx_per_instance", False):
            base = base.__bases__[0]
        impl = type(base.__name__, (base,), {"_fx_per_instance": True, "__module__": base.__module__})
        return object.__new__(impl)

    def __init__(self, root, graph: Graph, class_name: str = "GraphModule"):
        super().__init__()
        type(self).__name__ = type(self).__qualname__ = class_name
        if isinstance(root, Module):
            self.training = root.training
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    _copy_attr(root, self, node.target)
        elif isinstance(root, dict):
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if node.target not in root:
                        raise mark(KeyError(f"fx.GraphModule: node {node.name} ({node.op}) needs {node.target!r}, "
                                            f"which the root dict lacks (keys: {sorted(root)})"))
                    _assign_path(root[node.target], self, node.target)
        else:
            raise mark(TypeError(f"fx.GraphModule: root must be an nn.Module or a dict, got {type(root).__name__}"))
        self.graph = graph

    @property
    def graph(self) -> Graph:
        """The graph this module runs; assigning a new one recompiles."""
        return self._graph

    @graph.setter
    def graph(self, g: Graph) -> None:
        object.__setattr__(self, "_graph", g)
        g.owning_module = self
        self.recompile()

    @property
    def code(self) -> str:
        """The Python source of the generated ``forward``."""
        return self._code

    def recompile(self) -> PythonCode:
        """Regenerate ``forward`` from ``self.graph`` (call it after editing the graph)."""
        pc = self._graph.python_code(root_module="self")
        object.__setattr__(self, "_code", pc.src)
        filename = f"<ember.fx generated {type(self).__name__} #{next(_counter)}>"
        linecache.cache[filename] = (len(pc.src), None, pc.src.splitlines(True), filename)  # readable tracebacks
        env = dict(pc.globals)
        exec(compile(pc.src, filename, "exec"), env)
        type(self).forward = env["forward"]
        return pc

    def __call__(self, *args, **kwargs):
        if _find_proxy(args, kwargs) is not None:  # called on proxies: inline this graph into theirs
            with _proxy_functions():
                return super().__call__(*args, **kwargs)
        return super().__call__(*args, **kwargs)

    def print_readable(self, print_output: bool = True) -> str:
        """The generated code as a class definition (printed unless ``print_output=False``)."""
        body = "\n".join("    " + line if line.strip() else "" for line in self._code.strip("\n").splitlines())
        text = f"class {type(self).__name__}(ember.nn.Module):\n{body.rstrip()}\n"
        if print_output:
            print(text)
        return text

    def add_submodule(self, target: str, m: Module) -> bool:
        """Install ``m`` at the dotted path ``target`` (creating empty parents)."""
        _assign_path(m, self, target)
        return True

    def delete_submodule(self, target: str) -> bool:
        """Remove the submodule at ``target``; False if there is none."""
        *prefix, field = target.split(".")
        mod = self
        for item in prefix:
            mod = getattr(mod, item, None)
            if not isinstance(mod, Module):
                return False
        if field not in mod._modules:
            return False
        del mod._modules[field]
        return True

    def delete_all_unused_submodules(self) -> None:
        """Remove the submodules no ``call_module`` / ``get_attr`` node of the graph reaches."""
        used = set()
        for n in self._graph.nodes:
            if n.op in ("call_module", "get_attr"):
                parts = n.target.split(".")
                used.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
                if n.op == "call_module":  # a called module keeps everything inside it
                    used.update(f"{n.target}.{name}" for name, _ in self.get_submodule(n.target).named_modules()
                                if name)
        for name, _ in reversed(list(self.named_modules())):
            if name and name not in used:
                self.delete_submodule(name)

    def __deepcopy__(self, memo):
        res = GraphModule.__new__(GraphModule)
        memo[id(self)] = res
        state = {k: v for k, v in self.__dict__.items() if k not in ("_graph", "_code")}
        res.__dict__.update(copy.deepcopy(state, memo))
        type(res).__name__ = type(res).__qualname__ = type(self).__name__
        res.graph = copy.deepcopy(self._graph, memo)
        return res

    def __str__(self) -> str:
        return super().__str__() + "\n" + self._code

    def __repr__(self) -> str:
        return super().__repr__()
