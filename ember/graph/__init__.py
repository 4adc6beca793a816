"""Ember's graph IR and compiler: ``Graph``/``Node``/``Value``, ``verify``, ``interpret``, ``trace``, passes.

Example:
    >>> import numpy as np
    >>> from ember.graph import Graph, verify, interpret
    >>> g = Graph(); x = g.add_input((2,), "float32")
    >>> g.outputs.append(g.add_node("add", [x, x]))
    >>> interpret(verify(g), [np.ones(2, np.float32)])[0].tolist()
    [2.0, 2.0]
"""

from .interpreter import interpret
from .ir import Graph, GraphError, Node, Value
from .verify import verify

__all__ = ["Graph", "GraphError", "Node", "Value", "verify", "interpret", "trace"]


def __getattr__(name):  # trace needs the core engine; import it on first use
    if name == "trace":
        from .capture import trace

        return trace
    raise AttributeError(name)
