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
    """One recorded primitive call: what backward needs to run its vjp."""

    __slots__ = ("op", "attrs", "inputs", "edges", "out", "out_vc", "versions", "hooks", "site", "name",
                 "__weakref__")

    def __init__(self, op, attrs, inputs, edges, out, versions, site):
        self.op, self.attrs, self.inputs, self.edges = op, attrs, inputs, edges
        self.out, self.out_vc, self.versions, self.site = out, None, versions, site
        self.hooks = None
        self.name = None

    def __repr__(self):
        return f"<{self.display_name()} node>"

    def display_name(self):
        return self.name or (self.op.name.capitalize() + "Backward")

    def next_functions(self):
        return tuple(e if isinstance(e, Node) else None for e in self.edges)


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
    result._node = node
    result.requires_grad = True
    return node


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
           "FunctionCtx", "GradientTape", "format_site", "mark", "with_user_line"]
