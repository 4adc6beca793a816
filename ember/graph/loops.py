"""Compiled loops (numba) for nn primitives of the CPU executor: ``col2im`` over 2-D windows, ``softmax``
over the last axis, ``standardize`` (layer norm) and its gradient over trailing axes.

The NumPy form (``ember/ops/conv.py``) makes one strided pass over the whole tensor per kernel offset; the
loop makes one pass in total, each image plane staying in cache while its windows are summed: 1.7x faster
on the cnn benchmark's conv2 (8.6 -> 5.1 ms). Used only by the compiled executor on CPU with numba (the
``jit`` extra); ``lowering(node)`` returns the function to call, or None (the NumPy primitive runs).

Measured and not used: the same treatment of max-pool backward (``pool_scatter``): branch-free loops ran
at NumPy's speed or slower (tiny runtime-sized window loops), and branching ones mispredict on real data.
"""

from __future__ import annotations

import math

import numpy as np

from . import cores

_LOOPS: dict = {}
FLOATS = ("float32", "float64")
INDICES = ("int32", "int64")  # class targets (loss_rows)


# Sizes are runtime arguments: with literal sizes LLVM fully unrolls the short loops and stops vectorizing
# (measured 4x slower). Rows are 1-D slices indexed by loop counters (no negative-index checks).
def _col2im_unit(cols, out, fold, geom, plane):
    """Stride 1, dilation 1: the convolution case, whose row loop vectorizes."""
    kh, kw, ph0, pw0, oh, ow = geom
    n_img, n_ch, height, width = out.shape
    length = oh * ow
    for n in range(n_img):
        for c in range(n_ch):
            plane[:, :] = 0
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    src = cols[r, n * length:(n + 1) * length] if fold else cols[(n * n_ch) * kh * kw + r]
                    for oy in range(oh):
                        row, start = plane[oy + i], oy * ow
                        for ox in range(ow):
                            row[ox + j] += src[start + ox]
            out[n, c] = plane[ph0:ph0 + height, pw0:pw0 + width]


def _col2im_any(cols, out, fold, geom, plane):
    """Any stride and dilation: the same nest with runtime multipliers, which LLVM leaves scalar (1.7x slower
    on the unit case, hence ``_col2im_unit``)."""
    kh, kw, sh, sw, dh, dw, ph0, pw0, oh, ow = geom
    n_img, n_ch, height, width = out.shape
    length = oh * ow
    for n in range(n_img):
        for c in range(n_ch):
            plane[:, :] = 0
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    src = cols[r, n * length:(n + 1) * length] if fold else cols[(n * n_ch) * kh * kw + r]
                    for oy in range(oh):
                        row, start = plane[oy * sh + i * dh, j * dw:], oy * ow
                        for ox in range(ow):
                            row[ox * sw] += src[start + ox]
            out[n, c] = plane[ph0:ph0 + height, pw0:pw0 + width]


def _njit(fn, **options):
    if fn.__name__ not in _LOOPS:
        import numba

        try:  # a cached build saves ~1 s of compiling per process; a read-only install cannot cache
            _LOOPS[fn.__name__] = numba.njit(cache=True, boundscheck=False, **options)(fn)
        except RuntimeError:
            _LOOPS[fn.__name__] = numba.njit(boundscheck=False, **options)(fn)
    return _LOOPS[fn.__name__]


# Loops over rows instead of five whole-tensor passes (max, subtract, exp, sum, divide), each row in L1:
# attention's (8192, 64) float32 softmax 1.2 -> 0.66 ms alone. Only the row sum carries the "reassoc" flag it
# needs to vectorize (SIMD lanes; NumPy's is pairwise: ~1e-7 apart), in a function of its own: fast-math
# flags on the inlined exp would let LLVM fold away its rounding step. A NaN or +inf in a row makes the
# whole row NaN, as in NumPy: its exp(x - max) is NaN, so the row's sum is.
def _row_max(x, tops):
    rows, n = x.shape
    for r in range(rows):
        src = x[r]
        top = src[0]
        for j in range(1, n):
            top = src[j] if src[j] > top else top
        tops[r] = top


def _row_sum(row):
    total = row[0] - row[0]
    for j in range(row.size):
        total += row[j]
    return total


def _softmax_loop(exp, row_sum):
    def softmax_rows(x, out, tops):
        rows, n = x.shape
        for r in range(rows):
            src, dst, top = x[r], out[r], tops[r]
            for j in range(n):
                dst[j] = exp(src[j] - top)
            total = row_sum(dst)
            for j in range(n):
                dst[j] = dst[j] / total

    import numba

    return numba.njit(boundscheck=False, error_model="numpy", nogil=True)(softmax_rows)


# One loop over rows instead of seven whole-tensor passes: the transformer's (2048, 128) layer norms
# 0.5 -> 0.1 ms. The primitive's formula (mean, then the mean square of x - mean) in the row's dtype; the
# sums carry "reassoc" to vectorize (row order in SIMD lanes, NumPy's pairwise: ~1e-7 apart).
def _row_dot(a, b):
    total = a[0] - a[0]  # 0, or NaN when a[0] is not finite: the row's result is NaN then anyway
    for j in range(a.size):
        total += a[j] * b[j]
    return total


def _row_reductions():
    """(row_sum, row_dot), compiled with the "reassoc" flag their SIMD form needs."""
    return _njit(_row_sum, fastmath={"reassoc"}), _njit(_row_dot, fastmath={"reassoc"})


def _standardize_loop():
    if "standardize_rows" not in _LOOPS:
        import numba

        row_sum, row_dot = _row_reductions()

        def standardize_rows(x, out, count, eps):
            rows, n = x.shape
            for r in range(rows):
                src, dst = x[r], out[r]
                mean = row_sum(src) / count
                for j in range(n):
                    dst[j] = src[j] - mean
                scale = np.sqrt(row_dot(dst, dst) / count + eps)
                for j in range(n):
                    dst[j] = dst[j] / scale

        _LOOPS["standardize_rows"] = numba.njit(boundscheck=False, error_model="numpy", nogil=True)(
            standardize_rows)
    return _LOOPS["standardize_rows"]


def _standardize_grad_loop():
    if "standardize_grad_rows" not in _LOOPS:
        import numba

        row_sum, row_dot = _row_reductions()

        def standardize_grad_rows(g, x, y, out, count, eps):  # out is scratch for x - mean first
            rows, n = x.shape
            for r in range(rows):
                src, dst, grad, std = x[r], out[r], g[r], y[r]
                mean = row_sum(src) / count
                for j in range(n):
                    dst[j] = src[j] - mean
                rstd = 1 / np.sqrt(row_dot(dst, dst) / count + eps)
                mean_g = row_sum(grad) / count
                mean_gy = row_dot(grad, std) / count
                for j in range(n):
                    dst[j] = (grad[j] - mean_g - std[j] * mean_gy) * rstd

        _LOOPS["standardize_grad_rows"] = numba.njit(boundscheck=False, error_model="numpy", nogil=True)(
            standardize_grad_rows
        )
    return _LOOPS["standardize_grad_rows"]


def _rows_of(ndim, *arrays):
    return [np.ascontiguousarray(a).reshape(math.prod(a.shape[:a.ndim - ndim]), -1) for a in arrays]


def _standardize_grad(ndim, eps):
    def standardize_grad(g, x, y):
        g2, x2, y2 = _rows_of(ndim, g, x, y)
        out = np.empty(x2.shape, x2.dtype)
        if out.size:
            kind, loop = x2.dtype.type, _standardize_grad_loop()
            count, eps_ = kind(x2.shape[1]), kind(eps)
            cores.run_chunks(lambda s, e: loop(g2[s:e], x2[s:e], y2[s:e], out[s:e], count, eps_), len(out),
                             unit=out.shape[1])
        return out.reshape(x.shape)

    return standardize_grad


def _standardize(ndim, eps):
    def standardize(x):
        (flat,) = _rows_of(ndim, x)
        out = np.empty(flat.shape, flat.dtype)
        if flat.size:
            kind, loop = flat.dtype.type, _standardize_loop()
            count, eps_ = kind(flat.shape[1]), kind(eps)
            cores.run_chunks(lambda s, e: loop(flat[s:e], out[s:e], count, eps_), len(out), unit=out.shape[1])
        return out.reshape(x.shape)

    return standardize


def _col2im(attrs):
    from ..ops.conv import out_sizes

    size, kernel = attrs["size"], attrs["kernel"]
    (sh, sw), (dh, dw), ((ph0, ph1), (pw0, pw1)) = attrs["stride"], attrs["dilation"], attrs["padding"]
    outs = out_sizes(size, kernel, attrs["stride"], attrs["padding"], attrs["dilation"])
    k, length, fold = math.prod(kernel), math.prod(outs), attrs.get("fold_batch", False)
    unit = (sh, sw, dh, dw) == (1, 1, 1, 1)
    loop = _njit(_col2im_unit if unit else _col2im_any)
    geom = (kernel[0], kernel[1]) + ((ph0, pw0) if unit else (sh, sw, dh, dw, ph0, pw0)) + tuple(outs)

    def col2im(cols):  # fold: cols is (C*K, N*L), else (N, C*K, L), seen as (N*C*K, L)
        n_img = cols.shape[1] // length if fold else cols.shape[0]
        n_ch = (cols.shape[0] if fold else cols.shape[1]) // k
        if fold:  # a (C, N, ...) buffer seen as (N, C, ...), as the NumPy form: a consumer that wants the
            # channels first (the weight gradient of a previous conv) then reads it without a copy
            out = np.empty((n_ch, n_img) + tuple(size), cols.dtype).transpose(1, 0, 2, 3)
        else:
            out = np.empty((n_img, n_ch) + tuple(size), cols.dtype)
        cols = np.ascontiguousarray(cols.reshape(cols.shape[0], -1) if fold else cols.reshape(-1, length))
        loop(cols, out, fold, geom, np.empty((size[0] + ph0 + ph1, size[1] + pw0 + pw1), cols.dtype))
        return out

    return col2im


def _softmax():
    key = "softmax_float32"
    if key not in _LOOPS:
        import numba

        from .kernels import _exp32_scalar  # the SIMD kernels' inlinable float32 exp

        row_max = numba.njit(boundscheck=False, error_model="numpy", nogil=True)(_row_max)  # no cache: nogil
        loop = _softmax_loop(_exp32_scalar(), _row_reductions()[0])

        def rows(flat, out, tops, s, e):
            row_max(flat[s:e], tops[s:e])
            loop(flat[s:e], out[s:e], tops[s:e])

        def softmax(x):
            flat = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
            out = np.empty(flat.shape, flat.dtype)
            if flat.size:
                tops = np.empty(flat.shape[0], flat.dtype)
                cores.run_chunks(lambda s, e: rows(flat, out, tops, s, e), len(out), unit=out.shape[1])
            return out.reshape(x.shape)

        _LOOPS[key] = softmax
    return _LOOPS[key]


def _last_axis_float32(x, axis) -> bool:
    """float64 keeps NumPy's form: its SIMD exp beats the loop's scalar libm one (measured 1.7 vs 2.9 ms)."""
    return x.dtype == "float32" and x.ndim > 0 and axis % x.ndim == x.ndim - 1


def lowering(node):
    """A compiled loop for ``node`` (same inputs and result as its primitive), or None when it does not apply:
    the op's ``cpu_loop`` lowering (registered below, on the op's registry entry)."""
    if any(v.dtype not in FLOATS + INDICES or None in v.shape for v in node.inputs) or any(
            v.dtype not in FLOATS or None in v.shape for v in node.outputs):
        return None
    from ..ops import REGISTRY

    prim = REGISTRY.get(node.op)
    form = None if prim is None else prim.lowering("cpu_loop")
    return None if form is None else form(node)


def _register():
    from ..ops import register_lowering

    register_lowering("col2im", "cpu_loop", lambda node: _col2im(node.attrs) if len(node.attrs["kernel"]) == 2
                      else None)
    register_lowering("standardize", "cpu_loop", lambda node: _standardize(node.attrs["ndim"], node.attrs["eps"]))
    register_lowering("standardize_grad", "cpu_loop", lambda node: _standardize_grad(node.attrs["ndim"],
                                                                                      node.attrs["eps"])
                      if len({v.dtype for v in node.inputs}) == 1 else None)
    register_lowering("softmax", "cpu_loop", lambda node: _softmax()
                      if _last_axis_float32(node.inputs[0], node.attrs["axis"]) else None)


_register()
