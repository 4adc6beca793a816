"""Compiled row loops for softmax cross-entropy and its gradient, split over the cores by rows (issue 16).

NumPy's form (``ember/ops/nn.py``) makes about six whole-array passes (max, subtract, exp, sum, log, pick)
on one core; the word language model's (700, 33278) logits took ~95 ms forward and ~105 ms backward per step,
a third of its step, with the second core idle. Here one numba loop (``nogil``) makes two passes per row
(max, then exp and sum; the gradient a third to scale), each row in cache, and large arrays (at least
``SPLIT_MIN`` elements, ``EMBER_CE_SPLIT_MIN``) are cut into one block of rows per thread for
``cores.run_blocks``. Each row is computed by the same code whichever thread runs it, and the loss's sum over
rows stays one NumPy sum on the caller: results do not depend on the thread count. float32 logits without
label smoothing; anything else keeps the primitive. The row sums carry "reassoc" to vectorize (NumPy's are
pairwise: the two agree to ~1e-7 relative).

>>> import numpy as np
>>> from ember.ops.loss_rows import cross_entropy
>>> x = np.zeros((2, 4), np.float32)
>>> round(float(cross_entropy(-100, "mean")(x, np.array([1, 3]))), 4)  # log(4)
1.3863
"""
from __future__ import annotations

import os

import numpy as np

from .._cores import run_blocks
from .._jit_math import exp32_scalar, numba_or_none
from .._threads import cached_num_threads
from ._core import register_lowering
from .row_loops import max_rows, row_reductions

SPLIT_MIN = int(os.environ.get("EMBER_CE_SPLIT_MIN", 1 << 18))  # elements; below, one block on the caller
_LOOPS: dict = {}


def _loops():
    """(loss_rows, grad_rows) compiled once: ``loss[r]`` = logsumexp(x[r]) - x[r, t[r]], and the gradient
    rows (softmax(x[r]) - onehot(t[r])) * scale[r]; rows whose target is ``ignore`` give 0 / are scaled by 0."""
    if not _LOOPS:
        import numba

        exp, row_sum = exp32_scalar(), row_reductions()[0]
        tiny = np.float32(np.finfo(np.float32).tiny)
        opts = {"boundscheck": False, "error_model": "numpy", "nogil": True}
        tops_of = max_rows()

        @numba.njit(**opts)
        def loss_rows(x, t, ignore, loss, tops, scratch, lo, hi):
            tops_of(x[lo:hi], tops[lo:hi])
            n = x.shape[1]
            for r in range(lo, hi):
                src, top = x[r], tops[r]
                for j in range(n):
                    scratch[j] = exp(src[j] - top)
                k = t[r]
                loss[r] = 0 if k == ignore else np.log(row_sum(scratch)) - (src[k] - top)

        @numba.njit(**opts)
        def grad_rows(x, t, ignore, g, g_step, out, tops, lo, hi):
            tops_of(x[lo:hi], tops[lo:hi])
            n = x.shape[1]
            zero = np.float32(0)  # float32 logits only (_applies)
            for r in range(lo, hi):
                src, dst, top = x[r], out[r], tops[r]
                # the primitive's scale: g (per row for "none"), 0 where the row is ignored (as PyTorch: also
                # when every row is, where 'mean' divides by 0)
                s = zero if t[r] == ignore else g[r * g_step]
                k = 0 if t[r] == ignore else t[r]  # the primitive's clipped target (its scale is 0 then)
                for j in range(n):
                    dst[j] = exp(src[j] - top)
                total = row_sum(dst)
                p = dst[k] / total
                for j in range(n):  # the primitive's order: softmax, minus 1 at the target, times the scale
                    v = dst[j] / total * s
                    dst[j] = v if abs(v) >= tiny else 0.0  # subnormals flushed, as the primitive does
                v = (p - 1) * s
                dst[k] = v if abs(v) >= tiny else 0.0

        @numba.njit(**opts)
        def count_targets(t, ignore, classes):
            """The rows not ignored, or -1 when a target is neither a class nor ``ignore``."""
            count = 0
            for k in t:
                if k != ignore:
                    if k < 0 or k >= classes:
                        return -1
                    count += 1
            return count

        _LOOPS.update(loss=loss_rows, grad=grad_rows, count=count_targets)
    return _LOOPS["loss"], _LOOPS["grad"]


def _over_rows(fn, rows, size):
    """``fn(lo, hi)`` over one block of rows per thread (large arrays), else once on the caller."""
    n = cached_num_threads() if size >= SPLIT_MIN else 1
    k = max(1, min(n, rows))
    if k == 1:  # small logits (a batch of 64 x 10): no block list, one call
        fn(0, rows)
        return
    blocks = [(rows * i // k, rows * (i + 1) // k) for i in range(k)]
    run_blocks(fn, blocks, k)


def _count_targets(t, ignore_index, classes) -> int:
    """The primitive's check (every target a class index or ``ignore_index``); the rows not ignored. One
    compiled pass: the NumPy form's six passes were most of a small batch's loss (~16 us of 64 x 10)."""
    _loops()
    count = _LOOPS["count"](t.reshape(-1), ignore_index, classes)
    if count < 0:
        tc = np.where(t != ignore_index, t, 0)
        bad = int(tc.min()) if int(tc.min()) < 0 else int(tc.max())
        raise IndexError(f"cross_entropy: target {bad} is out of bounds for {classes} classes (targets must lie "
                         f"in [0, {classes - 1}] or equal ignore_index {ignore_index})")
    return count


def cross_entropy(ignore_index, reduction):
    """``softmax_cross_entropy``'s forward for float32 logits (N, C) and int targets (N,)."""

    def run(x, t):
        x = np.ascontiguousarray(x)
        count = _count_targets(t, ignore_index, x.shape[1])
        loss, tops = np.empty(x.shape[0], x.dtype), np.empty(x.shape[0], x.dtype)
        loop = _loops()[0]
        _over_rows(lambda lo, hi: loop(x, t, ignore_index, loss, tops, np.empty(x.shape[1], x.dtype), lo, hi),
                   x.shape[0], x.size)
        if reduction == "none":
            return loss
        total = loss.sum(dtype=x.dtype)
        return np.asarray(total if reduction == "sum" else total / x.dtype.type(count))

    return run


def cross_entropy_grad(ignore_index, reduction):
    """``softmax_cross_entropy_grad``'s forward: the logits' gradient given the loss's cotangent ``g``."""

    def run(g, x, t):
        x = np.ascontiguousarray(x)
        count = _count_targets(t, ignore_index, x.shape[1])
        g = np.asarray(g, x.dtype)
        if reduction == "mean":  # the primitive's g / valid.sum(), in the logits' dtype
            with np.errstate(divide="ignore", invalid="ignore"):  # no row counted: every row's scale is 0
                g = g / x.dtype.type(count)
        per_row = g.reshape(-1) if g.ndim else g.reshape(1)
        g_step = 1 if g.ndim else 0
        out, tops = np.empty(x.shape, x.dtype), np.empty(x.shape[0], x.dtype)
        loop = _loops()[1]
        _over_rows(lambda lo, hi: loop(x, t, ignore_index, per_row, g_step, out, tops, lo, hi),
                   x.shape[0], x.size)
        return out

    return run


def applies(xs, t, label_smoothing) -> bool:
    """float32 logits (N, C) (and a float32 cotangent ``xs[0]`` for the gradient), int targets, no label
    smoothing, numba there."""
    x = xs[-1]
    return (x.dtype == "float32" and x.ndim == 2 and t.dtype in ("int32", "int64")
            and not label_smoothing and all(v.dtype == "float32" for v in xs) and numba_or_none() is not None)


def _applies(node) -> bool:
    return applies(node.inputs[:-1], node.inputs[-1], node.attrs.get("label_smoothing"))


def register_cpu_loops():
    """The compiled executor's lowerings (called by ``ops/nn.py`` once both primitives are registered)."""
    def attrs(node):
        return node.attrs.get("ignore_index", -100), node.attrs.get("reduction", "mean")

    register_lowering("softmax_cross_entropy", "cpu_loop",
                      lambda node: cross_entropy(*attrs(node)) if _applies(node) else None)
    register_lowering("softmax_cross_entropy_grad", "cpu_loop",
                      lambda node: cross_entropy_grad(*attrs(node)) if _applies(node) else None)
