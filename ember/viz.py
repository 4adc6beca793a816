"""Graphviz pictures of graphs: the autograd graph behind an eager result (torchviz's ``make_dot``), and the IR of
any compiled graph (an ``ember.compile``'d function or module after its first call, an ``Executable``, a
``Graph``).

Example:
    >>> import ember
    >>> from ember.viz import make_dot
    >>> w = ember.ones(3, requires_grad=True)
    >>> dot = make_dot((w * 2).exp(), params={"w": w})
    >>> print(dot.source.splitlines()[0])
    digraph autograd {
    >>> "ExpBackward" in dot.source and "MulBackward" in dot.source and "w\\\\n(3,)" in dot.source
    True
    >>> f = ember.compile(lambda x: (x * 2).exp().sum())
    >>> _ = f(ember.ones(3))
    >>> "exp" in make_dot(f).source
    True
"""

from __future__ import annotations

from .graph.dot import render


class Dot:
    """Graphviz text (``source``); ``render(path, format)`` writes SVG/PNG when Graphviz is installed."""

    def __init__(self, source: str):
        self.source = source

    def render(self, path: str, format: str = "svg") -> str:  # noqa: A002 (torchviz's/graphviz's name)
        return render(self.source, path, format)

    def __str__(self):
        return self.source

    def _repr_svg_(self):  # notebooks show the picture when Graphviz is installed
        import os
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            path = self.render(os.path.join(d, "g.svg"))
            with open(path) as f:
                return f.read()


def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(t) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ("," if len(t.shape) == 1 else "") + ")"


def _graph_of(obj):
    """The IR Graph behind a compiled function/module (its latest signature), an Executable or a Graph."""
    from .graph.ir import Graph

    if isinstance(obj, Graph):
        return obj
    if isinstance(getattr(obj, "graph", None), Graph) and hasattr(obj, "source"):  # an Executable
        return obj.graph
    entries = getattr(obj, "_entries", None)
    if entries is not None:
        graphs = [e.graph for e in entries if e.graph is not None]
        if not graphs:
            raise ValueError("make_dot: this compiled function has no graph yet (it compiles on its first call, "
                             "and runs eagerly after a graph break): call it once first")
        return graphs[-1]
    return None


def make_dot(output, params=None, show_attrs: bool = False) -> Dot:
    """Graphviz text of ``output``: the autograd graph that produced a Tensor (or a list/tuple of them), or the
    IR of a compiled function/module (after its first call), an ``Executable`` or a ``Graph``.

    ``params``: {name: tensor} labels leaves by name. Backward nodes are grey boxes, leaves that require
    grad are blue, outputs green. ``show_attrs`` adds each node's attrs.
    """
    graph = _graph_of(output)
    if graph is not None:
        return Dot(graph.to_dot())
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    names = {id(t): n for n, t in (params or {}).items()}
    lines = ["digraph autograd {", '  node [shape=box, style=filled, fontname="monospace", fontsize=10];']
    seen: set[int] = set()
    stack = []
    for i, t in enumerate(outputs):
        oid = f"out{i}"
        lines.append(f'  {oid} [fillcolor="#c8f0c8", label={_q("output " + _shape(t))}];')
        src = t._node if t._node is not None else t
        stack.append(src)
        lines.append(f"  {_id(src)} -> {oid};")
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if hasattr(obj, "edges"):  # an autograd Node
            label = obj.display_name()
            if show_attrs and obj.attrs:
                label += "\n" + ", ".join(f"{k}={v}" for k, v in obj.attrs.items())
            lines.append(f'  {_id(obj)} [fillcolor="#dddddd", label={_q(label)}];')
            for e in obj.edges:
                if e is not None:
                    lines.append(f"  {_id(e)} -> {_id(obj)};")
                    stack.append(e)
        else:  # a leaf tensor
            label = (names[id(obj)] + "\n" if id(obj) in names else "") + _shape(obj)
            lines.append(f'  {_id(obj)} [fillcolor="#cfe0ff", label={_q(label)}];')
    lines.append("}")
    return Dot("\n".join(lines))


def _id(obj) -> str:
    return f"n{id(obj):x}"
