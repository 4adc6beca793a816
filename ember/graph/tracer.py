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
    "dlpack": "sharing the tensor's memory through DLPack (__dlpack__)",
    "print": "printing a tensor",
    "mask": "indexing with a boolean mask (the result's shape depends on the values; use ember.where or "
    "masked_fill instead)",
    "nonzero": "nonzero() (the result's shape depends on the values)",
    "random": "a random draw made in Python (an explicit generator= or an initialiser): it would be frozen "
    "into the graph",
    "stale": "reading a tensor whose memory an in-place write through another view changed",
    "checkpoint": "activation checkpointing (ember.utils.checkpoint): it runs eagerly so that its activations "
    "are really freed and recomputed",
    "complex": "an op on complex numbers (ember.fft, view_as_complex, ...): graphs hold real dtypes only",
}
_READ = ("The compiled graph cannot depend on a tensor's value in Python; use ember.where / masks instead of "
         "`if tensor`, and return tensors instead of calling .item()/.numpy()/print")
_ADVICE = {
    "random": "Draw from the default generator (no generator=): ember.rand/randn/randint/randperm and dropout "
    "are graph ops that draw fresh numbers on every call.",
    "stale": "The compiler follows in-place writes through views made by indexing, reshape and permute; for "
    "other aliasing, clone() the tensor before writing into it.",
    "mask": "The result's shape would depend on the values: use ember.where or masked_fill instead.",
    "nonzero": "The result's shape would depend on the values: use ember.where or masks instead.",
    "checkpoint": "Compile the code inside the checkpointed function instead, or drop checkpoint under "
    "ember.compile (the compiled graph keeps every activation either way).",
    "complex": "Complex tensors run eagerly: compile the real-valued parts before and after the FFTs on their own.",
}
_VIEW_OPS = frozenset({"reshape", "permute", "expand", "getitem"})


def _root(arr):
    """The array that owns ``arr``'s memory (``arr`` itself unless it is a view)."""
    while getattr(arr, "base", None) is not None:
        arr = arr.base
    return arr


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
        # views: id(view array) -> (base array, op, attrs) for view ops whose output shares the input's memory,
        # so an in-place write into either side is replayed on the other in the graph; arrays sharing memory
        # in any other way are marked stale by a write and reading them later is a graph break
        self.views: dict[int, tuple] = {}
        self.children: dict[int, list] = {}
        self.by_root: dict[int, list] = {}
        self.stale: dict[int, str] = {}  # id(array) -> the site of the write that changed it
        # arrays made from Python data during the trace (zeros, full, tensor([...])): constants of the graph
        # with their value as made, even when the function writes into them later (initial: that value)
        self.created: set[int] = set()
        self.initial: dict[Value, object] = {}
        self.layers = True  # record layer ops (conv, lstm...) as one node each (see graph/layers.py)
        self.layer_state = LayerState()
        self.module_names: dict = {}  # id(module) -> its path in the traced model ("encoder.layers.0")
        self.module_stack: list = []  # paths of the modules being called

    # -------------------------------------------------------------------------------- values
    def add_input(self, tensor, hint=None) -> Value:
        if tensor._data.dtype.kind == "c":  # a complex argument: the call runs eagerly
            self._break("complex")
            return None
        v = self.graph.add_input(tensor._data.shape, str(tensor._data.dtype), hint)
        if id(tensor._data) not in self.env:  # the same array passed twice reads the first input
            self._bind(tensor._data, v)
        return v

    def _bind(self, arr, v):
        key = id(arr)
        if key not in self.env:
            self._alive.append(arr)
            self.by_root.setdefault(id(_root(arr)), []).append(arr)
        self.env[key] = v
        self.stale.pop(key, None)

    def value_of(self, tensor) -> Value:
        arr = tensor._data
        v = self.env.get(id(arr))
        if v is not None and v in self.layer_state.hidden:
            reveal(self, v)  # made inside a layer node and read outside: back to primitives
        if v is not None and id(arr) in self.stale and not self.broken:
            self._break("stale", self.stale[id(arr)])
        if v is None:
            v = Value(arr.shape, str(arr.dtype))
            self.captured[v] = tensor
            self.captured_arrays[v] = arr
            if id(arr) in self.created:  # the value as made, before the function may write into it
                self.initial[v] = arr.copy()
            self._bind(arr, v)
        return v

    def known(self, tensor) -> bool:
        return id(tensor._data) in self.env

    # -------------------------------------------------------------------------------- the hook
    def record(self, op, inputs, attrs, out):
        if self.broken:
            return
        if op.complex_ok and (out._data.dtype.kind == "c" or any(t._data.dtype.kind == "c" for t in inputs)):
            self._break("complex")
            return
        ins = [self.value_of(t) for t in inputs]
        outv = Value(out._data.shape, str(out._data.dtype))
        site = user_site()
        meta = {"source": f"{os.path.basename(site[0])}:{site[1]}", "site": site}
        if self.module_stack:
            meta["module"] = self.module_stack[-1]
        self.graph.insert_node(Node(op.name, ins, dict(attrs), [outv], meta))
        self._bind(out._data, outv)
        if op.name in _VIEW_OPS and len(inputs) == 1 and _root(out._data) is _root(inputs[0]._data):
            base = inputs[0]._data
            self.views[id(out._data)] = (base, op.name, dict(attrs))
            self.children.setdefault(id(base), []).append(out._data)

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
        """``target``'s buffer now holds ``res``: rebind it, and replay the write on the views that share its
        memory (or mark them stale when the relation is unknown)."""
        self.layer_state.inplace += 1
        if self.broken:
            return
        v = self.value_of(res)
        arr = target._data
        if not self.known(target):
            self.value_of(target)
        self.mutated.add(id(arr))
        self._bind(arr, v)
        done = {id(arr)}
        self._replay(arr, v, done)
        site = "{}:{}".format(*user_site())
        for other in self.by_root.get(id(_root(arr)), ()):
            if id(other) not in done:
                self.stale[id(other)] = site

    def _node(self, op, inputs, attrs, shape, dtype) -> Value:
        out = Value(shape, dtype)
        self.graph.insert_node(Node(op, list(inputs), attrs, [out], {"source": "in-place write through a view"}))
        return out

    def _replay(self, arr, v, done) -> None:
        """Rebind the base and the views of ``arr`` (now ``v``) to their new values, transitively."""
        link = self.views.get(id(arr))
        if link is not None and id(link[0]) not in done:
            base, op, attrs = link
            old = self.env[id(base)]
            if op == "getitem":
                new = self._node("index_put", [old, v], {"index": attrs["index"], "accumulate": False},
                                 old.shape, old.dtype)
            elif op == "reshape":
                new = self._node("reshape", [v], {"shape": tuple(base.shape)}, old.shape, old.dtype)
            elif op == "permute":
                inv = tuple(sorted(range(len(attrs["perm"])), key=attrs["perm"].__getitem__))
                new = self._node("permute", [v], {"perm": inv}, old.shape, old.dtype)
            else:
                new = None  # expand: a read-only view, never written through
            if new is not None:
                done.add(id(base))
                self.mutated.add(id(base))
                self._bind(base, new)
                self._replay(base, new, done)
        for child in self.children.get(id(arr), ()):
            if id(child) in done or id(child) not in self.env:
                continue
            _, op, attrs = self.views[id(child)]
            done.add(id(child))
            cur = self.env[id(child)]
            new = self._node(op, [v], attrs, cur.shape, cur.dtype)
            self.mutated.add(id(child))
            self._bind(child, new)
            self._replay(child, new, done)

    def on_data_access(self, tensor, what):
        if self.broken or not self._depends_on_trace(tensor):
            return
        self._break(what)

    def on_created(self, arr):
        """``arr`` was just made from Python data inside the traced function."""
        if id(arr) not in self.env:
            self.created.add(id(arr))
            self._alive.append(arr)

    def on_host_draw(self):
        """A random number drawn in Python (not by a random primitive) while tracing."""
        if not self.broken:
            self._break("random")

    def on_unsupported(self, what):
        """A library feature that must run eagerly (``_WHAT[what]`` says which) was called while tracing."""
        if not self.broken:
            self._break(what)

    def _break(self, what, at=None):
        brk = Break(what, *user_site())
        if at is not None:
            brk.code = (brk.code + "  " if brk.code else "") + f"(written at {at})"
        self.breaks.append(brk)
        if self.mode == "strict":
            raise GraphBreak(f"graph break in a compiled function (strict=True) at {brk}. {_ADVICE.get(what, _READ)}")
        if self.mode == "compile":
            self.broken = True

    def _depends_on_trace(self, tensor) -> bool:
        v = self.env.get(id(tensor._data))
        if v is None:
            return False  # never seen: a value fixed at trace time
        if v in self.captured:
            return id(tensor._data) in self.state_ids or bool(tensor.requires_grad)
        return True
