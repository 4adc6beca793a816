"""scatter_reduce / index_reduce / scatter(reduce=) / the *_scatter writes / gcd, lcm, frexp, nextafter
against PyTorch, as tables: values and dtypes per dtype and mode, gradients where ties and zeros make the
rules matter, the in-place forms, and one row per bad input with the words its error must contain.
(The op table, tests/_optable/rows_scatter.py, runs the float64 gradient checks.)"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import backend

torch = pytest.importorskip("torch")

REDUCES = ("sum", "prod", "mean", "amax", "amin")
DTYPES = ("float32", "float64", "int64", "bool")


def _pair(values, dtype):
    """The same data as an ember and a torch tensor."""
    a = np.asarray(values)
    a = a != 0 if dtype == "bool" else a.astype(dtype)
    return ember.tensor(a), torch.tensor(a)


def _same(e, t, where=""):
    assert e.dtype.name == str(t.dtype).replace("torch.", ""), f"{where}: {e.dtype.name} vs {t.dtype}"
    np.testing.assert_allclose(e.detach().numpy().astype(np.float64), t.detach().numpy().astype(np.float64),
                               rtol=1e-6, atol=1e-6, err_msg=where)


# -- values and dtypes, every mode and dtype (bool where PyTorch defines it) ----------------------------------
def _cases():
    for r in REDUCES:
        for dt in DTYPES:
            if not (dt == "bool" and r == "mean"):
                yield r, dt


@pytest.mark.parametrize("reduce,dtype", list(_cases()))
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_values_and_dtypes_match_torch(reduce, dtype, include_self):
    rng = np.random.default_rng(len(reduce) * 7 + len(dtype))
    x, tx = _pair(rng.integers(-4, 5, (3, 5)), dtype)
    s, ts = _pair(rng.integers(-4, 5, (3, 6)), dtype)
    idx = rng.integers(0, 5, (3, 6))
    for dim in (1, -1):
        for index_dtype in ("int64", "int32"):
            i, ti = _pair(idx, index_dtype)
            out = ember.scatter_reduce(x, dim, i, s, reduce, include_self=include_self)
            want = torch.scatter_reduce(tx, dim, ti, ts, reduce, include_self=include_self)
            _same(out, want, f"{reduce} {dtype} dim={dim} index {index_dtype}")


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_index_reduce_values_match_torch(reduce, dtype):
    rng = np.random.default_rng(3)
    x, tx = _pair(rng.integers(-4, 5, (4, 3)), dtype)
    s, ts = _pair(rng.integers(-4, 5, (6, 3)), dtype)
    i, ti = _pair([0, 2, 0, 3, 2, 0], "int64")
    for inc in (True, False):
        _same(x.index_reduce(0, i, s, reduce, include_self=inc), tx.index_reduce(0, ti, ts, reduce, include_self=inc),
              f"{reduce} {dtype} include_self={inc}")
    _same(x.t().index_reduce(-1, i, s.t(), reduce), tx.t().index_reduce(-1, ti, ts.t(), reduce), "dim -1")


def test_nan_propagates_through_amax_and_amin():
    for r in ("amax", "amin"):
        x, tx = _pair([1.0, float("nan"), 3.0], "float32")
        s, ts = _pair([float("nan"), 2.0, 5.0], "float32")
        i, ti = _pair([0, 1, 1], "int64")
        _same(x.scatter_reduce(0, i, s, r), tx.scatter_reduce(0, ti, ts, r), r)


def test_scatter_with_reduce_add_and_multiply_match_torch():
    x, tx = _pair([[2.0, 3.0, 4.0], [1.0, 5.0, 6.0]], "float32")
    i, ti = _pair([[0, 0, 2], [1, 1, 1]], "int64")
    s, ts = _pair([[3.0, 4.0, 5.0], [2.0, 0.5, 3.0]], "float32")
    for r in ("add", "multiply"):
        _same(x.scatter(1, i, s, reduce=r), tx.scatter(1, ti, ts, reduce=r), r)
        _same(ember.scatter(x, 1, i, 1.5, reduce=r), torch.scatter(tx, 1, ti, 1.5, reduce=r), f"{r} value")
    xi, txi = _pair([[2, 3, 4]], "int64")
    _same(xi.scatter(1, i[:1], 3, reduce="multiply"), txi.scatter(1, ti[:1], 3, reduce="multiply"), "int")


# -- gradients where PyTorch's rules matter: ties and zeros ----------------------------------------------------
def _grads(lib, x, s, i, fn):
    x = lib.tensor(x, dtype=lib.float64, requires_grad=True)
    s = lib.tensor(s, dtype=lib.float64, requires_grad=True)
    out = fn(x, s, lib.tensor(i))
    w = lib.tensor(np.arange(1.0, 1.0 + out.numel()).reshape(tuple(out.shape)), dtype=lib.float64)
    return [g.numpy() if g is not None else None for g in lib.autograd.grad((out * w).sum(), (x, s))]


GRAD_CASES = [  # (name, x, src, index, reduce, include_self): ties between src values and with self; zeros
    ("amax-ties", [1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 1.0, 2.0, 0.5, 4.0], [0, 0, 1, 1, 3, 3], "amax", True),
    ("amin-ties", [1.0, 2.0, 3.0, 0.5], [1.0, 1.0, 2.0, 7.0, 0.5, 0.5], [0, 0, 1, 1, 3, 3], "amin", True),
    ("amax-src-ties", [1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 1.0, 0.5], [0, 0, 1, 3], "amax", False),
    ("prod-zeros", [0.0, 2.0, 3.0, 0.0], [4.0, 0.0, 0.0, 5.0, 0.0, 2.0, 7.0], [0, 1, 2, 2, 0, 0, 3], "prod", True),
    ("prod-zeros-no-self", [0.0, 2.0, 3.0, 1.0], [4.0, 0.0, 0.0, 5.0, 0.0, 2.0, 6.0], [0, 1, 2, 2, 0, 0, 1],
     "prod", False),
    ("mean", [1.0, 2.0, 3.0], [4.0, 6.0, 5.0, 1.0], [0, 0, 2, 0], "mean", True),
    ("mean-no-self", [1.0, 2.0, 3.0], [4.0, 6.0, 5.0, 1.0], [0, 0, 2, 0], "mean", False),
    ("sum-no-self", [1.0, 2.0, 3.0], [4.0, 6.0, 5.0], [0, 0, 2], "sum", False),
]


@pytest.mark.parametrize("name,x,s,i,reduce,inc", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_torch(name, x, s, i, reduce, inc):
    def fn(xt, st, it):
        return xt.scatter_reduce(0, it, st, reduce, include_self=inc)

    for a, b in zip(_grads(ember, x, s, i, fn), _grads(torch, x, s, i, fn)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


def test_index_reduce_gradients_with_ties_match_torch():
    x = [[1.0, 7.0], [3.0, 4.0], [5.0, 6.0]]
    s = [[7.0, 1.0], [7.0, 8.0], [0.5, 6.0]]

    def fn(xt, st, it):
        return xt.index_reduce(0, it, st, "amax")

    for a, b in zip(_grads(ember, x, s, [0, 0, 2], fn), _grads(torch, x, s, [0, 0, 2], fn)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_excluded_self_never_shares_the_gradient():
    """include_self=False with an old value equal to the new maximum: the old value is not in the fold, so the
    maximum's whole gradient goes to src (the derivative is 1). PyTorch 2.x counts the old value as a tie
    and gives src 0.5; Ember follows the derivative here."""
    x = ember.tensor([5.0, 2.0], dtype=ember.float64, requires_grad=True)
    s = ember.tensor([5.0, 1.0], dtype=ember.float64, requires_grad=True)
    i = ember.tensor([0, 0])
    out = ember.scatter_reduce(x, 0, i, s, "amax", include_self=False)
    gx, gs = ember.autograd.grad(out[0], (x, s))
    assert gx.tolist() == [0.0, 0.0] and gs.tolist() == [1.0, 0.0]
    h = 1e-6
    bumped = ember.scatter_reduce(x.detach(), 0, i, s.detach() + ember.tensor([h, 0.0], dtype=ember.float64),
                                  "amax", include_self=False)
    assert abs((bumped[0] - out[0]).item() / h - 1.0) < 1e-6


# -- in-place forms and the *_scatter writes -------------------------------------------------------------------
def test_in_place_forms_match_torch():
    rng = np.random.default_rng(5)
    x, tx = _pair(rng.normal(size=(3, 4)), "float32")
    s, ts = _pair(rng.normal(size=(3, 4)), "float32")
    i, ti = _pair(rng.integers(0, 4, (3, 4)), "int64")
    for r in REDUCES:
        a, b = x.clone(), tx.clone()
        assert a.scatter_reduce_(1, i, s, r, include_self=False) is a
        b.scatter_reduce_(1, ti, ts, r, include_self=False)
        _same(a, b, r)
    a, b = x.clone(), tx.clone()
    a.index_reduce_(1, i[0], s, "amin")
    b.index_reduce_(1, ti[0], ts, "amin")
    _same(a, b, "index_reduce_")
    g, tg = _pair([12, -18, 7], "int64")
    h, th = _pair([-8, 12, 0], "int64")
    for name in ("gcd_", "lcm_"):
        a, b = g.clone(), tg.clone()
        getattr(a, name)(h)
        getattr(b, name)(th)
        _same(a, b, name)
    a, b = x.clone(), tx.clone()
    a.nextafter_(s)
    b.nextafter_(ts)
    assert a.numpy().tobytes() == b.numpy().tobytes()


def test_scatter_writes_match_torch_with_gradients():
    rng = np.random.default_rng(6)
    cases = [
        ("select_scatter", (4, 3), (3,), lambda L, x, s: L.select_scatter(x, s, 0, -2)),
        ("slice_scatter", (5, 4), (5, 2), lambda L, x, s: L.slice_scatter(x, s, dim=-1, start=-3, step=2)),
        ("diagonal_scatter", (2, 3, 4), (3, 2), lambda L, x, s: L.diagonal_scatter(x, s, -1, 2, 0)),
    ]
    for name, xs, ss, fn in cases:
        xv, sv = rng.normal(size=xs), rng.normal(size=ss)
        outs, grads = [], []
        for lib in (ember, torch):
            x = lib.tensor(xv, dtype=lib.float64, requires_grad=True)
            s = lib.tensor(sv, dtype=lib.float64, requires_grad=True)
            out = fn(lib, x, s)
            w = lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)))
            outs.append(out.detach().numpy())
            grads.append([g.numpy() for g in lib.autograd.grad((out * w).sum(), (x, s))])
        np.testing.assert_array_equal(outs[0], outs[1], err_msg=name)
        for a, b in zip(*grads):
            np.testing.assert_array_equal(a, b, err_msg=name)


# -- gcd, lcm, frexp, nextafter ----------------------------------------------------------------------------------
def test_gcd_lcm_signs_and_dtypes_match_torch():
    a = [12, -18, 0, 0, -7, 5, -4, 9]
    b = [-8, 12, 5, 0, 0, -3, -6, 9]
    for da, db in (("int64", "int64"), ("int32", "int64"), ("uint8", "int16"), ("int8", "int8")):
        ea, ta = _pair(np.abs(a) if da == "uint8" else a, da)
        eb, tb = _pair(b, db)
        _same(ember.gcd(ea, eb), torch.gcd(ta, tb), f"gcd {da} {db}")
        _same(ember.lcm(ea, eb), torch.lcm(ta, tb), f"lcm {da} {db}")


def test_frexp_matches_torch():
    for dt in ("float32", "float64"):
        v = [0.0, -0.0, 1.0, 8.0, -3.5, float("inf"), float("nan"), 1e-40 if dt == "float32" else 1e-310, 7e37]
        e, t = _pair(v, dt)
        em, ee = ember.frexp(e)
        tm, te = torch.frexp(t)
        _same(em, tm, dt)
        _same(ee, te, dt)
        assert ember.frexp(e).mantissa is not None and e.frexp().exponent.dtype == ember.int32
        assert np.array_equal(np.signbit(em.numpy()), np.signbit(tm.numpy()))  # -0.0 keeps its sign


def test_nextafter_matches_torch_bit_for_bit():
    for da, db in (("float32", "float32"), ("float64", "float64"), ("float32", "float64")):
        ea, ta = _pair([1.0, 0.0, -2.5, 3.0, float("inf")], da)
        eb, tb = _pair([2.0, -1.0, -3.0, 3.0, 0.0], db)
        out, want = ember.nextafter(ea, eb), torch.nextafter(ta, tb)
        assert out.dtype.name == str(want.dtype).replace("torch.", "")
        assert out.numpy().tobytes() == want.numpy().tobytes(), (da, db)


def test_multiply_at_by_rounds_equals_numpy():
    """The CuPy path for ufuncs without an unbuffered ``at`` (multiply), run here on NumPy arrays."""
    rng = np.random.default_rng(7)
    for shape, ishape in (((4, 5), (6, 5)), ((3,), (9,)), ((2, 3, 4), (5, 3, 4))):
        out = rng.normal(size=shape)
        idx = rng.integers(0, shape[0], ishape)
        key = (idx,) + tuple(np.arange(n).reshape((1,) * (k + 1) + (n,) + (1,) * (len(ishape) - k - 2))
                             for k, n in enumerate(ishape[1:]))
        vals = rng.normal(size=ishape)
        a, b = out.copy(), out.copy()
        np.multiply.at(a, key, vals)
        backend._at_by_rounds(np, np.multiply, b, key, vals)
        np.testing.assert_array_equal(a, b)


# -- bad inputs: one row each (the call, the words its message must contain); PyTorch refuses each too --------
def _t(*v, dtype=None):
    return lambda L: L.tensor(list(v), dtype=getattr(L, dtype) if dtype else None)


X3, I0, ONE = _t(0.0, 0.0, 0.0), _t(0), _t(1.0)
ERRORS = [
    ("index-too-big", lambda L: L.scatter_reduce(X3(L), 0, _t(5)(L), ONE(L), "sum"),
     ["scatter_reduce", "5", "out of bounds", "size 3"]),
    ("index_reduce-index-too-big", lambda L: L.index_reduce(X3(L), 0, _t(3)(L), ONE(L), "amin"),
     ["index_reduce", "3", "out of bounds"]),
    ("negative-index", lambda L: L.scatter_reduce(X3(L), 0, _t(-1)(L), ONE(L), "amax"), ["-1", "out of bounds"]),
    ("unknown-reduce", lambda L: L.scatter_reduce(X3(L), 0, I0(L), ONE(L), "foo"),
     ["scatter_reduce", "'sum'", "'amin'", "'foo'"]),
    ("float-index", lambda L: L.scatter_reduce(X3(L), 0, _t(0.0)(L), ONE(L), "sum"), ["int64", "float32"]),
    ("rank-mismatch", lambda L: L.scatter_reduce(X3(L), 0, L.tensor([[0]]), L.ones(1, 1), "sum"),
     ["same number of dimensions", "(1, 1)", "(3,)"]),
    ("src-dtype", lambda L: L.scatter_reduce(X3(L), 0, I0(L), _t(1.0, dtype="float64")(L), "sum"),
     ["float64", "float32"]),
    ("index-larger-than-src", lambda L: L.scatter_reduce(X3(L), 0, _t(0, 1)(L), ONE(L), "sum"),
     ["no larger", "(2,)", "(1,)"]),
    ("index-larger-than-input", lambda L: L.zeros(2, 3).scatter_reduce(0, L.zeros(1, 4, dtype=L.int64),
                                                                         L.ones(2, 4), "sum"),
     ["no larger", "(1, 4)", "(2, 3)"]),
    ("dim-out-of-range", lambda L: L.scatter_reduce(X3(L), 2, I0(L), ONE(L), "sum"), ["dim", "2", "range"]),
    ("bool-mean", lambda L: L.tensor([True]).scatter_reduce(0, I0(L), L.tensor([False]), "mean"), ["mean", "bool"]),
    ("index_reduce-sum", lambda L: L.index_reduce(X3(L), 0, I0(L), ONE(L), "sum"),
     ["index_reduce", "'prod'", "'sum'"]),
    ("index_reduce-2d-index", lambda L: L.index_reduce(X3(L), 0, L.tensor([[0]]), ONE(L), "prod"),
     ["index_reduce", "1-D", "(1, 1)"]),
    ("index_reduce-count", lambda L: L.index_reduce(X3(L), 0, _t(0, 1)(L), ONE(L), "prod"),
     ["index_reduce", "source", "2"]),
    ("index_reduce-shape", lambda L: L.zeros(3, 2).index_reduce(0, I0(L), L.ones(1, 3), "amax"),
     ["source", "(1, 3)", "(3, 2)"]),
    ("index_reduce-float-index", lambda L: L.index_reduce(X3(L), 0, _t(0.0)(L), ONE(L), "mean"),
     ["index_reduce", "int64", "float32"]),
    ("scatter-reduce-mean", lambda L: L.scatter(X3(L), 0, I0(L), ONE(L), reduce="mean"),
     ["scatter", "'add'", "'multiply'"]),
    ("gcd-float", lambda L: L.gcd(ONE(L), ONE(L)), ["gcd", "integer", "float32"]),
    ("lcm-bool", lambda L: L.lcm(L.tensor([True]), L.tensor([True])), ["lcm", "integer", "bool"]),
    ("gcd-number", lambda L: L.gcd(I0(L), 6), ["gcd", "tensors", "int"]),
    ("frexp-int", lambda L: L.frexp(I0(L)), ["frexp", "floating-point", "int64"]),
    ("nextafter-int", lambda L: L.nextafter(I0(L), I0(L)), ["nextafter", "floating-point", "int64"]),
    ("select_scatter-shape", lambda L: L.select_scatter(L.zeros(2, 3), L.ones(2), 0, 0),
     ["select_scatter", "(2,)", "(3,)"]),
    ("select_scatter-index", lambda L: L.select_scatter(L.zeros(2, 3), L.ones(3), 0, 2),
     ["select_scatter", "2", "range"]),
    ("slice_scatter-shape", lambda L: L.slice_scatter(L.zeros(4, 3), L.ones(3, 3), 0, 0, 4, 2),
     ["slice_scatter", "(3, 3)", "(2, 3)"]),
    ("diagonal_scatter-shape", lambda L: L.diagonal_scatter(L.zeros(3, 3), L.ones(2)),
     ["diagonal_scatter", "(2,)", "(3,)"]),
]


@pytest.mark.parametrize("name,call,words", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_is_refused_with_a_clear_message(name, call, words):
    with pytest.raises(Exception):  # the case is bad for PyTorch too
        call(torch)
    with pytest.raises((RuntimeError, IndexError, TypeError)) as info:
        call(ember)
    message = str(info.value)
    for w in words:
        assert w in message, f"{name}: {w!r} not in {message!r}"
    assert "test_scatter_reduce.py" in message, f"{name}: the message does not name the user's line: {message!r}"


# -- ONNX: ScatterElements with a reduction where it matches; a reason where it does not -----------------------
@pytest.mark.parametrize("reduce", ["sum", "prod", "amax", "amin"])
def test_scatter_reduce_exports_to_onnx_scatter_elements(reduce):
    pytest.importorskip("onnxruntime")
    from test_export_onnx import Fn, roundtrip

    idx = ember.tensor([[0, 0, 3], [2, 2, 2], [1, 0, 1]])

    def fn(s, x):  # a batch of 3 rows (the index has 3), src wider than the index
        return x.scatter_reduce(1, idx, x * 0.5 + 1.0, reduce)

    roundtrip(Fn(fn), lambda b: (ember.randn(3, 4),), ops=["ScatterElements"], opset=18, static=True)


@pytest.mark.parametrize("reduce,include_self,opset,words", [
    ("mean", True, 18, ["mean", "ScatterElements"]), ("sum", False, 18, ["include_self"]),
    ("amax", True, 17, ["opset", "18"])])
def test_scatter_reduce_without_an_onnx_form_says_why(reduce, include_self, opset, words):
    import io

    from test_export_onnx import Fn

    idx = ember.tensor([[0, 0, 3]])
    model = Fn(lambda s, x: x.scatter_reduce(1, idx, x, reduce, include_self=include_self))
    with pytest.raises(Exception) as info:
        ember.onnx.export(model, (ember.randn(1, 4),), io.BytesIO(), opset_version=opset)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize("reduce", REDUCES)
def test_every_mode_on_the_fake_device_equals_the_cpu(reduce, monkeypatch):
    """CuPy's path (tests/fake_cupy.py: NumPy posing as CuPy): multiply runs in rounds, the rest by ``at``."""
    import fake_cupy

    rng = np.random.default_rng(8)
    xv, sv, iv = rng.normal(size=(3, 5)), rng.normal(size=(3, 7)), rng.integers(0, 5, (3, 7))
    want = ember.scatter_reduce(ember.tensor(xv), 1, ember.tensor(iv), ember.tensor(sv), reduce,
                                include_self=False)
    fake_cupy.install(monkeypatch)
    got = ember.scatter_reduce(ember.tensor(xv, device="cuda"), 1, ember.tensor(iv, device="cuda"),
                               ember.tensor(sv, device="cuda"), reduce, include_self=False)
    assert str(got.device).startswith("cuda")
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
