"""``ember.export.export``: trace a model once (twice with dynamic dims) into an ``ExportedProgram``.

The model runs eagerly under the tracer in strict mode (Python control flow on a tensor's value is an error
naming the line) and without grad. With dynamic dims, it is traced a second time at other sizes of those dims
and the two graphs are generalized (``graph.dynamic``): a graph that depends on such a size is an error
naming the first op that differs. The parameters and buffers it reads become named constants (copies).

Example:
    >>> import ember
    >>> from ember import nn
    >>> from ember.export import Dim, export
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU()).eval()
    >>> prog = export(model, (ember.randn(2, 4),), dynamic_shapes={"input": {0: Dim("batch")}})
    >>> print(prog.graph)
    graph(%0(input):f32[?,4]) {
      %1(0.weight):f32[8,4] = const ...
      %2(0.bias):f32[8] = const ...
      %3:f32[?,8] = linear %0 %1 %2
      %4:f32[?,8] = relu %3
      return %4
    }
"""

from __future__ import annotations

import datetime
import inspect
import json
import logging
import warnings

import numpy as np

from ..errors import mark
from ..graph import opinfo
from ..graph.dynamic import _FIXES
from .program import ExportedProgram, ExportError, TensorSpec, _spec_to_json

logger = logging.getLogger("ember")


class Dim:
    """A named dynamic dimension (torch.export's ``Dim``): ``Dim("batch", min=1, max=1024)``."""

    def __init__(self, name: str, *, min: int | None = None, max: int | None = None):  # noqa: A002
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Dim name must be an identifier, got {name!r}")
        self.name, self.min, self.max = name, min, max

    def __repr__(self):
        rng = "" if self.min is None and self.max is None else f", min={self.min}, max={self.max}"
        return f"Dim({self.name!r}{rng})"


# ----------------------------------------------------------------------------------------- naming
def _param_names(fn) -> list[tuple[str, bool]]:
    """(name, is *args) of the positional parameters of ``fn`` (its ``forward`` for a module)."""
    target = getattr(fn, "forward", fn)
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [(p.name, p.kind == p.VAR_POSITIONAL) for p in params
            if p.kind in kinds or p.kind == p.VAR_POSITIONAL]


def _top_names(fn, args, kwargs) -> dict:
    """{name: position or keyword} of the top-level arguments: ``x``, ``args_1`` (under ``*args``), ``arg0``."""
    params = _param_names(fn)
    out = {}
    for i in range(len(args)):
        if i < len(params) and not params[i][1]:
            out[params[i][0]] = i
        else:
            var = next((k for k, (_, is_var) in enumerate(params) if is_var), None)
            out[f"{params[var][0]}_{i - var}" if var is not None else f"arg{i}"] = i
    out.update({k: k for k in kwargs})
    return out


def _leaf_paths(fn, args, kwargs) -> list[tuple[str, tuple]]:
    """(name, path) per tensor leaf in flattening order: ``x``, ``inputs_0``; path = (top-level key, ...)."""
    from ..graph.capture import is_tensor

    out: list = []

    def walk(obj, name, path):
        if is_tensor(obj):
            out.append((name, path))
        elif isinstance(obj, (tuple, list)):
            for i, x in enumerate(obj):
                walk(x, f"{name}_{i}", path + (i,))
        elif isinstance(obj, dict):
            for k, x in obj.items():
                walk(x, f"{name}_{k}", path + (k,))

    for name, key in _top_names(fn, args, kwargs).items():
        walk(args[key] if isinstance(key, int) else kwargs[key], name, (key,))
    names = [n for n, _ in out]
    return [(n if names.count(n) == 1 else f"{n}_{j}", p) for j, (n, p) in enumerate(out)]


def _output_names(out_spec, n, given) -> list[str]:
    if given is not None:
        given = list(given)
        if len(given) != n:
            raise mark(ExportError(f"output_names has {len(given)} names but the model returns {n} tensor(s)"))
        return [str(x) for x in given]
    if out_spec == "leaf":
        return ["output"]
    if isinstance(out_spec, dict) and "dict" in out_spec and all(s == "leaf" for _, s in out_spec["dict"]):
        return [str(k) for k, _ in out_spec["dict"]]
    return [f"output_{i}" for i in range(n)]


# ----------------------------------------------------------------------------------------- dynamic dims
def _dynamic_axes(dynamic_shapes, dynamic_batch, leaves, paths, fn, args, kwargs) -> dict:
    """{leaf index: {axis: Dim}} from torch.export's ``dynamic_shapes`` (by argument name or position) or
    ``dynamic_batch`` (dim 0 of every input of rank >= 1)."""
    axes: dict = {}
    if dynamic_batch:
        batch = Dim("batch")
        for i, t in enumerate(leaves):
            if t.ndim >= 1:
                axes[i] = {0: batch}
    if dynamic_shapes is None:
        return axes
    by_top = _spec_by_argument(dynamic_shapes, fn, args, kwargs)
    for i, (name, path) in enumerate(paths):
        spec = by_top.get(path[0])
        for key in path[1:]:
            spec = spec[key] if isinstance(spec, (dict, list, tuple)) and spec is not None else None
        if spec is None:
            continue
        if isinstance(spec, (list, tuple)):
            spec = {a: d for a, d in enumerate(spec) if d is not None}
        if not isinstance(spec, dict):
            raise mark(ExportError(f"dynamic_shapes for input {name!r} must map axes to Dim, got {spec!r}"))
        for axis, dim in spec.items():
            if isinstance(dim, str):
                dim = Dim(dim)
            if not isinstance(dim, Dim) or not isinstance(axis, int) or not -leaves[i].ndim <= axis < leaves[i].ndim:
                raise mark(ExportError(
                    f"dynamic_shapes for input {name!r}: axis {axis!r} -> {dim!r} is not (an axis of its "
                    f"{leaves[i].ndim} dims) -> Dim(name)"))
            axes.setdefault(i, {})[axis % leaves[i].ndim] = dim
    return axes


def _spec_by_argument(dynamic_shapes, fn, args, kwargs) -> dict:
    """``dynamic_shapes`` keyed by top-level position/keyword (it may be keyed by parameter name)."""
    if isinstance(dynamic_shapes, (list, tuple)):
        return dict(enumerate(dynamic_shapes))
    if not isinstance(dynamic_shapes, dict):
        raise mark(ExportError(f"dynamic_shapes must be a dict or a tuple, got {type(dynamic_shapes).__name__}"))
    top = _top_names(fn, args, kwargs)
    out = {}
    for key, spec in dynamic_shapes.items():
        if isinstance(key, int) and 0 <= key < len(args):
            out[key] = spec
        elif key in top:
            out[top[key]] = spec
        else:
            raise mark(ExportError(f"dynamic_shapes names {key!r}, which is not an argument; arguments: "
                                   f"{sorted(top)}"))
    return out


def _resized_args(args, kwargs, leaves, axes, new_size):
    """The call's arguments with every dynamic dim resized to ``new_size(dim, old size)`` (one size per
    Dim); values repeat along the axis, so ids/masks stay valid. Returns (args, kwargs, leaves)."""
    from ..graph.capture import flatten, is_tensor, unflatten
    from ..tensor import Tensor

    sizes, done = {}, {}
    new_leaves = []
    for i, t in enumerate(leaves):
        if id(t._data) in done:  # the same tensor passed twice stays one tensor
            new_leaves.append(done[id(t._data)])
            continue
        arr = t.detach().cpu().numpy()
        for axis, dim in axes.get(i, {}).items():
            old = arr.shape[axis]
            new = sizes.setdefault(dim.name, new_size(dim, old))
            arr = np.take(arr, np.arange(new) % max(old, 1), axis=axis)
        out = Tensor._wrap(np.ascontiguousarray(arr))
        out = out.to(t.device) if str(t.device) != "cpu" else out
        done[id(t._data)] = out
        new_leaves.append(out)
    spec = flatten((args, kwargs), [], is_tensor)
    return (*unflatten(spec, iter(new_leaves)), new_leaves)


def _not_one(dim, old):
    """Size 1 is special (it broadcasts; layouts differ): a dynamic dim is traced at 2 or more."""
    if old >= 2 or (dim.max is not None and dim.max < 2):
        return old
    return 2


def _probe_size(old, dim, step):
    new = old + step
    if dim.max is not None and new > dim.max:
        new = old - step
    if new < max(dim.min or 1, 1) or new == old:
        raise mark(ExportError(f"cannot pick a second size for {dim!r} (example size {old}) to check that "
                               "the model works at other sizes; widen its min/max"))
    return new


def _first_difference(a, b) -> str:
    """Where two traces at different sizes first differ (graph.dynamic.same_program's order)."""
    for (va, x), (vb, y) in zip(a.constants.items(), b.constants.items()):
        if va.shape != vb.shape or not np.array_equal(np.asarray(x), np.asarray(y)):
            user = next((n for n in a.nodes if va in n.inputs), None)
            where = f", read at {user.meta.get('source', '?')}" if user is not None else ""
            return (f"a constant of shape {list(va.shape)} that changes with the input's size{where} (e.g. "
                    "ember.zeros(x.shape[0], ...), a constant in the graph: compute it from the input with tensor "
                    "ops, or pass it as an input)")
    ia = {v: i for i, v in enumerate(a.values())}
    ib = {v: i for i, v in enumerate(b.values())}
    for na, nb in zip(a.nodes, b.nodes):
        same_attrs = na.attrs == nb.attrs or (na.op == "reshape" and _one_entry_differs(na.attrs, nb.attrs)) \
            or (na.op in _FIXES and _FIXES[na.op](na, nb) is not None)  # attrs the generalizer rewrites
        if na.op != nb.op or not same_attrs or [ia[v] for v in na.inputs] != [ib[v] for v in nb.inputs]:
            src = na.meta.get("source", "?")
            mod = na.meta.get("module")
            return f"{na.op}[{_attrs_text(na.attrs)}] at {src}" + (f" (layer {mod!r})" if mod else "")
    return ("the number of nodes or constants (a Python loop whose count follows the size, e.g. a recurrence "
            "unrolled over time steps that is not one of nn.LSTM/GRU/RNN or Keras LSTM/GRU/SimpleRNN with their "
            "default activations, no mask and no recurrent dropout)")


def _one_entry_differs(a, b) -> bool:
    """Reshape targets the generalizer rewrites with a -1 (they differ in exactly one entry)."""
    sa, sb = tuple(a.get("shape", ())), tuple(b.get("shape", ()))
    return len(sa) == len(sb) and -1 not in sa and sum(x != y for x, y in zip(sa, sb)) == 1


def _attrs_text(attrs):
    return ", ".join(f"{k}={v!r}" for k, v in attrs.items() if k != "body")


# ----------------------------------------------------------------------------------------- tracing
def _trace(fn, args, kwargs, what):
    """One strict trace without grad, layer ops as one node each (meta: the user's line and the module path,
    recorded by the tracer itself); data-dependent Python is an ``ExportError`` naming the line."""
    from .. import no_grad
    from ..graph.capture import run_traced
    from ..graph.tracer import GraphBreak

    try:
        with no_grad():
            return run_traced(fn, args, kwargs, mode="strict")
    except GraphBreak as exc:
        raise mark(ExportError(
            f"{what}: the model's Python depends on a tensor's value (control flow or a size read from data), "
            f"so no single graph describes it: {exc}. Rewrite that line with tensor ops (ember.where, masks) or "
            "export the branch you need.")) from None


def export(model, args, kwargs=None, dynamic_shapes=None, *, dynamic_batch=False, strict=True,
           input_names=None, output_names=None, metadata=None, keep_layers=True) -> ExportedProgram:
    """Trace ``model(*args, **kwargs)`` into an ``ExportedProgram`` (torch.export.export's names).

    ``dynamic_shapes``: per input (by argument name or position) a dict ``{axis: Dim("name")}``; inputs
    sharing a Dim must agree in size at run time. ``dynamic_batch=True`` makes dim 0 of every input a
    dynamic ``"batch"``. ``input_names``/``output_names`` override the names in the signature (defaults: the
    forward's parameter names; ``output`` or ``output_0``...). ``metadata``: a JSON-able dict saved with it.
    The model runs as it is: call ``model.eval()`` first for inference. The program's graph holds layer nodes
    (conv, lstm, attention...) with their decompositions; the executor decomposes them when it is built.
    ``keep_layers=False`` stores the decomposed (primitive) graph instead.
    """
    from ..graph.capture import flatten, is_tensor
    from ..graph.compile import CompiledFunction

    if not strict:
        raise mark(ExportError("ember.export.export traces strictly (strict=False is not supported)"))
    fn = model._fn if isinstance(model, CompiledFunction) else model
    if not isinstance(args, tuple):
        args = tuple(args) if isinstance(args, list) else (args,)
    kwargs = dict(kwargs or {})
    leaves: list = []
    flatten((args, kwargs), leaves, is_tensor)
    if not leaves:
        raise mark(ExportError("ember.export.export: the example arguments hold no tensors"))
    paths = _leaf_paths(fn, args, kwargs)
    names = _input_names(paths, input_names)
    axes = _dynamic_axes(dynamic_shapes, dynamic_batch, leaves, paths, fn, args, kwargs)
    prog = trace_program(fn, args, kwargs, axes, names, output_names, metadata, layers=keep_layers)
    _require_decompositions(prog.graph)
    return prog


def trace_program(fn, args, kwargs, axes, names, output_names=None, metadata=None, layers=True,
                  what="ember.export") -> ExportedProgram:
    """The one tracer every format reads (the saved artifact, ONNX, TFLite, the browser, Keras
    ``model.export``, serving): ``fn(*args, **kwargs)`` traced strictly without grad into an
    ``ExportedProgram`` whose graph keeps layer nodes (unless ``layers=False``), whose weights are named
    constants and whose ``axes`` ({input leaf index: {axis: Dim}}) are dynamic."""
    from ..graph.capture import flatten, is_tensor
    from ..graph.passes import optimize

    leaves: list = []
    flatten((args, kwargs), leaves, is_tensor)
    if any(leaves[i].shape[a] < 2 for i, ax in axes.items() for a in ax):
        args, kwargs, leaves = _resized_args(args, kwargs, leaves, axes, _not_one)
    cap = _trace(fn, args, kwargs, what)
    _warn_training(fn, cap)
    graph = _inference_graph(cap)
    dim_order = sorted({d.name for ax in axes.values() for d in ax.values()})
    if axes:
        graph = _generalize(fn, graph, args, kwargs, leaves, axes, dim_order, names, what)
        _kernels_for_dynamic_layers(graph)
    graph = optimize(graph, fuse=False, layers=layers)
    input_dims = {graph.inputs[i]: tuple(ax.get(a).name if a in ax else None for a in range(leaves[i].ndim))
                  for i, ax in axes.items()}
    prog = _finish(fn, cap, graph, names, input_dims, output_names, metadata)
    prog.dim_ranges = {d.name: (d.min, d.max) for ax in axes.values() for d in ax.values()
                       if d.min is not None or d.max is not None}
    return prog


def _kernels_for_dynamic_layers(graph) -> None:
    """A layer node whose decomposition could not be made dynamic (an RNN unrolled over the example's steps,
    with a dynamic sequence length) but whose op has a run-time kernel (``"executor"`` lowering) is kept whole:
    the executors run the kernel, exporters lower the node itself."""
    from ..ops import REGISTRY

    for node in graph.nodes:
        body = node.meta.get("body")
        if body is not None:
            _kernels_for_dynamic_layers(body)
        elif "body" in node.meta and REGISTRY[node.op].lowering("executor") is not None:
            del node.meta["body"]


def _require_decompositions(graph) -> None:
    """Every layer node must carry the primitives the executor runs (a decomposition that kept a size of a
    dynamic dim was dropped by the generalizer)."""
    for node in graph.nodes:
        if "body" in node.meta and node.meta["body"] is None:
            mod = node.meta.get("module")
            raise mark(ExportError(
                f"ember.export: layer op {node.op!r}" + (f" (layer {mod})" if mod else "")
                + f" at {node.meta.get('source', '?')} computes something sized by a dynamic dim as a constant, "
                "so the executor cannot run it at other sizes; pass that value as an input, or export with "
                "the dim static"))


def _input_names(paths, given) -> list[str]:
    if given is None:
        return [n for n, _ in paths]
    given = [str(x) for x in given]
    if len(given) != len(paths) or len(set(given)) != len(given):
        raise mark(ExportError(f"input_names {given} must name each of the {len(paths)} tensor inputs once"))
    return given


def _warn_training(fn, cap) -> None:
    """Warn when training mode changed the program: random draws (dropout) or state updates (batch norm)."""
    from ..errors import user_frame

    if not getattr(fn, "training", False):
        return
    if not (any(has for _, has in cap.writeback) or any(n.op in opinfo.RANDOM for n in cap.graph.nodes)):
        return
    frame = user_frame()
    warnings.warn_explicit(
        f"ember.export: {type(fn).__name__} is in training mode, so the program draws random numbers "
        "(dropout) or updates statistics (batch norm, dropped from the export); call model.eval() before "
        "exporting for inference",
        UserWarning,
        frame.f_code.co_filename if frame else "<ember>",
        frame.f_lineno if frame else 0,
    )


def _inference_graph(cap):
    """The traced graph without state write-backs (running statistics updated in training mode)."""
    from ..graph.passes import dce

    g = cap.graph
    n_out = len(g.outputs) - sum(1 for _, has in cap.writeback if has)
    g.outputs = g.outputs[:n_out]
    return dce(g)


def _generalize(fn, graph, args, kwargs, leaves, axes, dim_order, names, what="ember.export"):
    """Trace again at other sizes of the dynamic dims and generalize the two graphs. Each Dim first gets
    its own probe size (so distinct dims stay apart); when that fails (dims the caller named apart that the
    model ties together, or a size that coincides with a static one), every dim moves by 1, then by 2."""
    from ..graph.dynamic import generalize

    steps = [lambda dim, old: _probe_size(old, dim, dim_order.index(dim.name) + 1)]
    steps += [lambda dim, old, k=k: _probe_size(old, dim, k) for k in (1, 2)][0 if len(dim_order) > 1 else 1:]
    gdims = {i: set(ax) for i, ax in axes.items()}
    failure, other = None, None
    for new_size in steps:
        args2, kwargs2, _ = _resized_args(args, kwargs, leaves, axes, new_size)
        try:
            other = _inference_graph(_trace(fn, args2, kwargs2, what))
        except (ValueError, RuntimeError, IndexError, TypeError) as exc:
            if isinstance(exc, ExportError):
                raise
            failure = exc
            continue
        g = generalize(graph, other, gdims)
        if g is not None:
            return g
    what_dims = ", ".join(f"dim {a} of {names[i]!r} ({d.name})" for i, ax in axes.items() for a, d in ax.items())
    if other is None:
        raise mark(ExportError(
            f"{what}: cannot make {what_dims} dynamic: the model does not run with those dims resized "
            f"({failure}); mark every input whose size follows them as dynamic too")) from None
    raise mark(ExportError(
        f"{what}: cannot make {what_dims} dynamic: the traced program depends on its size, first at "
        f"{_first_difference(graph, other)}. Write the model without sizes taken from the input "
        "(x.reshape(-1, ...), x.flatten(1)), or export with that dim static."))


def _finish(fn, cap, graph, names, input_dims, output_names, metadata) -> ExportedProgram:
    """Turn state inputs into named constants, name dims and build the signature and metadata."""
    state_names = _state_names(fn)
    n_args = cap.n_args
    for k, (v, (kind, obj)) in enumerate(zip(graph.inputs[n_args:], cap.state)):
        if not graph.users(v) and v not in graph.outputs:
            continue
        arr = np.array(obj.detach().cpu().numpy() if kind == "tensor" else obj.grad.detach().cpu().numpy())
        graph.constants[v] = arr
        v.hint = state_names.get(id(obj), f"state.{k}")
    graph.inputs = graph.inputs[:n_args]
    for v, arr in list(graph.constants.items()):
        if not isinstance(arr, np.ndarray):
            graph.constants[v] = np.asarray(arr.get() if hasattr(arr, "get") else arr)
    for v, name in zip(graph.inputs, names):
        v.hint = name
    dim_names = name_dims(graph, input_dims)
    out_spec = _spec_to_json(cap.out_spec)
    outs = _output_names(out_spec, len(graph.outputs), output_names)
    in_specs = [_tensor_spec(n, v, dim_names) for n, v in zip(names, graph.inputs)]
    out_specs = [_tensor_spec(n, v, dim_names) for n, v in zip(outs, graph.outputs)]
    return ExportedProgram(graph, in_specs, out_specs, _spec_to_json(cap.in_spec), out_spec,
                           make_metadata(fn, metadata), dim_names)


def _tensor_spec(name, v, dim_names) -> TensorSpec:
    return TensorSpec(name, tuple(v.shape), v.dtype, dim_names.get(v, (None,) * len(v.shape)))


def _state_names(fn) -> dict:
    """id(tensor) -> its name in the module (``fc1.weight``); empty for plain functions."""
    out = {}
    for attr in ("named_parameters", "named_buffers"):
        named = getattr(fn, attr, None)
        if callable(named):
            for name, t in named():
                if t is not None:
                    out.setdefault(id(t), name)
    return out


def make_metadata(fn, user) -> dict:
    from .. import __version__

    user = dict(user or {})
    try:
        json.dumps(user, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise mark(ExportError(f"metadata must be JSON data (strings, numbers, lists, dicts): {exc}")) from None
    cls = type(fn) if not inspect.isfunction(fn) else None
    module = f"{cls.__module__}.{cls.__qualname__}" if cls is not None else f"{fn.__module__}.{fn.__qualname__}"
    return {
        "ember_version": __version__,
        "producer": "ember.export",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "module": module,
        "user": user,
    }


# ----------------------------------------------------------------------------------------- dim names
_PROBE_BASE = (10007, 20011)


def probe_sizes(names, k: int = 0) -> dict:
    """A size per dim name, distinct across names and across ``k`` (0 or 1)."""
    return {n: _PROBE_BASE[k] + 101 * i for i, n in enumerate(sorted(names))}


def name_dims(graph, input_dims: dict) -> dict:
    """{Value: tuple of dim names (None where static or unnamed)} for every value with a dynamic dim.

    Shape rules run twice with each named input dim set to its own probe size; an output dim that takes a
    name's two probe sizes is that name (``batch``); a dim that does not (``batch * seq``) stays unnamed.
    """
    names = {n for dims in input_dims.values() for n in dims if n}
    if not names:
        return {}
    probes = [probe_sizes(names, k) for k in (0, 1)]
    avals = [infer_avals(graph, input_dims, p) for p in probes]
    by_pair = {(probes[0][n], probes[1][n]): n for n in names}
    out = {}
    for v in graph.values():
        if None not in v.shape:
            continue
        dims = []
        for axis, d in enumerate(v.shape):
            pair = tuple(a[v][0][axis] if v in a else None for a in avals)
            dims.append(None if d is not None else by_pair.get(pair))
        out[v] = tuple(dims)
    out.update(input_dims)
    return out


def infer_avals(graph, input_dims, sizes, errors=None) -> dict:
    """{Value: (shape, dtype)} from the shape rules, with each named input dim at ``sizes[name]``; values
    whose inputs are still unknown (an unnamed dynamic dim, an op without a rule) are left out. A rule that
    rejects a node is skipped too, or reported as ``(index, node, error)`` in ``errors`` when given."""
    from ..graph.ir import GraphError

    avals = {}
    for v in graph.inputs:
        dims = input_dims.get(v, ())
        shape = tuple(sizes.get(dims[i]) if d is None and i < len(dims) and dims[i] else d
                      for i, d in enumerate(v.shape))
        avals[v] = (shape, v.dtype)
    for v in graph.constants:
        avals[v] = (v.shape, v.dtype)
    for k, node in enumerate(graph.nodes):
        ins = [avals.get(v) for v in node.inputs]
        if any(a is None or None in a[0] for a in ins) or node.op == "fused" or len(node.outputs) != 1:
            continue
        try:
            aval = opinfo.infer(node.op, ins, node.attrs)  # the op's one rule (registry)
        except GraphError:  # no rule for this op
            continue
        except (ValueError, TypeError, IndexError, KeyError, RuntimeError) as exc:
            if errors is not None:
                errors.append((k, node, exc))
            continue
        if aval is None or aval[1] is None or None in aval[0]:
            continue
        avals[node.outputs[0]] = (tuple(aval[0]), aval[1])
    return avals
