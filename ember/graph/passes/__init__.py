"""Graph passes, each a function ``Graph -> Graph`` (they edit in place and return the graph).

``optimize(graph)`` runs the standard pipeline and verifies after every pass.

Example:
    >>> from ember.graph import Graph
    >>> from ember.graph.passes import optimize
    >>> g = Graph(); x = g.add_input((3,), "float32")
    >>> one = g.add_constant(__import__("numpy").float32(1))
    >>> g.outputs.append(g.add_node("exp", [g.add_node("mul", [x, one])]))
    >>> print(optimize(g, fuse=False))
    graph(%0:f32[3]) {
      %1:f32[3] = exp %0
      return %1
    }
"""

from __future__ import annotations

from ..verify import verify
from .copies import remove_copies
from .cse import cse
from .dce import dce
from .decompose import decompose
from .fold import fold_constants
from .fuse import fuse_elementwise
from .memory import plan_memory, plan_summary
from .simplify import simplify

__all__ = [
    "dce",
    "decompose",
    "cse",
    "fold_constants",
    "simplify",
    "remove_copies",
    "fuse_elementwise",
    "plan_memory",
    "plan_summary",
    "optimize",
    "PIPELINE",
]

PIPELINE = (fold_constants, simplify, cse, remove_copies, dce)


def optimize(graph, fuse: bool = True, plan: bool = False, check: bool = True, layers: bool = False):
    """Decompose layer nodes (unless ``layers=True``, which keeps them, for exporters); fold, simplify, CSE,
    drop copies and dead code; then optionally fuse and plan memory."""
    passes = ([] if layers else [decompose]) + list(PIPELINE)
    passes += ([fuse_elementwise] if fuse else []) + ([plan_memory] if plan else [])
    for p in passes:
        graph = p(graph)
        if check:
            verify(graph)
    return graph
