"""Op-table rows: inverse trigonometric / hyperbolic math, fused multiply-adds, ``select``/``unfold``, and
``ember.linalg`` (inverse, solve, determinant, the decompositions, norms). Decomposition outputs that are
unique only up to sign (eigenvectors, singular vectors, QR) are sign-normalised by the rows themselves, the
same way for Ember, PyTorch and the NumPy reference."""

from __future__ import annotations

import numpy as np

from .spec import NZ, F, Fn, I, Lit, Row, Spec


class WellCond(Spec):
    """Square (batched) matrices uniform in [-1, 1) plus 3 I: invertible and well conditioned."""

    def make(self, rng, sizes):
        shape = self.resolve(rng, sizes)
        return rng.uniform(-1, 1, shape) + 3 * np.eye(shape[-1])


def _unary_rows(name, lo, hi):
    return Row(name, lambda L, x: (getattr(x, name)(), getattr(L, name)(x)),
               lambda x: (getattr(np, "arc" + name[1:] if name[0] == "a" else name)(x),) * 2,
               [(F("a", "b", lo=lo, hi=hi),), (F(lo=lo, hi=hi),), (F(0, "a", lo=lo, hi=hi),)],
               prims=(name,), covers=(name, "arc" + name[1:]) if name[0] == "a" else (name,))


def _sign_cols(L, M, ref):
    """Multiply each column of M by the sign of ``ref``'s first row (the same column)."""
    s = ref[..., :1, :].sign() if L is not None else np.sign(ref[..., :1, :])
    return M * s


def _eigh(L, x):
    A = x + x.mT
    w, V = L.linalg.eigh(A)
    return w, _sign_cols(L, V, V), L.linalg.eigvalsh(A), L.linalg.eigh(A, UPLO="U").eigenvalues


def _eigh_ref(x):
    A = x + np.swapaxes(x, -1, -2)
    w, V = np.linalg.eigh(A)
    return w, _sign_cols(None, V, V), w, w


def _svd(L, x):
    U, S, Vh = L.linalg.svd(x, full_matrices=False)
    s = U[..., :1, :].sign()
    return U * s, S, Vh * s.mT, L.linalg.svdvals(x)


def _svd_ref(x):
    U, S, Vh = np.linalg.svd(x, full_matrices=False)
    s = np.sign(U[..., :1, :])
    return U * s, S, Vh * np.swapaxes(s, -1, -2), S


def _qr(L, x):
    Q, R = L.linalg.qr(x)
    s = R.diagonal(0, -2, -1).sign()
    return Q * s.unsqueeze(-2), R * s.unsqueeze(-1)


def _qr_ref(x):
    Q, R = np.linalg.qr(x)
    s = np.sign(np.diagonal(R, 0, -2, -1))
    return Q * s[..., None, :], R * s[..., :, None]


def _spd(L, x):
    return x @ x.mT + 0.5 * L.eye(x.shape[-1], dtype=x.dtype)


def _spd_ref(x):
    return x @ np.swapaxes(x, -1, -2) + 0.5 * np.eye(x.shape[-1])


def _matrix_norms(L, x):
    n = L.linalg.matrix_norm
    return (n(x), n(x, "nuc"), n(x, 2), n(x, -2), n(x, 1), n(x, -1), n(x, float("inf")), n(x, -float("inf")),
            n(x, 1, keepdim=True), L.linalg.norm(x), L.linalg.norm(x, "fro", dim=(0, 1)))


def _matrix_norms_ref(x):
    n = np.linalg.norm
    return (n(x), n(x, "nuc"), n(x, 2), n(x, -2), n(x, 1), n(x, -1), n(x, np.inf), n(x, -np.inf),
            n(x, 1, keepdims=True), n(x), n(x))


def _vector_norms(L, x):
    v = L.linalg.vector_norm
    return v(x), v(x, 1, dim=1), v(x, float("inf"), dim=-1, keepdim=True), v(x, 3.5, dim=(0, 1)), \
        L.linalg.norm(x, dim=1), L.linalg.norm(x[0], 1)


def _vector_norms_ref(x):
    a = np.abs(x)
    return np.sqrt((x * x).sum()), a.sum(1), a.max(-1, keepdims=True), (a ** 3.5).sum((0, 1)) ** (1 / 3.5), \
        np.sqrt((x * x).sum(1)), a[0].sum()


def _fused(L, c, a, b, v, bc, b1, b2):
    return (L.addmm(c, a, b), c.addmm(a, b, beta=0.5, alpha=2.0), L.addmv(c[:, 0], a, v),
            L.baddbmm(bc, b1, b2, alpha=0.5))


def _fused_ref(c, a, b, v, bc, b1, b2):
    return c + a @ b, 0.5 * c + 2 * (a @ b), c[:, 0] + a @ v, bc + 0.5 * (b1 @ b2)


def _index_add(L, x, src, idx):
    y = x * 1  # a non-leaf, so in-place is allowed
    y.index_add_(0, idx, src, alpha=2.0)
    return y, x.mT.index_add(1, idx, src.mT)


def _index_add_ref(x, src, idx):
    y = x.copy()
    np.add.at(y, idx, 2.0 * src)
    z = x.T.copy()
    np.add.at(z, (slice(None), idx), src.T)
    return y, z


def _unfold_ref(x):
    n = x.shape[1]
    starts = range(0, n - 2 + 1, 1)
    return np.stack([x[:, s:s + 2] for s in starts], 1), np.stack([x[s][:, None] for s in range(0, x.shape[0], 2)], 0)


def _cross_ref(a, b):
    return np.cross(a, b, axis=-1), (a * b).sum(-1)


ROWS = [
    _unary_rows("asin", -0.9, 0.9),
    _unary_rows("acos", -0.9, 0.9),
    _unary_rows("atan", -3.0, 3.0),
    _unary_rows("sinh", -3.0, 3.0),
    _unary_rows("cosh", -3.0, 3.0),
    _unary_rows("asinh", -3.0, 3.0),
    _unary_rows("acosh", 1.2, 3.0),
    _unary_rows("atanh", -0.9, 0.9),
    Row("atan2", lambda L, a, b: (L.atan2(a, b), a.arctan2(b), L.arctan2(a, b * 0 + 1.5)),
        lambda a, b: (np.arctan2(a, b),) * 2 + (np.arctan2(a, b * 0 + 1.5),),
        [(NZ("a", "b"), NZ("a", "b")), (NZ(2, 1, "b"), NZ("a", 1)), (NZ(), NZ("a"))], prims=("atan2",),
        covers=("atan2", "arctan2")),
    Row("addmm", _fused, _fused_ref,
        [(F("a", "c"), F("a", "b"), F("b", "c"), F("b"), F(2, "a", "c"), F(2, "a", "b"), F(2, "b", "c"))],
        prims=("matmul",), covers=("addmm", "addmv", "baddbmm")),
    Row("addmm_beta0", lambda L, c, a, b: L.addmm(c, a, b, beta=0), lambda c, a, b: a @ b,
        [(F("a", "c"), F("a", "b"), F("b", "c"))], covers=()),
    Row("diag", lambda L, v, m: (L.diag(v), L.diag(v, 1), L.diag(m), L.diag_embed(v), L.diag_embed(m)),
        lambda v, m: (np.diag(v), np.diag(v, 1), np.diag(m), np.diag(v), m[..., None] * np.eye(m.shape[-1])),
        [(F("a"), F("a", "b"))], covers=("diag", "diag_embed")),
    Row("select", lambda L, x: (L.select(x, 1, 0), x.select(-1, -1), x.select(0, 1)),
        lambda x: (x[:, 0], x[..., -1], x[1]), [(F("a", "b", "c"),)], prims=("getitem",)),
    Row("unfold", lambda L, x: (x.unfold(1, 2, 1), x.unfold(0, 1, 2)), _unfold_ref, [(F("a", 4),)],
        covers=("Tensor.unfold",)),
    Row("index_add", _index_add, _index_add_ref,
        [(F(4, 3), F(5, 3), Fn(lambda rng, s: np.array([0, 2, 0, 3, 2]), False))], prims=("index_put",),
        covers=("index_add", "index_add_")),
    Row("det", lambda L, x: (L.det(x), x.det(), L.linalg.det(x), L.logdet(x @ x.mT)),
        lambda x: (np.linalg.det(x),) * 3 + (np.log(np.linalg.det(x @ np.swapaxes(x, -1, -2))),),
        [(WellCond("a", "a"),), (WellCond(2, "a", "a"),)], prims=("linalg_det", "linalg_inv"),
        covers=("det", "logdet", "linalg.det")),
    Row("slogdet", lambda L, x: tuple(L.linalg.slogdet(x - 6 * L.eye(x.shape[-1], dtype=x.dtype))),
        lambda x: tuple(np.linalg.slogdet(x - 6 * np.eye(x.shape[-1]))),
        [(WellCond("a", "a"),), (WellCond(2, "a", "a"),)], prims=("linalg_qr",), covers=("linalg.slogdet",),
        rtol=1e-3, atol=1e-4),
    Row("inverse", lambda L, x: (L.inverse(x), L.linalg.inv(x), x.inverse()), lambda x: (np.linalg.inv(x),) * 3,
        [(WellCond("a", "a"),), (WellCond(2, "a", "a"),)], prims=("linalg_inv",),
        covers=("inverse", "linalg.inv")),
    Row("solve", lambda L, A, B, v: (L.linalg.solve(A, B), L.linalg.solve(A, v), L.linalg.solve(A, B.mT, left=False)),
        lambda A, B, v: (np.linalg.solve(A, B), np.linalg.solve(A, v[..., None])[..., 0],
                         np.swapaxes(np.linalg.solve(np.swapaxes(A, -1, -2), B), -1, -2)),
        [(WellCond("a", "a"), F("a", "b"), F("a")), (WellCond(2, "a", "a"), F("a", "b"), F(2, "a"))],
        prims=("linalg_solve",), covers=("linalg.solve",)),
    Row("solve_triangular", lambda L, A, B: (L.linalg.solve_triangular(A, B, upper=True),
                                             L.linalg.solve_triangular(A, B, upper=False, unitriangular=True)),
        lambda A, B: (np.linalg.solve(np.triu(A), B),
                      np.linalg.solve(np.tril(A, -1) + np.eye(A.shape[-1]), B)),
        [(WellCond("a", "a"), F("a", "b"))], covers=("linalg.solve_triangular",)),
    Row("cholesky", lambda L, x: (L.linalg.cholesky(_spd(L, x)), L.linalg.cholesky(_spd(L, x), upper=True)),
        lambda x: (np.linalg.cholesky(_spd_ref(x)), np.swapaxes(np.linalg.cholesky(_spd_ref(x)), -1, -2)),
        [(F("a", "a"),), (F(2, "a", "a"),)], prims=("linalg_cholesky",), covers=("linalg.cholesky",),
        rtol=1e-3, atol=1e-4),
    Row("eigh", _eigh, _eigh_ref, [(F("a", "a"),), (F(2, "a", "a"),)], prims=("linalg_eigh", "linalg_eigvalsh"),
        covers=("linalg.eigh", "linalg.eigvalsh"), rtol=1e-3, atol=1e-4),
    Row("svd", _svd, _svd_ref, [(F("a", "a"),), (F(4, 2),), (F(2, 3),), (F(2, 3, 4),)],
        prims=("linalg_svd", "linalg_svdvals"), covers=("linalg.svd", "linalg.svdvals"), rtol=1e-3, atol=1e-4),
    Row("qr", _qr, _qr_ref, [(F("a", "a"),), (F(4, 2),), (F(2, 3, 2),)], prims=("linalg_qr",),
        covers=("linalg.qr",), rtol=1e-3, atol=1e-4),
    Row("matrix_norm", _matrix_norms, _matrix_norms_ref, [(F("a", "b"),)], prims=("linalg_svdvals",),
        covers=("linalg.matrix_norm", "linalg.norm"), rtol=1e-3, atol=1e-4),
    Row("vector_norm", _vector_norms, _vector_norms_ref, [(NZ("a", "b"),)], covers=("linalg.vector_norm",)),
    Row("pinv", lambda L, x: L.linalg.pinv(x), np.linalg.pinv, [(F(4, 2),), (F(2, 3),)], covers=("linalg.pinv",),
        rtol=1e-3, atol=1e-4),
    Row("matrix_power", lambda L, x: (L.linalg.matrix_power(x, 3), L.linalg.matrix_power(x, 0),
                                      L.linalg.matrix_power(x, -2), L.linalg.multi_dot([x, x, x])),
        lambda x: (np.linalg.matrix_power(x, 3), np.eye(x.shape[-1]), np.linalg.matrix_power(x, -2),
                   x @ x @ x), [(WellCond("a", "a"),)], covers=("linalg.matrix_power", "linalg.multi_dot"),
        rtol=1e-3, atol=1e-4),
    Row("cross", lambda L, a, b: (L.linalg.cross(a, b), L.linalg.vecdot(a, b)), _cross_ref,
        [(F("a", 3), F("a", 3)), (F(1, 3), F(2, 3))], covers=("linalg.cross", "linalg.vecdot")),
    Row("matrix_rank", lambda L, x, k: L.linalg.matrix_rank(x[..., :k] @ x[..., :k, :]),
        lambda x, k: np.linalg.matrix_rank(x[..., :k] @ x[..., :k, :]), [(F(2, 4, 4), Lit(2)), (F(4, 4), Lit(4))],
        grad=False, covers=("linalg.matrix_rank",)),
    Row("int_asin", lambda L, x: L.asin(x * 0), lambda x: np.zeros(x.shape), [(I("a"),)], grad=False, covers=()),
]
