"""ember.fft against torch.fft, and the complex numbers under it.

- every torch.fft function over norms, signal sizes (``n``/``s``, trimming and padding), dims and input dtypes:
  values, dtypes and shapes equal to PyTorch's, and the gradients of real losses (``torch.autograd.grad``) too;
- float64 finite-difference checks (first and second order) of real-valued composites through every transform;
- PyTorch's argument errors and dtype rules (integers in the default float dtype, float16 refused on the CPU);
- fftfreq / rfftfreq / fftshift / ifftshift;
- complex tensors: creation, promotion (PyTorch's table, 0-d tensors and Python numbers), printing, parts and
  views (real/imag/view_as_real/view_as_complex share memory), complex/polar/abs/angle/sgn/conj with PyTorch's
  gradients (its conjugate convention), and every other op refusing complex inputs by name;
- complex tensors and graphs: ember.compile runs them eagerly (a graph break), strict mode raises.
"""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
from ember.testing import assert_close, gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
NORMS = [None, "backward", "ortho", "forward"]


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().resolve_neg().numpy()
    return t.detach().numpy()


def _same(e, t, rtol=1e-5, atol=1e-6, where=""):
    assert e.dtype.name == str(t.dtype).replace("torch.", ""), f"{where}: dtype {e.dtype} vs torch's {t.dtype}"
    assert tuple(e.shape) == tuple(t.shape), f"{where}: shape {tuple(e.shape)} vs torch's {tuple(t.shape)}"
    assert_close(_np(e), _np(t), rtol, atol, msg=where)


def _loss(lib, out, w):
    """A real loss of ``out`` with every part weighted (the real and imaginary parts of a complex output)."""
    ww = lib.tensor(w)
    if out.is_complex():
        return (lib.view_as_real(out.resolve_conj()) * ww[..., :2].to(out.real.dtype)).sum() + \
            (out.abs() ** 2).sum() * 0.25
    return (out * ww[..., 0].to(out.dtype)).sum() + (out ** 2).sum() * 0.25


def _against_torch(fn, arrays, where, grad=True, rtol=1e-5, atol=1e-6):
    e_in = [ember.tensor(a, requires_grad=grad and a.dtype.kind in "fc") for a in arrays]
    t_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind in "fc") for a in arrays]
    e_out, t_out = fn(ember, *e_in), fn(torch, *t_in)
    _same(e_out, t_out, rtol, atol, where)
    if not grad:
        return
    w = RNG.standard_normal(tuple(t_out.shape) + (2,))
    e_g = ember.autograd.grad(_loss(ember, e_out, w), e_in)
    t_g = torch.autograd.grad(_loss(torch, t_out, w), t_in)
    for k, (a, b) in enumerate(zip(e_g, t_g)):
        _same(a, b, rtol, atol, f"{where}: gradient of input {k}")


X = RNG.standard_normal((3, 5, 6))
Z = X + 1j * RNG.standard_normal((3, 5, 6))
ONE_DIM = [(None, -1), (4, -1), (9, 0), (1, 1), (None, 1)]


# -- the one-dimensional transforms ------------------------------------------------------------------------
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "ihfft"])
def test_real_input_transforms_match_torch(name, norm):
    for n, dim in ONE_DIM:
        _against_torch(lambda L, x, n=n, dim=dim: getattr(L.fft, name)(x, n=n, dim=dim, norm=norm), [X],
                       f"{name} n={n} dim={dim}")


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", ["fft", "ifft", "irfft", "hfft"])
def test_complex_input_transforms_match_torch(name, norm):
    for n, dim in ONE_DIM + [(2, -1), (12, -1)]:
        _against_torch(lambda L, z, n=n, dim=dim: getattr(L.fft, name)(z, n=n, dim=dim, norm=norm), [Z],
                       f"{name} n={n} dim={dim}")


# -- the n-dimensional transforms ----------------------------------------------------------------------------
ND_ARGS = [{}, {"s": (4, 7)}, {"dim": (0, 2)}, {"s": (2, 3), "dim": (2, 0)}, {"s": (-1, 4), "dim": (1, 2)},
           {"s": (3,)}, {"s": (2, 8, 5)}, {"dim": (-1,)}, {"dim": 1}]


def _nd_kwargs(name, kw):
    """``kw`` for the n-dimensional functions; for the two-dimensional ones only when it names two dims."""
    if not name.endswith("2"):
        return kw
    dim, s = kw.get("dim", (-2, -1)), kw.get("s", (0, 0))
    return kw if isinstance(dim, tuple) and len(dim) == 2 and len(s) == 2 else None


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", ["fft2", "ifft2", "fftn", "ifftn", "rfft2", "rfftn", "ihfft2", "ihfftn"])
def test_real_input_nd_transforms_match_torch(name, norm):
    for kw in ND_ARGS:
        kw = _nd_kwargs(name, kw)
        if kw is not None:
            _against_torch(lambda L, x, kw=kw: getattr(L.fft, name)(x, norm=norm, **kw), [X], f"{name} {kw}")


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", ["fft2", "ifft2", "fftn", "ifftn", "irfft2", "irfftn", "hfft2", "hfftn"])
def test_complex_input_nd_transforms_match_torch(name, norm):
    for kw in ND_ARGS + [{"s": (3, -1), "dim": (0, 1)}, {"s": (4, 9)}]:
        kw = _nd_kwargs(name, kw)
        if kw is not None:
            _against_torch(lambda L, z, kw=kw: getattr(L.fft, name)(z, norm=norm, **kw), [Z], f"{name} {kw}")


def test_round_trips_and_float32():
    x32 = X.astype(np.float32)
    for fwd, inv, kw in [("fft", "ifft", {}), ("rfft", "irfft", {"n": 6}), ("fftn", "ifftn", {}),
                         ("rfftn", "irfftn", {"s": (3, 5, 6)}), ("ihfft", "hfft", {"n": 6}),
                         ("rfft2", "irfft2", {"s": (5, 6)}), ("ihfftn", "hfftn", {"s": (3, 5, 6)})]:
        for norm in NORMS:
            x = ember.tensor(x32)
            back = getattr(ember.fft, inv)(getattr(ember.fft, fwd)(x, norm=norm), norm=norm, **kw)
            assert back.dtype in (ember.float32, ember.complex64), (fwd, back.dtype)
            assert_close(back.real if back.is_complex() else back, x32, 1e-5, 1e-5, msg=f"{fwd}/{inv} {norm}")
    _against_torch(lambda L, x: L.fft.irfft(L.fft.rfft(x), n=6), [x32], "float32 round trip", rtol=1e-4,
                   atol=1e-5)
    _against_torch(lambda L, z: L.fft.fftn(z, dim=(0, 1)), [Z.astype(np.complex64)], "complex64", rtol=1e-4,
                   atol=1e-4)


def test_the_briefs_losses_match_torch():
    """fft(x).abs().sum() and (irfft(rfft(x)) * w).sum(), the gradients against torch.autograd.grad."""
    w = RNG.standard_normal(6)
    for lib_fn in (lambda L, x: L.fft.fft(x).abs().sum(),
                   lambda L, x: (L.fft.irfft(L.fft.rfft(x), n=6) * L.tensor(w)).sum(),
                   lambda L, x: L.fft.ifft(L.fft.fft(x, norm="ortho") * 1j).real.sum(),
                   lambda L, x: L.fft.hfft(L.fft.ihfft(x), n=6).pow(2).sum()):
        e, t = ember.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
        (ge,), (gt,) = ember.autograd.grad(lib_fn(ember, e), e), torch.autograd.grad(lib_fn(torch, t), t)
        _same(ge, gt, where="loss gradient")


# -- numerical gradient checks (float64), first and second order ---------------------------------------------
def _complex_in(re, im):
    return ember.complex(re, im)


CHECKS = {
    "fft": lambda x, re, im: ember.view_as_real(ember.fft.fft(x, n=5)),
    "ifft": lambda x, re, im: ember.view_as_real(ember.fft.ifft(_complex_in(re, im), dim=0, norm="ortho")),
    "fftn": lambda x, re, im: ember.view_as_real(ember.fft.fftn(_complex_in(re, im), s=(2, 5), norm="forward")),
    "rfft": lambda x, re, im: ember.view_as_real(ember.fft.rfft(x, n=7)),
    "rfftn": lambda x, re, im: ember.view_as_real(ember.fft.rfftn(x, norm="ortho")),
    "irfft": lambda x, re, im: ember.fft.irfft(_complex_in(re, im), n=5),
    "irfftn": lambda x, re, im: ember.fft.irfftn(_complex_in(re, im), s=(3, 6)),
    "hfft": lambda x, re, im: ember.fft.hfft(_complex_in(re, im), norm="forward"),
    "hfftn": lambda x, re, im: ember.fft.hfftn(_complex_in(re, im), s=(2, 3)),
    "ihfft": lambda x, re, im: ember.view_as_real(ember.fft.ihfft(x)),
    "ihfftn": lambda x, re, im: ember.view_as_real(ember.fft.ihfftn(x, norm="ortho")),
    "abs_angle": lambda x, re, im: (_complex_in(re, im).abs(), _complex_in(re, im).angle()),
    "mul_div": lambda x, re, im: ember.view_as_real(_complex_in(re, im) * _complex_in(im, re) / (
        _complex_in(re, im) + 3)),
    "sgn_polar": lambda x, re, im: (ember.view_as_real(_complex_in(re, im).sgn()),
                                    ember.view_as_real(ember.polar(x[:, :4], re))),
    "views": lambda x, re, im: ember.view_as_real(ember.view_as_complex(ember.stack([re, im], -1)).conj() * x[:, :4]),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_gradients_are_right_in_float64(name):
    rng = np.random.default_rng(len(name))
    x = ember.tensor(rng.standard_normal((3, 6)), requires_grad=True)
    re = ember.tensor(rng.uniform(0.5, 2, (3, 4)) * rng.choice([-1, 1], (3, 4)), requires_grad=True)
    im = ember.tensor(rng.uniform(0.5, 2, (3, 4)) * rng.choice([-1, 1], (3, 4)), requires_grad=True)
    gradcheck(CHECKS[name], (x, re, im), seed=1, n_directions=2)
    gradgradcheck(CHECKS[name], (x, re, im), seed=2)


# -- dtypes and arguments --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool", "complex64",
                                   "complex128", "float16", "bfloat16"])
@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fftn", "rfft2", "irfftn",
                                  "hfft2", "ihfftn"])
def test_input_dtypes_as_torch(name, dtype):
    data = np.arange(12).reshape(3, 4) % 5
    e_in = ember.tensor(data).to(getattr(ember, dtype)) if dtype != "bfloat16" or ember.bfloat16 else None
    t_in = torch.tensor(data).to(getattr(torch, dtype))
    try:
        want = getattr(torch.fft, name)(t_in)
    except RuntimeError as err:
        with pytest.raises(RuntimeError) as got:
            getattr(ember.fft, name)(e_in)
        words = "Unsupported dtype" if "Unsupported dtype" in str(err) else "expects a real input"
        assert words in str(got.value), (str(got.value), str(err))
        return
    _same(getattr(ember.fft, name)(e_in), want, 1e-5, 1e-5, f"{name} {dtype}")


def test_default_dtype_float64_gives_complex128():
    prev = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.fft.fft(ember.tensor([1, 2, 3])).dtype is ember.complex128
        assert ember.tensor([1j]).dtype is ember.complex128
        assert (ember.ones(2, dtype=ember.int64) * 1j).dtype is ember.complex128
    finally:
        ember.set_default_dtype(prev)


ARG_ERRORS = [
    (lambda L, x: L.fft.fft(x, norm="xyz"), "Invalid normalization mode"),
    (lambda L, x: L.fft.fft(x, n=0), r"Invalid number of data points \(0\)"),
    (lambda L, x: L.fft.rfft(x, n=-1), r"Invalid number of data points \(-1\)"),
    (lambda L, x: L.fft.irfft(x[:, :1]), r"Invalid number of data points \(0\)"),
    (lambda L, x: L.fft.fft(x, dim=3), "out of range"),
    (lambda L, x: L.fft.fftn(x, dim=(0, 0)), "unique"),
    (lambda L, x: L.fft.fftn(x, dim=(0, -2)), "unique"),
    (lambda L, x: L.fft.fftn(x, s=(2,), dim=(0, 1)), "same length"),
    (lambda L, x: L.fft.fftn(x, s=(2, 2, 2)), "only has 2 dimensions"),
    (lambda L, x: L.fft.fft(x.sum()), "no dimensions"),
    (lambda L, x: L.fft.rfftn(x, dim=()), "at least one axis"),
    (lambda L, x: L.fft.irfftn(x, dim=()), "at least one axis"),
    (lambda L, x: L.fft.fftshift(x.sum()), "shift"),
]


@pytest.mark.parametrize("fn, words", ARG_ERRORS, ids=[w for _, w in ARG_ERRORS])
def test_argument_errors_as_torch(fn, words):
    with pytest.raises((RuntimeError, IndexError)) as want:
        fn(torch, torch.ones(3, 4))
    with pytest.raises(type(want.value), match=words):
        fn(ember, ember.ones(3, 4))


def test_empty_dims_copy_and_out():
    x = ember.tensor(X[0])
    same = ember.fft.fftn(x, dim=())
    assert same.dtype is ember.complex128 and np.array_equal(same.real.numpy(), X[0])
    out = ember.zeros(5, 4, dtype=ember.complex128)
    got = ember.fft.fft(x, n=4, out=out)
    assert got is out
    _same(out, torch.fft.fft(torch.tensor(X[0]), n=4))
    with pytest.raises(RuntimeError, match="out="):
        ember.fft.fft(x, out=ember.zeros(5, 6))


# -- frequencies and shifts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 5, 8, 11])
def test_fftfreq_rfftfreq_equal_torch_bit_for_bit(n):
    for d in (1.0, 0.1, 2.5):
        for dtype in (None, "float64", "float32"):
            kw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
            ekw = {} if dtype is None else {"dtype": getattr(ember, dtype)}
            for name in ("fftfreq", "rfftfreq"):
                want = getattr(torch.fft, name)(n, d, **kw)
                got = getattr(ember.fft, name)(n, d, **ekw)
                assert got.dtype.name == str(want.dtype).replace("torch.", "")
                np.testing.assert_array_equal(_np(got), _np(want), err_msg=f"{name}({n}, {d}, {dtype})")
    assert ember.fft.fftfreq(4, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="floating point or complex dtype"):
        ember.fft.fftfreq(4, dtype=ember.int64)


@pytest.mark.parametrize("shape", [(6,), (5,), (2, 3), (4, 5, 3)])
def test_fftshift_ifftshift_match_torch(shape):
    a = np.arange(int(np.prod(shape))).reshape(shape)
    dims = [None, 0, -1, tuple(range(len(shape)))[::-1]]
    for name in ("fftshift", "ifftshift"):
        for dim in dims:
            want = getattr(torch.fft, name)(torch.tensor(a), dim=dim)
            got = getattr(ember.fft, name)(ember.tensor(a), dim=dim)
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"{name} {shape} {dim}")
    z = ember.fft.fft(ember.tensor(a.astype(float)))
    np.testing.assert_array_equal(ember.fft.ifftshift(ember.fft.fftshift(z)).numpy(), z.numpy())
    _against_torch(lambda L, x: L.fft.fftshift(L.fft.fft(x), dim=-1), [a.astype(float)], "fftshift grad")


# -- complex tensors ------------------------------------------------------------------------------------------------
def test_creation_conversion_and_numpy():
    z = np.array([1 + 2j, -3.5 - 0.25j], np.complex128)
    assert ember.tensor(z).dtype is ember.complex128 and ember.tensor(z.astype(np.complex64)).dtype is ember.complex64
    assert ember.tensor([1, 2 + 1j]).dtype is ember.complex64 and ember.tensor(2.5j).dtype is ember.complex64
    shared = ember.from_numpy(z)
    shared[0] = 5j
    assert z[0] == 5j and ember.tensor(z).numpy().dtype == np.complex128
    assert ember.tensor(3 - 1j).item() == 3 - 1j and ember.tensor([1j, 2]).tolist() == [1j, 2 + 0j]
    assert ember.zeros(2, dtype=ember.cfloat).dtype is ember.complex64 and ember.cdouble is ember.complex128
    assert ember.tensor([1.0]).to(ember.complex64).dtype is ember.complex64
    assert ember.tensor([1j]).is_complex() and not ember.tensor([1.0]).is_complex()
    assert ember.tensor([1j]).type() == "ember.ComplexFloatTensor"
    assert not ember.complex64.is_floating_point and ember.complex64.is_complex and ember.complex64.is_signed
    assert ember.tensor([1j, 0]).to(ember.bool).tolist() == [True, False]


def test_conversion_to_real_warns_and_keeps_the_real_part_as_torch():
    for conv in (lambda x: x.float(), lambda x: x.to(x.real.dtype), lambda x: x.long(), lambda x: x.double()):
        with pytest.warns(UserWarning, match="discards the imaginary part"):
            got = conv(ember.tensor([1.5 + 2j, -3j]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = conv(torch.tensor([1.5 + 2j, -3j]))
        _same(got, want)
    x = ember.zeros(2)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        x[0] = 1 + 1j
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        x.copy_(ember.tensor([2 + 1j, 3j]))
    assert x.tolist() == [2.0, 0.0]
    with pytest.raises(TypeError, match="imaginary part"):  # an internal cast is never silent
        ember.logsumexp(ember.tensor([1j]), 0)


PROMOTIONS = ["complex64", "complex128", "float16", "bfloat16", "float32", "float64", "int64", "int8", "bool"]


def test_promotion_table_as_torch():
    for a in PROMOTIONS:
        for b in PROMOTIONS:
            want = str(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", "")
            assert ember.promote_types(getattr(ember, a), getattr(ember, b)).name == want, (a, b)
    for dim_dtype in ("float32", "float64", "int64", "bool", "complex64", "complex128"):
        for other in (1j, 2.5, 3, torch.tensor(1j), torch.tensor(1j, dtype=torch.complex128),
                      torch.tensor(2.0, dtype=torch.float64)):
            t = torch.ones(2, dtype=getattr(torch, dim_dtype))
            e = ember.ones(2, dtype=getattr(ember, dim_dtype))
            e_other = ember.tensor(other.numpy()) if isinstance(other, torch.Tensor) else other
            want = str((t * other).dtype).replace("torch.", "")
            assert (e * e_other).dtype.name == want, (dim_dtype, other)
            assert ember.result_type(e, e_other).name == want, (dim_dtype, other)
    exact = ember.ones(2, dtype=ember.float64) * (0.1 + 0.2j)  # a Python number is not rounded to complex64 first
    np.testing.assert_array_equal(exact.numpy(), (torch.ones(2, dtype=torch.float64) * (0.1 + 0.2j)).numpy())
    with pytest.raises(TypeError, match="complex32"):
        ember.ones(2, dtype=ember.float16) * 1j  # PyTorch makes complex32, which Ember has not


def test_printing_as_torch():
    for data in ([1 + 2j, -3.5 - 0.25j, 0.001j], [1 + 2j, 3, 4j], [[1 + 2j, 3], [4j, -5]],
                 [1 + 2j, float("nan") + 1j, complex(float("nan"), float("inf"))], 1 + 2j, [1e10 + 2j],
                 [0.5 + 10.5j, 1 + 1.5j], [1.123456 + 1e-5j]):
        assert repr(ember.tensor(data)) == repr(torch.tensor(data)), data
    assert repr(ember.tensor([1 + 2j, 3], dtype=ember.complex128)) == "tensor([1.+2.j, 3.+0.j], dtype=ember.complex128)"
    assert repr(ember.zeros(0, dtype=ember.complex64)) == "tensor([], dtype=ember.complex64)"
    assert repr(ember.tensor([0.5 + 2j], requires_grad=True)) == "tensor([0.5000+2.j], requires_grad=True)"


def test_parts_and_views_share_memory():
    z = ember.tensor([1 + 2j, 3 - 4j])
    z.real.mul_(2)
    z.imag[1] = 7
    assert z.tolist() == [2 + 2j, 6 + 7j]
    r = ember.view_as_real(z)
    r[0, 1] = -1
    assert z.tolist()[0] == 2 - 1j and tuple(r.shape) == (2, 2)
    f = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    c = ember.view_as_complex(f)
    c.mul_(1j)
    assert f.tolist() == [[-2.0, 1.0], [-4.0, 3.0]]
    strided = ember.view_as_real(ember.tensor([1j, 2, 3j, 4])[::2])
    assert strided.tolist() == [[0.0, 1.0], [0.0, 3.0]]
    t = ember.tensor([1.0, 2.0])
    assert ember.real(t) is t and t.real is t and ember.conj(t) is t and not ember.is_conj(ember.conj(z))
    with pytest.raises(RuntimeError, match="non-complex"):
        _ = t.imag
    with pytest.raises(RuntimeError, match="only supported for complex"):
        ember.view_as_real(t)
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        ember.view_as_complex(ember.ones(3))
    with pytest.raises(RuntimeError, match="float32 and float64"):
        ember.view_as_complex(ember.ones(2, dtype=ember.float16))
    with pytest.raises(RuntimeError, match="one dtype"):
        ember.complex(ember.ones(2), ember.ones(2, dtype=ember.float64))


def test_in_place_forms_on_complex_tensors_as_torch():
    for name in ("abs_", "absolute_"):
        with pytest.raises(RuntimeError) as want:
            getattr(torch.tensor([3 + 4j]), name)()
        with pytest.raises(RuntimeError, match="complex tensor"):
            getattr(ember.tensor([3 + 4j]), name)()
        assert "complex tensors" in str(want.value)
    for name, args in (("sgn_", ()), ("neg_", ()), ("conj_physical_", ()), ("mul_", (1j,)), ("add_", (2,)),
                       ("div_", (ember.tensor([1 + 1j]),))):
        z, t = ember.tensor([3 + 4j]), torch.tensor([3 + 4j])
        t_args = tuple(torch.tensor(a.numpy()) if isinstance(a, ember.Tensor) else a for a in args)
        assert getattr(z, name)(*args) is z
        getattr(t, name)(*t_args)
        _same(z, t, where=name)


def test_complex_functions_and_their_gradients_match_torch():
    a = RNG.uniform(0.5, 2, (3, 4)) * RNG.choice([-1, 1], (3, 4))
    b = RNG.uniform(0.5, 2, (3, 4)) * RNG.choice([-1, 1], (3, 4))
    cases = {
        "complex": lambda L, x, y: L.complex(x, y),
        "polar": lambda L, x, y: L.polar(x.abs(), y),
        "abs": lambda L, x, y: L.complex(x, y).abs(),
        "angle": lambda L, x, y: L.complex(x, y).angle(),
        "sgn": lambda L, x, y: L.complex(x, y).sgn(),
        "conj": lambda L, x, y: L.complex(x, y).conj() * L.complex(y, x),
        "arithmetic": lambda L, x, y: (L.complex(x, y) * L.complex(y, x) - x / L.complex(x, y) + 2j) / (1 + 1j),
        "reductions": lambda L, x, y: L.complex(x, y).sum(0) + L.complex(x, y).mean(1)[:1],
        "var": lambda L, x, y: L.complex(x, y).var(0),
        "parts": lambda L, x, y: L.complex(x, y).real * 2 + L.complex(x, y).imag,
        "isclose": lambda L, x, y: L.where(L.isclose(L.complex(x, y), L.complex(x, x)), x, y),
        "mT": lambda L, x, y: L.complex(x, y).mH,
        "views": lambda L, x, y: L.view_as_complex(L.stack([x, y], -1)) * L.view_as_real(L.complex(y, x))[..., 0],
        "matmul": lambda L, x, y: L.complex(x, y) @ L.complex(y, x).mT + L.complex(x, y)[0] @ L.complex(y, x).mT,
        "einsum": lambda L, x, y: L.einsum("ij,kj->ik", L.complex(x, y), L.complex(y * y, x)),
        "linear": lambda L, x, y: L.nn.functional.linear(L.complex(x, y), L.complex(y, x), L.complex(x, y)[0, :3])
        + L.nn.functional.linear(L.complex(x, y)[0], L.complex(y, x)),
        "spectral_conv": lambda L, x, y: L.fft.irfft2(L.einsum("bixy,ioxy->boxy", L.fft.rfft2(x.reshape(1, 1, 3, 4)),
                                                               L.complex(x, y).reshape(1, 1, 4, 3)[..., :3, :3]),
                                                      s=(3, 4)),
    }
    for name, fn in cases.items():
        _against_torch(fn, [a, b], name)


def test_complex_leaves_get_torchs_gradients():
    z0 = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
    w0 = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
    for fn in (lambda z, w: (z * w).abs().sum(), lambda z, w: (z / w).real.sum(),
               lambda z, w: (z.conj() * w).imag.sum(), lambda z, w: (z.abs() ** 2).sum(), lambda z, w: z.angle().sum(),
               lambda z, w: ember_or_torch(z).view_as_real(ember_or_torch(z).fft.fft(z * w)).pow(2).sum()):
        e = [ember.tensor(v, requires_grad=True) for v in (z0, w0)]
        t = [torch.tensor(v, requires_grad=True) for v in (z0, w0)]
        fn(*e).backward()
        fn(*t).backward()
        for a, b in zip(e, t):
            assert (a.grad is None) == (b.grad is None)
            if b.grad is not None:
                _same(a.grad, b.grad, where="complex leaf gradient")
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        ember.tensor(1j, requires_grad=True).mul(2).backward()


def ember_or_torch(x):
    return ember if isinstance(x, ember.Tensor) else torch


OPTIMIZERS = [("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ("Adam", {"lr": 0.01}),
              ("AdamW", {"lr": 0.01, "amsgrad": True}), ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
              ("Adagrad", {}), ("Adamax", {}), ("NAdam", {}), ("RAdam", {}), ("Adadelta", {}), ("Rprop", {}),
              ("ASGD", {}), ("LBFGS", {"lr": 0.5, "max_iter": 4})]


@pytest.mark.parametrize("name, kw", OPTIMIZERS, ids=[f"{n}{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_optimizers_step_complex_parameters_as_torch(name, kw):
    """Each part of a complex parameter steps as a real parameter of its own (PyTorch's view_as_real rule);
    the state stays complex; gradient clipping and norms take the magnitudes."""
    got = []
    for L in (ember, torch):
        p = L.nn.Parameter(L.tensor([1 + 1j, 2j, -0.5 + 0.25j]))
        opt = getattr(L.optim, name)([p], **kw)

        def closure(p=p, opt=opt, L=L):
            opt.zero_grad()
            loss = ((p * (1 + 2j) - 1).abs() ** 2).sum()
            loss.backward()
            if name != "LBFGS":  # (clipping inside L-BFGS's line search makes it diverge, in PyTorch too)
                L.nn.utils.clip_grad_norm_([p], 5.0)
            return loss

        for _ in range(3):
            opt.step(closure)
        got.append(p)
        if L is ember and name != "LBFGS":  # (L-BFGS keeps flat real vectors, as PyTorch's)
            assert all(v.dtype.is_complex for k, v in opt.state[p].items() if hasattr(v, "shape") and v.ndim)
    _same(got[0].detach(), got[1].detach(), 1e-5, 1e-6, where=name)


def test_norms_of_complex_tensors_as_torch():
    z = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    for fn in (lambda L, x: L.linalg.vector_norm(x), lambda L, x: L.linalg.vector_norm(x, 1, dim=0),
               lambda L, x: L.norm(x, p=3, dim=1), lambda L, x: L.linalg.norm(x),
               lambda L, x: L.view_as_real(L.nn.functional.normalize(x))):
        _against_torch(fn, [z], "norm")


REFUSED = [
    ("exp", lambda z: z.exp()), ("sin", lambda z: ember.sin(z)), ("sqrt", lambda z: z.sqrt()),
    ("relu", lambda z: ember.nn.functional.relu(z)), ("tanh", lambda z: z.tanh()), ("lt", lambda z: z < z),
    ("argsort", lambda z: z.sort()), ("amax", lambda z: z.max()), ("cumsum", lambda z: z.cumsum(0)),
    ("pow", lambda z: z ** 2), ("prod", lambda z: z.prod()), ("sign", lambda z: z.sign()),
    ("softmax", lambda z: z.softmax(0)), ("maximum", lambda z: ember.maximum(z, z)), ("floor", lambda z: z.floor()),
    ("unique", lambda z: z.unique()), ("isposinf", lambda z: ember.isposinf(z)),
    ("conv1d", lambda z: ember.nn.functional.conv1d(z[None, None], z[None, None])), ("exp", lambda z: z.clone().exp_()),
    ("bitwise_not", lambda z: ~z), ("sigmoid", lambda z: z.sigmoid()),
]


@pytest.mark.parametrize("name, fn", REFUSED, ids=[f"{n}{i}" for i, (n, _) in enumerate(REFUSED)])
def test_ops_without_complex_support_refuse_by_name(name, fn):
    z = ember.tensor([1 + 2j, 3 - 1j])
    with pytest.raises((NotImplementedError, TypeError)) as err:
        fn(z)
    assert name in str(err.value) and ("complex" in str(err.value) or "floating" in str(err.value)), str(err.value)


def test_the_complex_check_costs_nothing_until_a_complex_array_exists():
    code = ("import ember; from ember import dtypes; x = ember.ones(3); y = (x * 2).exp().sum(); "
            "assert not dtypes.COMPLEX_SEEN[0]; z = ember.fft.rfft(x); assert dtypes.COMPLEX_SEEN[0]; "
            "import sys; sys.exit(0 if not ember.ops.get('exp').complex_ok else 1)")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- graphs ------------------------------------------------------------------------------------------------------
def test_compile_runs_complex_parts_eagerly_and_strict_says_why():
    def spectral(x):
        y = x * 2
        return ember.fft.irfft(ember.fft.rfft(y) * ember.fft.rfft(y).abs(), n=x.shape[-1]) + 1

    x = ember.tensor(X[0].astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = ember.compile(spectral)
        for _ in range(2):
            np.testing.assert_array_equal(fast(x).numpy(), spectral(x).numpy())
        np.testing.assert_array_equal(ember.compile(lambda z: z.abs())(ember.fft.fft(x)).numpy(),
                                      ember.fft.fft(x).abs().numpy())
    with pytest.raises(ember.graph.tracer.GraphBreak, match="complex numbers"):
        ember.compile(spectral, strict=True)(x)

    class Spectral(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = ember.nn.Linear(6, 6)

        def forward(self, x):
            return ember.fft.irfft(ember.fft.rfft(self.lin(x)) * 2, n=6).pow(2).sum()

    ember.manual_seed(0)
    model = Spectral()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ember.compile(model)(x).backward()
    compiled_grad = model.lin.weight.grad.clone()
    model.zero_grad()
    model(x).backward()
    assert_close(compiled_grad, model.lin.weight.grad, 1e-6, 1e-6)
