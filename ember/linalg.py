"""``torch.linalg``: norms, inverse, solve, determinant and the decompositions, all differentiable.

The matrix functions are primitives (``ember/ops/decomp.py``) whose vjps follow PyTorch's; everything else
here is a composite. Functions act on the last two dims and batch over the rest, like PyTorch's.

>>> import ember
>>> A = ember.tensor([[4.0, 1.0], [1.0, 3.0]])
>>> ember.linalg.solve(A, ember.tensor([1.0, 2.0]))
tensor([0.0909, 0.6364])
>>> ember.linalg.eigh(A).eigenvalues
tensor([2.3820, 4.6180])
"""
from __future__ import annotations

import math
from collections import namedtuple

from .errors import LinAlgError, mark, with_user_line
from .ops import apply
from .tensor import Tensor

__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "solve", "solve_triangular", "det", "slogdet", "svd",
           "svdvals", "qr", "eigh", "eigvalsh", "cholesky", "pinv", "matrix_power", "matrix_rank", "multi_dot",
           "cross", "vecdot", "diagonal", "eig", "eigvals", "lu", "lu_factor", "lu_factor_ex", "lu_solve",
           "matrix_exp", "lstsq", "cond", "householder_product", "inv_ex", "cholesky_ex", "solve_ex", "tensorinv",
           "tensorsolve", "vander", "matmul", "LinAlgError"]

svd_result = namedtuple("svd_result", ["U", "S", "Vh"])
qr_result = namedtuple("qr_result", ["Q", "R"])
eigh_result = namedtuple("eigh_result", ["eigenvalues", "eigenvectors"])
slogdet_result = namedtuple("slogdet_result", ["sign", "logabsdet"])


def _err(kind, msg, depth=3):
    return mark(with_user_line(kind(msg), depth))


def _float(A, name):
    if not isinstance(A, Tensor):
        raise _err(TypeError, f"linalg.{name}: expected a tensor, got {type(A).__name__}", 4)
    if A._data.dtype.kind != "f":
        raise _err(TypeError, f"linalg.{name}: expected a floating-point tensor, got {A.dtype.name}; convert it "
                   "with .float() (or .double())", 4)
    if A.ndim < 2:
        raise _err(RuntimeError, f"linalg.{name}: A must have at least 2 dimensions (a matrix or a batch of "
                   f"matrices), got shape {tuple(A.shape)}", 4)
    return A


def _square(A, name):
    _float(A, name)
    if A.shape[-1] != A.shape[-2]:
        raise _err(RuntimeError, f"linalg.{name}: A must be batches of square matrices, but they are "
                   f"{A.shape[-2]} by {A.shape[-1]} matrices (shape {tuple(A.shape)}); for a non-square A use "
                   "linalg.pinv (least squares) or linalg.svd", 4)
    return A


# -- inverse, solve, determinant ---------------------------------------------------------------------------
def inv(A):
    """The inverse of each square matrix in ``A``."""
    return apply("linalg_inv", _square(A, "inv"))


def solve(A, B, *, left=True):
    """``X`` with ``A @ X = B`` (``left=False``: ``X @ A = B``). ``B`` may be a vector or a batch of them."""
    _square(A, "solve")
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if B.shape[-1 if vector else -2] != A.shape[-1]:
        raise _err(RuntimeError, f"linalg.solve: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do "
                   f"not fit: B needs {A.shape[-1]} rows (B's shape (..., {A.shape[-1]}, k), or (..., "
                   f"{A.shape[-1]}) for vectors)" + ("; its columns fit: pass B.mT" if B.ndim >= 2 and
                                                      B.shape[-1] == A.shape[-1] else
                                                      "; check that B holds one row per equation of A"))
    A, B = _same_float(A, B)
    if vector:
        return apply("linalg_solve", A, B.unsqueeze(-1)).squeeze(-1)
    return apply("linalg_solve", A, B)


def _same_float(A, B):
    if A.dtype is not B.dtype:
        from .dtypes import promote

        dt = promote(A.dtype, B.dtype)
        A, B = A.to(dt), B.to(dt)
    return A, B


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """Solve with the upper or lower triangle of ``A`` (the rest of ``A`` is ignored)."""
    _square(A, "solve_triangular")
    T = A.triu() if upper else A.tril()
    if unitriangular:
        from .creation import eye

        eye_n = eye(A.shape[-1], dtype=A.dtype, device=A.device)
        T = T * (1 - eye_n) + eye_n
    return solve(T, B, left=left)


def det(A):
    """The determinant of each square matrix in ``A``."""
    return apply("linalg_det", _square(A, "det"))


def slogdet(A):
    """``(sign, log|det A|)``; the log comes from QR's diagonal, so it does not overflow like ``det`` can."""
    _square(A, "slogdet")
    Q, R = qr(A)
    logabsdet = R.diagonal(0, -2, -1).abs().log().sum(-1)
    return slogdet_result(det(A).sign(), logabsdet)


# -- decompositions ------------------------------------------------------------------------------------------
def cholesky(A, *, upper=False):
    """The lower (``upper=True``: upper) Cholesky factor of each symmetric positive-definite matrix."""
    L = apply("linalg_cholesky", _square(A, "cholesky"))
    return L.mT if upper else L


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, reading the ``UPLO``
    triangle. Eigenvectors are unique up to sign; gradients assume distinct eigenvalues, as PyTorch's do."""
    A = _uplo(_square(A, "eigh"), UPLO, "eigh")
    return eigh_result(apply("linalg_eigvalsh", A), apply("linalg_eigh", A))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of symmetric matrices, reading the ``UPLO`` triangle."""
    return apply("linalg_eigvalsh", _uplo(_square(A, "eigvalsh"), UPLO, "eigvalsh"))


def _uplo(A, UPLO, name):
    if UPLO not in ("L", "U"):
        raise _err(ValueError, f"linalg.{name}: UPLO must be 'L' or 'U', got {UPLO!r}", 4)
    return A if UPLO == "L" else A.mT  # the upper triangle of A is the lower one of A^T


def eig(A):
    raise _err(NotImplementedError, "linalg.eig: general (complex) eigendecompositions are not supported; for "
               "symmetric matrices use linalg.eigh, for singular values linalg.svd")


eigvals = eig


def svdvals(A):
    """The singular values of each matrix, in descending order."""
    return apply("linalg_svdvals", _float(A, "svdvals"))


def svd(A, full_matrices=True):
    """``U, S, Vh`` with ``A = U @ diag(S) @ Vh``. With ``full_matrices`` (the default, as in PyTorch) U and Vh
    are square; the columns beyond min(m, n) carry no gradient (PyTorch ignores them too)."""
    _float(A, "svd")
    m, n = A.shape[-2:]
    packed = apply("linalg_svd", A)
    U, V = packed[..., :m, :], packed[..., m:, :]
    if full_matrices and m != n:
        U, V = _complete(A, U, V, m, n)
    return svd_result(U, svdvals(A), V.mT)


def _complete(A, U, V, m, n):
    """Square U and V: the reduced factors plus an orthonormal basis of the rest (constants)."""
    from . import backend

    xp = backend.xp_of(A._data)
    u_full, _, vh_full = xp.linalg.svd(A._data, full_matrices=True)
    k = min(m, n)
    if m > k:
        U = _cat(U, Tensor._wrap(xp.ascontiguousarray(u_full[..., k:])))
    if n > k:
        V = _cat(V, Tensor._wrap(xp.ascontiguousarray(xp.swapaxes(vh_full, -1, -2)[..., k:])))
    return U, V


def _cat(a, b):
    from .functional.shape import cat

    return cat([a, b], -1)


def qr(A, mode="reduced"):
    """``Q, R`` with ``A = Q @ R``, Q with orthonormal columns and R upper triangular. ``mode``: 'reduced',
    'complete' (square Q; extra columns without gradient) or 'r' (Q is empty)."""
    _float(A, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise _err(ValueError, f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    Q = apply("linalg_qr", A)
    R = (Q.mT @ A).triu()
    m, n = A.shape[-2:]
    if mode == "complete" and m > n:
        from . import backend

        xp = backend.xp_of(A._data)
        q_full = xp.linalg.qr(A._data, mode="complete")[0]
        Q = _cat(Q, Tensor._wrap(xp.ascontiguousarray(q_full[..., n:])))
        R = _cat(R.mT, R.new_zeros(*R.shape[:-2], n, m - n)).mT
    if mode == "r":
        return qr_result(A.new_zeros(0), R)
    return qr_result(Q, R)


# -- norms ---------------------------------------------------------------------------------------------------
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ``ord``-norm of ``x`` flattened (``dim=None``) or over ``dim``: 2, 1, inf, -inf, 0 or any real."""
    from .functional.reduce import norm as _norm

    if x._data.dtype.kind not in "fc" and dtype is None:
        raise _err(RuntimeError, f"linalg.vector_norm: expected a floating-point input, got {x.dtype.name}; "
                   "pass dtype=ember.float32 or convert with .float()")
    if isinstance(ord, str):
        raise _err(ValueError, f"linalg.vector_norm: ord must be a number, got {ord!r} ('fro' and 'nuc' are "
                   "matrix norms: use linalg.matrix_norm)")
    if dim is None and not keepdim:
        x = x.reshape(-1)
    return _norm(x, ord, dim, keepdim, dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Matrix norms over ``dim``: 'fro', 'nuc', 2, -2 (largest/smallest singular value), 1, -1, inf, -inf."""
    if dtype is not None:
        A = A.to(dtype)
    _float(A, "matrix_norm")
    d0, d1 = (d % A.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        return out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1)) if keepdim else out
    sums = {1: (d0, d1, "amax"), -1: (d0, d1, "amin"), math.inf: (d1, d0, "amax"), -math.inf: (d1, d0, "amin")}
    if ord not in sums:
        raise _err(ValueError, f"linalg.matrix_norm: ord must be 'fro', 'nuc', 2, -2, 1, -1, inf or -inf, got "
                   f"{ord!r}")
    summed, reduced, pick = sums[ord]
    s = A.abs().sum(summed, keepdim=True)
    out = getattr(s, pick)(reduced, keepdim=True)
    return out if keepdim else out.squeeze((d0, d1))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``vector_norm`` or ``matrix_norm`` chosen as PyTorch does: a matrix norm when ``dim`` is a pair or
    (with ``dim=None`` and an ``ord`` given) ``A`` is 2-D; the 2-norm of everything when both are None."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim, keepdim,
                           dtype=dtype)
    if dim is None and ord is not None and A.ndim != 1:
        raise _err(RuntimeError, f"linalg.norm: an ord ({ord!r}) with dim=None needs a 1-D or 2-D input, got "
                   f"shape {tuple(A.shape)}; pass dim")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


# -- the rest --------------------------------------------------------------------------------------------------
def pinv(A, *, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse through the SVD; singular values below ``rtol * max(S)`` count as 0."""
    U, S, Vh = svd(A, full_matrices=False)
    if rtol is None:
        import numpy as np

        rtol = max(A.shape[-2:]) * float(np.finfo(A._data.dtype).eps)
    from .functional.math import where

    keep = S > rtol * S.amax(-1, keepdim=True).detach()
    s_inv = where(keep, 1 / where(keep, S, S.new_ones(())), S.new_zeros(()))
    return (Vh.mT * s_inv.unsqueeze(-2)) @ U.mT


def matrix_rank(A, *, rtol=None, hermitian=False):
    """The number of singular values above ``rtol * max(S)`` (not differentiable)."""
    import numpy as np

    S = svdvals(A.detach())
    if rtol is None:
        rtol = max(A.shape[-2:]) * float(np.finfo(A._data.dtype).eps)
    return (S > rtol * S.amax(-1, keepdim=True)).sum(-1)


def matrix_power(A, n):
    """``A`` multiplied by itself ``n`` times (``n < 0``: of the inverse; ``n = 0``: the identity)."""
    from .functional.linalg_more import matrix_power as power

    return power(_square(A, "matrix_power"), n)


def multi_dot(tensors):
    """The product of a list of matrices (the first may be a vector, as may the last)."""
    if len(tensors) < 2:
        raise _err(RuntimeError, f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    return out


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim``."""
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise _err(RuntimeError, f"linalg.cross: inputs dimension {dim} must have length 3, got shapes "
                   f"{tuple(input.shape)} and {tuple(other.shape)}")
    from .functional.linalg_more import cross as cross_product

    return cross_product(input, other, dim)


def vecdot(x, y, *, dim=-1):
    """The dot product of vectors along ``dim``."""
    return (x * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


# -- torch's top-level names for these (ember.svd, ember.pinverse, ...), with their older signatures ----------
def legacy_svd(input, some=True, compute_uv=True):
    """``torch.svd``: ``U, S, V`` (V, not Vh) with ``input = U @ diag(S) @ V.mT``; ``some=False`` gives square
    U and V, ``compute_uv=False`` zero U and V."""
    U, S, Vh = svd(input, full_matrices=not some)
    if not compute_uv:
        return svd_result(U.detach() * 0, S, Vh.mT.detach() * 0)
    return svd_result(U, S, Vh.mT)


def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: ``pinv`` with singular values below ``rcond * max(S)`` taken as 0."""
    return pinv(input, rtol=rcond)


def legacy_qr(input, some=True):
    """``torch.qr``: ``linalg.qr`` with ``some=False`` for the complete Q."""
    return qr(input, "reduced" if some else "complete")


def legacy_cholesky(input, upper=False):
    """``torch.cholesky``: as ``linalg.cholesky``, with ``upper`` positional."""
    return cholesky(input, upper=upper)


# the LU family, the *_ex forms and the rest of torch.linalg live beside this file (kept under its line budget)
from .linalg_extra import cond, householder_product, lstsq, matmul, matrix_exp, tensorinv, tensorsolve, vander  # noqa: E402

# (cholesky_inverse, cholesky_solve, triangular_solve, legacy_*: torch's top-level names and Tensor methods,
# which ember/__init__.py and _tensor_extra.py reach through here)
from .linalg_factor import (  # noqa: E402,F401
    cholesky_ex,
    cholesky_inverse,
    cholesky_solve,
    inv_ex,
    legacy_lu,
    legacy_lu_solve,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    solve_ex,
    triangular_solve,
)

_ = LinAlgError  # exported: ember.linalg.LinAlgError
