"""Integer, bool and mixed-dtype inputs against PyTorch: the same dtype and values, or a clear error.

Two generated tables. Every one-argument function that ``torch`` / ``torch.nn.functional`` and Ember share, on
int64, int32, uint8 and bool tensors; and the binary math functions on every pair of seven dtypes and with
Python scalars. Where PyTorch returns a tensor, Ember must return the same dtype and values, or refuse with an
error naming the function and the user's line (never NumPy's own message, never a wrong dtype). Where PyTorch
refuses, Ember may be more lenient. Then rows for the cases these tables found (clamp's promotion, integer
division by zero, integer powers with negative exponents).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as EF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

VALUES = np.array([[-3, -1, 0], [1, 2, 5]])
SKIP = {  # random, stateful or not a function of one tensor
    "manual_seed", "set_num_threads", "set_default_dtype", "load", "save", "compile", "empty", "empty_like",
    "rand_like", "randn_like", "randint_like", "randperm", "seed", "initial_seed", "set_printoptions",
    "use_deterministic_algorithms", "dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
    "dropout3d", "rrelu", "bernoulli", "multinomial", "normal", "poisson", "gumbel_softmax", "empty_strided",
    "is_autocast_enabled"}


def _array(dtype: str) -> np.ndarray:
    if dtype == "bool":
        return VALUES > 0
    return (np.abs(VALUES) if dtype == "uint8" else VALUES).astype(dtype)


def _shared(tmod, emod):
    def usable(n):
        return callable(getattr(tmod, n)) and callable(getattr(emod, n)) and not isinstance(getattr(tmod, n), type)

    return sorted(n for n in dir(emod) if not n.startswith("_") and n not in SKIP and hasattr(tmod, n) and usable(n))


UNARY = [("torch", n) for n in _shared(torch, ember)] + [("F", n) for n in _shared(TF, EF)]
BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "maximum", "minimum", "atan2",
          "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "bitwise_and",
          "bitwise_or", "bitwise_xor", "clamp", "isclose", "dot", "matmul"]
DTYPES = ["int64", "int32", "uint8", "bool", "float32", "float64", "float16"]


def _outcome(fn, *args):
    """(result, None) or (None, the exception)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args), None
        except Exception as exc:  # noqa: BLE001  (any refusal counts; which one is checked below)
            return None, exc


def _agrees(name, want, want_err, got, got_err):
    if want_err is not None:
        return  # PyTorch refuses: Ember may refuse or compute
    if got_err is not None:
        text = str(got_err)
        assert "\n  at " in text and ":" in text.split("\n")[0], f"{name}: an unclear error: {got_err!r}"
        return
    if not isinstance(want, torch.Tensor):
        return
    got_np = got.detach().numpy()
    assert str(got_np.dtype) == str(want.dtype).removeprefix("torch."), f"{name}: dtype {got_np.dtype} vs {want.dtype}"
    np.testing.assert_allclose(got_np.astype(np.float64), want.numpy().astype(np.float64), rtol=2e-3, atol=1e-6,
                               equal_nan=True, err_msg=name)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("module,name", UNARY, ids=[f"{m}.{n}" for m, n in UNARY])
def test_one_tensor_functions_on_integer_and_bool_inputs(module, name, dtype):
    tmod, emod = (torch, ember) if module == "torch" else (TF, EF)
    a = _array(dtype)
    want, want_err = _outcome(getattr(tmod, name), torch.from_numpy(a.copy()))
    got, got_err = _outcome(getattr(emod, name), ember.tensor(a.copy()))
    _agrees(f"{module}.{name}({dtype})", want, want_err, got, got_err)


@pytest.mark.parametrize("name", BINARY)
def test_binary_functions_on_every_dtype_pair_and_scalar(name):
    for a_dtype in DTYPES:
        for b in DTYPES + [2, 2.5, True]:
            a = _array(a_dtype)
            bv = _array(b) if isinstance(b, str) else b
            if name == "dot":
                a, bv = a.ravel(), (bv.ravel() if isinstance(b, str) else bv)
            elif name == "matmul" and isinstance(b, str):
                bv = bv.T.copy()
            tb = torch.from_numpy(bv.copy()) if isinstance(b, str) else bv
            eb = ember.tensor(bv.copy()) if isinstance(b, str) else bv
            want, want_err = _outcome(getattr(torch, name), torch.from_numpy(a.copy()), tb)
            got, got_err = _outcome(getattr(ember, name), ember.tensor(a.copy()), eb)
            _agrees(f"{name}({a_dtype}, {b!r})", want, want_err, got, got_err)


CLAMPS = [  # (input, min, max): PyTorch promotes the input with the bounds
    ([-3, -1, 0, 2, 5], 0.5, None), ([-3, 0, 5], None, 2), ([True, False], 0, None),
    ([-3, 0, 5], [0.5, 0.5, 0.5], None), ([1.0, 7.0], None, [2.0, 2.0]),
]


@pytest.mark.parametrize("case", range(len(CLAMPS)))
def test_clamp_promotes_like_torch(case):
    x, lo, hi = CLAMPS[case]

    def run(lib):
        f64 = lib.float64 if isinstance(lo, list) else None
        def bound(v):
            return lib.tensor(v, dtype=f64) if isinstance(v, list) else v

        return lib.clamp(lib.tensor(x), bound(lo), bound(hi))

    got, want = run(ember), run(torch)
    assert (str(got.dtype).split(".")[-1], got.tolist()) == (str(want.dtype).split(".")[-1], want.tolist())


@pytest.mark.parametrize("expr", [lambda a, b: a // b, lambda a, b: a % b, ember.fmod,
                                  lambda a, b: ember.div(a, b, rounding_mode="trunc")],
                         ids=["floordiv", "remainder", "fmod", "div_trunc"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_integer_division_by_zero_raises_at_the_users_line(expr, compiled):
    fn = ember.compile(expr) if compiled else expr
    assert fn(ember.tensor([7, -7]), ember.tensor([2, 3])).tolist() == expr(ember.tensor([7, -7]),
                                                                            ember.tensor([2, 3])).tolist()
    with pytest.raises(RuntimeError, match=r"integer division by zero[\s\S]*test_dtype_semantics.py"):
        fn(ember.tensor([7, -7]), ember.tensor([2, 0]))
    assert ember.tensor([7.0]) // 0 == float("inf")  # floats divide by zero as IEEE says, like PyTorch


def test_integer_powers_with_negative_exponents_match_torch():
    base, exp = [-3, -1, 0, 1, 2, 5, -1, -1], [-1, -3, -2, -5, -1, 2, -2, 3]
    for dtype in ("int64", "int32"):
        got = ember.tensor(base, dtype=getattr(ember, dtype)) ** ember.tensor(exp, dtype=getattr(ember, dtype))
        want = torch.tensor(base, dtype=getattr(torch, dtype)) ** torch.tensor(exp, dtype=getattr(torch, dtype))
        assert (str(got.dtype).split(".")[-1], got.tolist()) == (str(want.dtype).split(".")[-1], want.tolist())
    assert (2 ** ember.tensor([-1, 3])).tolist() == (2 ** torch.tensor([-1, 3])).tolist() == [0, 8]
    with pytest.raises(ValueError, match="negative integer powers"):  # a negative Python exponent: PyTorch raises
        ember.tensor([2]) ** -1


def test_diag_picks_the_diagonal_without_multiplying():
    x = ember.tensor([[1.0, float("inf")], [2.0, 3.0]])  # masking by eye would make inf * 0 = nan
    assert ember.diag(x).tolist() == [1.0, 3.0]
    assert ember.diag(ember.tensor([[1, 2], [3, 4]], dtype=ember.int32)).dtype == ember.int32


def test_softmax_refuses_integers_and_names_the_fix():
    with pytest.raises(TypeError, match=r"softmax: expected a floating-point input, got int64.*dtype=ember.float32"):
        EF.softmax(ember.tensor([1, 2]), dim=0)
    assert EF.softmax(ember.tensor([1, 2]), dim=0, dtype=ember.float32).dtype == ember.float32


TINY = [-30.0, -20.0, -1e-7, 1e-10, 1e-5, 0.5, 20.0, 30.0]
ACCURATE = {  # functions whose point is accuracy where a naive composite rounds to 0 or cancels
    "log1p": lambda lib, x: lib.log1p(x.abs() * 0.5),
    "expm1": lambda lib, x: lib.expm1(x.clamp(max=1.0)),
    "softplus": lambda lib, x: lib.nn.functional.softplus(x),
    "logsigmoid": lambda lib, x: lib.nn.functional.logsigmoid(x),
    "bce_with_logits": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x, lib.ones_like(x), reduction="none"),
    "soft_margin": lambda lib, x: lib.nn.functional.soft_margin_loss(x, lib.ones_like(x), reduction="none"),
}


@pytest.mark.parametrize("name", ACCURATE)
def test_functions_keep_the_digits_of_tiny_values(name):
    got = ACCURATE[name](ember, ember.tensor(TINY)).numpy()
    want = ACCURATE[name](torch, torch.tensor(TINY)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)  # relative: 2e-9 against 0 fails


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_gelu_computes_in_float32_like_torch(dtype):
    x = [-3.0, -1.0, 0.0, 1.0, 2.0, 5.0]
    e = ember.tensor(x, dtype=getattr(ember, dtype), requires_grad=True)
    t = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    EF.gelu(e).sum().backward()
    TF.gelu(t).sum().backward()
    assert EF.gelu(e).tolist() == TF.gelu(t).tolist() and e.grad.tolist() == t.grad.tolist()


EXTREMES = np.array([-100, -30, -5, -1e-6, -0.0, 0, 1e-30, 1e-6, 0.3, 5, 30, 88, 100, np.inf, -np.inf, np.nan])
DIFFERENT = {  # where Ember and PyTorch part on purpose, and why
    "sign": "NaN's sign is NaN (NumPy, IEEE); PyTorch's CPU kernel returns 0",
    "sgn": "sign's alias (above)",
    "relu6": "-0.0 comes back as +0.0: hardtanh's bound-inclusive compare (its gradient is 0 at a bound, as "
             "PyTorch's) picks the bound 0.0 there; PyTorch keeps -0.0",
    "gelu": "float32 tails: PyTorch's 1 + erf(x) cancels (-1.19e-6 at -5, true -1.43e-6); gelu(inf) is inf, not NaN",
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("module,name", UNARY, ids=[f"{m}.{n}" for m, n in UNARY])
def test_one_tensor_functions_at_extreme_values(module, name, dtype):
    if name in DIFFERENT:
        pytest.skip(DIFFERENT[name])
    tmod, emod = (torch, ember) if module == "torch" else (TF, EF)
    a = EXTREMES.astype(dtype)
    want, want_err = _outcome(getattr(tmod, name), torch.from_numpy(a.copy()))
    if want_err is not None or not isinstance(want, torch.Tensor) or not want.dtype.is_floating_point:
        return
    got, got_err = _outcome(getattr(emod, name), ember.tensor(a.copy()))
    assert got_err is None, f"{module}.{name}: {got_err!r}"
    g, w = got.detach().numpy(), want.detach().numpy()
    np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-37, equal_nan=True,
                               err_msg=f"{module}.{name}({dtype})")
    zeros = (w == 0) & (g == 0)  # and signed zeros as PyTorch's (relu(-0.0) is -0.0, abs(-0.0) is 0.0)
    np.testing.assert_array_equal(np.signbit(g[zeros]), np.signbit(w[zeros]), err_msg=f"{module}.{name}: zero signs")


NANS = [[3.0, np.nan, 1.0, 2.0], [np.nan, np.nan, 0.0, 1.0], [1.0, 1.0, 2.0, np.inf]]
ORDERINGS = {  # stable orders, so ties (the NaNs among themselves) have one answer
    "sort_descending": lambda L, x: L.sort(x, descending=True, stable=True),
    "sort_ascending": lambda L, x: L.sort(x, stable=True),
    "argsort_descending_dim0": lambda L, x: L.argsort(x, dim=0, descending=True, stable=True),
    "topk_values": lambda L, x: L.topk(x, 2).values,
    "topk_smallest": lambda L, x: L.topk(x, 2, largest=False).values,  # (PyTorch orders tied indices freely)
    "max_dim": lambda L, x: L.max(x, 1),
    "median_dim": lambda L, x: L.median(x, 1),
    "median_all": lambda L, x: L.median(x),
    "nanmedian_dim": lambda L, x: L.nanmedian(x, 1),
}


@pytest.mark.parametrize("name", ORDERINGS)
def test_nan_is_ordered_above_every_number_like_torch(name):
    got = ORDERINGS[name](ember, ember.tensor(NANS))
    want = ORDERINGS[name](torch, torch.tensor(NANS))
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g.numpy(), w.numpy(), err_msg=name)


SIGNED = np.array([[-0.0, 0.0, np.nan, -np.inf, -2.0, 3.0]], np.float32)


def _identity_linear(lib):
    m = lib.nn.Sequential(lib.nn.Linear(6, 6, bias=False), lib.nn.ReLU())
    with lib.no_grad():
        m[0].weight.copy_(lib.eye(6))
    return m.eval()


RELU_PATHS = {  # every place relu is computed: the primitive, a compiled node, a fused linear, the inference conv
    "eager": lambda lib, x: lib.relu(x),
    "compiled_node": lambda lib, x: (ember.compile(lambda t: ember.relu(t)) if lib is ember else lib.relu)(x),
    "compiled_kernel": lambda lib, x: (ember.compile(lambda t: ember.relu(t * 1.0)) if lib is ember else
                                       (lambda t: lib.relu(t * 1.0)))(x),
    "linear_relu_inference": lambda lib, x: (ember.compile(_identity_linear(lib)) if lib is ember else
                                             _identity_linear(lib))(lib.nan_to_num(x, posinf=0.0, neginf=0.0) * -1),
}


@pytest.mark.parametrize("path", RELU_PATHS)
def test_relu_keeps_negative_zero_and_nan_like_torch(path):
    with ember.no_grad(), torch.no_grad():
        got = RELU_PATHS[path](ember, ember.tensor(SIGNED)).numpy()
        want = RELU_PATHS[path](torch, torch.tensor(SIGNED)).numpy()
    np.testing.assert_array_equal(got, want)
    zeros = want == 0  # (a NaN's sign bit means nothing)
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]), err_msg=f"{path}: zero signs")
