"""Linear-algebra primitives: matmul (NumPy/PyTorch broadcasting semantics) and einsum."""
from __future__ import annotations

import math

import numpy as np

from .._cores import run_job
from .._threads import cached_num_threads, lingering_hold, release_lingering_hold
from ..dtypes import promote
from . import _onnx, _tflite
from ._core import Aval, apply, register, register_lowering
from ._rules import broadcast_shapes, differ
from .elementwise import _conj, grad_as, unbroadcast


def _matmul_rule(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}. "
                           "Use * for scaling by a scalar.")
    if a.dtype is not b.dtype and a.dtype.category != b.dtype.category:
        raise RuntimeError(f"matmul: expected both operands to have the same dtype, got {a.dtype.name} and "
                           f"{b.dtype.name}. Convert one with .to({a.dtype!r}) (or .float()).")
    k1 = a.shape[-1]
    k2 = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if differ(k1, k2):
        hint = ""
        if b.ndim >= 2 and b.shape[-1] == k1:
            hint = " Did you mean a @ b.T (or b.mT)?"
        raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: {k1} (last dim of the first) "
                           f"!= {k2} ({'first' if b.ndim == 1 else 'second-to-last'} dim of the second).{hint}")
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    shape = batch + (a.shape[:-1][-1:] if a.ndim > 1 else ()) + ((b.shape[-1],) if b.ndim > 1 else ())
    return Aval(shape, promote(a.dtype, b.dtype), a.device)


def blas_ready(xp, x):
    """``x`` itself when BLAS can read its last two dims (unit stride in one of them), else a C copy.

    NumPy's matmul falls back to a slow non-BLAS loop on other layouts (views of permuted tensors, such as
    attention's (L, N, E) ones): up to 200x slower than a GEMM after one copy."""
    if x.ndim < 2 or 1 in x.shape[-2:]:
        return x
    it, (s2, s1), (m, n) = x.itemsize, x.strides[-2:], x.shape[-2:]
    if (s1 == it and s2 >= it * n and s2 % it == 0) or (s2 == it and s1 >= it * m and s1 % it == 0):
        return x
    return xp.ascontiguousarray(x)


# A GEMM of at least SPLIT_MIN multiply-adds, while BLAS is held at one thread for Ember's pool (a compiled
# step's hold, or the eager lingering hold of Winograd convolutions and LSTM loops), is cut along its longer
# output dim into blocks that the calling thread and the pool's helpers take in turn, each a one-thread GEMM.
SPLIT_MIN = 1 << 23
# an output this narrow (the cnn's conv1 weight gradient, (32, 43264) @ (43264, 9)) is not split: NumPy's
# matmul then holds the GIL (measured: two threads on two such products, 0.9x the speed of one after the
# other), so the blocks ran one after the other, with the hand-offs on top (2.1 ms split against 1.1 whole)
NARROW = 16


def split_over_cores(xp, a, b, out, n: int, min_size: int = SPLIT_MIN, narrow: int = NARROW):
    """``a @ b`` into ``out`` (allocated when None) in blocks over ``n`` cores; None where it does not split
    (not NumPy, under ``min_size`` multiply-adds, not a 2-D ``b``, a strided output or one under ``narrow``
    rows or columns): the caller then runs it whole. An N-D ``a`` is flattened to rows."""
    if n < 2 or xp is not np or b.ndim != 2 or a.ndim < 2 or a.size * b.shape[1] < min_size:
        return None
    if out is None:  # a dynamic shape has no planned buffer
        out = xp.empty(a.shape[:-1] + b.shape[1:], dtype=np.result_type(a.dtype, b.dtype))
    if a.ndim > 2:  # (..., k) @ (k, n) as rows
        if not out.flags.c_contiguous:
            return None
        rows = split_over_cores(xp, a.reshape(-1, a.shape[-1]), b, out.reshape(-1, b.shape[1]), n, min_size, narrow)
        return None if rows is None else out
    if out.ndim != 2 or not out.flags.c_contiguous or min(out.shape) < narrow:
        return None
    rows, cols = out.shape
    if rows >= cols:
        run_job(lambda s, e: gemm(xp, a[s:e], b, out[s:e], split=False), rows, -(-rows // (2 * n)), n)
    else:
        chunk = -(-cols // (2 * n) // 16) * 16
        run_job(lambda s, e: gemm(xp, a, b[:, s:e], out[:, s:e], split=False), cols, chunk, n)
    return out


def gemm(xp, a, b, out=None, split=True):
    """``a @ b`` on BLAS-ready operands, writing into ``out`` when given. An N-D ``a`` times a 2-D ``b`` runs
    as one 2-D GEMM instead of a loop of small ones (up to 10x faster; 100x when ``a`` is strided). While eager
    pool work holds BLAS at one thread (``_threads.lingering_hold``), a large GEMM runs in blocks over the
    pool (``split_over_cores``; ``split=False``: whole, as each block does).

    Shared by the eager ``matmul``/``linear`` primitives and the compiled executor."""
    release_lingering_hold()  # an eager Winograd convolution's lingering one-thread hold, once expired
    if split and lingering_hold() and a.dtype.kind == "f":
        done = split_over_cores(xp, blas_ready(xp, a), blas_ready(xp, b), out, cached_num_threads())
        if done is not None:
            return done
    if a.dtype.kind == "V":  # bfloat16: no BLAS kernel (NumPy) nor cuBLAS path (CuPy); float32 GEMM, rounded once
        r = gemm(xp, a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
        if out is None:
            return r
        xp.copyto(out, r)
        return out
    b = blas_ready(xp, b)
    if a.ndim > 2 and b.ndim == 2 and a.size:
        n = b.shape[1]
        a2 = blas_ready(xp, a.reshape(-1, a.shape[-1]))  # a view when the layout allows, else a copy
        if out is not None and out.flags.c_contiguous:
            xp.matmul(a2, b, out=out.reshape(-1, n))
            return out
        r = xp.matmul(a2, b).reshape(a.shape[:-1] + (n,))
    else:
        a = blas_ready(xp, a)
        if out is not None:
            return xp.matmul(a, b, out=out)
        r = xp.matmul(a, b)
    if out is None:
        return r
    xp.copyto(out, r)
    return out


def _matmul_fwd(xp, a, b):
    if a.dtype != b.dtype:
        raise TypeError("dtype mismatch")  # diagnose() turns this into the message from _matmul_rule
    return gemm(xp, a, b)


def _mT(x):
    return apply("permute", x, perm=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _matmul_vjp(g, out, a, b):
    a2 = a if a.ndim > 1 else apply("reshape", a, shape=(1, a.shape[0]))
    b2 = b if b.ndim > 1 else apply("reshape", b, shape=(b.shape[0], 1))
    g_shape = tuple(broadcast_shapes("matmul", a2.shape[:-2], b2.shape[:-2])) + (a2.shape[-2], b2.shape[-1])
    g2 = g if tuple(g.shape) == g_shape else apply("reshape", g, shape=g_shape)
    ga = gb = None
    a2, b2 = _conj(a2), _conj(b2)  # complex operands: the conjugate (autograd's convention; the identity if real)
    if a.requires_grad:
        ga = unbroadcast(apply("matmul", g2, _mT(b2)), a2.shape)
        ga = ga if a.ndim > 1 else apply("reshape", ga, shape=tuple(a.shape))
    if b.requires_grad and b2.ndim == 2 < a2.ndim and None not in a2.shape:
        # a 2-D weight under a stack of rows (a linear layer's x @ W): one (k, rows) @ (rows, n) GEMM, which
        # BLAS threads, instead of one small GEMM per batch item and a sum over them (issue 16: the tied head
        # of the bench transformer spent 23% of its step there, on one core)
        rows = math.prod(a2.shape[:-1])
        gb = apply("matmul", _mT(apply("reshape", a2, shape=(rows, a2.shape[-1]))),
                   apply("reshape", g2, shape=(rows, g2.shape[-1])))
        gb = gb if b.ndim > 1 else apply("reshape", gb, shape=tuple(b.shape))
    elif b.requires_grad:
        gb = unbroadcast(apply("matmul", _mT(a2), g2), b2.shape)
        gb = gb if b.ndim > 1 else apply("reshape", gb, shape=tuple(b.shape))
    return ga, gb


register("matmul", _matmul_fwd, vjp=_matmul_vjp, infer=_matmul_rule, saves=(0, 1), kind="matmul", complex_ok=True)


def parse_einsum(equation, n):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != n:
        raise ValueError(f"einsum: equation {equation!r} names {len(ins)} operands but {n} were given")
    if "." in eq:
        raise ValueError("einsum: ellipsis ('...') is not supported yet; write the dims out")
    if not arrow:
        counts = {c: lhs.count(c) for c in set(lhs.replace(",", ""))}
        rhs = "".join(sorted(c for c, k in counts.items() if k == 1))
    return ins, rhs


def _einsum_rule(*xs, equation):
    ins, rhs = parse_einsum(equation, len(xs))
    sizes = {}
    for i, (sub, x) in enumerate(zip(ins, xs)):
        if len(sub) != x.ndim:
            raise ValueError(f"einsum: operand {i} has {x.ndim} dims {x.shape} but its subscript {sub!r} names "
                             f"{len(sub)}")
        for c, s in zip(sub, x.shape):
            cur = sizes.get(c, -1)
            if cur in (-1, None, 1):  # unset, unknown or broadcast: the new size tells more
                sizes[c] = s if cur != 1 or s != 1 else 1
            elif differ(cur, s) and s != 1:
                raise ValueError(f"einsum: subscript {c!r} has size {sizes[c]} in one operand and {s} in operand {i}")
    dt = xs[0].dtype
    for x in xs[1:]:
        dt = promote(dt, x.dtype)
    return Aval(tuple(sizes[c] for c in rhs), dt, xs[0].device)


def _einsum_fwd(xp, *xs, equation):
    if xs and xs[0].dtype.kind == "V" and xp is np:  # bfloat16: NumPy's einsum has no loop for it
        return _einsum_fwd(xp, *[x.astype(np.float32) for x in xs], equation=equation).astype(xs[0].dtype)
    return xp.einsum(equation, *xs, optimize=len(xs) > 2 or "greedy")


def _einsum_vjp(g, out, *xs, equation):
    ins, rhs = parse_einsum(equation, len(xs))
    grads = []
    for i, (sub, x) in enumerate(zip(ins, xs)):
        if not x.requires_grad:
            grads.append(None)
            continue
        others = [(s, t) for j, (s, t) in enumerate(zip(ins, xs)) if j != i]
        avail = set(rhs).union(*[set(s) for s, _ in others])
        target = "".join(c for c in dict.fromkeys(sub) if c in avail)
        subs = ",".join([rhs] + [s for s, _ in others]) + "->" + target
        gi = apply("einsum", g, *[_conj(t) for _, t in others], equation=subs)  # (conj: complex operands)
        if target != sub:  # letters summed away inside operand i come back by broadcasting
            if len(set(sub)) != len(sub):
                raise NotImplementedError(f"einsum: the gradient of repeated subscripts in {sub!r} is not supported")
            shape = tuple(x.shape[sub.index(c)] if c in target else 1 for c in sub)
            order = [c for c in sub if c in target]
            gi = apply("permute", gi, perm=tuple(target.index(c) for c in order)) if order != list(target) else gi
            gi = apply("expand", apply("reshape", gi, shape=shape), shape=tuple(x.shape))
        if tuple(gi.shape) != tuple(x.shape):  # size-1 dims that broadcast against the other operands
            full = broadcast_shapes("einsum", tuple(gi.shape), tuple(x.shape))
            gi = unbroadcast(apply("expand", gi, shape=full) if full != tuple(gi.shape) else gi, x.shape)
        grads.append(gi if gi.dtype is x.dtype else grad_as(gi, x.dtype))
    return tuple(grads)


register("einsum", _einsum_fwd, vjp=_einsum_vjp, infer=_einsum_rule, saves="all", kind="matmul", complex_ok=True)


# -- ONNX ------------------------------------------------------------------------------------------------------
_onnx.simple("matmul", "MatMul")


def _einsum_onnx(ctx, node):
    eq = node.attrs["equation"].replace(" ", "")
    if "->" not in eq:
        eq += "->" + parse_einsum(eq, len(node.inputs))[1]
    ctx.emit("Einsum", _onnx.same_dtype_inputs(ctx, node), [ctx.output(node)], equation=eq)


register_lowering("einsum", "onnx", _einsum_onnx)


# TFLite
@register_lowering("matmul", "tflite")
def _matmul_tflite(ctx, node):
    a, b = node.inputs
    ta, tb = ctx.inputs(node)
    weight = ctx.value(node, 1)
    if weight is not None and b.ndim == 2 and a.ndim >= 2:  # x @ W with a constant W: one FULLY_CONNECTED
        wt = ctx.const(np.ascontiguousarray(np.asarray(weight).T), (b.hint or "w") + ".T")
        ctx.emit("FULLY_CONNECTED", [ta, wt, -1], [ctx.output(node)],
                 ctx.options("FullyConnected", keepNumDims=a.ndim > 2))
        return
    sa = (1,) + a.shape if a.ndim == 1 else a.shape
    sb = b.shape + (1,) if b.ndim == 1 else b.shape
    if a.ndim == 1:
        ta = ctx.emit("EXPAND_DIMS", [ta, ctx.ints([0])], [ctx.temp(sa, a.dtype)])
    if b.ndim == 1:
        tb = ctx.emit("EXPAND_DIMS", [tb, ctx.ints([1])], [ctx.temp(sb, b.dtype)])
    if a.ndim > 1 and b.ndim > 1:
        ctx.emit("BATCH_MATMUL", [ta, tb], [ctx.output(node)], ctx.options("BatchMatMul"))
        return
    full = broadcast_shapes("matmul", sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    mm = ctx.emit("BATCH_MATMUL", [ta, tb], [ctx.temp(full, node.outputs[0].dtype)], ctx.options("BatchMatMul"))
    squeeze = ([len(full) - 2] if a.ndim == 1 else []) + ([len(full) - 1] if b.ndim == 1 else [])
    ctx.emit("SQUEEZE", [mm], [ctx.output(node)], ctx.options("Squeeze", squeezeDims=squeeze))


_tflite.mark(["einsum"], "TFLite has no einsum; write it with matmul/permute (the ONNX export has Einsum)")
