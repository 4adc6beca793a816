"""The graph IR: ``Value``, ``Node`` and ``Graph`` (a flat, jaxpr-like list of equations).

Values have object identity (names such as ``%3`` come from the printer); nodes name a primitive of
``ember.ops.REGISTRY`` and carry plain-data attrs; the graph keeps a ``users`` map in sync with its nodes
(torch.fx style) so passes can ask "who reads this value?" in O(1).

Example:
    >>> from ember.graph import Graph
    >>> g = Graph()
    >>> x = g.add_input((2, 3), "float32")
    >>> w = g.add_input((3, 4), "float32")
    >>> y = g.add_node("matmul", [x, w])
    >>> g.outputs.append(y)
    >>> print(g)
    graph(%0:f32[2,3], %1:f32[3,4]) {
      %2:f32[2,4] = matmul %0 %1
      return %2
    }
"""

from __future__ import annotations

import numpy as np

from . import opinfo


class GraphError(ValueError):
    """A malformed graph (raised by the verifier and by graph edits that would break it)."""


class Value:
    """One SSA value: a shape (ints, or None for a dynamic dim) and a dtype name such as ``"float32"``."""

    __slots__ = ("shape", "dtype", "hint", "__weakref__")

    def __init__(self, shape, dtype, hint: str | None = None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = opinfo.dtype_name(dtype)
        self.hint = hint  # an optional human name (e.g. a parameter's), shown by the printer

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self):
        """Number of elements, or None when a dim is dynamic."""
        return None if None in self.shape else int(np.prod(self.shape, dtype=np.int64))

    def type_str(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{opinfo.short_dtype(self.dtype)}[{dims}]"

    def __repr__(self):
        return f"Value({self.type_str()} @{id(self):x})"


class Node:
    """One equation ``outputs = op(*inputs; **attrs)``; ``meta`` holds e.g. ``meta["source"] = "a.py:12"``."""

    __slots__ = ("op", "inputs", "attrs", "outputs", "meta")

    def __init__(self, op: str, inputs, attrs=None, outputs=None, meta=None):
        self.op = op
        self.inputs = list(inputs)
        self.attrs = dict(attrs or {})
        self.outputs = list(outputs or [])
        self.meta = dict(meta or {})

    @property
    def out(self) -> Value:
        """The single output (every primitive has one)."""
        return self.outputs[0]

    def __repr__(self):
        return f"Node({self.op}, {len(self.inputs)} inputs)"


class Graph:
    """``Graph(inputs, nodes, outputs, constants)``: ``constants`` maps a Value to its array.

    Build graphs with ``add_input`` / ``add_constant`` / ``add_node`` so the ``users`` map stays in sync;
    edit them with ``replace_all_uses_with``, ``remove_node`` and ``insert_node``.
    """

    def __init__(self, inputs=None, nodes=None, outputs=None, constants=None):
        self.inputs: list[Value] = list(inputs or [])
        self.nodes: list[Node] = list(nodes or [])
        self.outputs: list[Value] = list(outputs or [])
        self.constants: dict[Value, object] = dict(constants or {})
        self.meta: dict = {}
        self._users: dict[Value, list[Node]] = {}
        self._producer: dict[Value, Node] = {}
        self.rebuild_index()

    # ------------------------------------------------------------------ index (users / producers)
    def rebuild_index(self) -> None:
        """Recompute the ``users`` and ``producer`` maps from ``nodes`` (after editing ``nodes`` by hand)."""
        self._users = {}
        self._producer = {}
        for node in self.nodes:
            self._index(node)

    def _index(self, node: Node) -> None:
        for v in node.inputs:
            self._users.setdefault(v, []).append(node)
        for v in node.outputs:
            self._producer[v] = node

    def _unindex(self, node: Node) -> None:
        for v in node.inputs:
            users = self._users.get(v)
            if users:
                users.remove(node)
        for v in node.outputs:
            self._producer.pop(v, None)

    def users(self, value: Value) -> list[Node]:
        """Nodes that read ``value`` (a node reading it twice appears twice)."""
        return self._users.get(value, [])

    def producer(self, value: Value) -> Node | None:
        """The node defining ``value``, or None for inputs and constants."""
        return self._producer.get(value)

    # ------------------------------------------------------------------ construction
    def add_input(self, shape, dtype, hint=None) -> Value:
        v = Value(shape, dtype, hint)
        self.inputs.append(v)
        return v

    def add_constant(self, array, hint=None) -> Value:
        arr = np.asarray(array) if not hasattr(array, "__cuda_array_interface__") else array
        v = Value(arr.shape, arr.dtype, hint)
        self.constants[v] = arr
        return v

    def make_node(self, op, inputs, attrs=None, outputs=None, meta=None) -> Node:
        """A node whose output Value is inferred from the shape rules when ``outputs`` is not given."""
        attrs = dict(attrs or {})
        if outputs is None:
            avals = opinfo.infer_outputs(op, [(v.shape, v.dtype) for v in inputs], attrs)
            if avals is None:
                raise GraphError(f"cannot infer the output of {op!r}; pass outputs=[Value(shape, dtype)]")
            outputs = [Value(*aval) for aval in avals]
        return Node(op, inputs, attrs, outputs, meta)

    def add_node(self, op, inputs, attrs=None, outputs=None, meta=None, index=None) -> Value:
        """Append (or insert at ``index``) a node and return its first output."""
        node = self.make_node(op, inputs, attrs, outputs, meta)
        self.insert_node(node, index)
        return node.outputs[0] if node.outputs else None

    def insert_node(self, node: Node, index=None) -> Node:
        if index is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(index, node)
        self._index(node)
        return node

    def remove_node(self, node: Node) -> None:
        """Remove a node whose outputs nobody reads."""
        for v in node.outputs:
            if self.users(v) or v in self.outputs:
                raise GraphError(f"cannot remove {node.op}: its output is still used")
        self.nodes.remove(node)
        self._unindex(node)

    def set_input(self, node: Node, i: int, value: Value) -> None:
        """Point ``node.inputs[i]`` at ``value``, keeping ``users`` in sync."""
        old = node.inputs[i]
        self._users[old].remove(node)
        node.inputs[i] = value
        self._users.setdefault(value, []).append(node)

    def replace_all_uses_with(self, old: Value, new: Value) -> int:
        """Make every reader of ``old`` (nodes, graph outputs) read ``new``; returns how many uses moved."""
        if old is new:
            return 0
        count = 0
        for node in list(self._users.get(old, [])):
            for i, v in enumerate(node.inputs):
                if v is old:
                    node.inputs[i] = new
                    count += 1
            self._users.setdefault(new, []).append(node)
        self._users.pop(old, None)
        for i, v in enumerate(self.outputs):
            if v is old:
                self.outputs[i] = new
                count += 1
        return count

    # ------------------------------------------------------------------ whole-graph helpers
    def values(self):
        """Every value in definition order: inputs, constants, then node outputs."""
        yield from self.inputs
        yield from self.constants
        for node in self.nodes:
            yield from node.outputs

    def clone(self) -> tuple[Graph, dict]:
        """A deep copy with fresh Values (arrays of constants are shared); returns (graph, old->new map)."""
        vmap: dict[Value, Value] = {}

        def fresh(v):
            if v not in vmap:
                vmap[v] = Value(v.shape, v.dtype, v.hint)
            return vmap[v]

        g = Graph([fresh(v) for v in self.inputs])
        g.constants = {fresh(v): arr for v, arr in self.constants.items()}
        for node in self.nodes:
            attrs = dict(node.attrs)
            if isinstance(attrs.get("body"), Graph):
                attrs["body"] = attrs["body"].clone()[0]
            g.insert_node(
                Node(
                    node.op,
                    [fresh(v) for v in node.inputs],
                    attrs,
                    [fresh(v) for v in node.outputs],
                    dict(node.meta),
                )
            )
        g.outputs = [fresh(v) for v in self.outputs]
        g.meta = dict(self.meta)
        return g, vmap

    def __str__(self):
        from .printer import format_graph

        return format_graph(self)

    def format(self, source: bool = False, decomposed: bool = False, bodies: bool = False) -> str:
        """The printed form; ``source=True`` appends each node's source line (and layer) as a comment;
        ``decomposed=True`` prints layer nodes (conv, lstm...) as the primitives the executors run;
        ``bodies=True`` prints each layer node with its decomposition nested under it."""
        from .printer import format_graph

        if decomposed:
            from .passes.decompose import decompose

            return format_graph(decompose(self.clone()[0]), source=source)
        return format_graph(self, source=source, bodies=bodies)

    def print(self, **kw) -> None:
        """Print ``format(**kw)`` (e.g. ``graph.print(decomposed=True)``)."""
        print(self.format(**kw))

    def to_dot(self, name: str = "graph") -> str:
        """Graphviz text of the graph (render with ``dot -Tsvg``)."""
        from .dot import graph_to_dot

        return graph_to_dot(self, name)

    def __repr__(self):
        return f"<Graph: {len(self.inputs)} inputs, {len(self.nodes)} nodes, {len(self.outputs)} outputs>"
