"""The readable printed form of a graph, in the spirit of a jaxpr.

graph(%0:f32[64,784], %1:f32[784,10]) {
  %2:f32[] = const 2.0
  %3:f32[64,10] = matmul %0 %1
  %4:f32[64,10] = mul %3 %2
  return %4
}
"""

from __future__ import annotations

import numpy as np


def format_attr(v) -> str:
    if isinstance(v, tuple):
        inner = ",".join(format_attr(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ",".join(format_attr(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    if hasattr(v, "nodes") and hasattr(v, "outputs"):  # a sub-graph, printed separately
        return "<graph>"
    return str(v)


def format_constant(arr) -> str:
    a = np.asarray(arr) if isinstance(arr, np.ndarray) else arr
    size = int(np.prod(a.shape, dtype=np.int64))
    if size == 1 and isinstance(a, np.ndarray):
        return "const " + repr(a.reshape(()).item())
    if size <= 4 and isinstance(a, np.ndarray):
        return "const " + repr(a.tolist())
    return "const ..."


class _Namer:
    def __init__(self):
        self.names: dict = {}

    def __call__(self, v) -> str:
        if v not in self.names:
            self.names[v] = f"%{len(self.names)}"
        return self.names[v]

    def typed(self, v) -> str:
        hint = f"({v.hint})" if v.hint else ""
        return f"{self(v)}{hint}:{v.type_str()}"


def format_graph(graph, source: bool = False, indent: str = "", header: str = "graph", bodies: bool = False) -> str:
    name = _Namer()
    lines = [f"{indent}{header}(" + ", ".join(name.typed(v) for v in graph.inputs) + ") {"]
    pad = indent + "  "
    for v, arr in graph.constants.items():
        lines.append(f"{pad}{name.typed(v)} = {format_constant(arr)}")
    for node in graph.nodes:
        lines.extend(_format_node(node, name, pad, source, bodies))
    lines.append(f"{pad}return " + " ".join(name(v) for v in graph.outputs))
    lines.append(indent + "}")
    return "\n".join(lines)


def _format_node(node, name, pad, source, bodies=False) -> list[str]:
    outs = ", ".join(name.typed(v) for v in node.outputs)
    attrs = {k: v for k, v in node.attrs.items() if k != "body"}
    attr_s = "[" + ", ".join(f"{k}={format_attr(v)}" for k, v in attrs.items()) + "]" if attrs else ""
    args = " ".join(name(v) for v in node.inputs)
    line = f"{pad}{outs} = {node.op}{attr_s}" + (f" {args}" if args else "")
    if source and node.meta.get("source"):
        module = node.meta.get("module")
        line += f"  # {node.meta['source']}" + (f" in {module}" if module else "")
    lines = [line]
    body = node.attrs.get("body")
    if body is not None:
        lines.append(format_graph(body, source, indent=pad + "  ", header="body"))
    decomposition = node.meta.get("body")
    if bodies and decomposition is not None:
        lines.append(format_graph(decomposition, source, indent=pad + "  ", header="decomposition", bodies=True))
    return lines
