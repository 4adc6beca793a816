"""``keras.ops.numpy`` reductions, NaN-ignoring reductions, sorting, counting and statistics.

>>> from ember.keras import ops
>>> ops.convert_to_numpy(ops.nanmean([1.0, float("nan"), 3.0])).item()
2.0
"""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember import functional as F

from ._common import axes_of, edtype, fail, t, tf, to_numpy, wrap, xp_of

_INT32 = "int32"


# -- plain reductions -------------------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):
    x = t(x)
    if x.dtype.name == "bool":
        x = x.to(edtype(_INT32))
    return F.sum(x, axes_of(x, axis), keepdims)


def prod(x, axis=None, keepdims=False, dtype=None):
    x = t(x) if dtype is None else t(x, dtype)
    out = x
    for a in sorted(axes_of(x, axis), reverse=True):
        out = F.prod(out, a, keepdims)
    return out


def mean(x, axis=None, keepdims=False):
    x = tf(x)
    return F.mean(x, axes_of(x, axis), keepdims)


def var(x, axis=None, keepdims=False):
    x = tf(x)
    return F.var(x, axes_of(x, axis), keepdim=keepdims, correction=0)


def std(x, axis=None, keepdims=False):
    x = tf(x)
    return F.std(x, axes_of(x, axis), keepdim=keepdims, correction=0)


def max(x, axis=None, keepdims=False, initial=None):
    x = t(x)
    out = F.amax(x, axes_of(x, axis), keepdims)
    return out if initial is None else F.maximum(out, t(initial, x.dtype.name))


def min(x, axis=None, keepdims=False, initial=None):
    x = t(x)
    out = F.amin(x, axes_of(x, axis), keepdims)
    return out if initial is None else F.minimum(out, t(initial, x.dtype.name))


amax, amin = max, min


def ptp(x, axis=None, keepdims=False):
    return max(x, axis, keepdims) - min(x, axis, keepdims)


def any(x, axis=None, keepdims=False):
    x = t(x)
    return F.any(x, axes_of(x, axis), keepdims) if axis is not None or keepdims else F.any(x)


def all(x, axis=None, keepdims=False):
    x = t(x)
    return F.all(x, axes_of(x, axis), keepdims) if axis is not None or keepdims else F.all(x)


def count_nonzero(x, axis=None):
    x = t(x)
    return F.sum((x != 0).to(edtype(_INT32)), axes_of(x, axis))


def argmax(x, axis=None, keepdims=False):
    x = t(x)
    return F.argmax(x, axis, keepdims).to(edtype(_INT32))


def argmin(x, axis=None, keepdims=False):
    x = t(x)
    return F.argmin(x, axis, keepdims).to(edtype(_INT32))


def _flat_axis(x, axis):
    return (x.reshape(-1), 0) if axis is None else (x, axis)


def cumsum(x, axis=None, dtype=None):
    x, axis = _flat_axis(t(x) if dtype is None else t(x, dtype), axis)
    return F.cumsum(x.to(edtype(_INT32)) if x.dtype.name == "bool" else x, axis)


def cumprod(x, axis=None, dtype=None):
    x, axis = _flat_axis(t(x) if dtype is None else t(x, dtype), axis)
    return F.cumprod(x.to(edtype(_INT32)) if x.dtype.name == "bool" else x, axis)


def average(x, axis=None, weights=None):
    x = tf(x)
    if weights is None:
        return mean(x, axis)
    w = t(weights).to(x.dtype)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        w = w.reshape(tuple(-1 if i == axis % x.ndim else 1 for i in builtins.range(x.ndim)))
    return sum(x * w, axis) / sum(F.broadcast_to(w, tuple(x.shape)), axis)


def logsumexp(x, axis=None, keepdims=False):
    x = tf(x)
    return F.logsumexp(x, axes_of(x, axis), keepdims)


# -- NaN-ignoring reductions ------------------------------------------------------------------------------------
def _nan_filled(x, value):
    x = t(x)
    return F.where(F.isnan(x), ember.full_like(x, value), x) if x.is_floating_point() else x


def nansum(x, axis=None, keepdims=False):
    return sum(_nan_filled(x, 0.0), axis, keepdims)


def nanprod(x, axis=None, keepdims=False):
    return prod(_nan_filled(x, 1.0), axis, keepdims)


def nanmax(x, axis=None, keepdims=False):
    return max(_nan_filled(x, -np.inf), axis, keepdims)


def nanmin(x, axis=None, keepdims=False):
    return min(_nan_filled(x, np.inf), axis, keepdims)


def nanmean(x, axis=None, keepdims=False):
    x = tf(x)
    count = sum(F.logical_not(F.isnan(x)).to(x.dtype), axis, keepdims)
    return nansum(x, axis, keepdims) / count


def nanvar(x, axis=None, keepdims=False):
    x = tf(x)
    m = nanmean(x, axis, True)
    return nanmean(F.square(x - m), axis, keepdims)


def nanstd(x, axis=None, keepdims=False):
    return F.sqrt(nanvar(x, axis, keepdims))


def nanargmax(x, axis=None, keepdims=False):
    return argmax(_nan_filled(x, -np.inf), axis, keepdims)


def nanargmin(x, axis=None, keepdims=False):
    return argmin(_nan_filled(x, np.inf), axis, keepdims)


def nancumsum(x, axis=None, dtype=None):
    return cumsum(_nan_filled(x, 0.0), axis, dtype)


def nancumprod(x, axis=None, dtype=None):
    return cumprod(_nan_filled(x, 1.0), axis, dtype)


# -- order statistics -------------------------------------------------------------------------------------------
def sort(x, axis=-1):
    x = t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return F.sort(x, axis).values


def argsort(x, axis=-1):
    x = t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return F.argsort(x, axis, stable=True).to(edtype(_INT32))


def argpartition(x, kth, axis=-1):
    """Indices that put the ``kth`` element in its sorted place (a full stable sort is one such order)."""
    return argsort(x, axis)


def _moved_last(x, axis):
    """``x`` with the reduced axes flattened into one last axis; the kept shape."""
    axes = axes_of(x, axis)
    rest = [i for i in builtins.range(x.ndim) if i not in axes]
    moved = x.permute(*rest, *axes) if x.ndim else x.reshape(1)
    kept = tuple(x.shape[i] for i in rest)
    return moved.reshape(kept + (-1,)), axes, kept


def quantile(x, q, axis=None, method="linear", keepdims=False):
    methods = ("linear", "lower", "higher", "midpoint", "nearest")
    if method not in methods:
        raise fail("quantile", f"method must be one of {methods}, got {method!r}")
    x = tf(x)
    flat, axes, kept = _moved_last(x, axis)
    srt = F.sort(flat, -1).values
    n = srt.shape[-1]
    qs = np.atleast_1d(to_numpy(q)).astype(np.float64)
    pos = qs * (n - 1)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    frac = pos - lo
    if method == "lower":
        hi, frac = lo, frac * 0
    elif method == "higher":
        lo, frac = hi, frac * 0
    elif method == "midpoint":
        frac = np.where(hi > lo, 0.5, 0.0)
    elif method == "nearest":
        near = np.round(pos).astype(np.int64)
        lo = hi = near
    outs = []
    for lo_i, hi_i, f in zip(lo.tolist(), hi.tolist(), frac.tolist()):
        a, b = srt[..., lo_i], srt[..., hi_i]
        outs.append(a + (b - a) * f)
    out = F.stack(outs, 0)
    if keepdims:
        out = out.reshape((len(outs),) + tuple(1 if i in axes else s for i, s in enumerate(x.shape)))
    return out[0] if np.ndim(to_numpy(q)) == 0 else out


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return quantile(x, np.asarray(to_numpy(q), dtype=np.float64) / 100.0, axis, method, keepdims)


def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis, keepdims=keepdims)


def _nan_quantile(x, q, axis, method, keepdims):
    """Quantiles of the non-NaN entries of each slice (each slice computed on its own)."""
    x = tf(x)
    flat, axes, kept = _moved_last(x, axis)
    rows = flat.reshape(-1, flat.shape[-1])
    nan_rows = to_numpy(F.isnan(rows))
    outs = [quantile(rows[i][t(np.flatnonzero(~nan_rows[i]))] if nan_rows[i].any() else rows[i], q, 0, method)
            for i in builtins.range(rows.shape[0])]
    out = F.stack(outs, -1)
    q_shape = tuple(np.shape(to_numpy(q)))
    out = out.reshape(q_shape + kept)
    if keepdims:
        out = out.reshape(q_shape + tuple(1 if i in axes else s for i, s in enumerate(x.shape)))
    return out


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    return _nan_quantile(x, q, axis, method, keepdims)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return _nan_quantile(x, np.asarray(to_numpy(q), dtype=np.float64) / 100.0, axis, method, keepdims)


def nanmedian(x, axis=None, keepdims=False):
    return _nan_quantile(x, 0.5, axis, "linear", keepdims)


# -- differences and integrals ----------------------------------------------------------------------------------
def diff(a, n=1, axis=-1):
    x = t(a)
    for _ in builtins.range(n):
        size_ = x.shape[axis]
        x = F.narrow(x, axis, 1, size_ - 1) - F.narrow(x, axis, 0, size_ - 1)
    return x


def trapezoid(y, x=None, dx=1.0, axis=-1):
    y = tf(y)
    n = y.shape[axis]
    mid = (F.narrow(y, axis, 1, n - 1) + F.narrow(y, axis, 0, n - 1)) * 0.5
    if x is None:
        return F.sum(mid, axis) * dx
    xs = tf(x)
    d = diff(xs, axis=axis if xs.ndim > 1 else -1)
    if d.ndim == 1 and y.ndim > 1:
        d = d.reshape(tuple(-1 if i == axis % y.ndim else 1 for i in builtins.range(y.ndim)))
    return F.sum(mid * d, axis)


def corrcoef(x):
    x = tf(x)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    c = x - F.mean(x, 1, True)
    cov = F.matmul(c, c.swapaxes(0, 1))
    d = F.sqrt(F.diag(cov))
    return F.clamp(cov / d.reshape(-1, 1) / d.reshape(1, -1), -1.0, 1.0)


# -- counting and searching (integer results, no gradient) -----------------------------------------------------
def bincount(x, weights=None, minlength=0, sparse=False):
    if sparse:
        raise fail("bincount", "sparse=True is not supported (Ember has no sparse Keras tensors)", NotImplementedError)
    x = t(x)
    xp = xp_of(x)
    if x.ndim == 2:
        rows = [bincount(x[i], None if weights is None else t(weights)[i], minlength) for i in
                builtins.range(x.shape[0])]
        length = builtins.max(r.shape[0] for r in rows) if rows else minlength
        return F.stack([F.pad(r, [0, length - r.shape[0]]) for r in rows], 0)
    n = builtins.max(int(xp.max(x._data)) + 1 if x.numel() else 0, minlength)
    if weights is None:
        return wrap(xp.bincount(x._data, minlength=n).astype(x.dtype.name), x)
    w = t(weights)
    onehot = (x.reshape(-1, 1) == t(np.arange(n, dtype=x.dtype.name)).reshape(1, -1)).to(w.dtype)
    return F.matmul(w.reshape(1, -1), onehot).reshape(-1)


def histogram(x, bins=10, range=None):
    x = t(x)
    if x.ndim != 1:
        raise fail("histogram", f"expects a 1-D input, got shape {tuple(x.shape)}")
    counts, edges = np.histogram(to_numpy(x), bins=bins, range=range)
    out_dtype = x.dtype.name if x.is_floating_point() else "float32"
    return t(counts.astype(out_dtype)), t(edges.astype(out_dtype))


def digitize(x, bins):
    x, b = t(x), t(bins)
    return wrap(xp_of(x).digitize(x._data, b._data).astype(_INT32), x)


def searchsorted(sorted_sequence, values, side="left"):
    if side not in ("left", "right"):
        raise fail("searchsorted", f"side must be 'left' or 'right', got {side!r}")
    s, v = t(sorted_sequence), t(values)
    if s.ndim != 1:
        raise fail("searchsorted", f"sorted_sequence must be 1-D, got shape {tuple(s.shape)}")
    return wrap(xp_of(s).searchsorted(s._data, v._data, side=side).astype(_INT32), s)


def isin(x1, x2, assume_unique=False, invert=False):
    a, b = t(x1), t(x2)
    out = wrap(xp_of(a).isin(a._data, b._data, invert=invert), a)
    return out


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    """The distinct values (sorted); ``size`` pads or truncates to a static length, as Keras's JAX path does."""
    x = t(x)
    arr = to_numpy(x)
    vals, index, inverse, counts = np.unique(arr, return_index=True, return_inverse=True, return_counts=True,
                                             axis=axis)
    if size is not None:
        pad_n = size - vals.shape[0 if axis is None else axis]
        if pad_n > 0:
            fill = vals.min() if fill_value is None and vals.size else (fill_value or 0)
            vals = np.concatenate([vals, np.full((pad_n,), fill, vals.dtype)])
            index, counts = np.pad(index, (0, pad_n)), np.pad(counts, (0, pad_n))
        else:
            vals, index, counts = vals[:size], index[:size], counts[:size]
    out = [t(vals)]
    if return_index:
        out.append(t(index.astype(_INT32)))
    if return_inverse:
        out.append(t(inverse.reshape(arr.shape if axis is None else -1).astype(_INT32)))
    if return_counts:
        out.append(t(counts.astype(_INT32)))
    return out[0] if len(out) == 1 else tuple(out)

