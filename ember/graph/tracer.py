"""Tracing: run a function eagerly while ``ops.apply`` reports every primitive to a ``Tracer``.

The tracer maps arrays (by identity) to IR Values. Explicit tensor arguments become the graph's first
inputs. A tensor first seen inside the trace is *captured*: it becomes a graph input (``state``) when it is
a parameter/buffer/optimizer state reachable from the function, a leaf that requires grad, or something the
function mutates in place; otherwise it is a constant. In-place updates of state (``optimizer.step()``,
BatchNorm running statistics) and gradients left in ``.grad`` become outputs that the compiled function
writes back, so a whole training step is one graph.

Example:
    >>> import ember
    >>> from ember.graph import trace
    >>> w = ember.ones(3, requires_grad=True)
    >>> g = trace(lambda x: (x * w).sum(), ember.ones(3))
    >>> print(g)
    graph(%0:f32[3], %1:f32[3]) {
      %2:f32[3] = mul %0 %1
      %3:f32[] = sum[axis=None, keepdims=False] %2
      return %3
    }
"""

from __future__ import annotations

import linecache
import os
import sys

from .ir import Graph, Node, Value
from .layers import LayerState, record_layer, reveal

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class GraphBreak(RuntimeError):
    """Raised (under ``strict=True``) where a compiled function needs a tensor's value in Python."""


_WHAT = {
    "bool": "Python control flow on a tensor value (Tensor.__bool__)",
    "item": ".item()",
    "tolist": ".tolist()",
    "numpy": ".numpy()",
    "print": "printing a tensor",
}


def user_site():
    """(filename, line number) of the innermost frame outside the ember package."""
    f = sys._getframe(1)
    while f is not None and (
        f.f_code.co_filename.startswith(_EMBER_DIR) or f.f_code.co_filename.startswith("<")
    ):
        if f.f_code.co_filename.startswith("<") and not f.f_code.co_filename.startswith("<ember"):
            break
        f = f.f_back
    if f is None:
        return ("<unknown>", 0)
    return (f.f_code.co_filename, f.f_lineno)


class Break:
    """One graph break: what was asked of which tensor, and where."""

    def __init__(self, what, filename, lineno):
        self.what, self.filename, self.lineno = what, filename, lineno
        self.code = linecache.getline(filename, lineno).strip()

    @property
    def site(self) -> str:
        return f"{self.filename}:{self.lineno}"

    def __str__(self):
        return f"{self.site}: {_WHAT.get(self.what, self.what)}" + (f"  `{self.code}`" if self.code else "")

    __repr__ = __str__


class Tracer:
    """The object ``STATE.tracer`` points at during a trace (see docs/internals.md, tracing hook)."""

    def __init__(self, state_ids=frozenset(), mode: str = "compile"):
        self.graph = Graph()
        self.env: dict[int, Value] = {}  # id(array) -> current Value
        self._alive: list = []  # keeps traced arrays alive so ids stay unique
        self.captured: dict[Value, object] = {}  # Value -> Tensor seen first inside the trace
        self.captured_arrays: dict[Value, object] = {}  # Value -> the array it stood for when captured
        self.state_ids = set(state_ids)  # ids of arrays of reachable parameters/buffers/optimizer state
        self.mutated: set[int] = set()  # ids of arrays updated in place
        self.mode = mode  # "compile" (stop at a break), "strict" (raise), "explain"
        self.breaks: list[Break] = []
        self.broken = False
        self.layers = True  # record layer ops (conv, lstm...) as one node each (see graph/layers.py)
        self.layer_state = LayerState()
        self.module_names: dict = {}  # id(module) -> its path in the traced model ("encoder.layers.0")
        self.module_stack: list = []  # paths of the modules being called

    # -------------------------------------------------------------------------------- values
    def add_input(self, tensor, hint=None) -> Value:
        v = self.graph.add_input(tensor._data.shape, str(tensor._data.dtype), hint)
        if id(tensor._data) not in self.env:  # the same array passed twice reads the first input
            self._bind(tensor._data, v)
        return v

    def _bind(self, arr, v):
        self.env[id(arr)] = v
        self._alive.append(arr)

    def value_of(self, tensor) -> Value:
        arr = tensor._data
        v = self.env.get(id(arr))
        if v is not None and v in self.layer_state.hidden:
            reveal(self, v)  # made inside a layer node and read outside: back to primitives
        if v is None:
            v = Value(arr.shape, str(arr.dtype))
            self.captured[v] = tensor
            self.captured_arrays[v] = arr
            self._bind(arr, v)
        return v

    def known(self, tensor) -> bool:
        return id(tensor._data) in self.env

    # -------------------------------------------------------------------------------- the hook
    def record(self, op, inputs, attrs, out):
        if self.broken:
            return
        ins = [self.value_of(t) for t in inputs]
        outv = Value(out._data.shape, str(out._data.dtype))
        site = user_site()
        meta = {"source": f"{os.path.basename(site[0])}:{site[1]}", "site": site}
        if self.module_stack:
            meta["module"] = self.module_stack[-1]
        self.graph.insert_node(Node(op.name, ins, dict(attrs), [outv], meta))
        self._bind(out._data, outv)

    def composite(self, op, run, inputs, attrs):
        """A layer op's eager composite is being called (``ember.ops.composite``): one node, if pure."""
        return record_layer(self, op, run, inputs, attrs)

    def call_module(self, module, call):
        """``module(...)`` while tracing: nodes made inside carry the module's path (``meta["module"]``)."""
        kind = type(module).__name__
        name = self.module_names.get(id(module))
        self.module_stack.append(f"'{name}' ({kind})" if name else kind)
        try:
            return call()
        finally:
            self.module_stack.pop()

    def record_inplace(self, target, res):
        self.layer_state.inplace += 1
        if self.broken:
            return
        v = self.value_of(res)
        if not self.known(target):
            self.value_of(target)
        self.mutated.add(id(target._data))
        self._bind(target._data, v)

    def on_data_access(self, tensor, what):
        if self.broken or not self._depends_on_trace(tensor):
            return
        brk = Break(what, *user_site())
        self.breaks.append(brk)
        if self.mode == "strict":
            raise GraphBreak(
                f"graph break in a compiled function (strict=True) at {brk}. The compiled graph "
                "cannot depend on a tensor's value in Python; use ember.where / masks instead of "
                "`if tensor`, and return tensors instead of calling .item()/.numpy()/print"
            )
        if self.mode == "compile":
            self.broken = True

    def _depends_on_trace(self, tensor) -> bool:
        v = self.env.get(id(tensor._data))
        if v is None:
            return False  # never seen: a value fixed at trace time
        if v in self.captured:
            return id(tensor._data) in self.state_ids or bool(tensor.requires_grad)
        return True


def trace(fn, *args, **kwargs) -> Graph:
    """Trace ``fn(*args, **kwargs)`` into a Graph; tensor arguments come first among its inputs, then the
    state (parameters, buffers, optimizer state) it reads; its outputs are the returned tensors followed by
    updated state. Use ``ember.compile`` to run the result; this returns the graph only."""
    from .capture import run_traced

    return run_traced(fn, args, kwargs).graph
