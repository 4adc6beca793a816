"""``torch.autograd.graph``: hooks on the values autograd saves, multi-tensor gradient hooks, ``Node``.

Reachable as ``ember.autograd.graph``.

>>> import ember
>>> from ember.autograd.graph import saved_tensors_hooks
>>> packed = []
>>> x = ember.tensor([1.0, 2.0], requires_grad=True)
>>> with saved_tensors_hooks(lambda t: packed.append(t) or len(packed) - 1, lambda i: packed[i]):
...     y = (x * x).sum()
>>> y.backward(); x.grad, len(packed) > 0
(tensor([2., 4.]), True)
"""
from __future__ import annotations

from ._state import STATE
from .autograd import AccumulateGrad, Node
from .errors import mark, with_user_line

__all__ = ["Node", "AccumulateGrad", "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks",
           "register_multi_grad_hook", "increment_version"]


class saved_tensors_hooks:  # noqa: N801  (PyTorch's name)
    """Inside ``with``, every tensor an op saves for its backward goes through ``pack_hook(tensor)`` at once and
    ``unpack_hook(packed)`` when backward reads it (the unpacked tensor is what the gradient uses).

    It covers the primitives (the inputs each one's vjp reads, by its ``saves=``, and its output by
    ``saves_out``) and ``ctx.save_for_backward`` of custom Functions. As in PyTorch, a packed value is not
    version-checked: an in-place change after saving is not an error. ``ember.compile`` runs a call made
    under these hooks eagerly (with a warning), since its compiled backward saves nothing through them.
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        prev = STATE.saved_hooks
        if isinstance(prev, str):
            raise mark(with_user_line(RuntimeError(prev), 2))
        self._prev = prev
        STATE.saved_hooks = (self.pack_hook, self.unpack_hook)
        return self

    def __exit__(self, *exc):
        STATE.saved_hooks = self._prev
        return False


class save_on_cpu(saved_tensors_hooks):  # noqa: N801
    """Keep saved tensors in host memory during forward and move them back to their device for backward.

    On a CPU tensor both hooks are no-ops (the tensor itself is kept, as ``tensor.cpu()`` returns it in
    PyTorch). ``pin_memory`` is accepted; Ember copies to ordinary host memory.

    >>> import ember
    >>> x = ember.tensor(3.0, requires_grad=True)
    >>> with ember.autograd.graph.save_on_cpu():
    ...     y = x * x
    >>> y.backward(); x.grad
    tensor(6.)
    """

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack(t):
            return (t.device, t if str(t.device) == "cpu" else t.cpu())

        def unpack(packed):
            device, t = packed
            return t if str(device) == "cpu" else t.to(device)

        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:  # noqa: N801
    """Inside ``with``, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``; so does
    entering this while such hooks are already active.

    >>> import ember
    >>> from ember.autograd.graph import disable_saved_tensors_hooks, saved_tensors_hooks
    >>> with disable_saved_tensors_hooks("not here"):
    ...     try:
    ...         with saved_tensors_hooks(lambda t: t, lambda t: t):
    ...             pass
    ...     except RuntimeError as e:
    ...         print(str(e).splitlines()[0])
    not here
    """

    def __init__(self, error_message: str):
        self.error_message = error_message

    def __enter__(self):
        prev = STATE.saved_hooks
        if prev is not None and not isinstance(prev, str):
            raise mark(with_user_line(RuntimeError(self.error_message), 2))
        self._prev = prev
        STATE.saved_hooks = self.error_message
        return self

    def __exit__(self, *exc):
        STATE.saved_hooks = self._prev
        return False


def increment_version(tensor) -> None:
    """Bump ``tensor``'s version counter, as an in-place change does (for writes autograd cannot see).

    >>> import ember
    >>> t = ember.zeros(2)
    >>> ember.autograd.graph.increment_version(t); t._version
    1
    """
    for t in tensor if isinstance(tensor, (list, tuple)) else (tensor,):
        t._version_counter().value += 1


class _MultiHandle:
    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for h in self.handles:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode: str = "all"):
    """Call ``fn`` once per backward over ``tensors``: with ``mode="all"``, ``fn(grads)`` after every one of them
    that this backward reaches has its gradient (None for the others); with ``mode="any"``, ``fn(grad)`` with the
    first gradient computed.

    >>> import ember
    >>> a, b = ember.tensor(1.0, requires_grad=True), ember.tensor(2.0, requires_grad=True)
    >>> h = ember.autograd.graph.register_multi_grad_hook((a, b), lambda gs: print(gs))
    >>> (3 * a).backward()
    (tensor(3.), None)
    """
    if mode not in ("all", "any"):
        raise mark(with_user_line(ValueError(f"register_multi_grad_hook: mode must be 'all' or 'any', got {mode!r}"),
                                  2))
    from . import autograd_engine as engine

    tensors = tuple(tensors)
    state = {"pass": None}

    def make(i):
        def hook(g):
            current = engine.CURRENT[-1] if engine.CURRENT else None
            if state["pass"] is not current:
                state.update({"pass": current, "grads": [None] * len(tensors), "done": False,
                              "want": _reached(tensors, current)})
            if state["done"]:
                return None
            state["grads"][i] = g
            state["want"].discard(i)
            if mode == "any":
                state["done"] = True
                fn(g)
            elif not state["want"]:
                state["done"] = True
                fn(tuple(state["grads"]))
            return None

        return hook

    return _MultiHandle([t.register_hook(make(i)) for i, t in enumerate(tensors) if t.requires_grad])


def _reached(tensors, order):
    """The indices of ``tensors`` whose gradient the backward walking ``order`` computes."""
    if order is None:
        return set(range(len(tensors)))
    nodes = {id(n) for n in order}
    leaves = {id(e) for n in order for e in n.edges if e is not None and e.__class__ is not Node}
    return {i for i, t in enumerate(tensors)
            if (t._node is not None and id(t._node) in nodes) or (t._node is None and id(t) in leaves)}
