"""LU factorisation and the matrix exponential as primitives, plus the array kernels the linalg errors share.

``linalg_lu`` returns one array, as every primitive does: the packed LU (L's unit diagonal implied) with one
more row holding LAPACK's 1-based pivots as floats, ``(..., m + 1, n)`` (min(m, n) <= n of them fit). Pivots
are piecewise constant in A, so the vjp only sees the LU rows. ``linalg_matrix_exp`` is the scaling-and-
squaring Padé-13 exponential (Higham 2005); its vjp is the upper-right block of the exponential of
``[[A^T, G], [0, A^T]]`` (Najfeld & Havel 1995), itself a ``linalg_matrix_exp``, so grads of grads work.

The kernels are xp-only (NumPy and CuPy alike): a right-looking blocked LU with partial pivoting, batched.
"""
from __future__ import annotations

from ..errors import LinAlgError
from . import _tflite
from ._core import CHECK_ATTR, Aval, apply, register, unsupported
from .decomp import _eye_like, _float_matrix, _mm, _mT, _tril, _triu

PANEL = 32  # columns factorised one by one before a GEMM updates the rest


def lu_kernel(xp, a):
    """``(lu, pivots, info)`` of the matrices (..., m, n): partial pivoting (the largest |entry| of the column;
    the first on ties), LAPACK's conventions (1-based int32 pivots; info = first zero pivot, 1-based, or 0)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    lu = xp.array(a.reshape((-1, m, n)), dtype=a.dtype, copy=True)
    count = lu.shape[0]
    piv = xp.zeros((count, k), dtype=xp.int32)
    info = xp.zeros((count,), dtype=xp.int32)
    items = xp.arange(count)
    for start in range(0, k, PANEL):
        stop = min(start + PANEL, k)
        for j in range(start, stop):
            p = j + xp.argmax(xp.abs(lu[:, j:, j]), axis=1)
            piv[:, j] = p + 1
            row_j, row_p = lu[:, j, :].copy(), lu[items, p, :].copy()
            lu[items, p, :] = row_j  # swap whole rows: the left part is L's, as LAPACK's laswp
            lu[:, j, :] = row_p
            pivot = lu[:, j, j]
            zero = pivot == 0
            info = xp.where((info == 0) & zero, j + 1, info).astype(xp.int32)
            lu[:, j + 1:, j] /= xp.where(zero, 1, pivot)[:, None]  # a zero column stays zero, as LAPACK's
            lu[:, j + 1:, j + 1:stop] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:stop]
        if stop < n:  # the panel's rows of U right of it, then one GEMM for the trailing block
            unit_l = xp.tril(lu[:, start:stop, start:stop], -1) + xp.eye(stop - start, dtype=lu.dtype)
            lu[:, start:stop, stop:] = xp.linalg.solve(unit_l, lu[:, start:stop, stop:])
            if stop < m:
                lu[:, stop:, stop:] -= lu[:, stop:, start:stop] @ lu[:, start:stop, stop:]
    batch = a.shape[:-2]
    return lu.reshape(batch + (m, n)), piv.reshape(batch + (k,)), info.reshape(batch)


def cholesky_info(xp, a):
    """Per matrix of (..., n, n): the order of the first leading minor that is not positive-definite, or 0."""
    n = a.shape[-1]
    x = a.reshape((-1, n, n)).astype(a.dtype)
    low = xp.zeros_like(x)
    info = xp.zeros((x.shape[0],), dtype=xp.int32)
    for j in range(n):  # column Cholesky, carried on past a failure with a dummy pivot
        d = x[:, j, j] - (low[:, j, :j] ** 2).sum(-1)
        bad = ~(d > 0)
        info = xp.where((info == 0) & bad, j + 1, info).astype(xp.int32)
        root = xp.sqrt(xp.where(bad, 1, d))
        low[:, j, j] = root
        low[:, j + 1:, j] = (x[:, j + 1:, j] - (low[:, j + 1:, :j] @ low[:, j, :j, None])[..., 0]) / root[:, None]
    return info.reshape(a.shape[:-2])


def batch_failure(fn, kind, what, info):
    """A LinAlgError worded as PyTorch's: '(Batch element i): ...' for the first failing matrix of a batch."""
    flat = [int(v) for v in info.reshape(-1).tolist()]
    i = next((i for i, v in enumerate(flat) if v > 0), 0)
    where = f"(Batch element {i}): " if info.ndim and flat else ""
    exc = LinAlgError(f"{fn}: {where}{what(flat[i] if flat else 0)}")
    setattr(exc, CHECK_ATTR, True)  # the message stands on its own (no "failed on inputs" wrapper)
    return exc


# -- LU ---------------------------------------------------------------------------------------------------------
def _lu_rule(a):
    _float_matrix("linalg.lu_factor", a, square=False)
    m, n = a.shape[-2:]
    return Aval(a.shape[:-2] + (None if m is None else m + 1, n), a.dtype, a.device)


def _lu_fwd(xp, a):
    lu, piv, _ = lu_kernel(xp, a)
    n, k = a.shape[-1], piv.shape[-1]
    row = xp.zeros(a.shape[:-2] + (1, n), dtype=a.dtype)
    row[..., 0, :k] = piv
    return xp.concatenate([lu, row], axis=-2)


def _sl(x, rows=(None, None), cols=(None, None)):
    return apply("getitem", x, index=(("ellipsis",), ("slice", rows[0], rows[1], None),
                                      ("slice", cols[0], cols[1], None)))


def _solve_t(tri, rhs):
    """tri^{-1} rhs with a triangular ``tri`` (a general solve: Ember's triangular solves are composites)."""
    return apply("linalg_solve", tri, rhs)


def perm_from_pivots(piv, m):
    """LAPACK's 1-based pivots (an int or float tensor (..., k)) as the permutation ``perm`` (..., m), int64,
    with ``(P^T A)[i] = A[perm[i]]``: the row swaps applied in turn to 0..m-1, in tensor ops (traceable)."""
    from ..tensor import Tensor
    from .decomp import _xp

    idx = Tensor._wrap(_xp(piv).arange(m))
    piv = apply("cast", piv, dtype="int64") - idx._scalar(1)
    batch = tuple(piv.shape[:-1])
    perm = apply("expand", idx, shape=batch + (m,))
    for j in range(piv.shape[-1]):
        p = apply("getitem", piv, index=(("ellipsis",), ("slice", j, j + 1, None)))
        at_j = apply("getitem", perm, index=(("ellipsis",), ("slice", j, j + 1, None)))
        at_p = apply("gather", perm, p, axis=len(batch))
        perm = apply("where", apply("eq", idx, idx._scalar(j)), at_p,
                     apply("where", apply("eq", idx, p), at_j, perm))
    return perm


def perm_matrix(perm, dtype):
    """P (..., m, m) with ``P[perm[i], i] = 1``, so that ``A = P L U``."""
    m = perm.shape[-1]
    from ..tensor import Tensor
    from .decomp import _xp

    cols = Tensor._wrap(_xp(perm).arange(m))
    hit = apply("eq", apply("reshape", perm, shape=tuple(perm.shape) + (1,)), cols)  # P^T[i, j] = perm[i] == j
    return _mT(apply("cast", hit, dtype=dtype))


def _square_lu_grad(low, up, g_low, g_up):
    """PyTorch's square formula: L^-H [tril(L^H gL, -1) + triu(gU U^H)] U^-H."""
    inner = _tril(_mm(_mT(low), g_low), -1) + _triu(_mm(g_up, _mT(up)))
    right = _mT(_solve_t(up, _mT(inner)))  # inner U^-H
    return _solve_t(_mT(low), right)


def _lu_vjp(g, out, a):
    m, n = a.shape[-2:]
    k = min(m, n)
    lu, g = _sl(out, (0, m)), _sl(g, (0, m))
    eye = _eye_like(_sl(lu, (0, k), (0, k)))
    low, up = _sl(_tril(lu, -1), cols=(0, k)), _triu(_sl(lu, (0, k)))
    g_low, g_up = _sl(_tril(g, -1), cols=(0, k)), _triu(_sl(g, (0, k)))
    if m == n:
        gb = _square_lu_grad(low + eye, up, g_low, g_up)
    elif m > n:  # tall: L = [L1; L2], so L2 = B2 U^-1 feeds back into U's gradient
        low1 = _sl(low, (0, k)) + eye
        g2 = _mT(_solve_t(up, _mT(_sl(g_low, (k, None)))))  # gL2 U^-H
        g_up = g_up - _mm(_mT(_sl(low, (k, None))), g2)
        gb = apply("cat", _square_lu_grad(low1, up, _sl(g_low, (0, k)), g_up), g2, axis=g.ndim - 2)
    else:  # wide: U = [U1 U2], so U2 = L^-1 B2 feeds back into L's gradient
        low1 = low + eye
        g2 = _solve_t(_mT(low1), _sl(g_up, cols=(k, None)))  # L^-H gU2
        g_low = g_low - _mm(g2, _mT(_sl(up, cols=(k, None))))
        gb = apply("cat", _square_lu_grad(low1, _sl(up, cols=(0, k)), g_low, _sl(g_up, cols=(0, k))), g2,
                   axis=g.ndim - 1)
    piv = apply("reshape", _sl(out, (m, m + 1), (0, k)), shape=tuple(out.shape[:-2]) + (k,))
    p = perm_matrix(perm_from_pivots(piv, m), a.dtype.name)
    return (_mm(p, gb),)


register("linalg_lu", _lu_fwd, vjp=_lu_vjp, infer=_lu_rule, saves=(), saves_out=True, kind="linalg")


# -- matrix exponential -----------------------------------------------------------------------------------------
# Padé(13, 13) coefficients and the 1-norm below which it is accurate to double precision (Higham 2005, Table 2.3)
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0,
           1.0)
_THETA13 = 5.371920351148152


def _expm_fwd(xp, a):
    dtype = a.dtype
    x = a.astype(xp.float64)  # float32 too: the squarings amplify rounding, so they run in float64
    norm = xp.abs(x).sum(-2).max(-1) if x.shape[-1] else xp.zeros(x.shape[:-2])
    norm = xp.nan_to_num(norm, nan=0.0, posinf=2.0 ** 60 * _THETA13)
    s = xp.clip(xp.ceil(xp.log2(xp.maximum(norm, 1e-300) / _THETA13)), 0, 60).astype(xp.int64)
    x = x / (2.0 ** s)[..., None, None]
    b = _PADE13
    eye = xp.eye(x.shape[-1], dtype=x.dtype)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for i in range(int(s.max()) if s.size else 0):  # undo the scaling: square each matrix its own s times
        r = xp.where((s > i)[..., None, None], r @ r, r)
    return r.astype(dtype)


def _expm_vjp(g, out, a):
    n, nd = a.shape[-1], a.ndim
    at = _mT(a)
    zero = at * at._scalar(0.0)
    block = apply("cat", apply("cat", at, g, axis=nd - 1), apply("cat", zero, at, axis=nd - 1), axis=nd - 2)
    return (_sl(apply("linalg_matrix_exp", block), (0, n), (n, None)),)


def _expm_rule(a):
    _float_matrix("linalg.matrix_exp", a)
    return Aval(a.shape, a.dtype, a.device)


register("linalg_matrix_exp", _expm_fwd, vjp=_expm_vjp, infer=_expm_rule, saves=(0,), kind="linalg")

for _name in ("linalg_lu", "linalg_matrix_exp"):
    unsupported(_name, "onnx", "ONNX has no LU factorisation or matrix exponential op; compute it outside the "
                "exported model, or export with Ember's own saved model (ember.export), which runs it")
_tflite.mark(("linalg_lu", "linalg_matrix_exp"),
             "TFLite has no LU factorisation or matrix exponential op; compute it outside the model")
