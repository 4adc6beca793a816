"""``ember.compile`` / ``ember.function``: run eager code as compiled graphs, one per call signature.

A signature is (tensor shapes, dtypes, devices, requires_grad and .grad presence; Python values; training modes; which
parameters have a ``.grad``; grad mode; optimizer hyper-parameters). The first call of a signature traces
the function (running it eagerly, so its result is returned as is), optimises the graph and builds an
executor; later calls run the executor. When a dim of an argument takes a second value it becomes dynamic
where the graph allows it, so varying batch sizes do not retrace forever. Each retrace is logged on the
``"ember"`` logger with the argument and its old and new shapes.

Python that needs a tensor's value (``if x.sum() > 0``, ``.item()``, ``.numpy()``, ``print(x)``) is a
graph break: the function then runs eagerly, with one warning naming the line (``strict=True`` raises
there instead). ``ember.compile.explain(fn, *args)`` lists every break.

Example:
    >>> import ember
    >>> @ember.compile
    ... def f(x, y):
    ...     return (x * y + 1).exp().sum(1)
    >>> x = ember.ones(4, 3)
    >>> f(x, x).shape, f(x, x).shape
    (ember.Size([4]), ember.Size([4]))
    >>> ember.compile.stats(f)["traces"], ember.compile.stats(f)["cache_hits"]
    (1, 1)
"""

from __future__ import annotations

import functools
import inspect
import logging
import warnings

from .._state import STATE
from ..errors import mark, with_user_line
from .capture import flatten, is_tensor, run_traced, tensor_type, unflatten
from .dynamic import generalize
from .reach import reach
from .tracer import Break, GraphBreak
from .writeback import _donations, state_arrays, write_back

logger = logging.getLogger("ember")
RETRACE_LIMIT = 8

__all__ = ["compile", "function", "stats", "explain", "CompiledFunction", "GraphBreak"]


class _Entry:
    """One compiled signature."""

    __slots__ = ("exe", "cap", "pattern", "graph", "eager", "n_out", "plan")

    def __init__(self, cap, exe, pattern, graph, eager=False, plan=None):
        self.cap, self.exe, self.pattern, self.graph, self.eager = cap, exe, pattern, graph, eager
        self.plan = plan  # an autodiff.GradPlan when the outputs need grad (forward + backward graphs)
        self.n_out = 0 if graph is None else len(graph.outputs) - sum(1 for _, has in cap.writeback if has)


def _device_of(arr) -> str:
    return "cpu" if type(arr).__module__ == "numpy" else "cuda"


def _graph_device(leaves, cap, graph) -> str:
    """Where the graph runs: its tensor arguments' device, else its captured state's (a step() closing over a
    model on the GPU has no arguments), else its constants'."""
    for t in leaves:
        return _device_of(t._data)
    for kind, t in cap.state:
        if kind == "tensor":
            return _device_of(t._data)
    for arr in graph.constants.values():
        if _device_of(arr) != "cpu":
            return "cuda"
    return "cpu"


class CompiledFunction:
    """What ``ember.compile(fn)`` returns: call it like ``fn``; a wrapped Module's attributes pass through."""

    def __init__(self, fn, dynamic=None, strict=False, retrace_limit=RETRACE_LIMIT, jit=None):
        self._fn, self._dynamic, self._strict, self._jit = fn, dynamic, strict, jit
        self._limit = retrace_limit
        self._exact: dict = {}
        self._entries: list[_Entry] = []
        self._eager_reason: Break | None = None
        self._limit_warned = False
        self._found = None
        self._modules: list = []
        self._params: list = []
        self._is_module = _is_module(fn)
        self._want_joint: set = set()  # signatures whose outputs need grad: trace forward + backward
        self.stats = {"traces": 0, "cache_hits": 0, "fallbacks": 0, "graph_breaks": [], "signatures": 0}
        functools.update_wrapper(self, fn, updated=())
        self._params_names = _param_names(getattr(fn, "forward", fn) if self._is_module else fn)
        self._names: list[str] = []

    # ------------------------------------------------------------------ signature
    def _key(self, args, kwargs):
        tensor = tensor_type()
        if not kwargs and all(type(a) is tensor for a in args):  # the common case, without flattening
            leaves, spec = list(args), len(args)
        else:
            leaves = []
            spec = _hashable(flatten((args, kwargs), leaves, is_tensor))
        grads = not self._is_module  # a function may accumulate into its arguments' .grad (a Module does not)
        tens = tuple((t._data.shape, t._data.dtype.str, _device_of(t._data), t.requires_grad,
                      grads and t.requires_grad and t.grad is None) for t in leaves)
        found = self._found
        extra = (
            STATE.grad_enabled,
            tuple(m.training for m in self._modules),
            () if self._is_module else tuple(p.grad is None for p in self._params),
            tuple(p.requires_grad for p in self._params),
            found.scalars() if found is not None else (),
            None if STATE.autocast is None else tuple(sorted(STATE.autocast.dtypes.items())),  # casts are traced
        )
        return (spec, tens, extra), leaves

    def __call__(self, *args, **kwargs):
        if STATE.tracer is not None:  # called inside another trace: just run (it is inlined)
            return self._fn(*args, **kwargs)
        if self._eager_reason is not None:
            self.stats["fallbacks"] += 1
            return self._fn(*args, **kwargs)
        if STATE.saved_hooks is not None and STATE.grad_enabled:
            return self._under_saved_hooks(args, kwargs)
        if self._found is None:
            self._scan(args, kwargs)
        key, leaves = self._key(args, kwargs)
        entry = self._exact.get(key)
        if entry is None:
            entry = self._match(key)
        if entry is None:
            return self._trace(key, leaves, args, kwargs)
        if entry.eager:
            self.stats["fallbacks"] += 1
            return self._fn(*args, **kwargs)
        self.stats["cache_hits"] += 1
        try:
            if entry.plan is not None:
                from .autodiff import run_with_grad

                return run_with_grad(entry.plan, leaves)
            return _run(entry, leaves)
        except Exception as exc:
            if getattr(exc, "_ember_check", False):  # a value check in the graph failed: name the caller's line
                from ..errors import mark, with_user_line

                raise mark(with_user_line(exc, 2)) from None
            raise

    def _scan(self, args, kwargs):
        self._found = reach(self._fn, args, kwargs)
        self._modules = self._found.all_modules()
        self._params = self._found.parameters()

    def _match(self, key):
        """A dynamic entry whose pattern (None = any size) matches ``key``; memoised."""
        spec, tens, extra = key
        for e in self._entries:
            pspec, ptens, pextra = e.pattern
            if (
                pspec == spec
                and pextra == extra
                and len(ptens) == len(tens)
                and all(_shape_matches(p, t) for p, t in zip(ptens, tens))
            ):
                self._exact[key] = e
                return e
        return None

    # ------------------------------------------------------------------ tracing
    def _trace(self, key, leaves, args, kwargs):
        if len(self._entries) >= self._limit:
            return self._over_limit(key, args, kwargs)
        self._names = _leaf_names(self._params_names, args, kwargs)
        self._log_retrace(key)
        self.stats["traces"] += 1
        mode = "strict" if self._strict else "compile"
        if self._joint_wanted(key, leaves):
            return self._trace_joint(key, leaves, args, kwargs, mode)
        cap = run_traced(self._fn, args, kwargs, mode=mode, found=self._found, decomposed=True)
        self._scan(args, kwargs)  # state may have been created (optimizer moments)
        if cap.breaks:
            self._graph_break(cap.breaks[0])
            return cap.result
        if cap.created_state:
            logger.info(
                "ember.compile: %s created optimizer state while tracing; it is traced again on the "
                "next call",
                self._qualname(),
            )
            return cap.result
        after, _ = self._key(args, kwargs)  # state made by the call (optimizer moments, .grad) is there next time
        key = (after[0], key[1], after[2])  # the arguments as they were passed (a new .grad is theirs, not the key's)
        if cap.needs_autograd and STATE.grad_enabled:
            logger.info(
                "ember.compile: %s returns tensors that require grad and does no backward itself; "
                "the next call traces its backward too (one compiled autograd node)",
                self._qualname(),
            )
            self._want_joint.add(key)
            return cap.result
        cap.graph.meta["donate"] = _donations(cap)
        graph, pattern = self._maybe_generalize(key, cap)
        self._add(_Entry(cap, self._build(graph, _graph_device(leaves, cap, graph)), pattern, graph), key)
        return cap.result

    def _joint_wanted(self, key, leaves) -> bool:
        if not STATE.grad_enabled:
            return False
        if key in self._want_joint:
            return True
        return self._is_module and (
            any(t.requires_grad for t in leaves) or any(p.requires_grad for p in self._params)
        )

    def _trace_joint(self, key, leaves, args, kwargs, mode):
        """Trace forward + backward into one graph, split it, and run the call through the compiled
        autograd node (state changed by the trace run is restored first, so it happens once)."""
        from .autodiff import _restore, _snapshot, build_plan, run_with_grad, trace_joint

        snap = _snapshot(self._found, leaves)
        try:
            cap, joint = trace_joint(self._fn, args, kwargs, self._found, mode)
        finally:
            _restore(snap)
        if cap.breaks:
            self._graph_break(cap.breaks[0])
            return self._fn(*args, **kwargs)
        if cap.created_state or any("grad" in kind for (kind, _), _h in cap.writeback):
            logger.info("ember.compile: %s changes .grad or creates state and returns tensors that "
                        "need grad; this signature runs eagerly", self._qualname())
            self._add(_Entry(cap, None, key, None, eager=True), key)
            return self._fn(*args, **kwargs)
        graph, pattern = self._maybe_generalize(key, cap)
        device = _graph_device(leaves, cap, graph)
        plan = build_plan(cap, joint, graph, device, self._jit)
        self._add(_Entry(cap, None, pattern, graph, plan=plan), key)
        return run_with_grad(plan, leaves)

    def _build(self, graph, device):
        from .executor import build

        return build(graph, device=device, jit=self._jit)

    def _add(self, entry, key):
        self._entries.append(entry)
        self._exact[key] = entry
        self.stats["signatures"] = len(self._entries)

    def _maybe_generalize(self, key, cap):
        spec, tens, extra = key
        if self._dynamic is False:
            return cap.graph, key
        for e in self._entries:
            if (
                e.graph is None
                or e.pattern[0] != spec
                or e.pattern[2] != extra
                or len(e.pattern[1]) != len(tens)
            ):
                continue
            dims = _differing_dims(e.pattern[1], tens)
            gdims = _graph_dims(cap.graph, e.graph)
            if not dims or gdims is None:
                continue
            g = generalize(cap.graph, e.graph, gdims)
            if g is None:
                logger.info(
                    "ember.compile: %s cannot make %s dynamic (the graph depends on the size); "
                    "keeping one graph per size",
                    self._qualname(),
                    self._dims_text(dims),
                )
                return cap.graph, key
            logger.info("ember.compile: %s: %s now dynamic", self._qualname(), self._dims_text(dims))
            pattern = (spec, tuple(_wild(t, dims.get(i, ())) for i, t in enumerate(tens)), extra)
            return g, pattern
        return cap.graph, key

    # ------------------------------------------------------------------ reporting
    def _qualname(self):
        return getattr(self._fn, "__qualname__", None) or type(self._fn).__name__

    def _dims_text(self, dims):
        return ", ".join(f"dim {sorted(a)} of {self._arg_name(i)}" for i, a in dims.items())

    def _arg_name(self, i):
        return self._names[i] if i < len(self._names) else f"argument {i}"

    def _log_retrace(self, key):
        if not self._entries:
            logger.info("ember.compile: tracing %s", self._qualname())
            return
        spec, tens, extra = key
        last = self._entries[-1].pattern
        reasons = []
        for i, (old, new) in enumerate(zip(last[1], tens)):
            if old[0] != new[0]:
                reasons.append(
                    f"{self._arg_name(i)} changed shape {_fmt_shape(old[0])} -> {_fmt_shape(new[0])}"
                )
            elif old[1:] != new[1:]:
                reasons.append(
                    f"{self._arg_name(i)} changed dtype/device/requires_grad {old[1:]} -> {new[1:]}"
                )
        if last[0] != spec or len(last[1]) != len(tens):
            reasons.append("the non-tensor arguments or the argument structure changed")
        if last[2] != extra:
            reasons.append("grad mode, autocast, training mode, .grad presence or optimizer settings changed")
        logger.info(
            "ember.compile: retracing %s (trace %d): %s",
            self._qualname(),
            len(self._entries) + 1,
            "; ".join(reasons) or "new signature",
        )

    def _over_limit(self, key, args, kwargs):
        if not self._limit_warned:
            self._limit_warned = True
            warnings.warn(
                f"ember.compile: {self._qualname()} has been traced {len(self._entries)} times (the "
                f"limit is {self._limit}); new signatures now run eagerly while the compiled ones keep "
                "running compiled. See the 'ember' logger for why each retrace happened.",
                RuntimeWarning,
                stacklevel=3,
            )
        self.stats["fallbacks"] += 1
        return self._fn(*args, **kwargs)

    def _under_saved_hooks(self, args, kwargs):
        """A call under ``autograd.graph.saved_tensors_hooks`` runs eagerly: the compiled backward keeps its
        values itself, so the hooks would not see them (a silent difference)."""
        msg = (f"ember.compile: {self._qualname()} is called under autograd.graph.saved_tensors_hooks (or "
               "save_on_cpu); compiled code saves its backward values without those hooks, so this call runs "
               "eagerly")
        if self._strict:
            raise mark(with_user_line(RuntimeError(msg + " (strict=True makes this an error)"), 3))
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        self.stats["fallbacks"] += 1
        return self._fn(*args, **kwargs)

    def _graph_break(self, brk):
        self._eager_reason = brk
        self.stats["graph_breaks"].append(str(brk))
        warnings.warn_explicit(
            f"ember.compile: graph break in {self._qualname()} at {brk}; it runs eagerly "
            "from now on (strict=True makes this an error)",
            RuntimeWarning,
            brk.filename,
            brk.lineno,
        )

    def __getattr__(self, name):  # a compiled Module keeps its attributes (parameters(), train(), ...)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._fn, name)

    def __repr__(self):
        return f"<compiled {self._qualname()}: {len(self._entries)} graph(s)>"


def _run(entry, leaves):
    """Feed arrays to the executor, write state back, rebuild the outputs."""
    from ..tensor import Tensor

    cap = entry.cap
    outs = entry.exe(*state_arrays(cap, leaves))
    n = entry.n_out
    write_back(cap.writeback, outs, n, leaves)
    wrapped = iter([Tensor._wrap(a) for a in outs[:n]])
    return unflatten(cap.out_spec, wrapped)


def _hashable(spec):
    try:
        hash(spec)
        return spec
    except TypeError:
        return repr(spec)


def _shape_matches(pattern, actual) -> bool:
    ps, pa = pattern[0], actual[0]
    return (
        pattern[1:] == actual[1:] and len(ps) == len(pa) and all(p is None or p == a for p, a in zip(ps, pa))
    )


def _differing_dims(old, new) -> dict:
    dims = {}
    for i, (o, n) in enumerate(zip(old, new)):
        if o[1:] != n[1:] or len(o[0]) != len(n[0]):
            return {}
        axes = {a for a, (x, y) in enumerate(zip(o[0], n[0])) if x != y}
        if axes:
            dims[i] = axes
    return dims


def _graph_dims(new, old):
    """{graph input index: axes whose size differs} between two traces, or None if they cannot match."""
    if len(new.inputs) != len(old.inputs):
        return None
    dims = {}
    for i, (a, b) in enumerate(zip(new.inputs, old.inputs)):
        if len(a.shape) != len(b.shape) or a.dtype != b.dtype:
            return None
        axes = {k for k, (x, y) in enumerate(zip(a.shape, b.shape)) if x != y}
        if axes:
            dims[i] = axes
    return dims


def _is_module(obj) -> bool:
    from .reach import _is_module as check

    return check(obj)


def _wild(t, axes):
    return (tuple(None if a in axes else d for a, d in enumerate(t[0])),) + t[1:]


def _fmt_shape(shape):
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _param_names(fn):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _leaf_names(param_names, args, kwargs) -> list[str]:
    """A readable name per tensor leaf, in flattening order: ``argument 'x'``, ``argument 'batch[0]'``."""
    names: list[str] = []

    def walk(obj, path):
        if is_tensor(obj):
            names.append(f"argument '{path}'")
        elif isinstance(obj, (tuple, list)):
            for i, x in enumerate(obj):
                walk(x, f"{path}[{i}]")
        elif isinstance(obj, dict):
            for k, x in obj.items():
                walk(x, f"{path}[{k!r}]")

    for i, a in enumerate(args):
        walk(a, param_names[i] if i < len(param_names) else f"args[{i}]")
    for k, a in kwargs.items():
        walk(a, k)
    return names


# ---------------------------------------------------------------------------------------------- public API
_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = {"inductor": None, "eager": False, "aot_eager": False}  # name -> jit (fused kernels or not)


def compile(fn_or_module=None, dynamic=None, strict=False, *, retrace_limit=RETRACE_LIMIT, jit=None,
            fullgraph=False, backend="inductor", mode=None, options=None, disable=False):
    """Compile a function, a training step or an ``nn.Module`` (its forward) into cached graphs.

    ``dynamic``: None = a dim becomes dynamic after its second distinct value; True = try from the second
    trace on regardless; False = one graph per shape. ``strict=True`` (or PyTorch's ``fullgraph=True``) raises
    at a graph break instead of running eagerly. ``jit``: use numba/CuPy fused kernels (None = when installed).
    PyTorch's other arguments are accepted: ``backend="inductor"`` (the default: fused kernels) or ``"eager"`` /
    ``"aot_eager"`` (the graph runs without fused kernels); ``mode`` ("default", "reduce-overhead",
    "max-autotune", ...) and ``options`` change nothing, as Ember has one way to run a graph;
    ``disable=True`` returns ``fn_or_module`` itself.

    Example:
        >>> import ember
        >>> f = ember.compile(lambda x: ember.tanh(x) * 2, mode="max-autotune")
        >>> f(ember.zeros(3)).tolist()
        [0.0, 0.0, 0.0]
    """
    if mode not in _MODES:
        raise mark(with_user_line(RuntimeError(
            f"compile: unrecognized mode={mode!r}; expected one of {[m for m in _MODES if m]}"), 2))
    if not isinstance(backend, str) or backend not in _BACKENDS:
        raise mark(with_user_line(ValueError(
            f"compile: backend {backend!r} is not available; Ember offers {sorted(_BACKENDS)} (custom backend "
            f"callables are not supported)"), 2))
    if options is not None and not isinstance(options, dict):
        raise mark(with_user_line(TypeError(f"compile: options must be a dict, got {type(options).__name__}"), 2))
    jit = _BACKENDS[backend] if jit is None else jit
    strict = strict or bool(fullgraph)
    if fn_or_module is None:
        return lambda fn: fn if disable else compile(fn, dynamic, strict, retrace_limit=retrace_limit, jit=jit)
    if disable or isinstance(fn_or_module, CompiledFunction):
        return fn_or_module
    return CompiledFunction(
        fn_or_module, dynamic=dynamic, strict=strict, retrace_limit=retrace_limit, jit=jit
    )


def function(
    func=None,
    *,
    input_signature=None,
    autograph=True,
    jit_compile=None,
    reduce_retracing=False,
    experimental_follow_type_hints=None,
    strict=False,
):
    """TensorFlow's spelling (``@ember.function``); ``reduce_retracing=True`` makes dims dynamic eagerly.

    Example:
        >>> import ember
        >>> @ember.function
        ... def double(x):
        ...     return x + x
        >>> double(ember.ones(2)).tolist()
        [2.0, 2.0]
    """

    def wrap(fn):
        return compile(
            fn,
            dynamic=True if reduce_retracing else None,
            strict=strict,
            jit=None if jit_compile is None else bool(jit_compile),
        )

    return wrap if func is None else wrap(func)


def stats(fn) -> dict:
    """Counters of a compiled function: traces, cache_hits, fallbacks, signatures, graph_breaks (lines)."""
    if not isinstance(fn, CompiledFunction):
        raise TypeError(
            f"ember.compile.stats expects a function returned by ember.compile, got {type(fn).__name__}"
        )
    return dict(fn.stats, graph_breaks=list(fn.stats["graph_breaks"]))


class Explanation:
    """What ``explain`` found: the graph (when there was no break), the breaks and op counts."""

    def __init__(self, graph, breaks):
        self.graph, self.breaks = graph, breaks

    @property
    def graph_break_count(self) -> int:
        return len(self.breaks)

    def __str__(self):
        lines = [f"{len(self.breaks)} graph break(s)"]
        lines += [f"  {b}" for b in self.breaks]
        if self.graph is not None:
            lines.append(f"graph: {len(self.graph.nodes)} nodes, {len(self.graph.inputs)} inputs")
        return "\n".join(lines)

    __repr__ = __str__


def explain(fn, *args, **kwargs) -> Explanation:
    """Run ``fn(*args)`` once (eagerly, under a tracer that keeps going) and list every graph break.

    Example:
        >>> import ember
        >>> def f(x):
        ...     if x.sum() > 0:
        ...         return x
        ...     return -x
        >>> e = ember.compile.explain(f, ember.ones(2))
        >>> e.graph_break_count
        1
    """
    if isinstance(fn, CompiledFunction):
        fn = fn._fn
    cap = run_traced(fn, args, kwargs, mode="explain")
    graph = None
    if not cap.breaks:
        graph = run_traced(fn, args, kwargs, mode="compile").graph
    return Explanation(graph, cap.breaks)


compile.stats = stats
compile.explain = explain
