"""Matrix-function primitives behind ``ember.linalg``: inverse, solve, determinant and the decompositions.

Every primitive has one output, so multi-output factorisations are split: ``linalg_eigh`` gives the
eigenvectors and ``linalg_eigvalsh`` the eigenvalues, ``linalg_svd`` gives U and V stacked along the
row axis ((..., m + n, k)) and ``linalg_svdvals`` the singular values, ``linalg_qr`` gives Q (R is
``triu(Q^T A)``, a composite). Their vjps follow PyTorch's formulas (``FunctionsManual.cpp``) and are
written with Ember ops, so second derivatives work. All operate on the last two axes and batch the rest.
"""
from __future__ import annotations

from ..dtypes import promote
from . import _onnx, _tflite
from ._core import Aval, apply, register, unsupported
from ._rules import broadcast_shapes
from .elementwise import unbroadcast


def _mT(x):
    return apply("permute", x, perm=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _mm(a, b):
    return apply("matmul", a, b)


def _float_matrix(op, a, square=True):
    if a.ndim < 2:
        raise RuntimeError(f"{op}: the input must have at least 2 dimensions (a matrix or a batch of them), "
                           f"got shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices (shape {a.shape})")
    if not a.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point tensor, got {a.dtype.name}; convert it with .float()")


def _same_shape_rule(op):
    def rule(a, **_):
        _float_matrix(op, a)
        return Aval(a.shape, a.dtype, a.device)

    return rule


def _eye_like(x):
    n = x.shape[-1]
    return apply("cast", apply("eq", apply("reshape", _arange(x, n), shape=(n, 1)),
                               apply("reshape", _arange(x, n), shape=(1, n))), dtype=x.dtype.name)


def _arange(x, n):
    from ..tensor import Tensor

    xp = _xp(x)
    return Tensor._wrap(xp.arange(n))


def _xp(x):
    from .. import backend

    return backend.xp_of(x._data)


def _diag_embed(v):
    """(..., n) -> (..., n, n) with ``v`` on the diagonal."""
    return apply("reshape", v, shape=tuple(v.shape) + (1,)) * _eye_like(v)


def _diagonal(m):
    return apply("sum", m * _eye_like(m), axis=(m.ndim - 1,), keepdims=False)


def _tril(x, k=0):
    n, m = x.shape[-2:]
    rows = apply("reshape", _arange(x, n), shape=(n, 1))
    cols = apply("reshape", _arange(x, m), shape=(1, m))
    keep = apply("le", apply("sub", cols, rows), rows._scalar(k))
    return apply("where", keep, x, x._scalar(0.0))


def _triu(x):
    return x - _tril(x, -1)


# -- inverse, solve, determinant ------------------------------------------------------------------------------
def _inv_vjp(g, out, a):
    inv_t = _mT(out)
    return (-_mm(_mm(inv_t, g), inv_t),)


def _singular(name, a, what):
    """NumPy's bare 'Singular matrix' as PyTorch's LinAlgError, naming the op, the failing batch element (found
    by an LU of the input: a zero pivot) and the way out."""
    from .decomp_lu import batch_failure, lu_kernel

    info = lu_kernel(_xp_array(a), a)[2]
    hint = (f" (input of shape {tuple(a.shape)}) Use linalg.pinv for a least-squares answer, or add a small "
            "multiple of the identity (A + eps * I).")
    return batch_failure(name, "singular", lambda j: what(j) + hint, info)


def _xp_array(a):
    from .. import backend

    return backend.xp_of(a)


def _inv_fwd(xp, a):
    try:
        return xp.linalg.inv(a)
    except xp.linalg.LinAlgError:
        raise _singular("linalg.inv", a, lambda j: (f"The diagonal element {j} is zero, the" if j else "The")
                        + " inversion could not be completed because the input matrix is singular.") from None


register("linalg_inv", _inv_fwd, vjp=_inv_vjp, infer=_same_shape_rule("linalg.inv"),
         saves=(), saves_out=True, kind="linalg")


def _solve_rule(a, b):
    _float_matrix("linalg.solve", a)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise RuntimeError(f"linalg.solve: incompatible shapes of A {a.shape} and B {b.shape}: B must be "
                           f"(..., {a.shape[-1]}, k) (a vector B is handled by ember.linalg.solve)")
    batch = broadcast_shapes("linalg.solve", a.shape[:-2], b.shape[:-2])
    return Aval(batch + b.shape[-2:], promote(a.dtype, b.dtype), a.device)


def _solve_fwd(xp, a, b):
    if a.shape[:-2] != b.shape[:-2]:  # NumPy's solve broadcasts batch dims only in newer versions
        batch = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a, b = xp.broadcast_to(a, batch + a.shape[-2:]), xp.broadcast_to(b, batch + b.shape[-2:])
    try:
        return xp.linalg.solve(a, b)
    except xp.linalg.LinAlgError:
        raise _singular("linalg.solve", a, lambda j: "The solver failed because the input matrix is singular.") \
            from None


def _solve_vjp(g, out, a, b):
    gb = apply("linalg_solve", _mT(a), g)
    ga = -_mm(gb, _mT(out)) if a.requires_grad else None
    return (unbroadcast(ga, a.shape) if ga is not None else None,
            unbroadcast(gb, b.shape) if b.requires_grad else None)


register("linalg_solve", _solve_fwd, vjp=_solve_vjp, infer=_solve_rule, saves=(0,), saves_out=True,
         kind="linalg")


def _det_rule(a):
    _float_matrix("linalg.det", a)
    return Aval(a.shape[:-2], a.dtype, a.device)


def _det_vjp(g, out, a):
    # d det(A) = det(A) tr(A^-1 dA): finite for invertible A (PyTorch falls back to an SVD form otherwise)
    scale = apply("reshape", g * out, shape=tuple(out.shape) + (1, 1))
    return (scale * _mT(apply("linalg_inv", a)),)


register("linalg_det", lambda xp, a: xp.asarray(xp.linalg.det(a), dtype=a.dtype), vjp=_det_vjp,
         infer=_det_rule, saves=(0,), saves_out=True, kind="linalg")


# -- Cholesky -------------------------------------------------------------------------------------------------
def _cholesky_vjp(g, out, a):
    # Murray (2016), as in PyTorch: gA = sym(L^-T Phi(L^T gL) L^-1), Phi = lower triangle with half diagonal
    phi = _tril(_mm(_mT(out), g))
    phi = phi - _diag_embed(_diagonal(phi)) * 0.5
    l_inv = apply("linalg_inv", out)
    ga = _mm(_mm(_mT(l_inv), phi), l_inv)
    return ((ga + _mT(ga)) * 0.5,)


def _cholesky_fwd(xp, a):
    try:
        return xp.linalg.cholesky(a)
    except xp.linalg.LinAlgError:
        from .decomp_lu import batch_failure, cholesky_info

        raise batch_failure("linalg.cholesky", "not positive-definite", lambda j: (
            "The factorization could not be completed because the input is not positive-definite"
            + (f" (the leading minor of order {j} is not positive-definite)" if j else "")
            + ". Check that it is symmetric with positive eigenvalues, or add a small multiple of the identity "
            "(A + eps * I)."), cholesky_info(xp, a)) from None


register("linalg_cholesky", _cholesky_fwd, vjp=_cholesky_vjp, infer=_same_shape_rule("linalg.cholesky"),
         saves=(), saves_out=True, kind="linalg")


# -- symmetric eigendecomposition ------------------------------------------------------------------------------
def _eigvalsh_rule(a):
    _float_matrix("linalg.eigvalsh", a)
    return Aval(a.shape[:-1], a.dtype, a.device)


def _eigvalsh_vjp(g, out, a):
    v = apply("linalg_eigh", a)
    return (_mm(v * apply("reshape", g, shape=tuple(g.shape[:-1]) + (1, g.shape[-1])), _mT(v)),)


def _eigh_vjp(g, out, a):
    # PyTorch: gA = V (skew(V^T gV) / 2 / E) V^T, E_ij = L_j - L_i (off the diagonal)
    lam = apply("linalg_eigvalsh", a)
    n = lam.shape[-1]
    e = apply("reshape", lam, shape=tuple(lam.shape[:-1]) + (1, n)) - \
        apply("reshape", lam, shape=tuple(lam.shape[:-1]) + (n, 1))
    eye = _eye_like(out)
    vg = _mm(_mT(out), g)
    inner = (vg - _mT(vg)) * 0.5 / (e + eye) * (1 - eye)
    return (_mm(_mm(out, inner), _mT(out)),)


register("linalg_eigvalsh", lambda xp, a: xp.linalg.eigvalsh(a), vjp=_eigvalsh_vjp, infer=_eigvalsh_rule,
         saves=(0,), kind="linalg")
register("linalg_eigh", lambda xp, a: xp.linalg.eigh(a)[1], vjp=_eigh_vjp, infer=_same_shape_rule("linalg.eigh"),
         saves=(0,), saves_out=True, kind="linalg")


# -- singular value decomposition (reduced) --------------------------------------------------------------------
def _svdvals_rule(a):
    _float_matrix("linalg.svdvals", a, square=False)
    return Aval(a.shape[:-2] + (min(a.shape[-2:]),), a.dtype, a.device)


def _svd_rule(a):
    _float_matrix("linalg.svd", a, square=False)
    m, n = a.shape[-2:]
    return Aval(a.shape[:-2] + (m + n, min(m, n)), a.dtype, a.device)


def _svd_fwd(xp, a):
    u, _, vh = xp.linalg.svd(a, full_matrices=False)
    return xp.concatenate([u, xp.swapaxes(vh, -1, -2)], axis=-2)


def _split_uv(packed, m):
    u = apply("getitem", packed, index=(("ellipsis",), ("slice", None, m, None), ("slice", None, None, None)))
    v = apply("getitem", packed, index=(("ellipsis",), ("slice", m, None, None), ("slice", None, None, None)))
    return u, v


def _svdvals_vjp(g, out, a):
    u, v = _split_uv(apply("linalg_svd", a), a.shape[-2])
    return (_mm(u * apply("reshape", g, shape=tuple(g.shape[:-1]) + (1, g.shape[-1])), _mT(v)),)


def _svd_vjp(g, out, a):
    m, n = a.shape[-2:]
    u, v = _split_uv(out, m)
    gu, gv = _split_uv(g, m)
    s = apply("linalg_svdvals", a)
    k = s.shape[-1]
    s_row = apply("reshape", s, shape=tuple(s.shape[:-1]) + (1, k))  # S_k along columns
    s_col = apply("reshape", s, shape=tuple(s.shape[:-1]) + (k, 1))  # S_j along rows
    eye = _eye_like(s_col * s_row)
    e = s_row * s_row - s_col * s_col + eye
    uhgu, vhgv = _mm(_mT(u), gu), _mm(_mT(v), gv)
    inner = ((uhgu - _mT(uhgu)) * s_row + s_col * (vhgv - _mT(vhgv))) / e * (1 - eye)
    ga = _mm(_mm(u, inner), _mT(v))
    if m > k:  # the part of gU outside U's column space
        gu_s = gu / s_row
        ga = ga + _mm(gu_s - _mm(u, _mm(_mT(u), gu_s)), _mT(v))
    if n > k:
        gv_s = gv / s_row
        ga = ga + _mm(u, _mT(gv_s - _mm(v, _mm(_mT(v), gv_s))))
    return (ga,)


register("linalg_svdvals", lambda xp, a: xp.linalg.svd(a, compute_uv=False), vjp=_svdvals_vjp,
         infer=_svdvals_rule, saves=(0,), kind="linalg")
register("linalg_svd", _svd_fwd, vjp=_svd_vjp, infer=_svd_rule, saves=(0,), saves_out=True, kind="linalg")


# -- QR (reduced) ----------------------------------------------------------------------------------------------
def _qr_rule(a):
    _float_matrix("linalg.qr", a, square=False)
    return Aval(a.shape[:-1] + (min(a.shape[-2:]),), a.dtype, a.device)


def _qr_vjp(g, out, a):
    # PyTorch's m >= n formula with gR = 0: gA = (gQ + Q copyltu(triu(-Q^T gQ))) R^-T, R = triu(Q^T A)
    m, n = a.shape[-2:]
    if m < n:
        raise NotImplementedError(f"linalg.qr: the gradient for wide matrices ({m} x {n}, fewer rows than "
                                  "columns) is not implemented; QR a.mT instead or use linalg.svd")
    r = _triu(_mm(_mT(out), a))
    mtx = _triu(-_mm(_mT(out), g))
    sym = mtx + _mT(mtx) - _diag_embed(_diagonal(mtx))
    return (_mm(g + _mm(out, sym), _mT(apply("linalg_inv", r))),)


register("linalg_qr", lambda xp, a: xp.linalg.qr(a, mode="reduced")[0], vjp=_qr_vjp, infer=_qr_rule,
         saves=(0,), saves_out=True, kind="linalg")


# ONNX has Det but no inverse, solve or matrix factorisation; the others say so
for _name in ("linalg_inv", "linalg_solve", "linalg_cholesky", "linalg_eigvalsh", "linalg_eigh", "linalg_svdvals",
              "linalg_svd", "linalg_qr"):
    unsupported(_name, "onnx", "ONNX has no matrix inverse, solve or factorisation op; compute it outside the "
                "exported model, or export with Ember's own saved model (ember.export), which runs it")
_onnx.simple("linalg_det", "Det")


_tflite.mark(("linalg_inv", "linalg_solve", "linalg_det", "linalg_cholesky", "linalg_eigvalsh", "linalg_eigh",
              "linalg_svdvals", "linalg_svd", "linalg_qr"),
             "TFLite has no matrix inverse, solve, determinant or factorisation op; compute it outside the model")
