"""``torch.linalg``'s LU family and the ``*_ex`` forms, plus torch's older top-level names for them.

``lu_factor`` is the ``linalg_lu`` primitive (``ember/ops/decomp_lu.py``: packed LU and LAPACK's 1-based
int32 pivots, differentiable through the LU); everything else here is a composite of it, ``solve``,
``cholesky`` and ``inv``. Exported through ``ember.linalg`` and, for torch's top-level names, ``ember``.

>>> import ember
>>> A = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
>>> LU, pivots = ember.linalg.lu_factor(A)
>>> pivots
tensor([2, 2], dtype=ember.int32)
>>> ember.linalg.lu_solve(LU, pivots, ember.tensor([[5.0], [6.0]]))
tensor([[-4.0000],
        [ 4.5000]])
"""
from __future__ import annotations

from collections import namedtuple

from . import linalg as _L
from .ops import apply
from .ops.decomp_lu import perm_from_pivots, perm_matrix

lu_factor_result = namedtuple("lu_factor_result", ["LU", "pivots"])
lu_factor_ex_result = namedtuple("lu_factor_ex_result", ["LU", "pivots", "info"])
lu_result = namedtuple("lu_result", ["P", "L", "U"])
inv_ex_result = namedtuple("inv_ex_result", ["inverse", "info"])
cholesky_ex_result = namedtuple("cholesky_ex_result", ["L", "info"])
solve_ex_result = namedtuple("solve_ex_result", ["result", "info"])
triangular_solve_result = namedtuple("triangular_solve_result", ["solution", "cloned_coefficient"])


def _eye(A, m, n=None):
    from .creation import eye

    return eye(m, n if n is not None else m, dtype=A.dtype, device=A.device)


def _first_zero(d):
    """1-based index of the first zero along the last dim of ``d`` (int32), 0 where there is none (LAPACK's
    info for a triangular factor's diagonal)."""
    from .creation import arange
    from .functional.math import where

    k = d.shape[-1]
    pos = arange(1, k + 1, device=d.device)
    first = where(d == 0, pos, k + 1).amin(-1) if k else d.new_zeros(d.shape[:-1]).long()
    return where(first == k + 1, 0, first).int()


# -- LU ----------------------------------------------------------------------------------------------------------
def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """``(LU, pivots, info)``: ``lu_factor`` without the singularity check (``info`` > 0 names U's first zero
    diagonal element, 1-based, as LAPACK's getrf).

    >>> ember.linalg.lu_factor_ex(ember.tensor([[1.0, 2.0], [2.0, 4.0]])).info
    tensor(2, dtype=ember.int32)
    """
    _L._float(A, "lu_factor_ex")
    if not pivot:
        raise _L._err(RuntimeError, "linalg.lu_factor: LU without pivoting is not implemented on the CPU (as in "
                      "PyTorch); use pivot=True")
    m, n = A.shape[-2:]
    k = min(m, n)
    packed = apply("linalg_lu", A)
    LU = packed[..., :m, :]
    pivots = packed[..., m, :k].detach().int()
    info = _first_zero(LU.diagonal(0, -2, -1).detach())
    if check_errors:
        _check_info(info, "linalg.lu_factor_ex", "U[{value},{value}] is zero")
    return lu_factor_ex_result(LU, pivots, info)


def _check_info(info, name, what):
    from .creation import arange

    batch = arange(info.numel(), device=info.device).reshape(info.shape)
    where = "(Batch element {value1}): " if info.ndim else ""
    apply("assert_all", info == 0, info, batch, error="LinAlgError", message=f"{name}: {where}{what}")


def lu_factor(A, *, pivot=True):
    """``(LU, pivots)`` with ``A = P L U``: L (unit diagonal, not stored) and U packed in one matrix, and
    LAPACK's 1-based int32 row interchanges. Raises ``LinAlgError`` when U has a zero diagonal element.

    >>> LU, pivots = ember.linalg.lu_factor(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> LU
    tensor([[3.0000, 4.0000],
            [0.3333, 0.6667]])
    """
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    _check_info(info, "linalg.lu_factor", "U[{value},{value}] is zero and using it on lu_solve would result in a "
                "division by zero. If you still want to perform the factorization, consider calling "
                "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")
    return lu_factor_result(LU, pivots)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``(P, L, U)`` from ``lu_factor``'s packed result: P a permutation matrix (m, m), L (m, k) unit lower,
    U (k, n) upper; parts not asked for are empty tensors.

    >>> P, L, U = ember.lu_unpack(*ember.linalg.lu_factor(ember.tensor([[1.0, 2.0], [3.0, 4.0]])))
    >>> P
    tensor([[0., 1.],
            [1., 0.]])
    """
    _L._float(LU_data, "lu_unpack")
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    if tuple(LU_pivots.shape) != tuple(LU_data.shape[:-2]) + (k,) or LU_pivots.dtype.is_floating_point:
        raise _L._err(RuntimeError, f"lu_unpack: LU_pivots must be an int32 tensor of shape "
                      f"{tuple(LU_data.shape[:-2]) + (k,)} for LU_data of shape {tuple(LU_data.shape)}, got "
                      f"{LU_pivots.dtype.name} of shape {tuple(LU_pivots.shape)}")
    empty = LU_data.new_zeros(0)
    P = perm_matrix(perm_from_pivots(LU_pivots, m), LU_data.dtype.name) if unpack_pivots else empty
    if not unpack_data:
        return lu_result(P, empty, empty)
    L = LU_data[..., :, :k].tril(-1) + _eye(LU_data, m, k)
    return lu_result(P, L, LU_data[..., :k, :].triu())


def lu(A, *, pivot=True):
    """``(P, L, U)`` with ``A = P @ L @ U``: the unpacked ``lu_factor`` (no singularity check, as PyTorch).

    >>> P, L, U = ember.linalg.lu(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> P @ L @ U
    tensor([[1., 2.],
            [3., 4.]])
    """
    _L._float(A, "lu")
    LU, pivots, _ = lu_factor_ex(A, pivot=pivot)
    return lu_unpack(LU, pivots)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """``X`` with ``A X = B`` from ``lu_factor(A)`` (``adjoint``: ``A^T X = B``; ``left=False``: ``X A = B``).

    >>> A = ember.tensor([[2.0, 1.0], [1.0, 3.0]])
    >>> ember.linalg.lu_solve(*ember.linalg.lu_factor(A), ember.tensor([[3.0], [4.0]]))
    tensor([[1.],
            [1.]])
    """
    _L._square(LU, "lu_solve")
    n = LU.shape[-1]
    if B.ndim < 2 or B.shape[-2 if left else -1] != n:
        raise _L._err(RuntimeError, f"linalg.lu_solve: LU of shape {tuple(LU.shape)} and B of shape "
                      f"{tuple(B.shape)} do not fit: B needs {n} {'rows' if left else 'columns'}")
    if tuple(pivots.shape) != tuple(LU.shape[:-1]) or pivots.dtype.is_floating_point:
        raise _L._err(RuntimeError, f"linalg.lu_solve: pivots must be an int32 tensor of shape "
                      f"{tuple(LU.shape[:-1])} for LU of shape {tuple(LU.shape)}, got {pivots.dtype.name} "
                      f"{tuple(pivots.shape)}")
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    P = perm_matrix(perm_from_pivots(pivots, n), LU.dtype.name)
    L = LU.tril(-1) + _eye(LU, n)
    U = LU.triu()
    if adjoint:  # A^T = U^T L^T P^T
        return P @ _L.solve(L.mT, _L.solve(U.mT, B))
    return _L.solve(U, _L.solve(L, P.mT @ B))


# -- the *_ex forms: an info code instead of an error --------------------------------------------------------------
def _fill_bad(bad, x, safe):
    """Where ``bad`` (batch), NaN instead of the result computed on a harmless stand-in."""
    from .functional.math import where

    return where(bad.reshape(tuple(bad.shape) + (1,) * (x.ndim - bad.ndim)), float("nan"), x) if safe else x


def inv_ex(A, *, check_errors=False):
    """``(inverse, info)``: ``info`` > 0 for a singular matrix (the first zero diagonal element of its U), whose
    inverse is NaN (PyTorch's holds LAPACK's infs); ``check_errors=True`` raises as ``inv`` does.

    >>> ember.linalg.inv_ex(ember.tensor([[2.0, 0.0], [0.0, 4.0]]))
    inv_ex_result(inverse=tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]]), info=tensor(0, dtype=ember.int32))
    """
    if check_errors:
        out = _L.inv(A)
        return inv_ex_result(out, out.new_zeros(out.shape[:-2]).int())
    info = lu_factor_ex(_L._square(A, "inv_ex").detach()).info
    bad, safe = _stand_in(A, info)
    return inv_ex_result(_fill_bad(bad, _L.inv(safe), safe is not A), info)


def _stand_in(A, info):
    """``A`` with its failing matrices replaced by the identity (so the batched op runs), and the mask."""
    from .functional.math import where

    bad = info > 0
    if not bool(bad.any()):
        return bad, A
    return bad, where(bad.reshape(tuple(bad.shape) + (1, 1)), _eye(A, A.shape[-1]), A)


def solve_ex(A, B, *, left=True, check_errors=False):
    """``(result, info)``: ``solve`` with ``info`` > 0 (and a NaN result) for a singular ``A``.

    >>> ember.linalg.solve_ex(ember.tensor([[2.0, 0.0], [0.0, 4.0]]), ember.tensor([2.0, 2.0])).result
    tensor([1.0000, 0.5000])
    """
    if check_errors:
        out = _L.solve(A, B, left=left)
        return solve_ex_result(out, A.new_zeros(A.shape[:-2]).int())
    info = lu_factor_ex(_L._square(A, "solve_ex").detach()).info
    bad, safe = _stand_in(A, info)
    out = _L.solve(safe, B, left=left)
    if safe is not A:
        vector = out.ndim == A.ndim - 1
        out = _fill_bad(bad, out.unsqueeze(-1) if vector else out, True)
        out = out.squeeze(-1) if vector else out
    return solve_ex_result(out, info)


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)``: ``cholesky`` with ``info`` > 0 (the order of the first leading minor that is not
    positive-definite) and a NaN factor where it fails (PyTorch's holds a partial one).

    >>> ember.linalg.cholesky_ex(ember.tensor([[1.0, 2.0], [2.0, 1.0]])).info
    tensor(2, dtype=ember.int32)
    """
    if check_errors:
        out = _L.cholesky(A, upper=upper)
        return cholesky_ex_result(out, out.new_zeros(out.shape[:-2]).int())
    from . import backend
    from .ops.decomp_lu import cholesky_info
    from .tensor import Tensor

    _L._square(A, "cholesky_ex")  # eager: the info comes from the values (not traceable, unlike lu_factor_ex)
    info = Tensor._wrap(cholesky_info(backend.xp_of(A._data), A._data))
    bad, safe = _stand_in(A, info)
    return cholesky_ex_result(_fill_bad(bad, _L.cholesky(safe, upper=upper), safe is not A), info)


# -- Cholesky-based solves and torch's older top-level names -------------------------------------------------------
def cholesky_solve(B, L, upper=False):
    """``X`` with ``A X = B`` for ``A = L L^T`` (``upper``: ``A = U^T U``) given the Cholesky factor.

    >>> L = ember.tensor([[2.0, 0.0], [1.0, 1.0]])
    >>> ember.cholesky_solve(ember.tensor([[4.0], [3.0]]), L)
    tensor([[0.5000],
            [1.0000]])
    """
    _L._square(L, "cholesky_solve")
    low = L.mT.tril() if upper else L.tril()
    return _L.solve(low.mT, _L.solve(low, B))


def cholesky_inverse(L, upper=False):
    """The inverse of ``A = L L^T`` (``upper``: ``U^T U``) from its Cholesky factor.

    >>> ember.cholesky_inverse(ember.tensor([[2.0, 0.0], [0.0, 1.0]]))
    tensor([[0.2500, 0.0000],
            [0.0000, 1.0000]])
    """
    _L._square(L, "cholesky_inverse")
    low_inv = _L.solve_triangular(L.mT if upper else L, _eye(L, L.shape[-1]).expand(*L.shape), upper=False)
    return low_inv.mT @ low_inv


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """``(solution, cloned_coefficient)``: ``X`` with ``A X = b`` (``A^T X = b`` with ``transpose``) for the
    upper (or lower) triangle of ``A``, and a copy of ``A``. Deprecated in PyTorch for
    ``linalg.solve_triangular``.

    >>> ember.triangular_solve(ember.tensor([[2.0], [2.0]]), ember.tensor([[1.0, 1.0], [0.0, 2.0]])).solution
    tensor([[1.],
            [1.]])
    """
    _L._square(A, "triangular_solve")
    T = A.mT if transpose else A
    X = _L.solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return triangular_solve_result(X, A.clone())


def legacy_lu(A, pivot=True, get_infos=False):
    """``torch.lu``: ``(LU, pivots)`` (and ``infos`` with ``get_infos``), no singularity check.

    >>> LU, pivots = ember.lu(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> pivots
    tensor([2, 2], dtype=ember.int32)
    """
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    return (LU, pivots, info) if get_infos else (LU, pivots)


def legacy_lu_solve(b, LU_data, LU_pivots):
    """``torch.lu_solve``: ``linalg.lu_solve`` with ``b`` first.

    >>> A = ember.tensor([[2.0, 1.0], [1.0, 3.0]])
    >>> ember.lu_solve(ember.tensor([[3.0], [4.0]]), *ember.linalg.lu_factor(A))
    tensor([[1.],
            [1.]])
    """
    return lu_solve(LU_data, LU_pivots, b)
