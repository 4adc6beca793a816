"""``keras.ops`` core: conversion and dtypes, control flow (``cond``, ``switch``, ``scan``, loops, ``map``),
slicing and scatter updates, ``stop_gradient`` and ``custom_gradient``.

Control flow runs eagerly in Python (each step is ordinary Ember ops, so gradients flow through every
iteration); under ``ember.compile`` loops are traced unrolled and ``cond`` records the branch taken.

>>> from ember.keras import ops
>>> ops.fori_loop(0, 5, lambda i, acc: acc + i, 0)
10
>>> carry, ys = ops.scan(lambda c, x: (c + x, c * x), 0.0, ops.convert_to_tensor([1.0, 2.0, 3.0]))
>>> float(ops.convert_to_numpy(carry)), ops.convert_to_numpy(ys).tolist()
(6.0, [0.0, 2.0, 9.0])
"""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember import functional as F
from ember.func import tree_flatten, tree_unflatten

from ._common import Tensor, edtype, fail, public_names, standardize_dtype, t, to_numpy


# -- conversion and dtypes --------------------------------------------------------------------------------------
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    if sparse or ragged:
        raise fail("convert_to_tensor", "sparse / ragged tensors are not available in Ember", NotImplementedError)
    return t(x, dtype)


def convert_to_numpy(x):
    return to_numpy(x)


def is_tensor(x):
    return isinstance(x, Tensor)


def dtype(x):
    """The standardized dtype name of ``x`` (``'float32'``, ``'int64'``, ``'bool'`` ...)."""
    return standardize_dtype(x.dtype.name if isinstance(x, Tensor) else np.asarray(x).dtype)


def cast(x, dtype):
    return t(x).to(edtype(dtype))


def saturate_cast(x, dtype):
    """Cast with values clipped to the target dtype's range (no wrap-around)."""
    x, target = t(x), np.dtype(standardize_dtype(dtype))
    if target.kind in "iu":
        info = np.iinfo(target)
        lo, hi = float(info.min), float(info.max)
        if x.is_floating_point():
            # the largest float of x's dtype not above the bound (int64's max is not a float32)
            hi = float(np.nextafter(np.asarray(hi, x.dtype.name), -np.inf)) if float(
                np.asarray(hi, x.dtype.name)) > info.max else hi
        return F.clamp(x, lo, hi).to(edtype(target))
    if target.kind == "f" and x.is_floating_point():
        info = np.finfo(target)
        return F.clamp(x, float(info.min), float(info.max)).to(edtype(target))
    return x.to(edtype(target))


def shape(x):
    return tuple(t(x).shape)


def stop_gradient(variable):
    return t(variable).detach()


# -- control flow -----------------------------------------------------------------------------------------------
def cond(pred, true_fn, false_fn):
    return ember.cond(pred, true_fn, false_fn)


def switch(index, branches, *operands):
    """``branches[index](*operands)``, ``index`` clipped to the valid range."""
    i = builtins.int(to_numpy(index)) if isinstance(index, Tensor) else builtins.int(index)
    return branches[builtins.min(builtins.max(i, 0), len(branches) - 1)](*operands)


def _stack_tree(items):
    """Stack a list of equally-structured outputs leaf by leaf along a new first axis."""
    if not items:
        return None
    leaves = [tree_flatten(item)[0] for item in items]
    spec = tree_flatten(items[0])[1]
    stacked = [None if leaves[0][j] is None else F.stack([t(ls[j]) for ls in leaves], 0)
               for j in builtins.range(len(leaves[0]))]
    return tree_unflatten(stacked, spec)


def _slices(xs, length):
    leaves, spec = tree_flatten(xs)
    leaves = [t(v) for v in leaves]
    n = leaves[0].shape[0] if leaves else length
    return [tree_unflatten([v[i] for v in leaves], spec) for i in builtins.range(n)]


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``: ``(final carry, stacked ys)``."""
    if xs is None and length is None:
        raise fail("scan", "give xs or length")
    items = [None] * length if xs is None else _slices(xs, length)
    order = builtins.range(len(items) - 1, -1, -1) if reverse else builtins.range(len(items))
    carry, ys = init, [None] * len(items)
    for i in order:
        carry, ys[i] = f(carry, items[i])
    if builtins.all(y is None for y in ys):
        return carry, None
    return carry, _stack_tree(ys)


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive prefix combination ``f(f(e0, e1), e2) ...`` along ``axis`` (computed sequentially)."""
    leaves, spec = tree_flatten(elems)
    leaves = [F.movedim(t(v), axis, 0) for v in leaves]
    n = leaves[0].shape[0]
    order = list(builtins.range(n - 1, -1, -1)) if reverse else list(builtins.range(n))
    outs, acc = [None] * n, None
    for i in order:
        cur = tree_unflatten([v[i] for v in leaves], spec)
        acc = cur if acc is None else f(acc, cur)
        outs[i] = acc
    stacked_leaves = tree_flatten(_stack_tree(outs))[0]
    return tree_unflatten([F.movedim(v, 0, axis) for v in stacked_leaves], spec)


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in builtins.range(builtins.int(lower), builtins.int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    single = not isinstance(loop_vars, (tuple, list))
    state = (loop_vars,) if single else tuple(loop_vars)
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and _truth(cond(*state)):
        out = body(*state)
        state = (out,) if single and not isinstance(out, (tuple, list)) else tuple(out)
        steps += 1
    return state[0] if single else type(loop_vars)(state)


def _truth(value):
    return bool(to_numpy(value)) if isinstance(value, Tensor) else bool(value)


def map(f, xs):
    return _stack_tree([f(x) for x in _slices(xs, None)])


def vectorized_map(function, elements):
    return map(function, elements)


def unstack(x, num=None, axis=0):
    x = t(x)
    if num is not None and num != x.shape[axis]:
        raise fail("unstack", f"num={num} does not match axis {axis} of size {x.shape[axis]}")
    return list(F.unbind(x, axis))


# -- slicing and scatter ----------------------------------------------------------------------------------------
def _starts(start_indices):
    return [builtins.int(v) for v in (to_numpy(start_indices).reshape(-1) if isinstance(start_indices, Tensor)
                                      else [to_numpy(s) for s in start_indices])]


def slice(inputs, start_indices, shape):
    x = t(inputs)
    starts = _starts(start_indices)
    if len(starts) != x.ndim or len(shape) != x.ndim:
        raise fail("slice", f"start_indices {starts} and shape {tuple(shape)} need one entry per axis of "
                            f"{tuple(x.shape)}")
    return x[tuple(builtins.slice(s, s + (x.shape[i] - s if n == -1 else n))
                   for i, (s, n) in enumerate(zip(starts, shape)))]


def slice_update(inputs, start_indices, updates):
    x, u = t(inputs), t(updates)
    starts = _starts(start_indices)
    if len(starts) != x.ndim or u.ndim != x.ndim:
        raise fail("slice_update", f"start_indices {starts} and updates {tuple(u.shape)} need one entry per axis of "
                                   f"{tuple(x.shape)}")
    if builtins.any(s + n > d for s, n, d in zip(starts, u.shape, x.shape)):
        raise fail("slice_update", f"updates {tuple(u.shape)} at {starts} run past inputs {tuple(x.shape)}")
    out = F.clone(x)
    out[tuple(builtins.slice(s, s + n) for s, n in zip(starts, u.shape))] = u.to(x.dtype)
    return out


def _index_tuple(indices, x_ndim):
    idx = t(indices, "int64")
    if idx.ndim == 1:
        idx = idx.reshape(-1, 1) if x_ndim > 1 else idx.reshape(-1, 1)
    return idx


def scatter(indices, values, shape):
    """A zero tensor of ``shape`` with ``values`` added at ``indices`` (``(N, k)``: duplicates are summed)."""
    idx, vals = _index_tuple(indices, len(shape)), t(values)
    k = idx.shape[-1]
    lead, rest = tuple(shape[:k]), tuple(shape[k:])
    flat = F.sum(idx * t(np.array([builtins.int(np.prod(lead[i + 1:])) for i in builtins.range(k)], np.int64)), -1)
    base = ember.zeros((builtins.int(np.prod(lead)),) + rest, dtype=vals.dtype)
    out = F.index_add(base, 0, flat.reshape(-1), vals.reshape((-1,) + rest))
    return out.reshape(tuple(shape))


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with the entries (or slices) at ``indices`` (``(N, k)``) replaced by (or with ``'add'``,
    added to) ``updates``."""
    if reduction not in (None, "add"):
        raise fail("scatter_update", f"reduction must be None or 'add', got {reduction!r}", NotImplementedError)
    x = t(inputs)
    idx, u = _index_tuple(indices, x.ndim), t(updates).to(x.dtype)
    if reduction == "add":
        return x + scatter(idx, u, tuple(x.shape))
    out = F.clone(x)
    out[tuple(idx[:, i] for i in builtins.range(idx.shape[-1]))] = u
    return out


# -- gradients --------------------------------------------------------------------------------------------------
def custom_gradient(f):
    """Decorate ``f(*args) -> (y, grad_fn)``; the gradient of ``y`` is ``grad_fn(upstream=dy)`` (one gradient
    per tensor argument)."""
    import functools

    from ember.autograd_function import Function

    class _Custom(Function):
        @staticmethod
        def forward(ctx, *args):
            y, grad_fn = f(*args)
            ctx.grad_fn, ctx.n = grad_fn, len(args)
            return y

        @staticmethod
        def backward(ctx, upstream):
            try:
                grads = ctx.grad_fn(upstream=upstream)
            except TypeError:
                grads = ctx.grad_fn(upstream)
            grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
            return grads + (None,) * (ctx.n - len(grads))

    @functools.wraps(f)
    def wrapper(*args):
        return _Custom.apply(*[t(a) if isinstance(a, (np.ndarray, builtins.float)) else a for a in args])

    return wrapper


__all__ = public_names(globals(), __name__)
