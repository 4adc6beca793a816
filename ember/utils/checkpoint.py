"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` without recording an autograd graph, so none of its intermediate
activations stay alive; it keeps only the inputs. Backward runs ``fn`` again with grad on (with the same
random numbers, so dropout masks match) and backpropagates through that recomputed graph. The gradients are
exactly those of the plain model; the price is one more forward of the segment.

How the parameters get their gradients: the forward runs under ``no_grad`` with a watcher on every dispatched
op (the per-op observer slot that ``ember.profiler`` also uses), which collects the tensors the segment reads
that require grad -- parameters, and tensors captured by closure. They become inputs of the checkpoint's
autograd node alongside the explicit arguments, so ``backward()``, ``autograd.grad`` and hooks see them as
PyTorch's non-reentrant checkpoint does.

>>> import ember
>>> from ember.utils.checkpoint import checkpoint
>>> lin = ember.nn.Linear(3, 3)
>>> x = ember.randn(2, 3, requires_grad=True)
>>> checkpoint(lin, x, use_reentrant=False).sum().backward()
>>> lin.weight.grad.shape, x.grad.shape
(ember.Size([3, 3]), ember.Size([2, 3]))
"""
from __future__ import annotations

import contextlib

from .. import autograd, random
from .._state import STATE
from ..errors import mark, warn_user, with_user_line
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "noop_context_fn", "CheckpointError"]


class CheckpointError(RuntimeError):
    """The recomputed segment differs from the original forward (shapes or dtypes of its outputs)."""


def noop_context_fn():
    """The default ``context_fn``: no context around the forward or the recompute."""
    return contextlib.nullcontext(), contextlib.nullcontext()


class _ReadWatcher:
    """The per-op observer while a segment runs forward: notes each op input that requires grad.

    Under ``no_grad`` nothing the segment makes requires grad, so such an input is a tensor from outside
    (a parameter, a captured tensor). Calls are passed on to an observer already there (a running profiler).
    """

    def __init__(self, outer, own_ids):
        self.outer, self.own_ids = outer, own_ids
        self.reads: dict[int, Tensor] = {}
        self.opaque = False  # a compiled graph ran inside: its reads cannot be seen op by op
        self.clock = outer.clock if outer is not None else (lambda: 0)

    def add_op(self, op, inputs, start, result=None):
        for t in inputs:
            if t.requires_grad and id(t) not in self.own_ids:
                self.reads.setdefault(id(t), t)
        if self.outer is not None:
            self.outer.add_op(op, inputs, start, result)

    def add_range(self, *args, **kwargs):
        if self.outer is not None:
            self.outer.add_range(*args, **kwargs)

    def add_graph_call(self, *args, **kwargs):
        self.opaque = True
        if self.outer is not None:
            self.outer.add_graph_call(*args, **kwargs)


class _Segment:
    """What backward needs to run the segment again: the function, its arguments, RNG and autocast state."""

    def __init__(self, fn, args, kwargs, preserve_rng_state, context_fn, determinism_check):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.rng_state = random.get_rng_state() if preserve_rng_state else None
        self.autocast = STATE.autocast
        self.context_fn, self.determinism_check = context_fn, determinism_check
        self.reads: list[Tensor] = []
        self.outputs = None  # (tensor outputs, how to put the non-tensor ones back)
        self.meta = None  # (shape, dtype) of each tensor output, for the determinism check

    def run(self, args, replay=False):
        """``fn`` on ``args`` under the forward's autocast state; to ``replay`` it, also from the forward's
        random state (the generator is put back afterwards: the recompute draws nothing for later code)."""
        with random.fork_rng(enabled=replay and self.rng_state is not None):
            if replay and self.rng_state is not None:
                random.set_rng_state(self.rng_state)
            prev, STATE.autocast = STATE.autocast, self.autocast
            try:
                return self.fn(*args, **self.kwargs)
            finally:
                STATE.autocast = prev


def _split_outputs(out):
    """(tensor outputs, rebuild(tensors) -> the output with its non-tensor items back in place)."""
    if isinstance(out, Tensor):
        return [out], lambda ts: ts[0]
    if isinstance(out, (tuple, list)):
        slots = [i for i, o in enumerate(out) if isinstance(o, Tensor)]
        kind = type(out)

        def rebuild(ts):
            items = list(out)
            for i, t in zip(slots, ts):
                items[i] = t
            return kind(items)

        return [out[i] for i in slots], rebuild
    return [], lambda ts: out


def _detached(args):
    """Each tensor argument detached (sharing memory), with its requires_grad kept: the segment's leaves."""
    return tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) and a.dtype.is_floating_point
                 else a.detach() if isinstance(a, Tensor) else a for a in args)


def _connected_copy(a):
    return a.clone() if isinstance(a, Tensor) and a.requires_grad else a


class CheckpointFunction(autograd.Function):
    """The autograd node of one segment: inputs are its tensor arguments and the tensors it read."""

    @staticmethod
    def forward(ctx, seg, *tensors):
        ctx.seg = seg
        ctx.set_materialize_grads(False)
        return tuple(seg.outputs[0])

    @staticmethod
    def backward(ctx, *grads):
        seg = ctx.seg
        create = STATE.grad_enabled  # the engine turns grad on during backward only for create_graph=True
        # first order: fresh leaves, so the recomputed graph ends at the segment. create_graph: copies that
        # stay connected to the arguments (the gradients must reach them for second order), each its own
        # node so that its gradient counts only the paths through that argument
        args = tuple(_connected_copy(a) for a in seg.args) if create else _detached(seg.args)
        with autograd.enable_grad(), seg.context_fn()[1]:
            out = seg.run(args, replay=True)
        outs, _ = _split_outputs(out)
        _check_same(seg, outs)
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
        slots = [a if isinstance(a, Tensor) and a.requires_grad else None for a in args if isinstance(a, Tensor)]
        slots += seg.reads
        return (None, *_grads_for(pairs, slots, create))


def _grads_for(pairs, slots, create):
    """The gradient of the recomputed outputs for each tensor in ``slots`` (None where a slot is None); a
    tensor in several slots gets its gradient once (in the first), as the graph holds it once."""
    unique = list({id(t): t for t in slots if t is not None}.values())
    if not (pairs and unique):
        return [None] * len(slots)
    # a tensor from the outer graph (not a leaf): its node must survive for the outer backward
    keep = create or any(t._node is not None for t in unique)
    got = autograd.grad([o for o, _ in pairs], unique, [g for _, g in pairs], retain_graph=keep,
                        create_graph=create, allow_unused=True)
    by_id = dict(zip([id(t) for t in unique], got))
    return [None if t is None else by_id.pop(id(t), None) for t in slots]


def _check_same(seg, outs):
    if seg.determinism_check == "none":
        return
    now = [(tuple(o.shape), o.dtype) for o in outs]
    if now != seg.meta:
        raise mark(CheckpointError(
            f"checkpoint: the recomputed segment's tensor outputs {[(s, d.name) for s, d in now]} differ from "
            f"the forward's {[(s, d.name) for s, d in seg.meta]}; the function must compute the same thing when "
            "run again (pass determinism_check='none' to skip this check)"))


def _forward(seg):
    """Run the segment under no_grad, watching which tensors it reads that require grad."""
    args = _detached(seg.args)
    watcher = _ReadWatcher(STATE.profiler, {id(a) for a in args})
    STATE.profiler = watcher
    try:
        with autograd.no_grad(), seg.context_fn()[0]:
            out = seg.run(args)
    finally:
        STATE.profiler = watcher.outer
    if watcher.opaque:
        raise mark(with_user_line(RuntimeError(
            "checkpoint: the function called a compiled (ember.compile) function, whose reads of parameters "
            "cannot be followed op by op; call checkpoint inside the compiled function instead, or run the "
            "function without checkpoint"), 4))
    seg.reads = list(watcher.reads.values())
    return out


def _validate(name, use_reentrant, kwargs, context_fn, determinism_check, stacklevel):
    if use_reentrant is None:
        warn_user(
            f"ember.utils.checkpoint.{name}: the use_reentrant parameter should be passed explicitly (as in "
            "PyTorch, which warns here too). Both values compute the same gradients in Ember; "
            "use_reentrant=False also accepts keyword arguments and a context_fn.")
    if determinism_check not in ("default", "none"):
        raise mark(with_user_line(ValueError(
            f"checkpoint: determinism_check should be 'default' or 'none', got {determinism_check!r}"),
            stacklevel))
    if use_reentrant is not False:
        if kwargs:
            raise mark(with_user_line(ValueError("Unexpected keyword arguments: " + ",".join(kwargs)
                                                 + " (checkpoint with use_reentrant=True takes none; pass "
                                                 "use_reentrant=False)"), stacklevel))
        if context_fn is not noop_context_fn:
            raise mark(with_user_line(ValueError(
                "checkpoint: passing context_fn is only supported with use_reentrant=False"), stacklevel))


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, context_fn=noop_context_fn,
               determinism_check="default", debug=False, **kwargs):
    """``function(*args, **kwargs)`` without keeping its activations; backward recomputes them.

    Returns what ``function`` returns (a tensor, or a tuple/list of tensors and other values). Gradients equal
    the plain call's exactly; with ``preserve_rng_state`` the recompute draws the same random numbers.
    ``use_reentrant`` (True, False, or None with a warning as in PyTorch) picks PyTorch's argument rules:
    keyword arguments and ``context_fn`` need ``use_reentrant=False``. Both run the one mechanism described in
    the module docstring, so unlike PyTorch's reentrant variant, ``True`` also gives parameters their gradients
    when no input requires grad, and works with ``autograd.grad``. ``debug`` adds nothing (Ember's errors
    already name the op and line). Under ``ember.compile`` a checkpoint is a graph break: the function runs
    eagerly, so the memory saving holds.

    >>> import ember
    >>> from ember.utils.checkpoint import checkpoint
    >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> checkpoint(lambda t: (t * t).sum(), x, use_reentrant=True).backward()
    >>> x.grad
    tensor([2., 4.])
    """
    _validate("checkpoint", use_reentrant, kwargs, context_fn, determinism_check, 3)
    if STATE.tracer is not None:
        STATE.tracer.on_unsupported("checkpoint")
    seg = _Segment(function, args, kwargs, preserve_rng_state, context_fn, determinism_check)
    out = _forward(seg)
    outs, rebuild = _split_outputs(out)
    seg.outputs = (outs, rebuild)
    seg.meta = [(tuple(o.shape), o.dtype) for o in outs]
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not outs:
        return out
    if STATE.grad_enabled and not any(t.requires_grad for t in tensors + seg.reads):
        warn_user("checkpoint: none of the inputs or the tensors the function reads require grad; "
                  "gradients will be None")
    wrapped = CheckpointFunction.apply(seg, *tensors, *seg.reads)
    return rebuild(list(wrapped))


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a list or ``nn.Sequential``) in order, checkpointing all but the last of
    ``segments`` equal chunks (the last runs normally: its activations are needed by backward at once).

    >>> import ember
    >>> from ember.utils.checkpoint import checkpoint_sequential
    >>> net = ember.nn.Sequential(ember.nn.Linear(4, 4), ember.nn.ReLU(), ember.nn.Linear(4, 1))
    >>> checkpoint_sequential(net, 2, ember.randn(3, 4), use_reentrant=False).shape
    ember.Size([3, 1])
    """
    _validate("checkpoint_sequential", use_reentrant, {}, noop_context_fn, "default", 3)
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise mark(with_user_line(ValueError("checkpoint_sequential: unexpected keyword arguments: "
                                             + ",".join(kwargs)), 2))
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if int(segments) < 1:
        raise mark(with_user_line(ValueError(
            f"checkpoint_sequential: segments must be at least 1, got {segments}"), 2))
    size = max(len(fns) // int(segments), 1)

    def run(lo, hi):
        def chunk(x):
            for f in fns[lo:hi]:
                x = f(x)
            return x
        return chunk

    end = 0
    for start in range(0, size * (int(segments) - 1), size):
        end = start + size
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant is not False,
                           preserve_rng_state=preserve)
    return run(end, len(fns))(input)
