"""torch.linalg's LU family, matrix_exp, lstsq, the *_ex forms and LinAlgError, against PyTorch: larger and
blocked sizes than the op table's, singular and rank-deficient inputs, float32/float64, gradients of gradients,
and bad-input rows (the input, the error type, the words the message must contain)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


def _pair(a, dtype="float64", grad=False):
    return (ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=grad),
            torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=grad))


def _close(e, t, tol):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


RNG = np.random.default_rng(7)
SHAPES = [(70, 70), (3, 40, 40), (2, 50, 33), (33, 65), (2, 2, 5, 5), (1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lu_factor_matches_torch(shape, dtype):
    a = RNG.standard_normal(shape)
    e, t = _pair(a, dtype)
    (LU, piv), (tLU, tpiv) = ember.linalg.lu_factor(e), torch.linalg.lu_factor(t)
    assert piv.dtype is ember.int32 and tuple(piv.shape) == tuple(tpiv.shape)
    np.testing.assert_array_equal(piv.numpy(), tpiv.numpy())
    tol = 1e-3 if dtype == "float32" else 1e-9
    _close(LU, tLU, tol)
    P, L, U = ember.linalg.lu(e)
    _close(P @ L @ U, t, tol)


@pytest.mark.parametrize("shape", [(6, 6), (2, 7, 4), (4, 7)])
def test_lu_gradients_match_torch_and_numerics(shape):
    a = RNG.standard_normal(shape)
    e, t = _pair(a, grad=True)
    w = RNG.standard_normal(shape)
    P, L, U = ember.linalg.lu(e)
    tP, tL, tU = torch.linalg.lu(t)
    ge = ember.autograd.grad(((L @ U) * ember.tensor(w)).sum() + (L * L).sum(), e)[0]
    gt = torch.autograd.grad(((tL @ tU) * torch.tensor(w)).sum() + (tL * tL).sum(), t)[0]
    _close(ge, gt, 1e-8)
    gradcheck(lambda x: ember.linalg.lu_factor(x).LU, (e,))
    gradgradcheck(lambda x: ember.linalg.lu_factor(x).LU, (e,))


def test_matrix_exp_matches_torch_with_scaling():
    for scale in (0.01, 1.0, 20.0):
        a = RNG.standard_normal((3, 5, 5)) * scale / 5
        for dtype, tol in (("float32", 1e-4), ("float64", 1e-10)):
            e, t = _pair(a, dtype)
            ref = torch.linalg.matrix_exp(t)
            np.testing.assert_allclose(ember.linalg.matrix_exp(e).numpy(), ref.numpy(),
                                       rtol=tol, atol=tol * float(ref.abs().max()))
        e, t = _pair(a, grad=True)
        w = RNG.standard_normal(a.shape)
        ge = ember.autograd.grad((ember.matrix_exp(e) * ember.tensor(w)).sum(), e, create_graph=True)[0]
        gt = torch.autograd.grad((torch.matrix_exp(t) * torch.tensor(w)).sum(), t, create_graph=True)[0]
        _close(ge, gt, 1e-8 * max(1.0, float(gt.abs().max())))
        gge = ember.autograd.grad((ge * ge).sum(), e)[0]  # second order against torch's double backward
        ggt = torch.autograd.grad((gt * gt).sum(), t)[0]
        np.testing.assert_allclose(gge.numpy(), ggt.numpy(), rtol=1e-7, atol=1e-7 * float(ggt.abs().max()))


def test_lstsq_rank_deficient_is_the_minimum_norm_solution_as_gelsy():
    a = RNG.standard_normal((2, 6, 2)) @ RNG.standard_normal((2, 2, 4))  # rank 2 of 4 columns
    b = RNG.standard_normal((2, 6, 3))
    (ea, ta), (eb, tb) = _pair(a), _pair(b)
    r, tr = ember.linalg.lstsq(ea, eb), torch.linalg.lstsq(ta, tb)
    _close(r.solution, tr.solution, 1e-8)
    np.testing.assert_array_equal(r.rank.numpy(), tr.rank.numpy())
    for field in ("residuals", "singular_values"):
        assert tuple(getattr(r, field).shape) == tuple(getattr(tr, field).shape) == (0,)
    d, td = ember.linalg.lstsq(ea, eb, driver="gelsd"), torch.linalg.lstsq(ta, tb, driver="gelsd")
    assert tuple(d.residuals.shape) == tuple(td.residuals.shape)  # empty: not full rank
    _close(d.singular_values, td.singular_values, 1e-8)


def test_lstsq_vector_rhs_and_gradient():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal(5)
    (ea, ta), (eb, tb) = _pair(a, grad=True), _pair(b, grad=True)
    x, tx = ember.linalg.lstsq(ea, eb.unsqueeze(-1)).solution, torch.linalg.lstsq(ta, tb.unsqueeze(-1)).solution
    _close(x, tx, 1e-10)
    ge = ember.autograd.grad((x ** 3).sum(), [ea, eb])
    gt = torch.autograd.grad((tx ** 3).sum(), [ta, tb])
    for g1, g2 in zip(ge, gt):
        _close(g1, g2, 1e-8)


def _singular_batch():
    a = np.stack([np.eye(3), [[1.0, 2, 3], [2, 4, 6], [0, 1, 1]], np.diag([1.0, 0, 2])])
    return _pair(a)


def test_ex_forms_report_torchs_info():
    e, t = _singular_batch()
    np.testing.assert_array_equal(ember.linalg.lu_factor_ex(e).info.numpy(), torch.linalg.lu_factor_ex(t).info)
    np.testing.assert_array_equal(ember.linalg.inv_ex(e).info.numpy(), torch.linalg.inv_ex(t).info)
    b = np.ones((3, 3, 2))
    sol = ember.linalg.solve_ex(e, ember.tensor(b, dtype=ember.float64))
    np.testing.assert_array_equal(sol.info.numpy(), torch.linalg.solve_ex(t, torch.tensor(b)).info)
    _close(sol.result[0], torch.tensor(b[0]), 1e-12)  # the good matrix is solved
    assert np.isnan(sol.result[1].numpy()).all()
    spd = np.stack([np.eye(3), [[1.0, 2, 0], [2, 1, 0], [0, 0, 1]], [[4.0, 0, 0], [0, 1, 0], [0, 0, -1]]])
    es, ts = _pair(spd)
    np.testing.assert_array_equal(ember.linalg.cholesky_ex(es).info.numpy(), torch.linalg.cholesky_ex(ts).info)
    _close(ember.linalg.cholesky_ex(es).L[0], ts[0], 1e-12)


def test_linalg_error_is_a_runtime_error():
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    assert issubclass(torch.linalg.LinAlgError, RuntimeError)


def _lu_solve_bad_pivots():
    LU, piv = ember.linalg.lu_factor(ember.eye(3))
    ember.linalg.lu_solve(LU, piv[:2], ember.ones(3, 1))


# (id, call with lib = ember or torch, error type, words Ember's message must contain; those marked TORCH_WORDS
# appear in torch's own message too)
ERRORS = [
    ("inv_singular_batch", lambda L: L.linalg.inv(_batch(L)), "LinAlgError",
     ["linalg.inv", "(Batch element 1)", "diagonal element 3", "singular"]),
    ("solve_singular_batch", lambda L: L.linalg.solve(_batch(L), L.ones(3, 3, 1, dtype=L.float64)), "LinAlgError",
     ["linalg.solve", "(Batch element 1)", "singular"]),
    ("cholesky_not_pd_batch", lambda L: L.linalg.cholesky(_batch(L)), "LinAlgError",
     ["linalg.cholesky", "(Batch element 1)", "leading minor of order 2", "positive-definite"]),
    ("lu_factor_singular", lambda L: L.linalg.lu_factor(_batch(L)), "RuntimeError",
     ["linalg.lu_factor", "(Batch element 1)", "U[3,3] is zero", "lu_factor_ex"]),
    ("lu_factor_singular_single", lambda L: L.linalg.lu_factor(_batch(L)[1]), "RuntimeError",
     ["linalg.lu_factor", "U[3,3] is zero"]),
    ("lu_solve_not_square", lambda L: L.linalg.lu_solve(L.ones(2, 3), L.ones(2, dtype=L.int32), L.ones(2, 1)),
     "RuntimeError", ["lu_solve", "square", "2 by 3"]),
    ("lu_solve_rows", lambda L: L.linalg.lu_solve(*L.linalg.lu_factor(L.eye(3)), L.ones(2, 1)), "RuntimeError",
     ["lu_solve", "(3, 3)", "(2, 1)"]),
    ("lu_solve_pivots", lambda L: _lu_solve_bad_pivots() if L is ember else L.linalg.lu_solve(
        L.eye(3), L.ones(2, dtype=L.int32), L.ones(3, 1)), "RuntimeError", ["lu_solve", "pivots", "(3,)"]),
    ("lu_int_input", lambda L: L.linalg.lu_factor(L.ones(2, 2, dtype=L.int64)), "TypeError",
     ["floating-point", "int64"]),
    ("lstsq_driver", lambda L: L.linalg.lstsq(L.eye(2), L.ones(2, 1), driver="gelsx"), "RuntimeError",
     ["lstsq", "driver", "gelsy"]),
    ("lstsq_rows", lambda L: L.linalg.lstsq(L.eye(3), L.ones(2, 1)), "RuntimeError", ["lstsq", "(3, 3)", "(2, 1)"]),
    ("householder_wide", lambda L: L.linalg.householder_product(L.ones(2, 3), L.ones(1)), "RuntimeError",
     ["householder_product", "(2, 3)", "m >= n"]),
    ("tensorinv_not_square", lambda L: L.linalg.tensorinv(L.ones(2, 3, 4), ind=1), "RuntimeError",
     ["tensorinv", "(2, 3, 4)"]),
    ("matrix_exp_not_square", lambda L: L.linalg.matrix_exp(L.ones(2, 3)), "RuntimeError",
     ["matrix_exp", "square"]),
    ("cond_bad_p", lambda L: L.linalg.cond(L.eye(2), p=3), "RuntimeError", ["cond", "3"]),
]


TORCH_WORDS = {"inv_singular_batch": ["(Batch element 1)", "diagonal element 3"],
               "cholesky_not_pd_batch": ["(Batch element 1)", "leading minor of order 2"],
               "lu_factor_singular": ["(Batch element 1)", "U[3,3] is zero"]}


def _batch(L):
    """Element 0 fine, element 1 singular (and, by its lower triangle, not positive-definite at order 2)."""
    return L.tensor(np.stack([np.eye(3), [[1.0, 2, 3], [2, 4, 6], [0, 1, 1]], -np.eye(3)]), dtype=L.float64)


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_match_torch(case):
    _, call, kind, words = case
    expected = {"LinAlgError": ember.linalg.LinAlgError, "RuntimeError": RuntimeError, "TypeError": TypeError}[kind]
    with pytest.raises((RuntimeError, TypeError, ValueError)) as theirs:
        call(torch)  # torch refuses the same input
    if kind == "LinAlgError":
        assert isinstance(theirs.value, torch.linalg.LinAlgError)
    for word in TORCH_WORDS.get(case[0], ()):
        assert word in str(theirs.value), f"torch's message lacks {word!r}: {theirs.value}"
    with pytest.raises(expected) as info:
        call(ember)
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
