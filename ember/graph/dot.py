"""Graphviz text for graphs (``Graph.to_dot``) and optional rendering through the ``dot`` program."""

from __future__ import annotations

import shutil
import subprocess

from .printer import format_attr, format_constant


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_to_dot(graph, name: str = "graph") -> str:
    """One box per node, one ellipse per input/constant, edges labelled with the value's type.

    Example:
        >>> from ember.graph import Graph
        >>> g = Graph(); x = g.add_input((2,), "float32"); g.outputs.append(g.add_node("exp", [x]))
        >>> print(g.to_dot().splitlines()[0])
        digraph "graph" {
    """
    lines = [f"digraph {_quote(name)} {{", "  rankdir=TB;", '  node [fontname="monospace", fontsize=10];']
    src: dict = {}
    for i, v in enumerate(graph.inputs):
        src[v] = f"in{i}"
        label = f"input {i}" + (f" {v.hint}" if v.hint else "") + f"\n{v.type_str()}"
        lines.append(f'  in{i} [shape=ellipse, style=filled, fillcolor="#d8e8ff", label={_quote(label)}];')
    for i, (v, arr) in enumerate(graph.constants.items()):
        src[v] = f"c{i}"
        label = f"{format_constant(arr)}\n{v.type_str()}"
        lines.append(f'  c{i} [shape=ellipse, style=filled, fillcolor="#eeeeee", label={_quote(label)}];')
    for i, node in enumerate(graph.nodes):
        attrs = ", ".join(f"{k}={format_attr(a)}" for k, a in node.attrs.items() if k != "body")
        label = node.op + (f"\n{attrs}" if attrs else "")
        if node.meta.get("source"):
            label += f"\n{node.meta['source']}"
        color = "#ffe0b0" if node.op == "fused" else "#ffffff"
        lines.append(f'  n{i} [shape=box, style=filled, fillcolor="{color}", label={_quote(label)}];')
        for v in node.inputs:
            if v in src:
                lines.append(f"  {src[v]} -> n{i} [label={_quote(v.type_str())}];")
        for v in node.outputs:
            src[v] = f"n{i}"
    for i, v in enumerate(graph.outputs):
        lines.append(f'  out{i} [shape=doubleoctagon, label="output {i}"];')
        if v in src:
            lines.append(f"  {src[v]} -> out{i} [label={_quote(v.type_str())}];")
    lines.append("}")
    return "\n".join(lines)


def render(dot_text: str, path: str, fmt: str = "svg") -> str:
    """Render Graphviz text to ``path`` (svg/png) with the ``dot`` program; raises if it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            "rendering needs Graphviz's `dot` program on PATH (apt-get install graphviz); "
            "the text from to_dot() can be pasted into any Graphviz viewer instead"
        )
    subprocess.run([exe, f"-T{fmt}", "-o", path], input=dot_text.encode(), check=True)
    return path
