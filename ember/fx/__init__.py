"""``ember.fx``: PyTorch's ``torch.fx`` program capture and transformation API on Ember.

``symbolic_trace(module_or_function)`` runs the program on ``Proxy`` values and returns a ``GraphModule``: a
module whose ``graph`` (an ordered list of ``Node`` s) you can inspect and rewrite, and whose ``code`` is the
Python ``forward`` generated from it. Node targets are the original functions (``ember.add``, ``operator.add``),
method names (``"add"``) and submodule paths, as in torch.fx. See ``docs/fx.md``.

>>> import ember
>>> from ember import fx
>>> gm = fx.symbolic_trace(lambda x: ember.tan(x).exp())
>>> [(n.op, n.target) for n in gm.graph.nodes][1:3] == [("call_function", ember.tan), ("call_method", "exp")]
True
"""
from . import graph, graph_module, node, passes, proxy, subgraph_rewriter  # noqa: F401  (torch.fx.node ...)
from ._symbolic_trace import Tracer, symbolic_trace, wrap
from .graph import Graph
from .graph_module import GraphModule
from .interpreter import Interpreter, Transformer
from .node import Node, map_arg
from .proxy import Proxy, TraceError
from .subgraph_rewriter import replace_pattern

__all__ = ["Graph", "GraphModule", "Interpreter", "Node", "Proxy", "TraceError", "Tracer", "Transformer",
           "map_arg", "replace_pattern", "symbolic_trace", "wrap"]
