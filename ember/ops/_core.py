"""The primitive registry and the one dispatch point, ``apply``.

Every primitive goes through ``apply``: eager array math, autograd recording, tracing, anomaly checks and
error diagnosis all hang off it. Keep it thin: it runs once per op call.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from .._state import STATE
from ..errors import mark, user_site, with_user_line

REGISTRY: dict[str, Op] = {}
_ndarray = np.ndarray
_complex_seen = dtypes.COMPLEX_SEEN  # set once any complex array exists: then apply checks op.complex_ok
_errors_off, _errors_restore = backend.float_errors_off, backend.float_errors_restore
CHECK_ATTR = "_ember_check"  # set on errors raised by value checks (ops/checks.py): passed on as they are


class Aval:
    """An abstract value: shape and dtype without data (what shape rules and the IR see).

    A dim is an int or ``None`` (unknown: a dynamic size such as the batch of an exported model); shape rules
    propagate ``None`` and raise only on a definite mismatch (see ``ember/ops/_rules.py``)."""

    __slots__ = ("shape", "dtype", "device")

    def __init__(self, shape, dtype, device="cpu"):
        self.shape, self.dtype, self.device = tuple(shape), dtype, device

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"Aval({self.shape}, {self.dtype})"


class Unsupported(Exception):
    """Raised by a lowering for a node it cannot express (an attr value, an opset, a dtype); ``suggest`` says
    what would work (another format or opset, a layer option). The exporter adds the op, layer and line."""

    def __init__(self, reason: str, suggest: str = ""):
        super().__init__(reason)
        self.reason, self.suggest = reason, suggest


class Op:
    """One op: its forward, vjp, shape/dtype rule, flags and per-target lowerings, all on its definition.

    - ``forward(xp, *arrays, **attrs)``, ``vjp(g, out, *inputs, **attrs)``, ``infer(*avals, **attrs)``.
    - ``saves``: indices of inputs whose *values* the vjp reads (in-place modification of those is an error);
      ``saves_out``: whether the vjp reads the output.
    - ``view``: eager results share the input's version counter; ``aliases``: the output may share the first
      input's memory (the memory planner's fact; defaults to ``view``; ``getitem`` aliases without ``view``).
    - ``kind``: "elementwise", "reduce", "shape", "index", "matmul", "random", "check", "collective", "nn",
      "layer", "complex" (complex numbers' parts and the FFTs: eager only, never in a graph) or "other";
      ``pure``: False for random draws; ``compare``: a boolean result of a comparison.
    - ``ufunc`` / ``reduce_fn``: the ``xp`` function the forward is (executors call it with ``out=``).
    - ``lowerings[target]`` (see ``register_lowering``) and ``unsupported[target]`` (a reason).
    - ``update``: for an update primitive (``tensor.update_``), the in-place kernel ``update(xp, *states,
      *operands, **attrs)`` that changes the leading state arrays; ``forward`` is then its functional form, the
      new states stacked (``update_primitive``).
    - ``complex_ok``: the forward and the vjp are right for complex inputs (``ops/complex.py``); ``apply``
      refuses complex inputs to every other op, naming it (never a silent answer from NumPy's complex rules).
    - Layer ops (``kind == "layer"``, see ``register_layer``) have no forward: their eager implementation is a
      composite of primitives, which a trace keeps as the node's decomposition.
    """

    __slots__ = ("name", "forward", "vjp", "infer", "saves", "saves_out", "view", "kind", "aliases", "pure",
                 "compare", "ufunc", "reduce_fn", "lowerings", "unsupported", "n_out", "update", "complex_ok")

    def __init__(self, name, forward, vjp=None, infer=None, saves=(), saves_out=False, view=False,
                 kind="other", onnx=None, aliases=None, pure=None, compare=False, ufunc=None, reduce_fn=None,
                 n_out=1, update=None, complex_ok=False):
        self.name, self.forward, self.vjp, self.infer = name, forward, vjp, infer
        # saves: input indices, or "all" / "rest" (every input / every input after the first) for variadic ops
        self.saves = saves if isinstance(saves, str) else tuple(saves)
        self.saves_out, self.view, self.kind = saves_out, view, kind
        self.aliases = view if aliases is None else aliases
        # random draws and value checks that raise are kept where they are by every pass
        self.pure = kind not in ("random", "check", "collective") if pure is None else pure
        self.update = update
        self.compare, self.ufunc, self.reduce_fn, self.n_out = compare, ufunc, reduce_fn, n_out
        self.lowerings: dict = {} if onnx is None else {"onnx": onnx}
        self.unsupported: dict = {}
        # whether forward and vjp are right for complex inputs (ops/complex.py lists them); the others refuse
        self.complex_ok = complex_ok

    def __repr__(self):
        return f"<op {self.name}>"

    @property
    def onnx(self):  # the older spelling
        return self.lowerings.get("onnx")

    def lowering(self, target: str):
        """This op's lowering for ``target`` ("onnx", "tflite", "numba", "cuda", "cpu_loop", ...) or None."""
        return self.lowerings.get(target)

    def saved_indices(self, n_inputs: int):
        """Indices of the inputs whose values the vjp reads (resolving "all" / "rest" for ``n_inputs``)."""
        saves = self.saves
        if saves.__class__ is str:
            return range(n_inputs) if saves == "all" else range(1, n_inputs)
        return saves


def register(name, forward, **kw) -> Op:
    """Register primitive ``name``: ``register(name, forward, vjp=, infer=, saves=, saves_out=, view=, kind=,
    ufunc=, reduce_fn=, ...)`` (see ``Op``)."""
    if name in REGISTRY:
        raise ValueError(f"primitive {name!r} is already registered")
    op = Op(name, forward, **kw)
    REGISTRY[name] = op
    return op


def update_primitive(name, kernel, n_operands, **kw) -> Op:
    """Register an update primitive from its in-place kernel ``kernel(xp, *states, *operands, **attrs)``
    (``n_operands`` trailing inputs are read only). Its forward runs the same kernel on copies of the states
    and returns them stacked, so the functional form (graphs) equals the in-place one (eager) bit for bit."""

    def forward(xp, *arrays, **attrs):
        k = len(arrays) - n_operands
        out = xp.stack(arrays[:k])  # the states, copied once into the result, updated there in place
        # out[i, ...]: a view also for 0-d states (iterating a 1-D stack gives scalars, copies of the values)
        kernel(xp, *[out[i, ...] for i in range(k)], *arrays[k:], **attrs)
        return out

    return register(name, forward, update=kernel, kind="update", **kw)


def get(name: str) -> Op:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no primitive named {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def register_lowering(name: str, target: str, impl=None):
    """Attach ``impl`` as op ``name``'s lowering for ``target``; usable as a decorator.

    The convention for export targets ("onnx", "tflite"): ``impl(ctx, node)``, where ``node`` is the IR node
    (``node.inputs``/``node.outputs`` Values, ``node.attrs``) and ``ctx`` the target's builder object (so
    ``ember/ops`` never imports the format's package). A lowering raises ``Unsupported(reason, suggest)`` for
    attr values it cannot express. Executor targets store their own forms ("numba"/"cuda": kernel
    expressions, "cpu_loop": ``fn(node) -> callable | None``).

    Example:
        >>> from ember.ops import register_lowering
        >>> @register_lowering("relu", "my_format")
        ... def _relu(ctx, node):
        ...     ctx.emit("RELU", [ctx.input(node, 0)], [ctx.output(node)])
    """

    def attach(fn):
        op = get(name)
        op.lowerings[target] = fn
        op.unsupported.pop(target, None)
        return fn

    return attach if impl is None else attach(impl)


def unsupported(name: str, target: str, reason: str) -> None:
    """Mark op ``name`` as having no lowering for ``target``, saying why (and what to use instead)."""
    op = get(name)
    op.lowerings.pop(target, None)
    op.unsupported[target] = reason


def register_layer(name: str, infer, n_out: int = 1, **kw) -> Op:
    """Declare a layer-level op (conv, pools, norms, embedding, RNNs, attention...): a node of the IR that
    deployment formats know as one op. It has attrs, a shape rule and lowerings but no forward: its eager
    implementation is a composite of primitives, bound with ``@composite(name, bind)``."""
    return register(name, None, infer=infer, kind="layer", n_out=n_out, **kw)


def composite(name: str, bind=None):
    """Decorate the eager implementation of layer op ``name``. Eagerly the function runs as it is (one check
    of the tracer). While tracing, the tracer records one ``name`` node whose decomposition is what the
    function recorded. ``bind(*args, **kwargs)`` maps the call to ``(input tensors, attrs)`` (plain data) or
    None when this call is not that layer (training-mode batch norm, dropout in attention...); without
    ``bind`` the positional tensors are the inputs and the keyword arguments the attrs."""
    import functools

    def deco(impl):
        op = get(name)

        @functools.wraps(impl)
        def call(*args, **kwargs):
            tracer = STATE.tracer
            if tracer is None or not hasattr(tracer, "composite"):
                return impl(*args, **kwargs)
            if bind is None:
                inputs, attrs = [a for a in args if isinstance(a, Tensor)], kwargs
            else:
                bound = bind(*args, **kwargs)
                if bound is None:
                    return impl(*args, **kwargs)
                inputs, attrs = bound
            return tracer.composite(op, lambda: impl(*args, **kwargs), list(inputs), dict(attrs))

        call.op = op
        return call

    return deco


def apply(op, *inputs, **attrs):
    """Run primitive ``op`` (an Op or its name) on Ember tensors ``inputs`` with plain-data ``attrs``."""
    if op.__class__ is str:
        op = REGISTRY[op]
    if STATE.profiler is not None:
        return _profiled(op, inputs, attrs)
    if inputs:
        first = inputs[0]._data
        xp = np if first.__class__ is _ndarray else backend.xp_of(first)
    else:
        xp = backend.xp_for(backend.device(attrs.get("device", "cpu")))
    if _complex_seen[0] and not op.complex_ok:  # (inline: a call costs more than the loop)
        for t in inputs:
            if t._data.dtype.kind == "c":
                check_complex(op, inputs)
    quiet = _errors_off()  # no NumPy float warnings (PyTorch gives inf/nan silently)
    try:
        out = op.forward(xp, *[t._data for t in inputs], **attrs)
    except Exception as exc:
        raise diagnose(op, inputs, attrs, exc) from None
    finally:
        _errors_restore(quiet)
    if out.__class__ is not _ndarray:
        if xp is np and not backend.is_array(out):  # a NumPy scalar, not a CuPy array from to_device
            out = np.asarray(out)  # (np.asarray would refuse that)
        elif xp is not np and out.dtype == np.float32 and any(t._data.dtype.kind == "V" for t in inputs):
            out = _keep_bfloat16(op, inputs, attrs, out)
    result = Tensor._wrap(out)
    if STATE.grad_enabled and op.vjp is not None:
        for t in inputs:
            if t.requires_grad:
                record(op, inputs, attrs, result)
                break
    if op.view and inputs:
        result._vc = inputs[0]._version_counter()
    if STATE.anomaly:
        check_finite(op, result)
    if STATE.tracer is not None:
        STATE.tracer.record(op, inputs, attrs, result)
    return result


def check_complex(op, inputs):
    """Raise when a complex tensor reaches ``op``, which cannot handle complex numbers (``Op.complex_ok``)."""
    for i, t in enumerate(inputs):
        if t._data.dtype.kind == "c":
            raise mark(with_user_line(NotImplementedError(
                f"{op.name}: not implemented for complex tensors (input {i} is {t._data.dtype}). Ember's complex "
                "numbers cover ember.fft, + - * / and neg, matmul/einsum/linear, sum/mean, ==/!=, where, "
                "abs/angle/real/imag/conj, view_as_real/view_as_complex, shape, indexing and casts; take .real, "
                ".imag or .abs() first, or work on view_as_real(x)"), 4))


def _profiled(op, inputs, attrs):
    """``apply`` timed for ``ember.profiler`` (the op itself runs with the recorder unset, then it is restored)."""
    rec = STATE.profiler
    STATE.profiler = None
    start = rec.clock()
    result = None
    try:
        result = apply(op, *inputs, **attrs)
        return result
    finally:
        STATE.profiler = rec
        rec.add_op(op, inputs, start, result)


def diagnose(op, inputs, attrs, exc):
    """Turn a failure inside ``op.forward`` into an error naming the op, operands and the user's line."""
    if getattr(exc, CHECK_ATTR, False):  # a failed value check (ops/checks.py): its message is the error
        return mark(with_user_line(exc, 3))
    if backend.is_out_of_memory(exc):
        return mark(with_user_line(_out_of_memory(op, inputs, attrs, exc), 3))
    if op.infer is not None:
        try:
            op.infer(*_avals(inputs), **attrs)
        except (ValueError, TypeError, IndexError, RuntimeError) as err:
            return mark(with_user_line(err, 3))
    devs = {str(t.device) for t in inputs}
    if len(devs) > 1:
        err = RuntimeError(f"{op.name}: expected all tensors on the same device, found "
                           + " and ".join(sorted(devs))
                           + ". Move them with .to(device) first.")
        return mark(with_user_line(err, 3))
    shapes = ", ".join(f"{tuple(t._data.shape)} {t._data.dtype}" for t in inputs)
    # the builtin class the failure derives from: NumPy's own subclasses (its no-loop TypeError) take other
    # constructor arguments, and ``except TypeError`` still catches the rebuilt error
    kind = next((k for k in (TypeError, ValueError, IndexError) if isinstance(exc, k)), RuntimeError)
    err = kind(f"{op.name}: failed on inputs [{shapes}]" + (f" with {attrs}" if attrs else "") + f": {exc}")
    return mark(with_user_line(err, 3))


def _avals(inputs) -> list:
    """The abstract values (shape, dtype, device) of eager tensors, for an op's shape and dtype rule."""
    from .. import dtypes

    return [Aval(t._data.shape, dtypes.from_np(t._data.dtype), str(t.device)) for t in inputs]


def _keep_bfloat16(op, inputs, attrs, out):
    """CuPy runs some ufuncs on bfloat16 (ml_dtypes) operands in float32 (``where``, mixing with scalars), so a
    float32 result of a bfloat16 input is checked (one dtype compare per CuPy op otherwise):
    round the result back when the op's rule says bfloat16, as NumPy and PyTorch return it."""
    if op.infer is None:
        return out
    want = op.infer(*_avals(inputs), **attrs)
    return out.astype(want.dtype.np) if isinstance(want, Aval) and want.dtype.name == "bfloat16" else out


def _out_of_memory(op, inputs, attrs, exc):
    """The device ran out of memory inside ``op``: name the output it was making and the memory in use."""
    try:
        out = op.infer(*_avals(inputs), **attrs)
        made = f" making an output of shape {tuple(out.shape)} ({out.dtype.name})"
    except Exception:  # no shape rule, or one that cannot say: name the inputs only
        made = ""
    shapes = ", ".join(f"{tuple(t._data.shape)} {t._data.dtype}" for t in inputs)
    return backend.out_of_memory(f"running {op.name} on inputs [{shapes}]{made}", exc)


def check_finite(op, result):
    data = result._data
    if data.dtype.kind in "fV" and not bool(backend.xp_of(data).isfinite(data).all()):
        from ..errors import format_site

        raise mark(RuntimeError(f"anomaly detected: the forward of {op.name!r} produced NaN or Inf "
                                f"(output shape {tuple(data.shape)}), at {format_site(user_site(3))}"))


from ..tensor import Tensor  # noqa: E402

record = None  # autograd's recorder, installed by ember/_wiring.py (autograd sits above ops)
