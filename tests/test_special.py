"""Special functions (``ember.special`` and the top-level ``lgamma``, ``digamma``, ``polygamma``, ``mvlgamma``,
``erfinv``, ``erfc``, ``i0``) against PyTorch: one row per function, run on float64, float32, float16, int64 and
bool inputs holding edge values (0, -0, the negative integers, +-1, +-inf, NaN, 1e4, 1e-30 ...), comparing the
values (NaN equal to NaN) and the result dtype. Values where PyTorch is known to be off are listed per row with
the reason, and checked against the mathematical value instead."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

EDGES = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5, -0.5, 1.5, -2.5, 0.25, -3.7, 7.3, 12.5, -11.2, 30.0,
         -30.0, 1e-30, -1e-30, 1e-8, 1e4, -1e4, 1e4 + 0.5, -1e4 + 0.5, 700.0, 1e30, -1e30, math.inf, -math.inf,
         math.nan]
UNIT = [0.0, -0.0, 0.5, -0.5, 0.9, -0.99, 0.999999, -0.999999, 1.0, -1.0, 1.5, -2.0, 1e-30, -1e-30, 1e-8, 0.3,
        -0.7, math.inf, -math.inf, math.nan]
PROB = [0.0, 1.0, 0.5, 0.25, 0.975, 1e-30, 1e-300, 1e-8, 1 - 1e-8, 0.999, -0.5, 1.5, math.inf, math.nan]
TOL = {"float64": (1e-10, 1e-12), "float32": (3e-6, 1e-6), "float16": (2e-3, 2e-3)}


def _special(name):
    return lambda lib, *a: getattr(lib.special, name)(*a)


def _top(name):
    return lambda lib, *a: getattr(lib, name)(*a)


@dataclass
class Case:
    name: str
    fn: object
    values: list = field(default_factory=lambda: EDGES)
    other: object = None  # a second tensor argument (its values), or a Python number
    torch_off: dict = field(default_factory=dict)  # input -> (the true value, why torch differs)
    rtol64: float = 1e-10


def _pg(n):
    return lambda lib, x: lib.polygamma(n, x)


def _mvl(p):
    return lambda lib, x: lib.mvlgamma(x, p)


_POLE = "a pole: torch's trigamma evaluates pi^2 / sin(pi x)^2 with sin(pi x) a rounding error, not 0"
CASES = [
    Case("lgamma", _top("lgamma")), Case("digamma", _top("digamma")),
    Case("polygamma0", _pg(0)),
    # torch's trigamma is accurate to ~5e-10 relative only (ours: 1e-15 against mpmath)
    Case("polygamma1", _pg(1), rtol64=2e-9, torch_off={v: (math.inf, _POLE) for v in (
        -1.0, -2.0, -3.0, -11.0, -30.0, -9999.0, -1e4, -1e30)}),
    Case("polygamma2", _pg(2)), Case("polygamma5", _pg(5)),
    Case("mvlgamma1", _mvl(1)), Case("mvlgamma3", _mvl(3)),
    Case("erfinv", _top("erfinv"), UNIT), Case("erfc", _top("erfc")), Case("i0", _top("i0")),
    Case("special.erf", _special("erf")), Case("special.erfc", _special("erfc")),
    Case("special.erfcx", _special("erfcx")), Case("special.erfinv", _special("erfinv"), UNIT),
    Case("special.expit", _special("expit")), Case("special.logit", _special("logit"), PROB),
    Case("special.exp2", _special("exp2")), Case("special.expm1", _special("expm1")),
    Case("special.log1p", _special("log1p")), Case("special.gammaln", _special("gammaln")),
    Case("special.digamma", _special("digamma")), Case("special.psi", _special("psi")),
    Case("special.polygamma", lambda lib, x: lib.special.polygamma(3, x)),
    Case("special.multigammaln", lambda lib, x: lib.special.multigammaln(x, 2)),
    Case("special.i0", _special("i0")), Case("special.i0e", _special("i0e")), Case("special.i1", _special("i1")),
    Case("special.i1e", _special("i1e")), Case("special.ndtr", _special("ndtr")),
    Case("special.ndtri", _special("ndtri"), PROB), Case("special.log_ndtr", _special("log_ndtr")),
    Case("special.logsumexp", lambda lib, x: lib.special.logsumexp(x, 0)),
    Case("special.softmax", lambda lib, x: lib.special.softmax(x, 0)),
    Case("special.log_softmax", lambda lib, x: lib.special.log_softmax(x, 0)),
    Case("special.round", _special("round")), Case("special.sinc", _special("sinc")),
    Case("special.xlogy", _special("xlogy"), other=[0.5, 0.0, 2.0, math.nan]),
    Case("special.xlog1py", _special("xlog1py"), other=[0.5, -1.0, 2.0, math.nan, -0.5]),
    Case("special.entr", _special("entr")),
    Case("special.zeta", _special("zeta"), other=[1.0, 0.5, -1.5, 2.0, 30.0], torch_off={
        (s, q): (0.0, "q^-s underflows for huge s; torch's tail then computes inf * 0")
        for s in (1e30, math.inf) for q in (2.0, 30.0)}),
    Case("special.zeta_q", lambda lib, q, s: lib.special.zeta(s, q), other=[2.0, 3.5, 1.0, 0.5]),
]
DTYPES = ["float64", "float32", "float16", "int64", "bool"]
NAMES = ["erf", "erfc", "erfcx", "erfinv", "expit", "logit", "exp2", "expm1", "log1p", "gammaln", "digamma", "psi",
         "polygamma", "multigammaln", "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "logsumexp", "softmax",
         "log_softmax", "round", "sinc", "xlogy", "xlog1py", "entr", "zeta"]


def _inputs(values, dtype):
    """The values as a NumPy array of ``dtype`` (integers: the finite integral values; bool: both)."""
    x = np.array(values, dtype=np.float64)
    if dtype == "bool":
        return np.array([True, False, True])
    if dtype == "int64":
        x = x[np.isfinite(x) & (np.abs(x) < 1e9)]
        return np.unique(np.trunc(x)).astype(np.int64)
    with np.errstate(over="ignore"):  # 1e30 is inf in float16, as torch.tensor(..., dtype=float16) makes it
        return x.astype(dtype)


def _pairs(case, x):
    """The first argument's values broadcast against the second's (every combination)."""
    y = np.array(case.other, dtype=np.float64).astype(x.dtype if x.dtype.kind == "f" else np.float64)
    return np.repeat(x, len(y)), np.tile(y, len(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_torch(case, dtype):
    x = _inputs(case.values, dtype)
    args = (x,) if case.other is None else _pairs(case, x)
    with np.errstate(all="ignore"):
        try:
            t = case.fn(torch, *[torch.tensor(a) for a in args])
        except (NotImplementedError, RuntimeError) as err:  # e.g. no Half kernel, no integer softmax
            pytest.skip(f"torch has no {case.name} for {dtype}: {err}")
        e = case.fn(ember, *[ember.tensor(a) for a in args])
    assert e.dtype.name == str(t.dtype).replace("torch.", ""), f"{case.name}: {e.dtype.name} vs torch's {t.dtype}"
    got, want = e.numpy().astype(np.float64), t.double().numpy()
    if x.dtype != np.bool_:  # the keys rounded to this dtype as the inputs were
        with np.errstate(all="ignore"):
            off = {tuple(np.array(k, dtype=np.float64).astype(x.dtype).reshape(-1).tolist()): v[0]
                   for k, v in case.torch_off.items()
                   if np.isfinite(np.array(k, dtype=np.float64).astype(x.dtype)).all() or not np.isfinite(k).all()}
        for i, key in enumerate(zip(*[a.tolist() for a in args])):
            if key in off:
                want[i] = off[key]
    rtol, atol = TOL.get(dtype, TOL["float32"])
    rtol = case.rtol64 if dtype == "float64" else rtol
    close = np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True) | (got == want)
    bad = args[0][~close] if len(args) == 1 else list(zip(args[0][~close], args[1][~close]))
    assert close.all(), f"{case.name} ({dtype}) at {bad}: ember {got[~close]} vs torch {want[~close]}"


def test_namespace_has_every_name():
    missing = [n for n in NAMES if not callable(getattr(ember.special, n, None))]
    assert not missing, missing
    assert set(NAMES) <= set(ember.special.__all__)
    for n in ("lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "erfc", "i0"):  # torch's top-level names
        assert callable(getattr(ember, n)) and callable(getattr(ember.Tensor, n)), n
        assert callable(getattr(ember.Tensor, n + "_")), n + "_"
    assert not hasattr(ember, "erfcx") and not hasattr(torch, "erfcx")  # special-only names stay there


@pytest.mark.parametrize("name,args", [("lgamma", ()), ("digamma", ()), ("polygamma", (2,)), ("mvlgamma", (2,)),
                                       ("erfinv", ()), ("erfc", ()), ("i0", ())])
def test_methods_and_in_place_forms(name, args):
    v = np.array([1.3, 2.7, 0.4]) if name != "erfinv" else np.array([0.3, -0.8, 0.1])
    for lib in (ember, torch):
        a = lib.tensor(v.copy())
        out = getattr(a, name)(*args)
        b = lib.tensor(v.copy())
        assert getattr(b, name + "_")(*args) is b
        if lib is ember:
            mine, in_place = out.numpy(), b.numpy()
        else:
            np.testing.assert_allclose(mine, out.numpy(), rtol=1e-12)
            np.testing.assert_allclose(in_place, b.numpy(), rtol=1e-12)


def test_gradients_match_torch():
    """First derivatives in float64 against PyTorch's (the op table checks second order numerically)."""
    v = np.array([0.3, 1.7, 4.2, -0.6, -2.3, 12.0, 25.0])
    u = np.array([0.3, -0.8, 0.1, 0.95, -0.999])
    fns = {"lgamma": (_top("lgamma"), v), "digamma": (_top("digamma"), v), "polygamma3": (_pg(3), v),
           "erfinv": (_top("erfinv"), u), "erfc": (_top("erfc"), v), "i0": (_top("i0"), v),
           "mvlgamma": (_mvl(3), v + 3), "erfcx": (_special("erfcx"), v), "i0e": (_special("i0e"), v),
           "i1": (_special("i1"), np.append(v, 0.0)), "i1e": (_special("i1e"), np.append(v, 0.0)),
           "ndtri": (_special("ndtri"), np.abs(u) * 0.9 + 0.05), "ndtr": (_special("ndtr"), v),
           "log_ndtr": (_special("log_ndtr"), np.append(v, [-40.0, -3.0])), "entr": (_special("entr"), np.abs(v)),
           "xlog1py": (lambda lib, a: lib.special.xlog1py(a, a * a), np.append(v, 0.0))}
    for name, (fn, vals) in fns.items():
        grads = []
        for lib in (ember, torch):
            x = lib.tensor(vals, dtype=lib.float64, requires_grad=True)
            (g,) = lib.autograd.grad(fn(lib, x).sum(), [x])
            grads.append(g.detach().numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("call,kind,words", [
    (lambda: ember.polygamma(-1, ember.tensor([1.0])), RuntimeError, ["polygamma", "negative n", "(1,)"]),
    (lambda: ember.polygamma(1.5, ember.tensor([1.0])), TypeError, ["polygamma", "'n'", "float"]),
    (lambda: ember.mvlgamma(ember.tensor([3.0]), 0), RuntimeError, ["mvlgamma", "p has to be greater"]),
    (lambda: ember.special.zeta(ember.tensor([2.0], requires_grad=True), 1.0).sum().backward(), NotImplementedError,
     ["zeta", "derivative"]),
])
def test_errors_name_the_function(call, kind, words):
    with pytest.raises(kind) as info:
        call()
    assert all(w in str(info.value) for w in words), str(info.value)


def test_float16_and_bfloat16_round_once():
    """Half-precision inputs keep their dtype; values are the float64 result rounded once."""
    x = np.array([0.3, 1.7, 4.2, -0.6], dtype=np.float16)
    for dt in (ember.float16, ember.bfloat16):
        out = ember.lgamma(ember.tensor(x.astype(np.float32), dtype=dt))
        assert out.dtype is dt
        exact = ember.lgamma(ember.tensor(x.astype(np.float32), dtype=dt).double())
        np.testing.assert_array_equal(out.double().numpy(), exact.to(dt).double().numpy())
