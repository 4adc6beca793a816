"""Define-by-run reverse-mode autograd: nodes recorded by ``ops.apply``, a reverse topological walk, grad modes.

>>> import ember
>>> x = ember.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4.])
"""
from __future__ import annotations

import functools

from ._state import STATE
from .errors import format_site, mark, user_site, with_user_line


class VersionCounter:
    """Shared by a tensor and its views; bumped by every in-place op (so saved values can be checked)."""

    __slots__ = ("value", "last_op", "last_site")

    def __init__(self):
        self.value, self.last_op, self.last_site = 0, None, None


class Node:
    """One recorded primitive call: what backward needs to run its vjp (``t.grad_fn``, PyTorch's ``Node``).

    >>> import ember
    >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * 2).exp()
    >>> y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()
    ('ExpBackward', 'MulBackward')
    """

    __slots__ = ("op", "attrs", "inputs", "edges", "out", "out_vc", "versions", "hooks", "site", "_name",
                 "packed", "post_hooks", "_metadata", "__weakref__")

    def __init__(self, op, attrs, inputs, edges, out, versions, site):
        self.op, self.attrs, self.inputs, self.edges = op, attrs, inputs, edges
        self.out, self.out_vc, self.versions, self.site = out, None, versions, site
        self.hooks = self.packed = self.post_hooks = self._metadata = self._name = None

    def __repr__(self):
        return f"<{self.display_name()} node>"

    def display_name(self):
        return self._name or (self.op.name.capitalize() + "Backward")

    def name(self):
        """The node's name, e.g. ``'MulBackward'`` (PyTorch numbers them: ``'MulBackward0'``)."""
        return self.display_name()

    @property
    def next_functions(self):
        """``((node, 0), ...)`` per input: its Node, an ``AccumulateGrad`` for a leaf that requires grad, or
        None."""
        return tuple((e if e is None or e.__class__ is Node else AccumulateGrad(e), 0) for e in self.edges)

    @property
    def metadata(self) -> dict:
        """A dict kept on the node for the user's own annotations."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def register_prehook(self, fn):
        """``fn(grad_outputs) -> None | grad_outputs`` runs before this node's backward (tuples)."""
        from .tensor import RemovableHandle

        if self.hooks is None:
            self.hooks = []
        wrapped = _PreHook(fn)
        self.hooks.append(wrapped)
        return RemovableHandle(self.hooks, wrapped)

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs) -> None | grad_inputs`` runs after this node's backward; grad_inputs
        holds one entry per tensor input of the op (None where no gradient flows)."""
        from .tensor import RemovableHandle

        if self.post_hooks is None:
            self.post_hooks = []
        self.post_hooks.append(fn)
        return RemovableHandle(self.post_hooks, fn)


class _PreHook:
    """A node prehook (tuple in, tuple out) stored among the node's tensor hooks (one gradient in and out)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, g):
        multi = hasattr(g, "items") and g.__class__.__name__ == "_GradTuple"
        res = self.fn(tuple(g.items) if multi else (g,))
        if res is None:
            return None
        res = tuple(res)
        return g.__class__(list(res)) if multi else res[0]


class AccumulateGrad:
    """The node PyTorch puts in ``next_functions`` for a leaf that requires grad; ``.variable`` is the leaf."""

    __slots__ = ("variable",)
    metadata = {}

    def __init__(self, variable):
        self.variable = variable

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)

    def __repr__(self):
        return "<AccumulateGrad node>"

    def name(self):
        return "AccumulateGrad"

    @property
    def next_functions(self):
        return ()

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)``: for a leaf, run as a tensor hook on the leaf's gradient."""
        def hook(g):
            fn((), (g,))

        return self.variable.register_hook(hook)

    def register_prehook(self, fn):
        def hook(g):
            res = fn((g,))
            return None if res is None else tuple(res)[0]

        return self.variable.register_hook(hook)


def record(op, inputs, attrs, result):
    """Attach a Node to ``result`` (called by ops.apply when an input requires grad)."""
    edges = tuple([t._node if t._node is not None else (t if t.requires_grad else None) for t in inputs])
    versions = ()
    if op.saves:
        saves = op.saved_indices(len(inputs))
        vcs = [inputs[i]._version_counter() for i in saves]
        versions = tuple([(vc, vc.value, i) for vc, i in zip(vcs, saves)])
    node = Node(op, attrs, inputs, edges, result._data if op.saves_out else None, versions,
                user_site(3) if STATE.record_sites else None)
    if op.saves_out:
        node.out_vc = result._version_counter()
        node.versions = versions + ((node.out_vc, node.out_vc.value, -1),)
    if STATE.saved_hooks is not None:
        _pack_saved(node, op, inputs, result)
    result._node = node
    result.requires_grad = True
    return node


def _pack_saved(node, op, inputs, result):
    """Run the active ``saved_tensors_hooks`` pack hook on what the op's vjp reads (inputs by ``saves``, the
    output by ``saves_out``); the engine unpacks at backward. Packed values skip the version check (as torch)."""
    hooks = STATE.saved_hooks
    if isinstance(hooks, str):  # disable_saved_tensors_hooks is active: nothing to pack with
        return
    pack = hooks[0]
    saved = {i: pack(inputs[i]) for i in (op.saved_indices(len(inputs)) if op.saves else ())}
    if op.saves_out:
        saved[-1] = pack(result)
    node.packed = (hooks[1], saved)
    node.inputs = tuple(None if i in saved else t for i, t in enumerate(inputs))
    node.out, node.out_vc, node.versions = None, None, ()


# ----------------------------------------------------------------------------------------------------------
# grad modes


class _GradMode:
    """Base of no_grad / enable_grad / set_grad_enabled / inference_mode: context manager and decorator."""

    enabled = True

    def __enter__(self):
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__._clone(self):
                return fn(*args, **kwargs)

        return wrapper

    def _clone(self):
        return self.__class__()


class no_grad(_GradMode):
    """Disable gradient recording: ``with ember.no_grad(): ...`` or ``@ember.no_grad()``."""

    enabled = False


class enable_grad(_GradMode):
    enabled = True


class inference_mode(_GradMode):
    enabled = False

    def __init__(self, mode: bool = True):
        self.enabled = not mode

    def _clone(self):
        return inference_mode(not self.enabled)


class set_grad_enabled(_GradMode):
    """Set grad mode now (function form), for a ``with`` block, or as a decorator."""

    def __init__(self, mode: bool):
        self._prev = STATE.grad_enabled
        self.enabled = bool(mode)
        STATE.grad_enabled = self.enabled

    def __enter__(self):
        return self

    def __call__(self, fn):
        STATE.grad_enabled = self._prev  # as a decorator it only applies inside the call
        return super().__call__(fn)

    def _clone(self):
        return _Scoped(self.enabled)


class _Scoped(_GradMode):
    def __init__(self, mode):
        self.enabled = mode


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


# ----------------------------------------------------------------------------------------------------------
# anomaly mode


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> None:
    """Raise at the first op whose forward or backward makes NaN/Inf, naming the op and its source line."""
    STATE.anomaly = bool(mode)
    STATE.anomaly_check_nan = check_nan


def is_anomaly_enabled() -> bool:
    return STATE.anomaly


class detect_anomaly:
    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = STATE.anomaly
        STATE.anomaly = True

    def __exit__(self, *exc):
        STATE.anomaly = self._prev
        return False


from .autograd_engine import backward, grad  # noqa: E402,F401
from .autograd_function import Function, FunctionCtx, GradientTape  # noqa: E402,F401

__all__ = ["Node", "VersionCounter", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "set_detect_anomaly", "detect_anomaly", "Function",
           "FunctionCtx", "GradientTape", "AccumulateGrad", "format_site", "mark", "with_user_line"]
