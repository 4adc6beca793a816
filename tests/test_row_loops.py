"""The row loops shared by the eager primitives and the compiled executor (``ops/row_loops.py``,
``ops/loss_rows.py``, and GELU's ``ops/gelu.py``): eager and compiled runs give the same bits, the loops
match NumPy's forms and PyTorch, an embedding's backward adds rows as ``np.add.at`` does and still reports
an index out of range, and the NumPy forms stay where the loops do not apply."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ops import row_loops
from ember.ops.indexing import _index_put_fwd
from ember.ops.nn import _softmax_fwd, _standardize_fwd, _standardize_grad_fwd, standardize_grad_over, standardize_over

jit = pytest.mark.skipif(row_loops.softmax() is None, reason="numba loops off (no numba, or EMBER_NO_JIT)")


def _data(shape, dtype, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return x * 3


def _layer(kind, x, w):
    """A small graph through the row-loop op ``kind`` and its backward."""
    if kind == "softmax":
        return (F.softmax(x, -1) * w).sum()
    if kind == "layer_norm":
        return (F.layer_norm(x, x.shape[-1:]) * w).sum()
    if kind == "gelu":  # (ops/gelu.py: its own loops, the same in both modes)
        return (F.gelu(x) * w).sum()
    t = ember.tensor(np.arange(x.shape[0]) % x.shape[1])
    return F.cross_entropy(x * w, t)


def _run(kind, x, w, compiled):
    p = ember.nn.Parameter(ember.tensor(x))

    def step(wt):
        p.grad = None
        loss = _layer(kind, p, wt)
        loss.backward()
        return loss.detach(), p.grad * 1

    fn = ember.compile(step) if compiled else step
    for _ in range(2 if compiled else 1):  # a compiled step's first call is its tracing run (eager kernels)
        loss, gx = fn(ember.tensor(w))
    return loss.numpy(), gx.numpy()


@jit
@pytest.mark.parametrize("kind,shape", [("softmax", (6, 5, 333)), ("layer_norm", (4, 7, 300)),
                                        ("cross_entropy", (37, 519)), ("gelu", (5, 9, 70))])
def test_eager_rows_equal_compiled_bits(kind, shape):
    x = _data(shape, np.float32)
    w = _data(shape, np.float32, seed=1)
    eager, compiled = _run(kind, x, w, False), _run(kind, x, w, True)
    for a, b in zip(eager, compiled):
        np.testing.assert_array_equal(a, b)


@jit
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_loops_match_numpys_form(dtype):
    x, g = _data((9, 5, 40), dtype), _data((9, 5, 40), dtype, seed=2)
    x[0, 0, :] = 7.0  # a constant row: variance 0, eps keeps it finite
    y = _standardize_fwd(np, x, 1, 1e-5)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, standardize_over(np, x, (2,), 40, 1e-5), rtol=tol, atol=tol)
    dx = _standardize_grad_fwd(np, g, x, y, 1, 1e-5)
    np.testing.assert_allclose(dx, standardize_grad_over(np, g, x, y, (2,), 40, 1e-5), rtol=tol * 10,
                               atol=tol * 10)


@jit
def test_softmax_loop_keeps_numpys_nan_and_inf_rows():
    x = _data((4, 9), np.float32)
    x[1, 3], x[2, 0], x[3, :] = np.nan, np.inf, -np.inf
    with np.errstate(invalid="ignore"):
        got = _softmax_fwd(np, x, -1)
        e = np.exp(x - x.max(-1, keepdims=True))
        ref = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)
    assert np.isnan(got[1:]).all() and np.isnan(ref[1:]).all()


@jit
def test_layers_on_the_loops_match_pytorch():
    torch = pytest.importorskip("torch")
    x = _data((3, 8, 32), np.float32)
    for ours, theirs in [(lambda t: F.softmax(t, -1), lambda t: torch.softmax(t, -1)),
                         (lambda t: F.layer_norm(t, (32,)), lambda t: torch.nn.functional.layer_norm(t, (32,)))]:
        a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yb = ours(a), theirs(b)
        (ya * ya).sum().backward()
        (yb * yb).sum().backward()
        np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)


# (id, table rows, index dtype, index shape): repeated and negative indices, a 2-D index (an embedding's batch)
ROWS_ADD = [("f32-i64", np.float32, np.int64, (40,)), ("f64-i32", np.float64, np.int32, (5, 6)),
            ("f32-i32-2d", np.float32, np.int32, (3, 11))]


@jit
@pytest.mark.parametrize("dtype,idx_dtype,idx_shape", [r[1:] for r in ROWS_ADD], ids=[r[0] for r in ROWS_ADD])
def test_embedding_backward_adds_rows_as_add_at(dtype, idx_dtype, idx_shape):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((12, 7)).astype(dtype)
    idx = rng.integers(-12, 12, idx_shape).astype(idx_dtype)
    v = rng.standard_normal(idx_shape + (7,)).astype(dtype)
    before = base.copy()
    got = _index_put_fwd(np, base, v, idx, index=(("tensor", 0),), accumulate=True)
    np.testing.assert_array_equal(base, before)  # the primitive writes a copy
    ref = base.copy()
    np.add.at(ref, (idx,), v)
    np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-14)


@jit
def test_embedding_backward_with_an_index_out_of_range_raises_at_the_users_line():
    w = ember.zeros(5, 3, requires_grad=True)
    idx = ember.tensor(np.array([1, 5]))
    with pytest.raises(IndexError, match=r"out of bounds.*\n.*test_row_loops.py"):
        w[idx].sum().backward()


def test_numpy_forms_where_the_loops_do_not_apply():
    """float64 softmax, a softmax over another axis, empty tensors and 3-D scatter bases keep NumPy's forms."""
    x = _data((3, 4, 5), np.float64)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(_softmax_fwd(np, x.astype(np.float32), 1), e / e.sum(1, keepdims=True), rtol=1e-6)
    assert _softmax_fwd(np, np.zeros((0, 3), np.float32), -1).shape == (0, 3)
    assert _standardize_fwd(np, np.zeros((0, 3), np.float32), 1, 1e-5).shape == (0, 3)
    base, idx = np.zeros((2, 3, 4)), np.array([0, 1, 1])
    got = _index_put_fwd(np, base, np.ones((3, 3, 4)), idx, index=(("tensor", 0),), accumulate=True)
    assert got[1].sum() == 24 and got[0].sum() == 12


def test_gelu_primitives_refuse_integer_tensors_at_the_users_line():
    from ember.ops import apply

    for call in (lambda: apply("gelu_erf", ember.tensor([1, 2])),
                 lambda: apply("gelu_erf_vjp", *[ember.tensor([1, 2])] * 3)):
        with pytest.raises(TypeError, match=r"gelu_erf.*floating-point.*int64(.|\n)*test_row_loops.py"):
            call()
