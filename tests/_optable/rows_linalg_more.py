"""Op-table rows for the LU family, the matrix exponential, lstsq and the rest of ``torch.linalg`` added beside
``ember/linalg.py`` (``linalg_factor.py``, ``linalg_extra.py``). The NumPy references are written here,
independently of Ember's kernels: an unblocked partial-pivoting LU, a Taylor-series exponential."""

from __future__ import annotations

import math

import numpy as np

from .rows_linalg import WellCond, _spd, _spd_ref
from .spec import F, Row


def _np_lu(a):
    """(LU, 1-based pivots) of one matrix: partial pivoting, the first largest |entry| on ties."""
    lu = np.array(a, dtype=np.float64)
    m, n = lu.shape
    piv = []
    for j in range(min(m, n)):
        p = j + int(np.argmax(np.abs(lu[j:, j])))
        piv.append(p + 1)
        lu[[j, p]] = lu[[p, j]]
        if lu[j, j] != 0:
            lu[j + 1:, j] /= lu[j, j]
        lu[j + 1:, j + 1:] -= np.outer(lu[j + 1:, j], lu[j, j + 1:])
    return lu, np.array(piv, dtype=np.int32)


def _np_lu_batched(a):
    flat = a.reshape((-1,) + a.shape[-2:])
    outs = [_np_lu(x) for x in flat]
    k = min(a.shape[-2:])
    return (np.stack([o[0] for o in outs]).reshape(a.shape),
            np.stack([o[1] for o in outs]).reshape(a.shape[:-2] + (k,)))


def _np_unpack(lu, piv):
    m, n = lu.shape[-2:]
    k = min(m, n)
    perm = np.broadcast_to(np.arange(m), piv.shape[:-1] + (m,)).copy()
    for j in range(k):
        for idx in np.ndindex(*piv.shape[:-1]):
            p = piv[idx + (j,)] - 1
            perm[idx + (j,)], perm[idx + (p,)] = perm[idx + (p,)], perm[idx + (j,)]
    P = np.swapaxes((perm[..., :, None] == np.arange(m)).astype(np.float64), -1, -2)
    L = np.tril(lu[..., :, :k], -1) + np.eye(m, k)
    return P, L, np.triu(lu[..., :k, :])


def _lu(L, x):
    LU, piv = L.linalg.lu_factor(x)
    P, low, up = L.linalg.lu(x)
    ex = L.linalg.lu_factor_ex(x)
    P2, low2, up2 = L.lu_unpack(LU, piv)
    return LU, piv, P, low, up, ex.LU, ex.info, P2 @ low2 @ up2


def _lu_ref(x):
    LU, piv = _np_lu_batched(x)
    P, low, up = _np_unpack(LU, piv)
    return LU, piv, P, low, up, LU, np.zeros(x.shape[:-2], np.int32), x


def _lu_solve(L, A, B):
    LU, piv = L.linalg.lu_factor(A)
    return (L.linalg.lu_solve(LU, piv, B), L.linalg.lu_solve(LU, piv, B, adjoint=True),
            L.linalg.lu_solve(LU, piv, B.mT, left=False), L.lu_solve(B, LU, piv), B.lu_solve(*L.lu(A)))


def _lu_solve_ref(A, B):
    At = np.swapaxes(A, -1, -2)
    x = np.linalg.solve(A, B)
    return x, np.linalg.solve(At, B), np.swapaxes(np.linalg.solve(At, B), -1, -2), x, x


def _np_expm(a):
    """exp(a) by a 30-term Taylor series after scaling the norm under 1/2, then squaring back."""
    norm = np.abs(a).sum(-2).max()
    s = max(0, int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
    x = a / 2 ** s
    term, out = np.broadcast_to(np.eye(a.shape[-1]), a.shape).copy(), np.broadcast_to(np.eye(a.shape[-1]),
                                                                                        a.shape).copy()
    for k in range(1, 30):
        term = term @ x / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def _expm(L, x):
    return L.linalg.matrix_exp(x), L.matrix_exp(3 * x), (x * 0.01).matrix_exp()


def _expm_ref(x):
    return _np_expm(x), _np_expm(3 * x), _np_expm(0.01 * x)


def _lstsq(L, A, B):
    r = L.linalg.lstsq(A, B)
    d = L.linalg.lstsq(A, B, driver="gelsd")
    g = L.linalg.lstsq(A, B, driver="gels")
    return r.solution, r.rank, d.solution, d.residuals, d.rank, g.solution, g.residuals


def _lstsq_ref(A, B):
    X = np.linalg.pinv(A) @ B
    m, n = A.shape[-2:]
    rank = np.full(A.shape[:-2], min(m, n))
    res = ((A @ X - B) ** 2).sum(-2) if m > n else np.zeros(0)
    return X, rank, X, res, rank, X, res


def _cond(L, x):
    return L.linalg.cond(x), L.linalg.cond(x, -2), L.linalg.cond(x[..., :, :-1])


def _cond_ref(x):
    return np.linalg.cond(x), np.linalg.cond(x, -2), np.linalg.cond(x[..., :, :-1])


def _cond_norms(L, x):
    c = L.linalg.cond
    return c(x, "fro"), c(x, 1), c(x, float("inf")), c(x, "nuc"), c(x, -1)


def _cond_norms_ref(x):
    c = np.linalg.cond
    return c(x, "fro"), c(x, 1), c(x, np.inf), c(x, "nuc"), c(x, -1)


def _householder_ref(A, tau):
    m, n = A.shape[-2:]
    out = np.empty(A.shape)
    for idx in np.ndindex(*A.shape[:-2]):
        Q = np.eye(m)
        for i in range(tau.shape[-1]):
            v = np.zeros(m)
            v[i], v[i + 1:] = 1.0, A[idx][i + 1:, i]
            Q = Q @ (np.eye(m) - tau[idx][i] * np.outer(v, v))
        out[idx] = Q[:, :n]
    return out


def _ex(L, A, B, x):
    S = _spd(L, x)
    inv = L.linalg.inv_ex(A)
    sol = L.linalg.solve_ex(A, B)
    ch = L.linalg.cholesky_ex(S)
    return inv.inverse, inv.info, sol.result, sol.info, ch.L, ch.info, L.linalg.cholesky_ex(S, upper=True).L


def _ex_ref(A, B, x):
    S = _spd_ref(x)
    zero = np.zeros(A.shape[:-2], np.int32)
    ch = np.linalg.cholesky(S)
    return np.linalg.inv(A), zero, np.linalg.solve(A, B), zero, ch, zero, np.swapaxes(ch, -1, -2)


def _chol_solves(L, x, B):
    low = L.linalg.cholesky(_spd(L, x))
    ts = L.triangular_solve(B, low.mT)
    return (L.cholesky_solve(B, low), B.cholesky_solve(low.mT, upper=True), L.cholesky_inverse(low),
            low.mT.cholesky_inverse(upper=True), ts.solution, ts.cloned_coefficient,
            B.triangular_solve(low, upper=False, transpose=True).solution,
            L.triangular_solve(B, low, upper=False, unitriangular=True).solution)


def _chol_solves_ref(x, B):
    S = _spd_ref(x)
    low = np.linalg.cholesky(S)
    up = np.swapaxes(low, -1, -2)
    unit = np.tril(low, -1) + np.eye(low.shape[-1])
    return (np.linalg.solve(S, B), np.linalg.solve(S, B), np.linalg.inv(S), np.linalg.inv(S),
            np.linalg.solve(up, B), up, np.linalg.solve(up, B), np.linalg.solve(unit, B))


def _tensor_ops(L, A4, B, x):
    return (L.linalg.tensorinv(A4.reshape(2, 2, 4), ind=2), L.linalg.tensorsolve(A4.reshape(2, 2, 2, 2), B),
            L.linalg.tensorsolve(A4.reshape(2, 2, 2, 2), B, dims=(0,)), L.linalg.vander(x),
            L.linalg.vander(x, N=4), L.linalg.matmul(A4, x[0]))


def _tensor_ops_ref(A4, B, x):
    T = A4.reshape(2, 2, 2, 2)
    Tm = np.moveaxis(T, 0, -1)
    return (np.linalg.tensorinv(A4.reshape(2, 2, 4), ind=2), np.linalg.tensorsolve(T, B),
            np.linalg.tensorsolve(Tm, B), np.vander(x, increasing=True)[None] if x.ndim == 1 else
            np.stack([np.vander(r, increasing=True) for r in x]),
            np.stack([np.vander(r, 4, increasing=True) for r in x]), A4 @ x[0])


def _legacy(L, x, v):
    Q, R = x.qr()
    s = R.diagonal().sign()
    U, S, V = x.svd()
    u = U[:1].sign()
    Qc, Rc = L.qr(x, some=False)
    sc = Rc.diagonal().sign()
    return (Q * s, R * s.unsqueeze(-1), U * u, S, V * u, tuple(x.slogdet()), x.pinverse(), v.ger(v * 2),
            L.ger(v, v), Qc * sc)


def _legacy_ref(x, v):
    Q, R = np.linalg.qr(x)
    s = np.sign(np.diagonal(R))
    U, S, Vh = np.linalg.svd(x, full_matrices=False)
    u = np.sign(U[:1])
    return (Q * s, R * s[:, None], U * u, S, Vh.T * u, tuple(np.linalg.slogdet(x)), np.linalg.pinv(x),
            np.outer(v, 2 * v), np.outer(v, v), Q * s)


ROWS = [
    Row("lu_factor", _lu, _lu_ref, [(WellCond("a", "a"),), (WellCond(2, "a", "a"),), (F(5, 3),), (F(2, 3, 5),)],
        prims=("linalg_lu",), covers=("linalg.lu_factor", "linalg.lu", "linalg.lu_factor_ex", "lu_unpack"),
        rtol=1e-3, atol=1e-4),
    Row("lu_solve", _lu_solve, _lu_solve_ref, [(WellCond("a", "a"), F("a", "b")), (WellCond(2, "a", "a"), F("a", 2))],
        prims=("linalg_lu",), covers=("linalg.lu_solve", "lu_solve", "lu", "Tensor.lu_solve"), rtol=1e-3, atol=1e-4),
    Row("matrix_exp", _expm, _expm_ref, [(F("a", "a"),), (F(2, "a", "a"),), (F(1, 1),)],
        prims=("linalg_matrix_exp",), covers=("linalg.matrix_exp", "matrix_exp", "Tensor.matrix_exp"),
        rtol=1e-3, atol=1e-4),
    Row("lstsq", _lstsq, _lstsq_ref, [(F(5, 3), F(5, 2)), (F(2, 4, 2), F(2, 4, 3)), (F(2, 4), F(2, 3))],
        covers=("linalg.lstsq",), rtol=1e-3, atol=1e-4),
    Row("lstsq_fields", lambda L, A, B: tuple(L.linalg.lstsq(A, B, driver="gelss")) + tuple(L.linalg.lstsq(A, B)),
        lambda A, B: (np.linalg.pinv(A) @ B, np.zeros(0), min(A.shape), np.linalg.svd(A, compute_uv=False),
                      np.linalg.pinv(A) @ B, np.zeros(0), min(A.shape), np.zeros(0)),
        [(F(3, 3), F(3, 2)), (F(2, 4), F(2, 3))], grad=False, covers=(), rtol=1e-3, atol=1e-4),
    Row("cond", _cond, _cond_ref, [(WellCond("a", "a"),), (WellCond(2, "a", "a"),)], covers=("linalg.cond",),
        rtol=1e-3, atol=1e-4),
    # torch's own backward of these fails (it modifies inv_ex's output in place): Ember's checks numerically
    Row("cond_norms", _cond_norms, _cond_norms_ref, [(WellCond("a", "a"),), (WellCond(2, "a", "a"),)], covers=(),
        torch_grad=False, rtol=1e-3, atol=1e-4),
    Row("householder_product", lambda L, A, tau: L.linalg.householder_product(A, tau), _householder_ref,
        [(F(4, 3), F(2)), (F(2, 3, 3), F(2, 3)), (F(5, 2), F(2))], covers=("linalg.householder_product",),
        rtol=1e-3, atol=1e-4),
    Row("linalg_ex", _ex, _ex_ref, [(WellCond("a", "a"), F("a", 2), F("a", "a")),
                                    (WellCond(2, "a", "a"), F(2, "a", 1), F(2, "a", "a"))],
        covers=("linalg.inv_ex", "linalg.solve_ex", "linalg.cholesky_ex"), rtol=1e-3, atol=1e-4),
    Row("cholesky_solve", _chol_solves, _chol_solves_ref, [(F("a", "a"), F("a", 2)), (F(2, "a", "a"), F(2, "a", 3))],
        covers=("cholesky_solve", "cholesky_inverse", "triangular_solve"), rtol=1e-3, atol=1e-4),
    Row("tensorinv_vander", _tensor_ops, _tensor_ops_ref, [(WellCond(4, 4), F(2, 2), F(2, 4))],
        covers=("linalg.tensorinv", "linalg.tensorsolve", "linalg.vander", "linalg.matmul"), rtol=1e-3, atol=1e-4),
    Row("legacy_linalg", _legacy, _legacy_ref, [(WellCond(4, 4), F(4))],
        covers=("Tensor.qr", "Tensor.svd", "Tensor.slogdet", "Tensor.pinverse", "Tensor.ger", "ger", "qr"),
        rtol=1e-3, atol=1e-4),
]
