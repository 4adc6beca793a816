"""``ember.fx.replace_pattern``: find every non-overlapping copy of a traced pattern and splice in a replacement.

Matching follows data dependencies, not names: the pattern's inputs (placeholders) match any value, every other
pattern node must agree on ``op``, ``target`` and argument structure, and the matched nodes other than the
pattern's output must not be read from outside the match (``torch.fx.subgraph_rewriter.replace_pattern``).

>>> import ember
>>> from ember import fx
>>> gm = fx.symbolic_trace(lambda x: ember.exp(ember.neg(x)) + 1)
>>> matches = fx.replace_pattern(gm, lambda a: ember.exp(ember.neg(a)), lambda a: ember.sigmoid(a))
>>> len(matches), [n.target.__name__ for n in gm.graph.nodes if n.op == "call_function"]
(1, ['sigmoid', 'add'])
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import mark
from .graph_module import GraphModule
from .node import Node


class Match(NamedTuple):
    """One replaced occurrence: the matched output node (``anchor``) and pattern node -> graph node."""

    anchor: Node
    nodes_map: dict


def _as_graph_module(fn_or_gm) -> GraphModule:
    from ._symbolic_trace import symbolic_trace

    return fn_or_gm if isinstance(fn_or_gm, GraphModule) else symbolic_trace(fn_or_gm)


class _Matcher:
    def __init__(self, pattern_nodes: list[Node]):
        self.pattern_nodes = pattern_nodes

    def match(self, anchor: Node, node: Node) -> dict | None:
        self.map: dict[Node, Any] = {}
        self.used: set[int] = set()
        return self.map if self._node(anchor, node) else None

    def _node(self, p: Node, g: Any) -> bool:
        if p in self.map:
            return self.map[p] is g
        if p.op == "placeholder":  # a pattern input: binds to any value, but one graph node binds only once
            if isinstance(g, Node) and id(g) in self.used:
                return False
            self.map[p] = g
            self.used.add(id(g))
            return True
        if not isinstance(g, Node) or id(g) in self.used or g.op != p.op or g.target != p.target:
            return False
        if len(g.args) != len(p.args) or set(g.kwargs) != set(p.kwargs):
            return False
        self.map[p] = g
        self.used.add(id(g))
        return all(self._arg(pa, ga) for pa, ga in zip(p.args, g.args)) and \
            all(self._arg(p.kwargs[k], g.kwargs[k]) for k in p.kwargs)

    def _arg(self, pa: Any, ga: Any) -> bool:
        if isinstance(pa, Node):
            return self._node(pa, ga)
        if isinstance(pa, (tuple, list)):
            return isinstance(ga, (tuple, list)) and len(pa) == len(ga) and \
                all(self._arg(a, b) for a, b in zip(pa, ga))
        if isinstance(pa, dict):
            return isinstance(ga, dict) and pa.keys() == ga.keys() and all(self._arg(pa[k], ga[k]) for k in pa)
        return type(pa) is type(ga) and pa == ga


def _self_contained(m: dict, anchor: Node) -> bool:
    inner = {g for p, g in m.items() if p.op != "placeholder"}
    return all(u in inner for g in inner if g is not anchor for u in g.users)


def replace_pattern(gm: GraphModule, pattern: Callable | GraphModule,
                    replacement: Callable | GraphModule) -> list[Match]:
    """Replace each non-overlapping match of ``pattern`` in ``gm.graph`` with ``replacement``; recompiles ``gm``.

    ``pattern`` and ``replacement`` are functions (traced here) or GraphModules with the same inputs, matched by
    position; each has one output. Returns the matches.
    """
    pat, rep = _as_graph_module(pattern), _as_graph_module(replacement)
    p_inputs = [n for n in pat.graph.nodes if n.op == "placeholder"]
    r_inputs = [n for n in rep.graph.nodes if n.op == "placeholder"]
    p_out = next(n for n in pat.graph.nodes if n.op == "output")
    if not isinstance(p_out.args[0], Node) or len(p_inputs) != len(r_inputs):
        raise mark(ValueError(f"fx.replace_pattern: the pattern must return one traced value and take as many "
                              f"inputs as the replacement (pattern {len(p_inputs)}, replacement {len(r_inputs)})"))
    anchor_p = p_out.args[0]
    matcher = _Matcher(list(pat.graph.nodes))
    taken: set[int] = set()
    matches: list[Match] = []
    for node in list(gm.graph.nodes):
        if id(node) in taken or node.op != anchor_p.op or node.target != anchor_p.target:
            continue
        m = matcher.match(anchor_p, node)
        if m is None or not _self_contained(m, node):
            continue
        inner = [g for p, g in m.items() if p.op != "placeholder"]
        if any(id(g) in taken for g in inner):
            continue
        taken.update(id(g) for g in inner)
        matches.append(Match(node, dict(m)))
    for match in matches:
        _splice(gm, match, p_inputs, r_inputs, rep)
    gm.recompile()
    return matches


def _splice(gm: GraphModule, match: Match, p_inputs: list[Node], r_inputs: list[Node], rep: GraphModule) -> None:
    anchor = match.anchor
    val_map = {r: match.nodes_map[p] for p, r in zip(p_inputs, r_inputs)}
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    first_user = min(anchor.users, key=order.__getitem__, default=anchor)  # as torch: just before the first reader
    with gm.graph.inserting_before(first_user):
        out = gm.graph.graph_copy(rep.graph, val_map)
    anchor.replace_all_uses_with(out)
    inner = sorted((g for p, g in match.nodes_map.items() if p.op != "placeholder"), key=order.__getitem__)
    for g in reversed(inner):
        if not g.users:
            gm.graph.erase_node(g)
