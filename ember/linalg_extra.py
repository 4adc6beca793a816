"""More of ``torch.linalg``: ``matrix_exp`` (a primitive, ``ember/ops/decomp_lu.py``), and the composites
``lstsq``, ``cond``, ``householder_product``, ``tensorinv``, ``tensorsolve``, ``vander`` and ``matmul``.
Exported through ``ember.linalg`` (and ``ember.matrix_exp``).

>>> import ember
>>> ember.linalg.matrix_exp(ember.zeros(2, 2))
tensor([[1., 0.],
        [0., 1.]])
"""
from __future__ import annotations

import math
from collections import namedtuple

from . import linalg as _L
from .ops import apply

lstsq_result = namedtuple("lstsq_result", ["solution", "residuals", "rank", "singular_values"])
DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def matrix_exp(A):
    """The matrix exponential ``sum_k A^k / k!`` of each square matrix (scaling and squaring with a Padé
    approximant); differentiable to any order.

    >>> ember.matrix_exp(ember.tensor([[0.0, 1.0], [0.0, 0.0]]))
    tensor([[1., 1.],
            [0., 1.]])
    """
    return apply("linalg_matrix_exp", _L._square(A, "matrix_exp"))


def lstsq(A, B, rcond=None, *, driver=None):
    """``(solution, residuals, rank, singular_values)``: the least-squares ``X`` minimising ``|A X - B|`` (the
    minimum-norm one for wide or rank-deficient ``A``). As PyTorch's CPU drivers: ``rank`` for 'gelsy' (the
    default), 'gelsd', 'gelss'; ``singular_values`` for 'gelsd', 'gelss'; ``residuals`` (squared, per column)
    for tall full-rank ``A`` with any driver but 'gelsy'; the other fields are empty. Differentiable through
    the solution (full-rank ``A``: a QR solve).

    >>> A = ember.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> ember.linalg.lstsq(A, ember.tensor([[1.0], [2.0], [3.0]])).solution
    tensor([[1.],
            [2.]])
    """
    _L._float(A, "lstsq")
    driver = "gelsy" if driver is None else driver
    if driver not in DRIVERS:
        raise _L._err(RuntimeError, f"torch.linalg.lstsq: parameter `driver` should be one of {DRIVERS}, got "
                      f"{driver!r}")
    m, n = A.shape[-2:]
    vector = B.ndim == A.ndim - 1
    if vector:
        B = B.unsqueeze(-1)
    if B.ndim < 2 or B.shape[-2] != m:
        raise _L._err(RuntimeError, f"torch.linalg.lstsq: A of shape {tuple(A.shape)} and B of shape "
                      f"{tuple(B.shape) if not vector else tuple(B.shape[:-1])} do not fit: B needs {m} rows")
    A, B = _L._same_float(A, B)
    if rcond is None:
        import numpy as np

        rcond = float(np.finfo(A._data.dtype).eps) * max(m, n)
    rank = _L.matrix_rank(A, rtol=rcond)
    full = bool((rank == min(m, n)).all())
    X = _qr_solve(A, B, m, n) if full or driver == "gels" else _L.pinv(A, rtol=rcond) @ B
    empty = A.reshape(-1)[:0]  # empty, yet connected to A as PyTorch's empty fields are
    residuals = empty
    if m > n and full and driver != "gelsy":
        residuals = ((A @ X - B) ** 2).sum(-2)
        residuals = residuals.squeeze(-1) if vector else residuals
    sv = _L.svdvals(A.detach()) if driver in ("gelsd", "gelss") else empty  # no gradient, as PyTorch's
    rank = rank if driver != "gels" else A.new_zeros(0).long()
    return lstsq_result(X.squeeze(-1) if vector else X, residuals, rank, sv)


def _qr_solve(A, B, m, n):
    if m >= n:  # A = Q R: X = R^-1 Q^T B
        Q, R = _L.qr(A)
        return _L.solve_triangular(R, Q.mT @ B, upper=True)
    Q, R = _L.qr(A.mT)  # A^T = Q R: the minimum-norm X = Q R^-T B
    return Q @ _L.solve_triangular(R.mT, B, upper=False)


def cond(A, p=None):
    """The condition number ``|A|_p |A^-1|_p``: for ``p`` None, 2 or -2 the ratio of extreme singular values (any
    shape); for 'fro', 'nuc', 1, -1, inf, -inf through the inverse (square ``A``; inf when singular).

    >>> ember.linalg.cond(ember.tensor([[2.0, 0.0], [0.0, 0.5]]))
    tensor(4.)
    """
    _L._float(A, "cond")
    if p in (None, 2, -2):
        S = _L.svdvals(A)
        hi, lo = S[..., 0], S[..., -1]
        return hi / lo if p != -2 else lo / hi
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise _L._err(RuntimeError, f"linalg.cond: got an invalid norm type: {p!r} (use None, 2, -2, 'fro', "
                      "'nuc', 1, -1, inf or -inf)")
    _L._square(A, "cond")
    from .functional.math import where
    from .linalg_factor import inv_ex

    inverse, info = inv_ex(A)
    value = _L.matrix_norm(A, p) * _L.matrix_norm(where(info.reshape(*info.shape, 1, 1) > 0, 0.0, inverse), p)
    return where(info > 0, math.inf, value)


def householder_product(A, tau):
    """The first n columns of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T``, where ``v_i`` is column i of
    ``A`` (m, n) below the diagonal with a 1 on it (the Q of a QR stored as LAPACK's geqrf does).

    >>> ember.linalg.householder_product(ember.tensor([[1.0], [1.0]]), ember.tensor([1.0]))
    tensor([[ 0.],
            [-1.]])
    """
    _L._float(A, "householder_product")
    m, n = A.shape[-2:]
    k = tau.shape[-1] if tau.ndim else 0
    if m < n or n < k or tau.ndim != A.ndim - 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise _L._err(RuntimeError, f"linalg.householder_product: A of shape {tuple(A.shape)} and tau of shape "
                      f"{tuple(tau.shape)} do not fit: need A (*, m, n) with m >= n and tau (*, k) with k <= n "
                      "and the same batch dims")
    from .creation import arange, eye
    from .functional.math import where

    A, tau = _L._same_float(A, tau)
    rows = arange(m, device=A.device)
    Q = eye(m, n, dtype=A.dtype, device=A.device).expand(*A.shape)
    for i in reversed(range(k)):  # H_i (H_i+1 ... H_k E): one rank-1 update each
        v = where(rows > i, A[..., :, i], (rows == i).to(A.dtype)).unsqueeze(-1)
        Q = Q - tau[..., i, None, None] * v @ (v.mT @ Q)
    return Q


def tensorinv(A, ind=2):
    """The inverse of ``A`` read as a linear map from its last dims to its first ``ind``: the result's shape is
    ``A.shape[ind:] + A.shape[:ind]`` and ``tensordot(result, A, ind)`` is the identity.

    >>> ember.linalg.tensorinv(ember.eye(4).reshape(4, 2, 2), ind=1).shape
    ember.Size([2, 2, 4])
    """
    if ind <= 0:
        raise _L._err(RuntimeError, f"linalg.tensorinv: expected a strictly positive integer for 'ind', got {ind}")
    left, right = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if math.prod(left) != math.prod(right):
        raise _L._err(RuntimeError, f"linalg.tensorinv: A of shape {tuple(A.shape)} with ind={ind} is not "
                      f"square: prod{left} = {math.prod(left)} != prod{right} = {math.prod(right)}")
    return _L.inv(A.reshape(math.prod(left), -1)).reshape(*right, *left)


def tensorsolve(A, B, dims=None):
    """``X`` with ``tensordot(A, X, X.ndim) = B``: ``X``'s shape is ``A.shape[B.ndim:]`` (after moving ``dims``
    of ``A`` to the end).

    >>> ember.linalg.tensorsolve(2 * ember.eye(6).reshape(2, 3, 6), ember.ones(2, 3)).shape
    ember.Size([6])
    """
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.permute(*[d for d in range(A.ndim) if d not in dims], *dims)
    x_shape = tuple(A.shape[B.ndim:])
    if tuple(A.shape[:B.ndim]) != tuple(B.shape) or math.prod(x_shape) != B.numel():
        raise _L._err(RuntimeError, f"linalg.tensorsolve: A of shape {tuple(A.shape)} and B of shape "
                      f"{tuple(B.shape)} do not fit: A's leading dims must be B's and the rest hold as many "
                      "elements")
    return _L.solve(A.reshape(B.numel(), -1), B.reshape(-1)).reshape(x_shape)


def vander(x, *, N=None):
    """The Vandermonde matrix of the last dim of ``x``: columns ``x^0, x^1, ..., x^(N-1)`` (``N`` defaults to
    ``x.shape[-1]``).

    >>> ember.linalg.vander(ember.tensor([1, 2, 3]))
    tensor([[1, 1, 1],
            [1, 2, 4],
            [1, 3, 9]])
    """
    if x.ndim < 1:
        raise _L._err(RuntimeError, "linalg.vander: x must have at least one dimension")
    N = x.shape[-1] if N is None else N
    if N < 1:
        raise _L._err(RuntimeError, f"linalg.vander: N must be at least 1, got {N}")
    from .functional.shape import stack

    cols = [x * 0 + 1]
    for _ in range(N - 1):  # products, not powers: exact gradients at x = 0
        cols.append(cols[-1] * x)
    return stack(cols, -1)


def matmul(input, other):
    """``ember.matmul`` under ``torch.linalg``'s name.

    >>> ember.linalg.matmul(ember.ones(2, 3), ember.ones(3))
    tensor([3., 3.])
    """
    from .functional.linalg import matmul as mm

    return mm(input, other)
