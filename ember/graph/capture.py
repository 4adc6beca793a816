"""Running a function under a Tracer and turning what it did into a Graph with state inputs and write-backs.

The graph's inputs are: the tensor arguments (flattened), then the state it read. Its outputs are: the
returned tensors (flattened), then state written back (``Capture.writeback``): in-place updates of
parameters/buffers/optimizer state/arguments, and new ``.grad`` tensors.
"""

from __future__ import annotations

from .._state import STATE
from .ir import Graph, Value
from .reach import reach
from .tracer import Tracer


def flatten(obj, leaves: list, is_leaf):
    """A structure spec of nested tuples/lists/dicts; leaves where ``is_leaf`` are appended to ``leaves``."""
    if is_leaf(obj):
        leaves.append(obj)
        return ("leaf",)
    if isinstance(obj, (tuple, list)):
        return (type(obj), tuple(flatten(x, leaves, is_leaf) for x in obj))
    if isinstance(obj, dict):
        return (dict, tuple((k, flatten(v, leaves, is_leaf)) for k, v in obj.items()))
    return ("static", obj)


def unflatten(spec, leaves_iter):
    kind = spec[0]
    if kind == "leaf":
        return next(leaves_iter)
    if kind == "static":
        return spec[1]
    if kind is dict:
        return {k: unflatten(s, leaves_iter) for k, s in spec[1]}
    items = [unflatten(s, leaves_iter) for s in spec[1]]
    if kind is tuple or kind is list:
        return tuple(items) if kind is tuple else items
    return kind(*items) if hasattr(kind, "_fields") else kind(items)  # a namedtuple takes its fields by position


def is_tensor(obj) -> bool:
    return isinstance(obj, tensor_type())


_TENSOR: list = []


def tensor_type():
    """``ember.Tensor`` (imported on first use: the graph layer loads without the core)."""
    if not _TENSOR:
        from ..tensor import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


class Capture:
    """The result of one traced run: graph, how to feed and unpack it, the eager result and any breaks."""

    def __init__(self):
        self.graph = None
        self.result = None  # the eager result of the traced call
        self.out_spec = None
        self.n_args = 0
        self.state = []  # getters: ("tensor", t), ("grad", p) or ("arg_grad", i) (the .grad of argument i)
        # ("tensor", t) | ("arg", i) | ("grad" | "grad_new" | "grad_none", p) | ("arg_grad" | ..., i)
        self.writeback = []
        self.breaks = []
        self.params = []  # the parameters whose .grad presence is guarded
        self.needs_autograd = False
        self.created_state = False  # optimizer state appeared during the trace (first step): do not cache


def run_traced(fn, args, kwargs, mode: str = "compile", found=None, decomposed=False, module_names=None) -> Capture:
    """Run ``fn`` eagerly under a Tracer; returns a Capture (``graph`` is None after a graph break).

    Layer ops are recorded as one node each; ``decomposed=True`` (what the executors want) inlines their
    primitives. ``module_names``: {id(module): path} so nodes record the layer that made them."""
    found = found or reach(fn, args, kwargs)
    params = found.parameters() + [t for t in found.tensors if t.requires_grad and t._node is None]
    arg_leaves: list = []
    in_spec = flatten((args, kwargs), arg_leaves, is_tensor)
    owners = {id(t._data): t for t in found.state_tensors()}
    # gradient holders: parameters (by object) and leaf arguments that require grad (by position, since each
    # call passes new tensors); key -> (getter of the holder, its .grad before the call)
    holders = [("grad", p) for p in params]
    holders += [("arg_grad", i) for i, t in enumerate(arg_leaves) if t.requires_grad and t._node is None]
    grads_before = {_hkey(h): _holder(h, arg_leaves).grad for h in holders}
    grad_owner = {id(g._data): h for h in holders if (g := _holder(h, arg_leaves).grad) is not None}
    state_ids = set(owners) | set(grad_owner)
    n_state_before = _count_optimizer_state(found)

    tracer = Tracer(state_ids, mode)
    if module_names is None and hasattr(fn, "named_modules"):
        module_names = {id(m): name for name, m in fn.named_modules()}
    tracer.module_names = module_names or {}
    arg_values = [tracer.add_input(t) for t in arg_leaves]
    prev = STATE.tracer
    STATE.tracer = tracer
    try:
        result = fn(*args, **kwargs)
    finally:
        STATE.tracer = prev
    cap = Capture()
    cap.result, cap.breaks, cap.params, cap.in_spec = result, tracer.breaks, params, in_spec
    cap.created_state = _count_optimizer_state(found) != n_state_before
    if tracer.broken or (mode == "explain"):
        return cap
    _finish(cap, tracer, result, arg_leaves, arg_values, owners, grad_owner, grads_before, holders)
    if tracer.broken:  # an output or a write-back read a tensor made stale by a write through a view
        cap.graph, cap.breaks = None, tracer.breaks
    elif decomposed:
        from .passes.decompose import decompose

        decompose(cap.graph)
    return cap


def _hkey(holder):
    return (holder[0], id(holder[1]) if holder[0] == "grad" else holder[1])


def _holder(holder, arg_leaves):
    """The tensor whose ``.grad`` a holder names: a parameter, or the argument leaf at a position."""
    kind, obj = holder
    return obj if kind == "grad" else arg_leaves[obj]


def _count_optimizer_state(found) -> int:
    return sum(
        len(st) if isinstance(st, dict) else 1 for opt in found.optimizers for st in opt.state.values()
    )


def _finish(cap, tracer, result, arg_leaves, arg_values, owners, grad_owner, grads_before, holders):
    g = tracer.graph
    out_leaves: list = []
    cap.out_spec = flatten(result, out_leaves, is_tensor)
    outputs = [tracer.value_of(t) for t in out_leaves]
    cap.needs_autograd = any(t.requires_grad for t in out_leaves)
    cap.n_args = len(arg_values)
    # state inputs and constants among the captured tensors
    for v, t in list(tracer.captured.items()):
        arr_id = id(tracer.captured_arrays[v])
        mutated = arr_id in tracer.mutated or id(t._data) != arr_id
        if arr_id in tracer.created and not t.requires_grad:  # made inside the function: its value as made
            g.constants[v] = tracer.initial.get(v, tracer.captured_arrays[v])
            continue
        if arr_id in grad_owner:
            getter = grad_owner[arr_id]
        elif arr_id in owners or t.requires_grad or mutated:
            getter = ("tensor", owners.get(arr_id, t))
        else:
            g.constants[v] = t._data
            continue
        g.inputs.append(v)
        cap.state.append(getter)
    writes = []
    for i, t in enumerate(arg_leaves):
        if id(t._data) in tracer.mutated:
            writes.append((("arg", i), tracer.value_of(t)))
    for v, getter in zip(g.inputs[cap.n_args :], cap.state):
        if getter[0] != "tensor":
            continue
        obj = getter[1]
        if id(obj._data) in tracer.mutated or id(obj._data) != id(tracer.captured_arrays[v]):
            writes.append((getter, tracer.value_of(obj)))
    for h in holders:
        _grad_writeback(tracer, h, _holder(h, arg_leaves).grad, grads_before[_hkey(h)], writes, g)
    cap.writeback = [(w, v is not None) for w, v in writes]
    g.outputs = outputs + [v for _, v in writes if v is not None]
    cap.graph = g
    if writes:
        cap.needs_autograd = False  # a training step: the returned loss is not differentiated again


def _grad_writeback(tracer, holder, after, before, writes, g) -> None:
    kind, obj = holder  # "grad" (a parameter) or "arg_grad" (an argument's position)
    if after is None:
        if before is not None:
            writes.append(((kind + "_none", obj), None))
        return
    v = tracer.env.get(id(after._data))
    in_place = before is not None and before._data is after._data
    if v is None:
        if after is before:
            return
        v = Value(after._data.shape, str(after._data.dtype))
        g.constants[v] = after._data
    elif in_place and v in tracer.captured:
        return  # untouched
    # accumulated into the existing .grad: copy into it; a new .grad tensor: hand the result over
    writes.append(((kind if in_place else kind + "_new", obj), v))


def trace(fn, *args, **kwargs) -> Graph:
    """Trace ``fn(*args, **kwargs)`` into a Graph; tensor arguments come first among its inputs, then the
    state (parameters, buffers, optimizer state) it reads; its outputs are the returned tensors followed by
    updated state. Use ``ember.compile`` to run the result; this returns the graph only."""
    return run_traced(fn, args, kwargs).graph
