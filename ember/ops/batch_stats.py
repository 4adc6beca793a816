"""Batch normalisation's training core as primitives: statistics per channel (dim 1) over every other dim.

- ``batch_moments(x)``: (2, C): the mean and the biased variance (the running statistics' update reads them).
- ``batch_standardize(x; eps)``: ``(x - mean) / sqrt(var + eps)``, the statistics of ``x`` itself; its vjp is
  ``batch_standardize_grad(g, x, y; eps)`` = ``rstd * (g - mean(g) - y * mean(g * y))``, whose own vjp is in
  Ember ops (``nn._standardize_grad_vjp`` over these axes), so gradients of any order work.

Why primitives: as a composite of sum / sub / mul / div, batch norm's forward made ~8 passes over the tensor
and its backward ~12; here the forward is three (two for the statistics, one to normalise) and the backward
four. On NumPy float32/float64 arrays the passes are numba loops that accumulate the sums in float64 (a long
batch x positions sum in float32 loses digits) and split the batch over Ember's pool while BLAS is held (see
``_spread``); elsewhere (CuPy, other dtypes, no numba) the same formulas run as ``xp`` passes.

>>> import ember
>>> x = ember.tensor([[1.0, 10.0], [3.0, 30.0]])
>>> ember.ops.apply("batch_standardize", x, eps=0.0)
tensor([[-1., -1.],
        [ 1.,  1.]])
"""
from __future__ import annotations

import math

import numpy as np

from .._jit_math import loop_jit
from . import _spread, _tflite
from ._core import Aval, apply, register, unsupported
from .nn import _standardize_grad_vjp, standardize_grad_over, standardize_over


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _count(shape):
    return math.prod(shape) // shape[1]


# -- numba loops over x viewed as (N, C, L) -------------------------------------------------------------------
def _sums(x3, lo, hi, acc):
    """acc[c] += sum of x3[lo:hi, c, :] (float64)."""
    for n in range(lo, hi):
        for c in range(x3.shape[1]):
            row, s = x3[n, c], 0.0
            for i in range(row.shape[0]):  # (indexed: the iterator form did not vectorize, 10x slower)
                s += row[i]
            acc[c] += s


def _centred_squares(x3, mean, lo, hi, acc):
    """acc[c] += sum of (x3[lo:hi, c, :] - mean[c])^2 (float64)."""
    for n in range(lo, hi):
        for c in range(x3.shape[1]):
            row, m, s = x3[n, c], mean[c], 0.0
            for i in range(row.shape[0]):
                d = row[i] - m
                s += d * d
            acc[c] += s


def _normalize(x3, mean, rstd, y3, lo, hi):
    """y3 = (x3 - mean[c]) * rstd[c] (in the arrays' dtype)."""
    for n in range(lo, hi):
        for c in range(x3.shape[1]):
            src, dst, m, r = x3[n, c], y3[n, c], mean[c], rstd[c]
            for i in range(src.shape[0]):
                dst[i] = (src[i] - m) * r


def _grad_sums(g3, y3, lo, hi, acc):
    """acc[0, c] += sum g, acc[1, c] += sum g * y (float64)."""
    for n in range(lo, hi):
        for c in range(g3.shape[1]):
            gr, yr, s, t = g3[n, c], y3[n, c], 0.0, 0.0
            for i in range(gr.shape[0]):
                s += gr[i]
                t += gr[i] * yr[i]
            acc[0, c] += s
            acc[1, c] += t


def _grad_apply(g3, y3, rstd, mg, mgy, dx3, lo, hi):
    """dx3 = rstd[c] * (g - mg[c] - y * mgy[c])."""
    for n in range(lo, hi):
        for c in range(g3.shape[1]):
            gr, yr, dst, r, a, b = g3[n, c], y3[n, c], dx3[n, c], rstd[c], mg[c], mgy[c]
            for i in range(gr.shape[0]):
                dst[i] = r * (gr[i] - a - yr[i] * b)


_JIT: dict = {}


def _loops():
    if "loops" not in _JIT:
        fns = [loop_jit(f, reassoc=f in (_sums, _centred_squares, _grad_sums))  # (the sums vectorize)
               for f in (_sums, _centred_squares, _normalize, _grad_sums, _grad_apply)]
        _JIT["loops"] = None if None in fns else fns
    return _JIT["loops"]


def _fast(xp, *arrays) -> bool:
    return (xp is np and arrays[0].dtype.char in "fd" and all(a.dtype == arrays[0].dtype for a in arrays)
            and _loops() is not None)


def _over_batch(n_batch, size, fn, width):
    """``fn(lo, hi, acc)`` over blocks of the batch, each block summing into its own float64 ``acc`` (``width``
    shape); the partials are added in block order (the same bits for a given thread count)."""
    blocks = []

    def part(lo, hi):
        acc = np.zeros(width)
        fn(lo, hi, acc)
        blocks.append((lo, acc))

    _spread.over_batch(np, n_batch, size, part)
    total = np.zeros(width)
    for _, acc in sorted(blocks, key=lambda b: b[0]):
        total += acc
    return total


def _stats(x3):
    """(mean, biased var) per channel, float64, two passes."""
    loops, (n_batch, n_ch, length) = _loops(), x3.shape
    count = n_batch * length
    mean = _over_batch(n_batch, x3.size, lambda lo, hi, acc: loops[0](x3, lo, hi, acc), n_ch) / count
    var = _over_batch(n_batch, x3.size, lambda lo, hi, acc: loops[1](x3, mean, lo, hi, acc), n_ch) / count
    return mean, var


def _as3(a):
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


# -- the primitives ----------------------------------------------------------------------------------------------
def _check(x, floating):
    """The checks of the shape rules (on avals) and of the forwards (on arrays: eager calls skip the rules)."""
    if not floating:
        raise TypeError(f"batch_norm: expected a floating-point tensor, got {x.dtype}")
    if len(x.shape) < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), got {tuple(x.shape)}")


def _check_grad(g, x, y):
    if not (g.shape == x.shape == y.shape) or not (g.dtype == x.dtype == y.dtype):
        raise ValueError(f"batch_standardize_grad: expected three tensors of one shape and dtype, got "
                         f"{tuple(g.shape)} {g.dtype}, {tuple(x.shape)} {x.dtype}, {tuple(y.shape)} {y.dtype}")


def _rule(x, eps=None):
    _check(x, x.dtype.is_floating_point)
    return Aval(x.shape, x.dtype, x.device)


def _check_array(x):
    _check(x, x.dtype.kind in "fV")


def _wide(fn):
    """``fn``'s forward for 16-bit floats (bfloat16, float16): computed in float32, returned in the input's
    dtype (their sums lose too many digits, as the ``sum`` primitive's float32 accumulation avoids)."""

    def forward(xp, *arrays, **attrs):
        if arrays[0].dtype.itemsize != 2:
            return fn(xp, *arrays, **attrs)
        return fn(xp, *[a.astype(np.float32) for a in arrays], **attrs).astype(arrays[0].dtype)

    return forward


def _moments_fwd(xp, x):
    _check_array(x)
    if _fast(xp, x):
        mean, var = _stats(_as3(x))
        return np.stack([mean, var]).astype(x.dtype)
    axes, n = _axes(x.ndim), x.dtype.type(_count(x.shape))
    mean = x.sum(axis=axes, keepdims=True) / n
    d = x - mean
    return xp.stack([mean.reshape(-1), ((d * d).sum(axis=axes) / n).reshape(-1)])


def _moments_rule(x):
    _rule(x)
    return Aval((2, x.shape[1]), x.dtype, x.device)


def _moments_vjp(g, out, x):
    """d mean / dx = 1 / n; d var / dx = 2 (x - mean) / n (each broadcast over the channel's elements)."""
    shape, n = (1, x.shape[1]) + (1,) * (x.ndim - 2), _count(x.shape)
    # the mean again in Ember ops, not the saved one: its own dependence on x enters the second order
    mean = apply("div", apply("sum", x, axis=_axes(x.ndim), keepdims=True), x._scalar(n))
    gm = apply("reshape", apply("getitem", g, index=(("int", 0),)), shape=shape)
    gv = apply("reshape", apply("getitem", g, index=(("int", 1),)), shape=shape)
    d = apply("sub", x, mean)
    return (apply("div", apply("add", gm, apply("mul", apply("mul", gv, d), x._scalar(2.0))), x._scalar(n)),)


def _standardize_fwd(xp, x, eps):
    _check_array(x)
    if _fast(xp, x):
        x3 = _as3(x)
        mean, var = _stats(x3)
        y = np.empty(x.shape, dtype=x.dtype)
        rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        loops, y3, mean = _loops(), y.reshape(x3.shape), mean.astype(x.dtype)
        _spread.over_batch(np, x3.shape[0], x3.size, lambda lo, hi: loops[2](x3, mean, rstd, y3, lo, hi))
        return y
    return standardize_over(xp, x, _axes(x.ndim), _count(x.shape), eps)


def _standardize_vjp(g, out, x, eps):
    return (apply("batch_standardize_grad", g, x, out, eps=eps),)


def _grad_rule(g, x, y, eps):
    _check_grad(g, x, y)
    return _rule(x)


def _grad_fwd(xp, g, x, y, eps):
    _check_grad(g, x, y)
    _check_array(x)
    if _fast(xp, g, x, y):
        g3, x3, y3 = _as3(g), _as3(x), _as3(y)
        _, var = _stats(x3)
        loops, count = _loops(), g3.shape[0] * g3.shape[2]
        sums = _over_batch(g3.shape[0], g3.size, lambda lo, hi, acc: loops[3](g3, y3, lo, hi, acc),
                           (2, g3.shape[1])) / count
        dx = np.empty(x.shape, dtype=x.dtype)
        dt, dx3 = x.dtype, dx.reshape(x3.shape)
        rstd, mg, mgy = (1.0 / np.sqrt(var + eps)).astype(dt), sums[0].astype(dt), sums[1].astype(dt)
        _spread.over_batch(np, g3.shape[0], g3.size, lambda lo, hi: loops[4](g3, y3, rstd, mg, mgy, dx3, lo, hi))
        return dx
    return standardize_grad_over(xp, g, x, y, _axes(x.ndim), _count(x.shape), eps)


def _grad_vjp(c, out, g, x, y, eps):
    return _standardize_grad_vjp(c, out, g, x, y, ndim=None, eps=eps, axes=_axes(x.ndim), n=_count(x.shape))


register("batch_moments", _wide(_moments_fwd), vjp=_moments_vjp, infer=_moments_rule, saves=(0,), kind="nn")
register("batch_standardize", _wide(_standardize_fwd), vjp=_standardize_vjp, infer=_rule, saves=(0,), saves_out=True,
         kind="nn")
register("batch_standardize_grad", _wide(_grad_fwd), vjp=_grad_vjp, infer=_grad_rule, saves=(0, 1, 2), kind="nn")
for _name in ("batch_moments", "batch_standardize", "batch_standardize_grad"):
    unsupported(_name, "onnx", "batch norm's training form: ONNX export gets the BatchNormalization layer node "
                "(export the model in eval mode)")
_tflite.mark(["batch_moments", "batch_standardize", "batch_standardize_grad"], _tflite.TRAINING)
