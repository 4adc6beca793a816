"""PyTorch's ``out=`` argument on the top-level functions: ``ember.add(a, b, out=c)``, ``ember.cat(xs, out=buf)``,
``ember.max(x, 1, out=(values, indices))``. The result is written into ``out`` (one tensor, or a tuple for the
functions that return several) and ``out`` is returned.

As in PyTorch: ``out`` takes the result's values in its own dtype when that loses no kind (an integer result
into a float tensor is fine, a float result into an integer one is refused), and functions called with ``out=``
do not support autograd (an argument that requires grad, with grad mode on, is an error). Unlike PyTorch, an
``out`` of another shape is refused rather than resized: Ember's tensors keep their shape.

>>> import ember
>>> buf = ember.empty(2)
>>> ember.add(ember.tensor([1.0, 2.0]), 1.0, out=buf) is buf, buf.tolist()
(True, [2.0, 3.0])
"""
from __future__ import annotations

import functools

from ._state import STATE
from ._tensor_more import _CATEGORY
from .errors import mark, with_user_line
from .tensor import Tensor


def _tensors(values):
    for v in values:
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _tensors(v)


def with_out(fn):
    """``fn`` taking ``out=`` as well (the same function when no ``out`` is given, at the cost of one call)."""
    name = fn.__name__

    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if STATE.grad_enabled and any(t.requires_grad for t in _tensors((*args, *kwargs.values()))):
            raise mark(with_user_line(RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic differentiation, but one "
                f"of the arguments requires grad; call it under ember.no_grad() or drop out="), 2))
        result = fn(*args, **kwargs)
        if isinstance(result, Tensor):
            if not isinstance(out, Tensor):
                raise mark(with_user_line(TypeError(f"{name}(): out must be a tensor, got {type(out).__name__}"), 2))
            return write_out(name, out, result)
        results = tuple(result)
        if not isinstance(out, (tuple, list)) or len(out) != len(results):
            raise mark(with_user_line(TypeError(
                f"{name}(): returns {len(results)} tensors, so out must be a tuple of {len(results)} tensors"), 2))
        written = tuple(write_out(name, o, r) for o, r in zip(out, results))
        return type(result)(*written) if hasattr(result, "_fields") else written

    call.__wrapped__ = fn
    return call


def write_out(name, out, result, exact_dtype=False):
    """``result`` written into ``out`` (returned): the same shape; the same dtype where ``exact_dtype`` (creation
    functions, whose dtype defaults to out's), else any dtype that loses no kind (PyTorch's ``out=`` rule)."""
    if tuple(out.shape) != tuple(result.shape):  # PyTorch resizes out; Ember's tensors keep their shape
        raise mark(with_user_line(RuntimeError(
            f"{name}(): out has shape {tuple(out.shape)} but the result has shape {tuple(result.shape)}; pass an "
            f"out tensor of the result's shape (Ember does not resize out tensors)"), 3))
    if exact_dtype and out.dtype is not result.dtype:
        raise mark(with_user_line(RuntimeError(
            f"{name}(): expected out to have dtype {result.dtype.name}, got {out.dtype.name}"), 3))
    if _CATEGORY[result._data.dtype.kind] > _CATEGORY[out._data.dtype.kind]:
        raise mark(with_user_line(RuntimeError(
            f"{name}(): result type {result.dtype.name} can't be cast to the desired output type "
            f"{out.dtype.name}"), 3))
    return out.copy_(result)


def install(namespace: dict, names) -> None:
    """Give each function ``namespace[name]`` the ``out=`` argument (those that have one already keep theirs)."""
    import inspect

    for name in names:
        fn = namespace.get(name)
        if not callable(fn) or isinstance(fn, type):
            continue
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        if "out" not in params:
            namespace[name] = with_out(fn)
