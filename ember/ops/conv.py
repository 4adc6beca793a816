"""Convolution and pooling primitives: im2col / col2im (conv as im2col + matmul), max-pool select/scatter.

Spatial attrs are tuples with one entry per spatial dim (1-D, 2-D, 3-D ...): ``kernel``, ``stride``,
``dilation`` (ints) and ``padding`` (``(before, after)`` pairs, so 'same' padding with an even kernel and
ceil_mode pooling are plain asymmetric padding).

- ``im2col(x; kernel, stride, padding, dilation)``: ``(N, C, *S) -> (N, C*prod(kernel), L)``, L the number of
  windows; rows ordered (c, k1, k2, ...) like ``torch.nn.functional.unfold``. Its vjp is ``col2im``.
- ``col2im(cols; size, kernel, stride, padding, dilation)``: the adjoint (overlapping windows are summed);
  ``size`` is the unpadded spatial size. Its vjp is ``im2col``.
- ``fold_batch=True`` (both; default False) folds the batch into the columns: ``im2col`` gives
  ``(C*prod(kernel), N*L)`` (columns ordered (n, window)), so a convolution's forward, weight gradient and
  input gradient are each one large GEMM instead of N small ones; ``col2im`` takes that layout back.
- ``pool_select(v, x; ...)``: each window of ``v`` at the position of the max of the same window of ``x``
  (max pooling is ``pool_select(x, x)``); ``pool_scatter(g, x; ...)`` is its adjoint in ``v``: ``g`` added
  back at those positions. Each is the other's vjp, so max pooling has gradients of any order. Ties go to the
  first maximum, as in PyTorch. ``pool_argmax(x; ...)`` gives PyTorch's ``return_indices`` (flat per plane).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from . import _spread, _tflite, pool_loops
from ._core import Aval, Unsupported, apply, register, register_lowering, unsupported
from ._rules import differ, dprod


# -- shared window geometry --------------------------------------------------------------------------------
def out_size(size, k, s, pad, d):
    """Number of windows along one dim of length ``size`` with padding ``pad`` = (before, after) (None when
    ``size`` is unknown)."""
    if size is None:
        return None
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def out_sizes(spatial, kernel, stride, padding, dilation):
    return tuple(out_size(*a) for a in zip(spatial, kernel, stride, padding, dilation))


def _check_windows(op, x, kernel, stride, padding, dilation):
    nd = len(kernel)
    if x.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected a {nd + 2}-D input (N, C, {nd} spatial dims) for a {nd}-D kernel "
                           f"{tuple(kernel)}, got shape {x.shape}")
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise RuntimeError(f"{op}: kernel {kernel}, stride {stride} and dilation {dilation} must be positive")
    outs = out_sizes(x.shape[2:], kernel, stride, padding, dilation)
    if any(o is not None and o < 1 for o in outs):
        eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        padded = tuple(s + p[0] + p[1] for s, p in zip(x.shape[2:], padding))
        raise RuntimeError(f"{op}: the input's spatial size {tuple(x.shape[2:])} (padded to {padded}) is "
                           f"smaller than the kernel's extent {eff} (kernel {tuple(kernel)}, dilation "
                           f"{tuple(dilation)}), for input of shape {x.shape}. Use a smaller kernel or more "
                           "padding.")
    return outs


def _padded(xp, x, padding, fill=0.0):
    if not any(b or a for b, a in padding):
        return x
    return xp.pad(x, ((0, 0), (0, 0)) + tuple(padding), mode="constant", constant_values=fill)


def _window_view(xp, xpad, kernel, stride, dilation, outs):
    """A strided view (N, C, *kernel, *outs) of the padded input: no copy."""
    st = xpad.strides
    ks = tuple(st[2 + i] * dilation[i] for i in range(len(kernel)))
    os_ = tuple(st[2 + i] * stride[i] for i in range(len(kernel)))
    shape, strides = xpad.shape[:2] + tuple(kernel) + tuple(outs), st[:2] + ks + os_
    return xp.lib.stride_tricks.as_strided(xpad, shape=shape, strides=strides)


def _offset_slices(offset, stride, dilation, outs):
    """The strided slices of the padded input touched by kernel offset ``offset``."""
    return tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                 for o, s, d, n in zip(offset, stride, dilation, outs))


def _offsets(kernel):
    return itertools.product(*[range(k) for k in kernel])


# -- im2col / col2im ---------------------------------------------------------------------------------------
def _im2col_fwd(xp, x, kernel, stride, padding, dilation, fold_batch=False):
    outs = out_sizes(x.shape[2:], kernel, stride, padding, dilation)
    view = _window_view(xp, _padded(xp, x, padding), kernel, stride, dilation, outs)
    n, c = x.shape[:2]
    nd = len(kernel)
    if fold_batch:  # (C*K, N*L): a convolution is then one GEMM over the whole batch
        perm = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd))
        cols = view.transpose(perm).reshape(c * math.prod(kernel), n * math.prod(outs))
    else:
        cols = view.reshape(n, c * math.prod(kernel), math.prod(outs))
    # the one copy: a reshape that could be a view (a 1x1 window, no padding: the columns are the input's
    # elements in an order its strides allow) would leave the columns aliasing the input, which the op does
    # not declare; a compiled graph would reuse the input's buffer while the columns are still to be read
    # (the weight gradient of a 1x1 convolution), and an in-place change of the input would change them
    return cols.copy() if xp.may_share_memory(cols, x) else cols


def _im2col_rule(x, kernel, stride, padding, dilation, fold_batch=False):
    outs = _check_windows("im2col", x, kernel, stride, padding, dilation)
    k = math.prod(kernel)
    if fold_batch:
        return Aval((dprod((x.shape[1], k)), dprod((x.shape[0],) + outs)), x.dtype, x.device)
    return Aval((x.shape[0], dprod((x.shape[1], k)), dprod(outs)), x.dtype, x.device)


def _col2im_fwd(xp, cols, size, kernel, stride, padding, dilation, fold_batch=False):
    outs = out_sizes(size, kernel, stride, padding, dilation)
    nd = len(kernel)
    padded = tuple(s + p[0] + p[1] for s, p in zip(size, padding))
    crop = tuple(slice(p[0], p[0] + s) for s, p in zip(size, padding))
    if fold_batch:  # (C*K, N*L) -> (N, C, *size): accumulate in a (C, N, ...) buffer, return a transposed view
        c = cols.shape[0] // math.prod(kernel)
        n = cols.shape[1] // math.prod(outs)
        out = xp.zeros((c, n) + padded, dtype=cols.dtype)
        blocks = cols.reshape((c,) + tuple(kernel) + (n,) + tuple(outs))
        for offset in _offsets(kernel):
            key = (slice(None), slice(None)) + _offset_slices(offset, stride, dilation, outs)
            out[key] += blocks[(slice(None),) + offset]
        return out[(slice(None), slice(None)) + crop].transpose((1, 0) + tuple(range(2, 2 + nd)))
    n, ck = cols.shape[:2]
    c = ck // math.prod(kernel)
    out = xp.zeros((n, c) + padded, dtype=cols.dtype)
    blocks = cols.reshape((n, c) + tuple(kernel) + tuple(outs))
    for offset in _offsets(kernel):  # one strided slice-add per kernel offset
        key = (slice(None), slice(None)) + _offset_slices(offset, stride, dilation, outs)
        out[key] += blocks[(slice(None), slice(None)) + offset]
    return out[(slice(None), slice(None)) + crop]


def _col2im_rule(cols, size, kernel, stride, padding, dilation, fold_batch=False):
    k = math.prod(kernel)
    length = math.prod(out_sizes(size, kernel, stride, padding, dilation))

    def div(d, by):  # unknown dims divide to unknown; known ones must divide evenly
        return None if d is None else (d // by if d % by == 0 else -1)

    if fold_batch:
        c, n = (div(cols.shape[0], k), div(cols.shape[1], length)) if cols.ndim == 2 else (-1, -1)
        if -1 in (c, n):
            raise RuntimeError(f"col2im: expected input of shape (C*{k}, N*{length}) for output size "
                               f"{tuple(size)}, kernel {tuple(kernel)}, stride {tuple(stride)} (fold_batch): "
                               f"there are {length} windows of {k} elements per image, got shape {cols.shape}")
        return Aval((n, c) + tuple(size), cols.dtype, cols.device)
    c = div(cols.shape[1], k) if cols.ndim == 3 else -1
    if c == -1 or differ(cols.shape[2], length):
        raise RuntimeError(f"col2im: expected input of shape (N, C*{k}, {length}) for output size "
                           f"{tuple(size)}, kernel {tuple(kernel)}, stride {tuple(stride)}: there are "
                           f"{length} windows of {k} elements, got shape {cols.shape}")
    return Aval((cols.shape[0], c) + tuple(size), cols.dtype, cols.device)


def _win(attrs):
    return {k: attrs[k] for k in ("kernel", "stride", "padding", "dilation", "fold_batch") if k in attrs}


register("im2col", _im2col_fwd, infer=_im2col_rule, kind="nn",
         vjp=lambda g, out, x, **a: (apply("col2im", g, size=tuple(x.shape[2:]), **_win(a)),))
register("col2im", _col2im_fwd, infer=_col2im_rule, kind="nn",
         vjp=lambda g, out, cols, **a: (apply("im2col", g, **_win(a)),))


# -- max pooling -------------------------------------------------------------------------------------------
def _fill_min(xp, dtype):
    return -xp.inf if dtype.kind in "fV" else xp.iinfo(dtype).min


def _running_argmax(xp, x, kernel, stride, padding, dilation, v=None, nan_aware=False, into=None):
    """(max, first argmax over the flattened kernel, v at that argmax) for every window of ``x``.

    One elementwise pass per kernel offset over strided slices of the padded input: NumPy's reductions over
    tiny trailing axes are an order of magnitude slower than this. NaN wins (the last one), as in PyTorch:
    the NaN test costs two passes per offset, so it runs only when the maximum shows a NaN. ``into``: a
    (2, N, C, *outs) buffer that receives the max ([0]) and the argmax ([1], in the buffer's dtype).
    """
    outs = out_sizes(x.shape[2:], kernel, stride, padding, dilation)
    xpad = _padded(xp, x, padding, _fill_min(xp, x.dtype))
    vpad = None if v is None else _padded(xp, v, padding, 0)
    itype = into.dtype.type if into is not None else xp.int8 if math.prod(kernel) < 128 else xp.int32
    best = arg = picked = None
    for flat, offset in enumerate(_offsets(kernel)):
        key = (slice(None), slice(None)) + _offset_slices(offset, stride, dilation, outs)
        cur = xpad[key]
        if best is None:
            if into is None:
                best, arg = cur.copy(), xp.zeros(cur.shape, dtype=itype)
            else:
                best, arg = into[0], into[1]
                best[...], arg[...] = cur, 0
            picked = None if v is None else vpad[key].copy()
            continue
        take = cur > best
        if nan_aware:
            take |= cur != cur
        if v is not None:
            xp.copyto(picked, vpad[key], where=take)
        step = xp.subtract(itype(flat), arg)  # arg = take ? flat : arg, in cheap integer arithmetic
        step *= take  # (copyto(..., where=take) measured 8x slower)
        arg += step
        xp.maximum(best, cur, out=best)  # propagates NaN
    if not nan_aware and x.dtype.kind in "fV" and bool(xp.isnan(best).any()):
        return _running_argmax(xp, x, kernel, stride, padding, dilation, v, nan_aware=True, into=into)
    return best, arg, picked, outs


def _pool_select_fwd(xp, v, x, kernel, stride, padding, dilation):
    if v is not x:
        return _running_argmax(xp, x, kernel, stride, padding, dilation, v)[2]
    # plain max pooling: a running maximum over the kernel offsets (np.maximum propagates NaN)
    outs = out_sizes(x.shape[2:], kernel, stride, padding, dilation)
    xpad = _padded(xp, x, padding, _fill_min(xp, x.dtype))
    out = None
    for offset in _offsets(kernel):
        cur = xpad[(slice(None), slice(None)) + _offset_slices(offset, stride, dilation, outs)]
        out = cur.copy() if out is None else xp.maximum(out, cur, out=out)
    return out


def _pool_scatter_fwd(xp, g, x, kernel, stride, padding, dilation):
    _, arg, _, outs = _running_argmax(xp, x, kernel, stride, padding, dilation)
    return _scatter_at(xp, g, arg, x.shape[2:], kernel, stride, padding, dilation, outs)


def _scatter_at(xp, g, arg, size, kernel, stride, padding, dilation, outs, into=None):
    """``g`` (N, C, *outs) added into a zero (N, C, *size) at window offsets ``arg`` (flat, any dtype);
    ``into``: where the result goes (written over; a block of the batch, ``_pool_scatter_at_fwd``)."""
    padded = tuple(s + p[0] + p[1] for s, p in zip(size, padding))
    disjoint = all(s >= d * (k - 1) + 1 for s, k, d in zip(stride, kernel, dilation))
    finite = bool(xp.isfinite(g).all())
    # windows that tile the padded input exactly write every position once: no zero fill (15% measured)
    tiles = disjoint and finite and all(s == k and d == 1 and o * k == p
                                        for s, k, d, o, p in zip(stride, kernel, dilation, outs, padded))
    if into is not None and tuple(padded) == tuple(size):  # unpadded: straight into the caller's block
        out = into
        if not tiles:
            out[...] = 0
    else:
        out = (xp.empty if tiles else xp.zeros)(g.shape[:2] + padded, dtype=g.dtype)
    zero = g.dtype.type(0)
    hit = xp.empty(arg.shape, dtype=bool)
    for flat, offset in enumerate(_offsets(kernel)):
        key = (slice(None), slice(None)) + _offset_slices(offset, stride, dilation, outs)
        xp.equal(arg, flat, out=hit)
        if disjoint and finite:  # windows do not overlap: each input position is written at most once,
            xp.multiply(hit, g, out=out[key])  # straight into the strided destination (a product is
        else:  # much faster than where(); where() keeps NaN/inf gradients out of other positions)
            out[key] += hit * g if finite else xp.where(hit, g, zero)
    crop = (slice(None), slice(None)) + tuple(slice(p[0], p[0] + s) for s, p in zip(size, padding))
    if into is not None and out is not into:
        into[...] = out[crop]
        return into
    return out[crop]


# -- max pooling with the argmax kept: the forward packs (max, argmax), the backward scatters at the argmax
# instead of finding it again (the cnn benchmark's pool backward was mostly that search).
def packed_pool_ok(dtype, kernel) -> bool:
    """Whether ``pool_max_arg`` applies: a float dtype that holds every flat kernel offset exactly."""
    dtype = getattr(dtype, "np", dtype)  # an ember dtype or a NumPy one
    return dtype.kind == "f" and math.prod(kernel) <= (2048 if dtype.itemsize == 2 else 1 << 24)


def _pool_max_arg_fwd(xp, x, kernel, stride, padding, dilation):
    outs = out_sizes(x.shape[2:], kernel, stride, padding, dilation)
    packed = xp.empty((2,) + tuple(x.shape[:2]) + tuple(outs), dtype=x.dtype)
    if xp is np and _tiling(kernel, stride, padding, dilation) and pool_loops.applies(kernel):
        _spread.over_batch(xp, x.shape[0], x.size, lambda lo, hi: pool_loops.max_arg_tiles(
            x[lo:hi], packed[:, lo:hi], kernel))  # one pass, each window once
        return packed
    _spread.over_batch(xp, x.shape[0], x.size, lambda lo, hi: _running_argmax(
        xp, x[lo:hi], kernel, stride, padding, dilation, into=packed[:, lo:hi]))  # images are independent
    return packed


def _pool_max_arg_rule(x, kernel, stride, padding, dilation):
    outs = _check_windows("max_pool", x, kernel, stride, padding, dilation)
    if not packed_pool_ok(x.dtype, kernel):
        raise RuntimeError(f"pool_max_arg: expected a floating-point input, got {x.dtype}")
    return Aval((2,) + tuple(x.shape[:2]) + tuple(outs), x.dtype, x.device)


def _pool_max_arg_vjp(g, out, x, **a):
    return (apply("pool_scatter_at", g[0], out[1].detach(), size=tuple(x.shape[2:]), **a),)


def _pool_scatter_at_fwd(xp, g, arg, size, kernel, stride, padding, dilation):
    outs = out_sizes(size, kernel, stride, padding, dilation)
    if xp is np and _tiling(kernel, stride, padding, dilation) and pool_loops.applies(kernel):
        out = np.empty(tuple(g.shape[:2]) + tuple(size), dtype=g.dtype)  # one pass, each window once
        _spread.over_batch(xp, g.shape[0], out.size, lambda lo, hi: pool_loops.scatter_tiles(
            g[lo:hi], arg[lo:hi], out[lo:hi], kernel))
        return out
    if _spread.threads_for(xp, g.shape[0], g.shape[0] * g.shape[1] * math.prod(size)) < 2:
        return _scatter_at(xp, g, arg, size, kernel, stride, padding, dilation, outs)
    out = xp.empty(tuple(g.shape[:2]) + tuple(size), dtype=g.dtype)
    _spread.over_batch(xp, g.shape[0], out.size, lambda lo, hi: _scatter_at(
        xp, g[lo:hi], arg[lo:hi], size, kernel, stride, padding, dilation, outs, into=out[lo:hi]))
    return out


def _tiling(kernel, stride, padding, dilation) -> bool:
    """Windows that tile the input from its corner: kernel == stride, no padding, no dilation."""
    return tuple(kernel) == tuple(stride) and all(p == (0, 0) for p in padding) and all(d == 1 for d in dilation)


def _pool_gather_at_fwd(xp, y, arg, kernel, stride, padding, dilation):
    """Each window of ``y`` at flat offset ``arg``: the adjoint of ``pool_scatter_at`` in its first input."""
    outs = out_sizes(y.shape[2:], kernel, stride, padding, dilation)
    ypad = _padded(xp, y, padding, 0)
    out = xp.zeros(arg.shape, dtype=y.dtype)
    for flat, offset in enumerate(_offsets(kernel)):
        xp.copyto(out, ypad[(slice(None), slice(None)) + _offset_slices(offset, stride, dilation, outs)],
                  where=arg == flat)
    return out


def _pool_at_rule(first, arg, size=None, **a):
    if size is None:  # gather: (N, C, *size) -> (N, C, *outs)
        return Aval(arg.shape, first.dtype, first.device)
    return Aval(tuple(first.shape[:2]) + tuple(size), first.dtype, first.device)


register("pool_max_arg", _pool_max_arg_fwd, vjp=_pool_max_arg_vjp, infer=_pool_max_arg_rule, saves_out=True,
         kind="nn")
register("pool_scatter_at", _pool_scatter_at_fwd, kind="nn", infer=_pool_at_rule,
         vjp=lambda g, out, gin, arg, size, **a: (apply("pool_gather_at", g, arg, **a), None))
register("pool_gather_at", _pool_gather_at_fwd, kind="nn", infer=_pool_at_rule,
         vjp=lambda g, out, y, arg, **a: (apply("pool_scatter_at", g, arg, size=tuple(y.shape[2:]), **a), None))


def _pool_argmax_fwd(xp, x, kernel, stride, padding, dilation):
    _, arg, _, outs = _running_argmax(xp, x, kernel, stride, padding, dilation)
    arg = arg.astype(xp.int64)
    flat = xp.zeros(arg.shape, dtype=xp.int64)
    sizes = x.shape[2:]
    for d in range(len(kernel)):  # unravel the window offset, map it to input coordinates, ravel per plane
        k_off = (arg // math.prod(kernel[d + 1:])) % kernel[d]
        pos = xp.arange(outs[d]).reshape((-1,) + (1,) * (len(kernel) - d - 1)) * stride[d]
        coord = pos + k_off * dilation[d] - padding[d][0]
        flat = flat * sizes[d] + coord
    return flat


def _pool_rule(name):
    def rule(v, x=None, kernel=(), stride=(), padding=(), dilation=()):
        x = v if x is None else x
        outs = _check_windows(name, x, kernel, stride, padding, dilation)
        return Aval(x.shape[:2] + tuple(outs), v.dtype, x.device)

    return rule


def _pool_select_vjp(g, out, v, x, **a):
    return apply("pool_scatter", g, x.detach(), **a), None


def _pool_scatter_vjp(g, out, gin, x, **a):
    return apply("pool_select", g, x.detach(), **a), None


register("pool_select", _pool_select_fwd, vjp=_pool_select_vjp, infer=_pool_rule("max_pool"), saves=(1,),
         kind="nn")
register("pool_scatter", _pool_scatter_fwd, vjp=_pool_scatter_vjp, saves=(1,), kind="nn",
         infer=lambda g, x, **a: Aval(x.shape, g.dtype, x.device))
register("pool_argmax", _pool_argmax_fwd, infer=lambda x, **a: Aval(_pool_rule("max_pool")(x, **a).shape,
                                                                    _int64(), x.device), kind="nn")


def _int64():
    from ..dtypes import int64

    return int64


# -- ONNX: convolutions and pools export as their layer nodes (Conv, MaxPool...); these are the pieces --------
unsupported("im2col", "onnx", "unfold (im2col) has no ONNX op; convolutions and pools export as the Conv / "
            "MaxPool / AveragePool layer nodes, a bare F.unfold does not export")
unsupported("pool_scatter", "onnx", "max pooling's gradient; ONNX export covers inference graphs")
unsupported("pool_scatter_at", "onnx", "max pooling's gradient; ONNX export covers inference graphs")
unsupported("pool_gather_at", "onnx", "max pooling's double backward; ONNX export covers inference graphs")
unsupported("pool_max_arg", "onnx", "max pooling's training form; ONNX export gets the MaxPool layer node")
unsupported("pool_argmax", "onnx", "return_indices=True: ONNX MaxPool's indices count over the whole tensor, not "
            "per plane; export with return_indices=False")


@register_lowering("col2im", "onnx")
def _col2im_onnx(ctx, node):
    a = node.attrs
    if ctx.opset < 18 or a.get("fold_batch") or len(a["kernel"]) != 2:
        raise Unsupported("fold (col2im) needs ONNX Col2Im (opset 18) on (N, C*k, L) columns",
                          "export with opset_version=18 or later")
    pads = [p[0] for p in a["padding"]] + [p[1] for p in a["padding"]]
    ctx.emit("Col2Im", [ctx.input(node, 0), ctx.ints(a["size"]), ctx.ints(a["kernel"])], [ctx.output(node)],
             dilations=list(a["dilation"]), pads=pads, strides=list(a["stride"]))


@register_lowering("pool_select", "onnx")
def _pool_select_onnx(ctx, node):
    a = node.attrs
    if node.inputs[0] is not node.inputs[1]:
        raise Unsupported("pool_select of one tensor at another's maxima (max pooling's double backward)",
                          "export the inference graph")
    pads = [p[0] for p in a["padding"]] + [p[1] for p in a["padding"]]
    ctx.emit("MaxPool", [ctx.input(node, 0)], [ctx.output(node)], kernel_shape=list(a["kernel"]),
             strides=list(a["stride"]), pads=pads, dilations=list(a["dilation"]))


_tflite.mark(["im2col", "pool_select", "pool_argmax", "pool_max_arg"],
             "the primitive form of a convolution or pool: TFLite gets the layer node (CONV_2D, MAX_POOL_2D); "
             "export the model with ember.export.tflite, which keeps layer nodes")
_tflite.mark(["col2im", "pool_scatter", "pool_scatter_at", "pool_gather_at"], _tflite.TRAINING)
