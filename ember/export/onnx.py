"""ONNX export: ``ember.onnx.export(model, args, f, input_names=, output_names=, dynamic_axes=, opset_version=)``
with torch.onnx.export's signature and semantics, read off the one IR.

The model is traced (eval mode, no grad) into a graph whose layers (conv, pools, norms, embedding, LSTM/GRU,
attention...) are one node each; every node is lowered by its op's ``onnx`` lowering (``ember/ops``: written
beside each op's definition, see docs/internals.md "Lowerings"). Parameters become initializers named after
them. Dynamic axes: the model is traced a second time at another size of those axes and the two traces are
generalized (``ember.graph.dynamic``): sizes baked into attrs are rewritten size-free or the export says which
line made a size-dependent value. Needs the optional ``onnx`` extra (``pip install 'ember[onnx]'``).

Example:
    >>> import io, ember
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> proto = ember.onnx.export(model, (ember.randn(1, 4),), io.BytesIO(), input_names=["x"],
    ...                           dynamic_axes={"x": {0: "batch"}})
    >>> [n.op_type for n in proto.graph.node]
    ['Gemm', 'Relu', 'Gemm']
"""

from __future__ import annotations

import linecache
import logging
import os

import numpy as np

from .._atomic import write_atomic
from ..graph import opinfo
from ..ops import REGISTRY, Unsupported

logger = logging.getLogger("ember")
DEFAULT_OPSET = 17
OTHER_FORMAT = "Ember's own saved model (ember.export) runs every op"


class UnsupportedOperatorError(RuntimeError):
    """An op of the traced model has no ONNX form (for this opset / these attrs); the message names the op,
    the layer, the user's line and what would work."""


class OnnxExportError(RuntimeError):
    """The model cannot be exported as traced (data-dependent control flow, a size that cannot be dynamic...)."""


def _onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("ONNX export needs the optional extra: pip install 'ember[onnx]' (onnx, onnxruntime)") \
            from exc
    return onnx


class OnnxContext:
    """The builder the ``onnx`` lowerings write to (the ``ctx`` of ``lower(ctx, node)``)."""

    def __init__(self, opset: int, graph=None):
        self.graph = graph  # the IR graph being lowered (``users``)
        self.onnx = _onnx()
        self.h = self.onnx.helper
        self.opset = opset
        self.nodes, self.inits = [], []
        self.names: dict = {}  # Value -> ONNX name
        self.arrays: dict = {}  # ONNX name -> array, for initializers (ctx.value)
        self._cache: dict = {}
        self._count = 0
        self._bodies: list = []
        self.current = None  # the IR node being lowered (names its ONNX nodes)

    # -- names -------------------------------------------------------------------------------------------
    def fresh(self, hint: str = "t") -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def name(self, v) -> str:
        if v not in self.names:
            self.names[v] = self.fresh("v")
        return self.names[v]

    def input(self, node, i: int) -> str:
        return self.name(node.inputs[i])

    def output(self, node, j: int = 0) -> str:
        return self.name(node.outputs[j])

    # -- nodes and constants -----------------------------------------------------------------------------
    def emit(self, op_type, inputs, outputs=None, **attrs):
        """Append one ONNX node; returns its output name (a list of names when ``outputs`` is a count)."""
        inputs = list(inputs)
        while inputs and inputs[-1] == "":
            inputs.pop()
        many = isinstance(outputs, int)
        outs = [self.fresh(op_type) for _ in range(outputs if many else 1)] if outputs is None or many \
            else list(outputs)
        where = self.current.meta.get("module", "") if self.current is not None else ""
        self._count += 1
        self.nodes.append(self.h.make_node(op_type, inputs, outs, name=f"{op_type}_{self._count}",
                                           doc_string=where, **attrs))
        return outs if many else outs[0]

    def const(self, array, hint: str = "c") -> str:
        arr = np.asarray(array)
        name = self.fresh(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        self.arrays[name] = arr
        return name

    def ints(self, values) -> str:
        key = ("ints", tuple(int(v) for v in values))
        if key not in self._cache:
            self._cache[key] = self.const(np.asarray(key[1], np.int64), "ints")
        return self._cache[key]

    def scalar(self, value, dtype: str) -> str:
        key = ("scalar", repr(value), dtype)
        if key not in self._cache:
            self._cache[key] = self.const(np.asarray(value, self.np_dtype(dtype)), "k")
        return self._cache[key]

    def tensor_attr(self, value, dtype: str):
        return self.onnx.numpy_helper.from_array(np.asarray([value], self.np_dtype(dtype)))

    def dtype(self, name: str) -> int:
        return self.h.np_dtype_to_tensor_dtype(self.np_dtype(opinfo.dtype_name(name)))

    @staticmethod
    def np_dtype(name: str):
        return opinfo.np_dtype(name)

    def cast(self, name: str, src: str, dst: str) -> str:
        return name if src == dst else self.emit("Cast", [name], to=self.dtype(dst))

    def typed_input(self, node, i: int, dtype: str) -> str:
        return self.cast(self.input(node, i), node.inputs[i].dtype, dtype)

    def value(self, node, i: int):
        """The array of input ``i`` when it is a constant (an initializer), else None."""
        return self.arrays.get(self.input(node, i))

    def dim(self, node, i: int, axis: int) -> str:
        """A 1-element int64 tensor holding the size of ``axis`` of input ``i`` (a Shape slice when dynamic)."""
        size = node.inputs[i].shape[axis]
        if size is not None:
            return self.ints([size])
        return self.emit("Shape", [self.input(node, i)], start=axis, end=axis + 1)

    def users(self, v) -> list:
        """The IR nodes that read ``v`` (in the graph being exported, or the decomposition being lowered)."""
        graphs = [self.graph] + self._bodies
        return [u for g in graphs if g is not None for u in g.users(v)]

    # -- lowering ----------------------------------------------------------------------------------------
    def lower(self, node) -> None:
        prim = REGISTRY.get(node.op)
        fn = None if prim is None else prim.lowering("onnx")
        self.current = node
        try:
            if fn is None:
                reason = "not an op of the registry" if prim is None else \
                    prim.unsupported.get("onnx", "no ONNX lowering is registered")
                raise Unsupported(reason)
            fn(self, node)
        except Unsupported as exc:
            if "body" not in node.meta:
                raise _unsupported(node, exc, self.opset) from None
            try:  # a layer op with an option ONNX lacks: its decomposition, if every piece exports
                self.lower_body(node)
            except (Unsupported, UnsupportedOperatorError) as inner:
                raise _unsupported(node, exc, self.opset, inner) from None

    def lower_body(self, node) -> None:
        """Lower a layer node as its decomposition (the primitives it was traced as)."""
        body = node.meta.get("body")
        if body is None:
            raise Unsupported(f"{node.op}'s decomposition depends on the input size (it cannot be dynamic)",
                              "export without dynamic axes, or with a layer option ONNX has")
        for v, outer in zip(body.inputs, node.inputs):
            self.names[v] = self.name(outer)
        for v, outer in zip(body.outputs, node.outputs):
            self.names[v] = self.name(outer)
        for v, arr in body.constants.items():
            self.names[v] = self.const(np.asarray(arr), "k")
        outer_node = self.current
        self._bodies.append(body)
        try:
            for inner in body.nodes:
                self.lower(inner)
        finally:
            self._bodies.pop()
        self.current = outer_node


def _site_text(node) -> str:
    site = node.meta.get("site")
    if site is None:
        return node.meta.get("source", "<unknown line>")
    code = linecache.getline(site[0], site[1]).strip()
    where = f"{os.path.relpath(site[0]) if not site[0].startswith('<') else site[0]}:{site[1]}"
    return f"{where}" + (f"  `{code}`" if code else "")


def _unsupported(node, exc, opset, inner=None) -> UnsupportedOperatorError:
    layer = node.meta.get("module") or node.meta.get("layer")
    lines = [f"ONNX export (opset {opset}): op {node.op!r} has no ONNX form here: {exc.reason}"]
    if inner is not None and str(inner) != str(exc):
        detail = getattr(inner, "reason", None) or str(inner).splitlines()[0]
        lines[0] += f" (and its decomposition does not export either: {detail})"
    if layer:
        lines.append(f"  layer: {layer}")
    lines.append(f"  at: {_site_text(node)}")
    fixes = [s for s in (exc.suggest, OTHER_FORMAT) if s]
    lines.append("  what would work: " + "; or ".join(fixes))
    from ..errors import mark

    return mark(UnsupportedOperatorError("\n".join(lines)))


# -- export --------------------------------------------------------------------------------------------------
class TrainingMode:
    """torch.onnx.TrainingMode: EVAL (default: the model is exported in eval mode), PRESERVE, TRAINING."""

    EVAL, PRESERVE, TRAINING = "eval", "preserve", "training"


def _split_args(args, kwargs):
    from ..tensor import Tensor

    if isinstance(args, Tensor):
        return (args,), dict(kwargs or {})
    args = tuple(args)
    if args and isinstance(args[-1], dict) and kwargs is None:  # torch's legacy (x, {"kw": v}) form
        return args[:-1], dict(args[-1])
    return args, dict(kwargs or {})


def _default_input_names(model, n):
    import inspect

    fn = getattr(model, "forward", model)
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return params[:n] if len(params) >= n else [f"input_{i}" for i in range(n)]


def _dynamic_spec(dynamic_axes, names, what):
    """{name: {axis: dim name}} from torch's forms ({name: {axis: dim}} or {name: [axes]})."""
    spec = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(f"{what}: dynamic_axes names {name!r}, which is not among the input/output names "
                             f"{names}")
        if isinstance(axes, dict):
            spec[name] = {int(a): str(d) for a, d in axes.items()}
        else:
            spec[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
    return spec


def _from_dynamic_shapes(dynamic_shapes, model, in_names):
    """torch.export's {argument name: {axis: Dim or name}} as dynamic_axes on the input names."""
    params = _default_input_names(model, len(in_names))
    out = {}
    for key, axes in dynamic_shapes.items():
        i = params.index(key) if key in params else (key if isinstance(key, int) else None)
        if i is None or i >= len(in_names) or not axes:
            raise ValueError(f"ember.onnx.export: dynamic_shapes names {key!r}, not one of the arguments {params}")
        out[in_names[i]] = {int(a): d if isinstance(d, str) else getattr(d, "__name__", f"dim{a}")
                            for a, d in axes.items()}
    return out


def _set_modes(model, training):
    from .. import nn

    if not isinstance(model, nn.Module) or training == TrainingMode.PRESERVE:
        return None
    modes = [(m, m.training) for m in model.modules()]
    model.train(training == TrainingMode.TRAINING)
    return modes


def _value_info(ctx, name, v, axes):
    dims = [axes.get(i, d) if d is None or i in axes else d for i, d in enumerate(v.shape)]
    return ctx.h.make_tensor_value_info(name, ctx.dtype(v.dtype), dims)


# torch.onnx.export options that change nothing here (accepted so torch code runs unchanged)
_IGNORED = {"external_data", "report", "optimize", "verify", "profile", "dump_exported_program", "artifacts_dir",
            "fallback", "operator_export_type", "custom_opsets", "export_modules_as_functions", "autograd_inlining",
            "dynamo", "keep_initializers_as_inputs"}


def export(model, args=(), f=None, kwargs=None, export_params=True, verbose=False, training=TrainingMode.EVAL,
           input_names=None, output_names=None, opset_version=None, dynamic_axes=None, do_constant_folding=True,
           dynamic_shapes=None, **options):
    """Export ``model(*args, **kwargs)`` to ONNX (torch.onnx.export's signature); writes it to ``f`` (a path or
    a binary file object) when given and returns the ``onnx.ModelProto``.

    ``dynamic_axes``: {input or output name: {axis: dim name}} (or a list of axes); ``dynamic_shapes``:
    {forward argument name: {axis: name}} (torch.export's form, names as strings or ``Dim`` objects);
    ``opset_version``: default 17. The model is traced in eval mode (``training``) without gradients;
    parameters become initializers named after them. See the module docstring for an example.
    """
    from ..graph.compile import CompiledFunction
    from .program import ExportError
    from .tracing import trace_program

    bad = sorted(set(options) - _IGNORED)
    if bad:
        raise TypeError(f"ember.onnx.export() got unexpected keyword arguments {bad}")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset < 17:
        raise ValueError(f"ember.onnx.export: opset_version {opset} is not supported; use 17 or later "
                         "(LayerNormalization needs 17)")
    args, kwargs = _split_args(args, kwargs)
    leaves: list = []
    flatten((args, kwargs), leaves, is_tensor)
    in_names = list(input_names or []) + _default_input_names(model, len(leaves))[len(input_names or []):]
    in_names = in_names[:len(leaves)]
    modes = _set_modes(model, training)
    try:
        out_guess = list(output_names or [])
        if dynamic_shapes:
            dynamic_axes = dict(dynamic_axes or {}, **_from_dynamic_shapes(dynamic_shapes, model, in_names))
        spec = _dynamic_spec(dynamic_axes, in_names + out_guess, "ember.onnx.export")
        axes = {i: {a: _dim(d) for a, d in spec[n].items()} for i, n in enumerate(in_names) if n in spec}
        fn = model._fn if isinstance(model, CompiledFunction) else model  # its Python function
        try:
            prog = trace_program(fn, args, kwargs, axes, in_names, what="ember.onnx.export")
        except ExportError as exc:
            raise OnnxExportError(str(exc)) from None
    finally:
        for m, mode in modes or ():
            m.training = mode
    graph = prog.graph
    if verbose:
        logger.info("ember.onnx.export: traced graph\n%s", graph.format(source=True))
    model_proto = _build(graph, in_names, output_names, spec, opset, export_params)
    if f is not None:
        _write(model_proto, f)
    return model_proto


def _dim(name):
    """A ``Dim`` for an ONNX dim name (any string: ONNX names need not be identifiers)."""
    from .tracing import Dim

    d = Dim.__new__(Dim)
    d.name, d.min, d.max = str(name), None, None
    return d


def to_onnx(graph, input_names=None, output_names=None, opset_version=None, dim_names=None):
    """The ``onnx.ModelProto`` of an IR graph whose inputs are the model's inputs and whose weights are its
    constants (``ExportedProgram.graph``: what ``ember serve`` and ``ember.export.web`` convert, loaded
    artifacts included: they keep their layer nodes); its unknown dims stay dynamic, named by ``dim_names``
    ({Value: names per dim}, a program's ``dim_names``) or ``<input>_<axis>``."""
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    in_names = list(input_names or [f"input_{i}" for i in range(len(graph.inputs))])
    dim_names = dim_names or {}
    spec = {}
    for name, v in zip(in_names, graph.inputs):
        known = dim_names.get(v, ())
        spec[name] = {a: (known[a] if a < len(known) and known[a] else f"{name}_{a}")
                      for a, d in enumerate(v.shape) if d is None}
    return _build(graph, in_names, output_names, spec, opset, True)


def program_to_onnx(program, opset_version=None):
    """The ``onnx.ModelProto`` of an ``ExportedProgram`` (from ``ember.export.export`` or a loaded
    ``model.ember``): its input/output names, its named dynamic dims, its layer nodes as ONNX ops."""
    return to_onnx(program.graph, [s.name for s in program.input_specs], [s.name for s in program.output_specs],
                   opset_version, program.dim_names)


def _build(graph, in_names, output_names, spec, opset, export_params):
    """The ONNX model of a program graph: its inputs, then its constants as initializers (weights keep their
    names, ``fc1.weight``; with ``export_params=False`` named weights become graph inputs instead)."""
    ctx = OnnxContext(opset, graph)
    inputs = []
    for i, v in enumerate(graph.inputs):
        ctx.names[v] = in_names[i]
        inputs.append(_value_info(ctx, in_names[i], v, spec.get(in_names[i], {})))
    taken = set(in_names) | set(output_names or [])
    for v, arr in graph.constants.items():
        arr = np.asarray(arr)
        if not v.hint or v.hint in taken:
            ctx.names[v] = ctx.const(arr, "const")
            continue
        taken.add(v.hint)
        ctx.names[v] = v.hint
        if export_params:
            ctx.inits.append(ctx.onnx.numpy_helper.from_array(arr, v.hint))
            ctx.arrays[v.hint] = arr
        else:
            inputs.append(_value_info(ctx, v.hint, v, {}))
    out_names = list(output_names or [])
    out_names += [f"output_{k}" if len(graph.outputs) > 1 else "output"
                  for k in range(len(out_names), len(graph.outputs))]
    produced = {v for node in graph.nodes for v in node.outputs}
    direct = set()
    for v, name in zip(graph.outputs, out_names):  # a node writes the output name itself where it can
        if v in produced and v not in direct and v not in ctx.names:
            ctx.names[v] = name
            direct.add(v)
    for node in graph.nodes:
        ctx.lower(node)
    outputs = []
    for v, name in zip(graph.outputs, out_names):
        if ctx.names.get(v) != name:
            ctx.emit("Identity", [ctx.name(v)], [name])
        outputs.append(_value_info(ctx, name, v, spec.get(name, {})))
    nodes, inits = _tidy(ctx.nodes, ctx.inits, [o.name for o in outputs])
    g = ctx.h.make_graph(nodes, "ember_graph", inputs, outputs, inits)
    opsets = [ctx.h.make_opsetid("", opset)]
    proto = ctx.h.make_model(g, opset_imports=opsets, producer_name="ember")
    proto.ir_version = ctx.h.find_min_ir_version_for(opsets)
    ctx.onnx.checker.check_model(proto)
    return proto


def _tidy(nodes, inits, outputs):
    """Drop Identity nodes (the producer writes the name itself), nodes nobody reads and unused initializers."""
    out_set = set(outputs)
    producers = {o: n for n in nodes for o in n.output}
    readers: dict = {}
    for n in nodes:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    for ident in [n for n in nodes if n.op_type == "Identity"]:
        src, dst = ident.input[0], ident.output[0]
        prod = producers.get(src)
        if prod is None or readers.get(src) != 1 or src in out_set:
            continue
        prod.output[list(prod.output).index(src)] = dst
        producers[dst] = prod
        nodes.remove(ident)
    live = set(out_set)
    kept = []
    for n in reversed(nodes):  # nodes are in topological order: walk back from the outputs
        if any(o in live for o in n.output):
            kept.append(n)
            live.update(i for i in n.input if i)
    kept.reverse()
    for n in kept:  # unread optional outputs (an LSTM's Y_c) become ""
        for k, o in enumerate(n.output):
            if o not in live and k:
                n.output[k] = ""
    return kept, [t for t in inits if t.name in live]


def _write(proto, f) -> None:
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
        return
    write_atomic(f, data, ".onnx")  # a crash mid-save leaves the previous file


def export_session(module_or_fn, *example_args):
    """(onnxruntime.InferenceSession, feed dict for ``example_args``): for comparisons and benchmarks."""
    import onnxruntime

    from ..graph.compile import CompiledFunction

    fn = module_or_fn._fn if isinstance(module_or_fn, CompiledFunction) else module_or_fn
    names = [f"x{i}" for i in range(len(example_args))]
    proto = export(fn, tuple(example_args), input_names=names)
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = onnxruntime.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess, {n: np.asarray(a._data) for n, a in zip(names, example_args)}


from ..graph.capture import flatten, is_tensor  # noqa: E402
