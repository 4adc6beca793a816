"""The IR as plain JSON data: graphs, values, attrs (versioned by the artifact that holds them).

A graph becomes ``{"values": [...], "inputs": [...], "constants": [...], "nodes": [...], "outputs": [...]}``
where values are numbered in definition order (inputs, constants, node outputs) and everything else refers to
them by number. A value is ``{"shape": [...], "dtype": "float32"}`` (plus ``"hint"``); a dim is an int, a
string (a named dynamic dim such as ``"batch"``) or null (dynamic, derived from others). Constants name a
tensor (``{"value": 3, "tensor": "fc.weight"}``) whose array travels beside the JSON (safetensors in an
artifact), so the JSON holds no bulk data. Nodes are ``{"op", "inputs", "outputs", "attrs", "meta"}``, and a
layer node (conv, lstm, attention...) also ``"body"``: its decomposition, a graph of its own (own value numbers,
its inputs and outputs standing for the node's), which the executors inline when they are built. A layer node
without ``"body"`` is run by its op's run-time kernel (RNN layers with a dynamic sequence length); for an op
without one that is an error at load.

Attrs are plain data and map to JSON one to one: null, bools, ints, strings, finite floats and tuples
(JSON arrays). Everything else is a one-key object tagged with ``$``: ``{"$float": "inf" | "-inf" | "nan"}``,
``{"$list": [...]}``, ``{"$dict": [[key, value], ...]}``, ``{"$np": "float32", "value": ...}`` (a NumPy
scalar), ``{"$dtype": "float32"}`` (an Ember or NumPy dtype) and ``{"$graph": {...}}`` (the body of a
``fused`` node). Decoding builds only these types: nothing in the JSON can name a Python callable.

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.serialize import graph_to_json, graph_from_json
    >>> g = Graph(); x = g.add_input((None, 3), "float32")
    >>> g.outputs.append(g.add_node("sum", [x], {"axis": (1,), "keepdims": False}))
    >>> data, arrays = graph_to_json(g, dim_names={x: ("batch", None)})
    >>> data["values"][0]["shape"], data["nodes"][0]["attrs"]
    (['batch', 3], {'axis': [1], 'keepdims': False})
    >>> print(graph_from_json(data, arrays)[0])
    graph(%0:f32[?,3]) {
      %1:f32[?] = sum[axis=(1,), keepdims=False] %0
      return %1
    }
"""

from __future__ import annotations

import math

import numpy as np

from . import opinfo
from .ir import Graph, Node, Value


class SerializeError(ValueError):
    """A graph, attr or JSON document that cannot be (de)serialized; the message says which part."""


_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


# ------------------------------------------------------------------------------------------------- attrs
def encode_attr(value, where: str = "attr", graph_encoder=None):
    """``value`` as JSON data (see the module docstring); ``graph_encoder(graph)`` encodes sub-graphs."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, np.generic):
        return value
    if isinstance(value, float) and not isinstance(value, np.generic):
        if math.isfinite(value):
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, tuple):
        return [encode_attr(v, where, graph_encoder) for v in value]
    if isinstance(value, list):
        return {"$list": [encode_attr(v, where, graph_encoder) for v in value]}
    if isinstance(value, dict):
        return {"$dict": [[encode_attr(k, where, graph_encoder), encode_attr(v, where, graph_encoder)]
                          for k, v in value.items()]}
    if isinstance(value, np.generic):
        return {"$np": opinfo.dtype_name(value.dtype), "value": encode_attr(value.item(), where)}
    if isinstance(value, np.dtype) or (hasattr(value, "is_floating_point") and hasattr(value, "itemsize")):
        return {"$dtype": opinfo.dtype_name(value)}
    if isinstance(value, Graph):
        if graph_encoder is None:
            raise SerializeError(f"{where}: a sub-graph attr needs a graph encoder")
        return {"$graph": graph_encoder(value)}
    raise SerializeError(
        f"{where}: cannot write a {type(value).__name__} ({value!r}) as JSON; IR attrs must be plain data "
        "(None, bool, int, float, str, tuples, dtype names)"
    )


def decode_attr(data, where: str = "attr", graph_decoder=None):
    """The inverse of ``encode_attr``."""
    if data is None or isinstance(data, (bool, str, int, float)):
        return data
    if isinstance(data, list):
        return tuple(decode_attr(v, where, graph_decoder) for v in data)
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise SerializeError(f"{where}: unexpected JSON {data!r}")
    if "$float" in data:
        if data["$float"] not in _NONFINITE:
            raise SerializeError(f"{where}: unknown float {data['$float']!r}")
        return _NONFINITE[data["$float"]]
    if "$list" in data:
        return [decode_attr(v, where, graph_decoder) for v in _array(data["$list"], where)]
    if "$dict" in data:
        pairs = [_array(p, where) for p in _array(data["$dict"], where)]
        return {decode_attr(k, where): decode_attr(v, where, graph_decoder) for k, v in pairs}
    if "$np" in data:
        return np.dtype(_dtype(data["$np"], where)).type(decode_attr(data.get("value"), where))
    if "$dtype" in data:
        return _dtype(data["$dtype"], where)
    if "$graph" in data:
        if graph_decoder is None:
            raise SerializeError(f"{where}: a sub-graph attr needs a graph decoder")
        return graph_decoder(data["$graph"])
    raise SerializeError(f"{where}: unknown tagged value {sorted(data)}")


def _array(data, where):
    if not isinstance(data, list):
        raise SerializeError(f"{where}: expected a JSON array, got {data!r}")
    return data


def _dtype(name, where):
    try:
        return opinfo.dtype_name(name)
    except (TypeError, ValueError):
        raise SerializeError(f"{where}: unknown dtype {name!r}") from None


# ------------------------------------------------------------------------------------------------ graphs
class _Encoder:
    """Writes one graph (and its fused bodies); constant arrays go to ``arrays`` under their tensor names."""

    def __init__(self, constant_names, dim_names):
        self.constant_names = constant_names or {}
        self.dim_names = dim_names or {}
        self.arrays: dict = {}
        self.taken: set = set()

    def tensor_name(self, value) -> str:
        name = self.constant_names.get(value) or value.hint or "const"
        if name in self.taken:
            k = 1
            while f"{name}.{k}" in self.taken:
                k += 1
            name = f"{name}.{k}"
        self.taken.add(name)
        return name

    def value(self, v) -> dict:
        names = self.dim_names.get(v, ())
        dims = [_dim(d, names[i] if i < len(names) else None) for i, d in enumerate(v.shape)]
        out = {"shape": dims, "dtype": v.dtype}
        if v.hint:
            out["hint"] = v.hint
        return out

    def graph(self, graph: Graph) -> dict:
        ids = {v: i for i, v in enumerate(graph.values())}
        constants = []
        for v, arr in graph.constants.items():
            name = self.tensor_name(v)
            self.arrays[name] = arr
            constants.append({"value": ids[v], "tensor": name})
        nodes = []
        for k, node in enumerate(graph.nodes):
            where = f"node {k} ({node.op})"
            attrs = {key: encode_attr(val, f"{where} attr {key!r}", self.graph) for key, val in node.attrs.items()}
            entry = {"op": node.op, "inputs": [ids[v] for v in node.inputs],
                     "outputs": [ids[v] for v in node.outputs], "attrs": attrs}
            meta = {key: val for key, val in node.meta.items() if key in ("source", "module") and val}
            if meta:
                entry["meta"] = meta
            if "body" in node.meta:  # a layer node's decomposition (what the executors run)
                if node.meta["body"] is None:
                    raise SerializeError(f"{where}: the layer node has no decomposition (it depends on a "
                                         "dynamic size), so a loaded program could not run it")
                entry["body"] = self.graph(node.meta["body"])
            nodes.append(entry)
        return {
            "values": [self.value(v) for v in graph.values()],
            "inputs": [ids[v] for v in graph.inputs],
            "constants": constants,
            "nodes": nodes,
            "outputs": [ids[v] for v in graph.outputs],
        }


def _dim(d, name):
    """A dim as JSON: an int, a dynamic dim's name, or null (dynamic, unnamed); a symbolic dim object writes
    its ``name``."""
    if d is None:
        return name
    if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
        return int(d)
    return getattr(d, "name", None) or name


def graph_to_json(graph: Graph, constant_names=None, dim_names=None) -> tuple[dict, dict]:
    """``(json_data, {tensor name: array})`` for ``graph``.

    ``constant_names``: {Value: tensor name} for constants (default: the Value's hint, else ``const``; made
    unique with ``.1``, ``.2``...); ``dim_names``: {Value: tuple of names or None per dim} for dynamic dims.
    """
    enc = _Encoder(constant_names, dim_names)
    return enc.graph(graph), enc.arrays


class _Decoder:
    def __init__(self, arrays, known_ops):
        self.arrays = arrays
        self.known = known_ops
        self.dim_names: dict = {}
        self.used: set = set()

    def value(self, data, where) -> Value:
        if not isinstance(data, dict) or "shape" not in data or "dtype" not in data:
            raise SerializeError(f"{where}: a value needs 'shape' and 'dtype', got {data!r}")
        dims = _array(data["shape"], where)
        for d in dims:
            if not (d is None or isinstance(d, str) or (isinstance(d, int) and not isinstance(d, bool) and d >= 0)):
                raise SerializeError(f"{where}: bad dim {d!r} (expected an int >= 0, a name or null)")
        v = Value([d if isinstance(d, int) else None for d in dims], _dtype(data["dtype"], where),
                  data.get("hint"))
        if any(isinstance(d, str) for d in dims):
            self.dim_names[v] = tuple(d if isinstance(d, str) else None for d in dims)
        return v

    def graph(self, data) -> Graph:
        if not isinstance(data, dict):
            raise SerializeError(f"a graph must be a JSON object, got {type(data).__name__}")
        for key in ("values", "inputs", "constants", "nodes", "outputs"):
            if key not in data:
                raise SerializeError(f"the graph has no {key!r} entry")
        values = [self.value(v, f"value {i}") for i, v in enumerate(_array(data["values"], "values"))]

        def ref(i, where):
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(values):
                raise SerializeError(f"{where}: value number {i!r} is out of range (0..{len(values) - 1})")
            return values[i]

        g = Graph([ref(i, "inputs") for i in _array(data["inputs"], "inputs")])
        for c in _array(data["constants"], "constants"):
            v = ref(c.get("value") if isinstance(c, dict) else None, "constants")
            name = c.get("tensor")
            if name not in self.arrays:
                raise SerializeError(f"constant {name!r} (value {c['value']}) has no tensor in the weights")
            self.used.add(name)
            g.constants[v] = self.arrays[name]
        for k, n in enumerate(_array(data["nodes"], "nodes")):
            g.insert_node(self.node(n, k, ref))
        g.outputs = [ref(i, "outputs") for i in _array(data["outputs"], "outputs")]
        return g

    def node(self, n, k, ref) -> Node:
        if not isinstance(n, dict) or not isinstance(n.get("op"), str):
            raise SerializeError(f"node {k}: expected an object with an 'op' name, got {n!r}")
        op = n["op"]
        where = f"node {k} ({op})"
        if op not in self.known:
            raise SerializeError(
                f"{where}: unknown op {op!r}: this Ember has no primitive of that name (was the file written "
                "by a newer Ember, or edited?)"
            )
        attrs = n.get("attrs", {})
        if not isinstance(attrs, dict):
            raise SerializeError(f"{where}: attrs must be a JSON object")
        attrs = {key: decode_attr(val, f"{where} attr {key!r}", self.graph) for key, val in attrs.items()}
        meta = n.get("meta", {})
        meta = {key: str(val) for key, val in meta.items()} if isinstance(meta, dict) else {}
        if "body" in n:
            meta["body"] = self.body(n["body"], op, where)
        elif opinfo.is_layer(op) and _registry_op(op).lowering("executor") is None:
            raise SerializeError(f"{where}: the layer node has no decomposition ('body') and {op!r} has no "
                                 "run-time kernel, so it could not run")
        return Node(op, [ref(i, where) for i in _array(n.get("inputs", []), where)], attrs,
                    [ref(i, where) for i in _array(n.get("outputs", []), where)], meta)


    def body(self, data, op, where) -> Graph:
        if not opinfo.is_layer(op):
            raise SerializeError(f"{where}: only layer ops carry a decomposition ('body'), not {op!r}")
        names = self.dim_names
        self.dim_names = {}  # a body's own dims are not the program's named dims
        try:
            return self.graph(data)
        except SerializeError as exc:
            raise SerializeError(f"{where} decomposition: {exc}") from None
        finally:
            self.dim_names = names


def _registry_op(op):
    from ..ops import REGISTRY

    return REGISTRY[op]


def graph_from_json(data, arrays=None, known_ops=None) -> tuple[Graph, dict, set]:
    """``(graph, dim_names, used tensor names)`` from ``graph_to_json``'s data and the tensor arrays.

    Op names are checked against ``known_ops`` (default: the registry's names plus graph-only ops); an
    unknown op, a value number out of range or a constant without a tensor raises ``SerializeError``.
    """
    dec = _Decoder(arrays or {}, opinfo.known_ops() if known_ops is None else known_ops)
    g = dec.graph(data)
    return g, dec.dim_names, dec.used
