"""Custom differentiable functions (``ember.autograd.Function``) and TensorFlow's ``GradientTape``."""
from __future__ import annotations

from ._state import STATE
from .errors import mark, with_user_line
from .ops._core import Op

zeros = zeros_like = None  # installed by ember/_wiring.py (pieces of higher layers)


class FunctionCtx:
    """The ``ctx`` passed to a custom Function's forward (or ``setup_context``) and backward."""

    def __init__(self):
        self.needs_input_grad = ()
        self._saved = ()
        self._saved_versions = ()
        self._packed = None
        self.materialize_grads = True
        self.non_differentiable = set()
        self.dirty = ()

    def save_for_backward(self, *tensors):
        """Keep ``tensors`` for backward (``ctx.saved_tensors``); changing one in place afterwards makes
        backward raise. Under ``autograd.graph.saved_tensors_hooks`` they go through its pack hook."""
        hooks = STATE.saved_hooks
        if hooks is not None and not isinstance(hooks, str):
            self._packed = (hooks[1], [None if t is None else hooks[0](t) for t in tensors])
            return
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version_counter().value for t in tensors)

    @property
    def saved_tensors(self):
        if self._packed is not None:
            unpack, packed = self._packed
            return tuple(None if p is None else unpack(p) for p in packed)
        for t, v in zip(self._saved, self._saved_versions):
            if t is not None and t._version_counter().value != v:
                raise mark(RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: a tensor saved with ctx.save_for_backward (shape {tuple(t.shape)}) was modified in "
                    f"place after it was saved: it is at version "
                    f"{t._version_counter().value}; expected version {v} instead. Clone it before changing it."))
        return self._saved

    def mark_non_differentiable(self, *tensors):
        """The given outputs get no gradient (``requires_grad`` False); backward receives zeros (or None)."""
        self.non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = value

    def mark_dirty(self, *tensors):
        """The given inputs were changed in place by forward and are returned as outputs (the same objects)."""
        self.dirty = tensors


class _GradTuple:
    """Gradients for a multi-output Function, summed slot by slot as they arrive."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __add__(self, other):
        return _GradTuple([b if a is None else a if b is None else a + b
                           for a, b in zip(self.items, other.items)])


def _function_vjp(cls, user_fn):
    def vjp(g, out, *inputs, ctx, n_out, arg_slots, n_args):
        grads = g.items if isinstance(g, _GradTuple) else [g]
        if ctx.materialize_grads:
            grads = [gi if gi is not None or meta is None else zeros(*meta[0], dtype=meta[1], device=meta[2])
                     for gi, meta in zip(grads, ctx._out_meta)]
        result = user_fn(ctx, *grads)
        result = result if isinstance(result, tuple) else (result,)
        name = cls.__name__ + "Backward"
        if len(result) < n_args or any(r is not None for r in result[n_args:]):
            raise mark(RuntimeError(f"function {name} returned an incorrect number of gradients (expected "
                                    f"{n_args}, got {len(result)}): return one gradient (or None) per forward "
                                    "argument"))
        for i, r in enumerate(result[:n_args]):
            if r is not None and i not in arg_slots:
                raise mark(RuntimeError(f"function {name} returned a gradient different than None at position "
                                        f"{i + 1}, but the corresponding forward input was not a Tensor"))
        return tuple(_fit_grad(name, k, result[i], t) for k, (i, t) in enumerate(zip(arg_slots, inputs)))

    return vjp


def _fit_grad(name, k, g, t):
    """A returned gradient of the input's shape, summed down when it was broadcast (as PyTorch allows)."""
    if g is None or tuple(g.shape) == tuple(t.shape):
        return g
    shape, gs = tuple(t.shape), tuple(g.shape)
    lead = len(gs) - len(shape)
    if lead < 0 or any(s != 1 and s != gsi for s, gsi in zip(shape, gs[lead:])):
        raise mark(RuntimeError(f"Function {name} returned an invalid gradient at index {k} - got {list(gs)} but "
                                f"expected shape compatible with {list(shape)}"))
    from .ops.elementwise import unbroadcast

    return unbroadcast(g, shape)


def _select_vjp(g, out, src, index, n):
    items = [None] * n
    items[index] = g
    return (_GradTuple(items),)


_SELECT = Op("function_output", lambda xp, x, index, n: x, vjp=_select_vjp)


def _twice_vjp(g, out, *inputs):
    raise mark(RuntimeError("trying to differentiate twice a function that was marked with @once_differentiable"))


_ONCE = Op("once_differentiable", None, vjp=_twice_vjp)


def once_differentiable(fn):
    """Decorate a Function's backward that is not itself differentiable: it runs without recording, and a
    later attempt to differentiate its results raises (``torch.autograd.function.once_differentiable``).

    >>> import ember
    >>> from ember.autograd.function import once_differentiable
    >>> class Sq(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     @once_differentiable
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    >>> x = ember.tensor(3.0, requires_grad=True)
    >>> Sq.apply(x).backward(); x.grad
    tensor(6.)
    """
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from .autograd import Node
        from .tensor import Tensor

        prev, STATE.grad_enabled = STATE.grad_enabled, False
        try:
            outputs = fn(ctx, *args)
        finally:
            STATE.grad_enabled = prev
        wanted = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        if not (prev and wanted):
            return outputs
        edges = tuple(a._node if a._node is not None else a for a in wanted)
        node = Node(_ONCE, {}, tuple(wanted), edges, None, (), None)
        single = not isinstance(outputs, tuple)
        outs = []
        for o in (outputs,) if single else outputs:
            if isinstance(o, Tensor) and o.dtype.is_floating_point:
                o = o.detach()
                o._node, o.requires_grad = node, True
            outs.append(o)
        return outs[0] if single else tuple(outs)

    return wrapper


class Function:
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, *grads)``; call ``.apply``.

    Also PyTorch's other form: ``forward(*args)`` without ctx plus ``setup_context(ctx, inputs, output)``; and
    ``vjp`` as another name for ``backward``. Non-tensor arguments and outputs pass through (their gradients
    are None).

    >>> import ember
    >>> class Cube(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * 3 * x ** 2
    >>> x = ember.tensor(2.0, requires_grad=True)
    >>> Cube.apply(x).backward(); x.grad
    tensor(12.)
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not overridden")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads) (or vjp)")

    vjp = backward

    @classmethod
    def _backward_fn(cls):
        if cls.backward is not Function.backward and cls.vjp is not Function.vjp:
            raise mark(RuntimeError(f"{cls.__name__}: implementing both 'backward' and 'vjp' is not allowed; "
                                    "define one of them"))
        return cls.vjp if cls.vjp is not Function.vjp else cls.backward

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor

        ctx = FunctionCtx()
        prev = STATE.grad_enabled
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        STATE.grad_enabled = False
        try:
            if cls.setup_context is not Function.setup_context:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            STATE.grad_enabled = prev
        if ctx.dirty:
            _check_dirty(ctx, args)
        if not (prev and any(ctx.needs_input_grad)):
            return out
        return _connect(cls, ctx, args, out)


def _check_dirty(ctx, args):
    for t in ctx.dirty:
        if not any(t is a for a in args):
            raise mark(with_user_line(RuntimeError(
                "ctx.mark_dirty: only inputs of forward can be marked dirty (changed in place)"), 3))
        if t.requires_grad and t._node is None and STATE.grad_enabled:
            raise mark(with_user_line(RuntimeError(
                "a leaf Variable that requires grad has been used in an in-place operation."), 3))
        t._version_counter().value += 1


def _connect(cls, ctx, args, out):
    """Record one node for the call and attach it to each differentiable tensor output."""
    from .autograd import Node
    from .tensor import Tensor

    outs = out if isinstance(out, tuple) else (out,)
    arg_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    tensors = tuple(args[i] for i in arg_slots)
    op = cls.__dict__.get("_ember_op") or Op(cls.__name__, None, vjp=_function_vjp(cls, cls._backward_fn()))
    cls._ember_op = op
    ctx._out_meta = [(tuple(o.shape), o.dtype, o.device) if isinstance(o, Tensor) else None for o in outs]
    edges = tuple(t._node if t._node is not None else (t if t.requires_grad else None) for t in tensors)
    attrs = {"ctx": ctx, "n_out": len(outs), "arg_slots": arg_slots, "n_args": len(args)}
    node = Node(op, attrs, tensors, edges, None, (), None)
    node._name = cls.__name__ + "Backward"
    dirty = {id(t) for t in ctx.dirty}
    wrapped = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor) or id(o) in ctx.non_differentiable or not o.dtype.is_floating_point:
            wrapped.append(o)
            continue
        if id(o) not in dirty and (o._node is not None or o.requires_grad or any(o is t for t in tensors)):
            o = o.detach()
        if len(outs) == 1:
            o._node, o.requires_grad = node, True
        else:
            o._node = Node(_SELECT, {"index": i, "n": len(outs)}, (o,), (node,), None, (), None)
            o.requires_grad = True
        wrapped.append(o)
    return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]


_ACTIVE_TAPES: list = []


class GradientTape:
    """TensorFlow's tape on Ember's autograd: record inside ``with``, then ``tape.gradient``.

    >>> import ember
    >>> x = ember.tensor(3.0)
    >>> with ember.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * x
    >>> tape.gradient(y, x)
    tensor(6.)
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._watched = []
        self._used = False
        self._recording = False

    def __enter__(self):
        self._prev_mode = STATE.grad_enabled
        STATE.grad_enabled = True
        self._recording = True
        _ACTIVE_TAPES.append(self)
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev_mode
        self._recording = False
        _ACTIVE_TAPES.remove(self)
        return False

    def watch(self, tensor):
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not t.dtype.is_floating_point:
                raise mark(with_user_line(TypeError(
                    f"GradientTape.watch: only floating-point tensors can be watched, got {t.dtype.name}"), 2))
            if not t.requires_grad:
                t.requires_grad = True
            self._watched.append(t)

    def watched_variables(self):
        return tuple(self._watched)

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        from . import autograd_engine
        if self._used and not self.persistent:
            raise mark(with_user_line(RuntimeError(
                "A non-persistent GradientTape can only be used to compute one set of gradients; "
                "use GradientTape(persistent=True) to call gradient() more than once."), 2))
        self._used = True
        flat, rebuild = _flatten(sources)
        targets = target if isinstance(target, (list, tuple)) else [target]
        targets = [t if t.numel() == 1 or output_gradients is not None else t.sum() for t in targets]
        wanted = [s for s in flat if s.requires_grad]
        connected = [t for t in targets if t.requires_grad]
        grads = {}
        if wanted and connected:
            create = bool([t for t in _ACTIVE_TAPES if t is not self]) or self._recording
            got = autograd_engine.grad(connected, wanted, grad_outputs=output_gradients,
                                       retain_graph=self.persistent or create, create_graph=create,
                                       allow_unused=True)
            grads = {id(s): g for s, g in zip(wanted, got)}
        out = [grads.get(id(s)) for s in flat]
        if unconnected_gradients == "zero":
            out = [zeros_like(s) if g is None else g for s, g in zip(flat, out)]
        return rebuild(out)


def _flatten(sources):
    if isinstance(sources, dict):
        keys = list(sources)
        return [sources[k] for k in keys], lambda v: dict(zip(keys, v))
    if isinstance(sources, (list, tuple)):
        kind = type(sources)
        return list(sources), lambda v: kind(v)
    return [sources], lambda v: v[0]
