"""Custom differentiable functions (``ember.autograd.Function``) and TensorFlow's ``GradientTape``."""
from __future__ import annotations

from ._state import STATE
from .errors import mark, with_user_line
from .ops._core import Op

zeros = zeros_like = None  # installed by ember/_wiring.py (pieces of higher layers)


class FunctionCtx:
    """The ``ctx`` passed to a custom Function's forward and backward."""

    def __init__(self):
        self.needs_input_grad = ()
        self._saved = ()
        self._saved_versions = ()
        self.materialize_grads = True
        self.non_differentiable = set()

    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version_counter().value for t in tensors)

    @property
    def saved_tensors(self):
        for t, v in zip(self._saved, self._saved_versions):
            if t is not None and t._version_counter().value != v:
                raise mark(RuntimeError(
                    f"a tensor saved with ctx.save_for_backward (shape {tuple(t.shape)}) was modified in place "
                    f"after it was saved (version {t._version_counter().value}, saved at {v})"))
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value

    def mark_dirty(self, *tensors):
        pass


class _GradTuple:
    """Gradients for a multi-output Function, summed slot by slot as they arrive."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __add__(self, other):
        return _GradTuple([b if a is None else a if b is None else a + b
                           for a, b in zip(self.items, other.items)])


def _function_vjp(cls):
    def vjp(g, out, *inputs, ctx, n_out, arg_slots):
        grads = g.items if isinstance(g, _GradTuple) else [g]
        if ctx.materialize_grads:
            grads = [gi if gi is not None else zeros(*shape, dtype=dt, device=dev)
                     for gi, (shape, dt, dev) in zip(grads, ctx._out_meta)]
        result = cls.backward(ctx, *grads)
        result = result if isinstance(result, tuple) else (result,)
        if len(result) < len(arg_slots):
            raise mark(RuntimeError(
                f"{cls.__name__}.backward returned {len(result)} gradients but forward took {len(arg_slots)} "
                "arguments; return one gradient (or None) per forward argument"))
        return tuple(result[i] for i in arg_slots)

    return vjp


def _select_vjp(g, out, src, index, n):
    items = [None] * n
    items[index] = g
    return (_GradTuple(items),)


_SELECT = Op("function_output", lambda xp, x, index, n: x, vjp=_select_vjp)


class Function:
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, *grads)``; call ``.apply``.

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
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        from .autograd import Node
        from .tensor import Tensor

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        prev = STATE.grad_enabled
        STATE.grad_enabled = False
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            STATE.grad_enabled = prev
        outs = out if isinstance(out, tuple) else (out,)
        if not (prev and any(ctx.needs_input_grad)):
            return out
        arg_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = tuple(args[i] for i in arg_slots)
        op = cls.__dict__.get("_ember_op") or Op(cls.__name__, None, vjp=_function_vjp(cls))
        cls._ember_op = op
        ctx._out_meta = [(tuple(o.shape), o.dtype, o.device) for o in outs]
        edges = tuple(t._node if t._node is not None else (t if t.requires_grad else None) for t in tensors)
        node = Node(op, {"ctx": ctx, "n_out": len(outs), "arg_slots": arg_slots}, tensors, edges, None, (),
                    None)
        node.name = cls.__name__ + "Backward"
        wrapped = []
        for i, o in enumerate(outs):
            if o._node is not None or o.requires_grad or any(o is t for t in tensors):
                o = o.detach()
            if id(o) in ctx.non_differentiable or not o.dtype.is_floating_point:
                wrapped.append(o)
                continue
            if len(outs) == 1:
                o._node, o.requires_grad = node, True
            else:
                sel = Node(_SELECT, {"index": i, "n": len(outs)}, (o,), (node,), None, (), None)
                o._node, o.requires_grad = sel, True
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
