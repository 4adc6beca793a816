"""``torch.autograd.functional``: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp`` with PyTorch's
argument and result conventions (a tensor or a tuple of tensors in, the same structure out).

Reachable as ``ember.autograd.functional``.

>>> import ember
>>> from ember.autograd.functional import jacobian, hessian
>>> jacobian(lambda x: x ** 2, ember.tensor([1.0, 2.0]))
tensor([[2., 0.],
        [0., 4.]])
>>> hessian(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""
from __future__ import annotations

from . import func as _func
from .autograd import enable_grad
from .autograd_engine import grad as _grad
from .errors import mark, with_user_line
from .tensor import Tensor

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]


def _as_tuple(x, what, fn):
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for t in items:
        if not isinstance(t, Tensor):
            raise mark(with_user_line(TypeError(
                f"autograd.functional.{fn}: the {what} must be a tensor or a tuple of tensors, got "
                f"{type(t).__name__}"), 3))
    return is_tuple, items


def _prepare(inputs, create_graph):
    return tuple(x if (create_graph and x.requires_grad) else x.detach().requires_grad_(x.dtype.is_floating_point)
                 for x in inputs)


def _finish(grads, inputs, create_graph, strict, fn):
    out = []
    for g, x in zip(grads, inputs):
        if g is None:
            if strict:
                raise mark(with_user_line(RuntimeError(
                    f"autograd.functional.{fn}(strict=True): the output is independent of an input of shape "
                    f"{tuple(x.shape)}"), 3))
            g = x.detach() * 0
        out.append(g if create_graph else g.detach())
    return out


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``; ``v`` may be omitted for a single-element output."""
    in_tuple, xs = _as_tuple(inputs, "inputs", "vjp")
    xs = _prepare(xs, create_graph)
    with enable_grad():
        out = func(*xs)
    out_tuple, outs = _as_tuple(out, "outputs of func", "vjp")
    if v is None:
        if len(outs) != 1 or outs[0].numel() != 1:
            raise mark(with_user_line(RuntimeError(
                "autograd.functional.vjp: v can be omitted only for a single-element output; pass v with the "
                "output's shape"), 2))
        vs = (outs[0].detach() * 0 + 1,)
    else:
        vs = _as_tuple(v, "v", "vjp")[1]
    with enable_grad():
        grads = _grad(list(outs), list(xs), list(vs), retain_graph=True, create_graph=create_graph,
                      allow_unused=True)
    grads = _finish(grads, xs, create_graph, strict, "vjp")
    outs = tuple(o if create_graph else o.detach() for o in outs)
    return (outs if out_tuple else outs[0]), (tuple(grads) if in_tuple else grads[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)`` by the double-vjp trick."""
    in_tuple, xs = _as_tuple(inputs, "inputs", "jvp")
    if v is None:
        if len(xs) != 1 or xs[0].numel() != 1:
            raise mark(with_user_line(RuntimeError(
                "autograd.functional.jvp: v can be omitted only for a single-element input"), 2))
        vs = (xs[0].detach() * 0 + 1,)
    else:
        vs = _as_tuple(v, "v", "jvp")[1]
    out, jv = _func.jvp(lambda *a: func(*a), tuple(x.detach() for x in xs), vs)
    return out, jv


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian: a tensor of shape ``output.shape + input.shape`` per (output, input) pair, nested as
    PyTorch nests it (tuple of outputs, then tuple of inputs, each level only when given as a tuple)."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise mark(with_user_line(ValueError(
            f"autograd.functional.jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}"),
            2))
    in_tuple, xs = _as_tuple(inputs, "inputs", "jacobian")
    xs = _prepare(xs, create_graph)
    with enable_grad():
        out = func(*xs)
    out_tuple, outs = _as_tuple(out, "outputs of func", "jacobian")
    table = []
    for o in outs:
        jacs = _func._jacobian_of(o, list(xs), True)
        jacs = [j if create_graph else j.detach() for j in jacs]
        if strict:
            with enable_grad():
                used = _grad([o.sum()], list(xs), None, retain_graph=True, allow_unused=True)
            _finish(used, xs, False, True, "jacobian")
        table.append(tuple(jacs) if in_tuple else jacs[0])
    return tuple(table) if out_tuple else table[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of scalar ``func``: per pair of inputs, a tensor of shape ``input_i.shape + input_j.shape``."""
    in_tuple, xs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*a):
        with enable_grad():
            out = func(*a)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise mark(with_user_line(RuntimeError(
                "autograd.functional.hessian: func must return a single-element tensor, got "
                f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}"), 4))
        with enable_grad():
            g = _grad([out.reshape(())], list(a), None, retain_graph=True, create_graph=True, allow_unused=True)
        return tuple(gi if gi is not None else x * 0 for gi, x in zip(g, a))

    jac = jacobian(gradient, xs, create_graph=create_graph, strict=strict)
    return jac if in_tuple else jac[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``."""
    in_tuple, xs = _as_tuple(inputs, "inputs", "vhp")
    vs = _as_tuple(v, "v", "vhp")[1] if v is not None else tuple(x.detach() * 0 + 1 for x in xs)
    xs = _prepare(xs, True)
    with enable_grad():
        out = func(*xs)
        g = _grad([out], list(xs), None, retain_graph=True, create_graph=True, allow_unused=True)
        g = [gi if gi is not None else x * 0 for gi, x in zip(g, xs)]
        total = sum((gi * vi).sum() for gi, vi in zip(g, vs))
        h = _grad([total], list(xs), None, retain_graph=True, create_graph=create_graph, allow_unused=True)
    h = _finish(h, xs, create_graph, strict, "vhp")
    out = out if create_graph else out.detach()
    return out, (tuple(h) if in_tuple else h[0])


hvp = vhp  # the Hessian of a twice-differentiable function is symmetric, so H v = v^T H
