"""Tensor basics against PyTorch: dtype promotion, creation functions, attributes and conversions, repr,
devices (cuda without CuPy/GPU raises an error that says what to install; GPU tests run only with a GPU)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ember
from ember.testing import assert_close

torch = pytest.importorskip("torch", reason="torch is the oracle for these tests (pip install 'ember[test]')")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SCALARS = [True, 3, 2.5]


def _pair(lib, name, zero_dim):
    return lib.ones(() if zero_dim else (2,), dtype=getattr(lib, name))


@pytest.mark.parametrize("a,b", list(itertools.product(DTYPES, DTYPES)))
def test_promotion_tensor_tensor_matches_torch(a, b):
    for za, zb in ((False, False), (False, True), (True, False), (True, True)):
        e = (
            _pair(ember, a, za) + _pair(ember, b, zb)
            if "bool" not in (a, b)
            else _pair(ember, a, za).logical_or(_pair(ember, b, zb))
            if a == b == "bool"
            else _pair(ember, a, za) * _pair(ember, b, zb)
        )
        t = (
            _pair(torch, a, za) + _pair(torch, b, zb)
            if "bool" not in (a, b)
            else _pair(torch, a, za).logical_or(_pair(torch, b, zb))
            if a == b == "bool"
            else _pair(torch, a, za) * _pair(torch, b, zb)
        )
        assert e.dtype.name == str(t.dtype).replace("torch.", ""), (a, za, b, zb)


@pytest.mark.parametrize("a,s", list(itertools.product(DTYPES, SCALARS)))
def test_promotion_tensor_scalar_matches_torch(a, s):
    for zero_dim in (False, True):
        for fn in (lambda x: x * s, lambda x: s * x, lambda x: x + s):
            e, t = fn(_pair(ember, a, zero_dim)), fn(_pair(torch, a, zero_dim))
            assert e.dtype.name == str(t.dtype).replace("torch.", ""), (a, s, zero_dim)


@pytest.mark.parametrize("a", DTYPES)
def test_true_division_and_float_functions_of_ints_match_torch(a):
    e, t = _pair(ember, a, False), _pair(torch, a, False)
    assert (e / e).dtype.name == str((t / t).dtype).replace("torch.", "")
    if a != "bool":
        assert e.exp().dtype.name == str(t.exp().dtype).replace("torch.", "")


# -- creation --------------------------------------------------------------------------------------
def _same(e, t):
    assert e.dtype.name == str(t.dtype).replace("torch.", ""), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    assert_close(e, t)


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.tensor([[1, 2], [3, 4]]),
        lambda L: L.tensor([1.5, 2.0]),
        lambda L: L.tensor(True),
        lambda L: L.tensor(3.0),
        lambda L: L.tensor([], dtype=L.float64),
        lambda L: L.as_tensor([1, 2]),
        lambda L: L.zeros(2, 3),
        lambda L: L.zeros((2, 3), dtype=L.int32),
        lambda L: L.ones(4, dtype=L.bool),
        lambda L: L.full((2, 2), 7),
        lambda L: L.full((2,), 1.5),
        lambda L: L.full((2,), True),
        lambda L: L.eye(3),
        lambda L: L.eye(2, 3, dtype=L.int64),
        lambda L: L.arange(5),
        lambda L: L.arange(1, 4, 0.5),
        lambda L: L.arange(0.0, 1.0, 0.25),
        lambda L: L.linspace(0, 1, 5),
        lambda L: L.zeros_like(L.ones(2, 3)),
        lambda L: L.ones_like(L.ones(2, dtype=L.int16)),
        lambda L: L.full_like(L.ones(2), 3.0),
        lambda L: L.empty(2, 3).shape and L.zeros(0),
        lambda L: L.empty_like(L.ones(3)).fill_(1.0),
    ],
    ids=lambda f: f.__code__.co_positions and str(f.__code__.co_firstlineno),
)
def test_creation_matches_torch(make):
    _same(make(ember), make(torch))


def test_from_numpy_and_numpy_share_memory():
    a = np.arange(6.0).reshape(2, 3)
    t = ember.from_numpy(a)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    t.numpy()[1, 2] = -1.0
    assert a[1, 2] == -1.0
    assert ember.as_tensor(a).numpy() is a or np.shares_memory(ember.as_tensor(a).numpy(), a)
    assert not np.shares_memory(ember.tensor(a).numpy(), a)


def test_random_creation_shapes_dtypes_and_seeds():
    ember.manual_seed(7)
    draws = [
        ember.rand(3),
        ember.randn(2, 2),
        ember.randint(0, 5, (4,)),
        ember.randperm(6),
        ember.normal(0.0, 2.0, (3,)),
        ember.bernoulli(ember.full((5,), 0.5)),
        ember.rand_like(ember.ones(2)),
        ember.randn_like(ember.ones(2, dtype=ember.float64)),
        ember.randint_like(ember.ones(3), 0, 3),
    ]
    ember.manual_seed(7)
    again = [
        ember.rand(3),
        ember.randn(2, 2),
        ember.randint(0, 5, (4,)),
        ember.randperm(6),
        ember.normal(0.0, 2.0, (3,)),
        ember.bernoulli(ember.full((5,), 0.5)),
        ember.rand_like(ember.ones(2)),
        ember.randn_like(ember.ones(2, dtype=ember.float64)),
        ember.randint_like(ember.ones(3), 0, 3),
    ]
    for d, a in zip(draws, again):
        assert_close(d, a)
    assert [d.dtype.name for d in draws] == [
        "float32",
        "float32",
        "int64",
        "int64",
        "float32",
        "float32",
        "float32",
        "float64",
        "float32",
    ]
    assert sorted(draws[3].tolist()) == list(range(6))
    assert set(draws[5].tolist()) <= {0.0, 1.0}
    assert ((draws[2] >= 0) & (draws[2] < 5)).all()


def test_generator_is_independent_of_the_global_seed():
    g1, g2 = ember.Generator().manual_seed(1), ember.Generator().manual_seed(1)
    a = ember.rand(4, generator=g1)
    ember.rand(10)  # the default generator does not disturb g2
    assert_close(a, ember.rand(4, generator=g2))
    assert not np.allclose(ember.rand(4, generator=g1).numpy(), a.numpy())
    assert g1.initial_seed() == 1


# -- attributes and conversions --------------------------------------------------------------------
def test_attributes():
    x = ember.ones(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.dtype is ember.float32 and str(x.device) == "cpu" and x.device == ember.device("cpu")
    assert x.is_leaf and x.grad_fn is None and x.grad is None and not x.requires_grad
    assert repr(x.shape) == "ember.Size([2, 3, 4])"


def test_conversions():
    x = ember.tensor([1.7, -2.2])
    assert x.tolist() == pytest.approx([1.7, -2.2]) and ember.tensor(2.5).item() == 2.5
    assert [t.dtype.name for t in (x.float(), x.double(), x.long(), x.int(), x.bool(), x.half())] == [
        "float32",
        "float64",
        "int64",
        "int32",
        "bool",
        "float16",
    ]
    assert x.long().tolist() == [1, -2] and x.to(ember.int64).tolist() == [1, -2]
    assert x.to("cpu") is x and x.to(ember.float32) is x and x.to(x).dtype is ember.float32
    assert float(ember.tensor(2.5)) == 2.5 and int(ember.tensor(3)) == 3 and bool(ember.tensor(True))
    c = x.clone()
    c[0] = 0.0
    assert x[0].item() == pytest.approx(1.7)
    t = ember.ones(2, 3).t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.tensor([1.0, 2.0]),
        lambda L: L.tensor([1.5, 2.0], requires_grad=True),
        lambda L: L.tensor(3),
        lambda L: L.tensor([1, 2, 3]),
        lambda L: L.tensor([True, False]),
        lambda L: L.tensor([[1.0, 2.5], [3.0, 4.0]]),
        lambda L: L.tensor([1.0, 2.0], dtype=L.float64),
        lambda L: L.tensor([1, 2], dtype=L.int32),
        lambda L: L.zeros(0),
        lambda L: L.tensor(2.5),
        lambda L: L.tensor([0.001, 1000.0]),
        lambda L: L.tensor([1.0, 2.0], requires_grad=True) * 2,
        lambda L: L.tensor([0.6931, -999.3069]),  # scientific notation with a minus sign: padded
        lambda L: L.tensor([[1e-5, -1.0], [3e5, 2.0]]),
        lambda L: L.tensor([True, True]),  # no False shown: no padding
        lambda L: L.tensor([[True], [False]]),
        lambda L: L.arange(2000),  # summarised: "2,  ..., 1997"
        lambda L: L.arange(2000) / 3.0,
        lambda L: L.tensor([True] * 1500 + [False] + [True] * 499),  # the False is not shown
        lambda L: L.ones(1500, 3) * 1.5,
    ],
)
def test_repr_matches_torch(make):
    expected = repr(make(torch)).replace("torch.", "ember.").replace("MulBackward0", "MulBackward")
    assert repr(make(ember)) == expected


# -- devices ---------------------------------------------------------------------------------------
@pytest.mark.skipif(ember.cuda.is_available(), reason="checks the error raised without CuPy or a GPU")
@pytest.mark.parametrize(
    "make",
    [
        lambda: ember.zeros(2, device="cuda"),
        lambda: ember.ones(2).cuda(),
        lambda: ember.ones(2).to("cuda:0"),
        lambda: ember.randn(2, device="cuda"),
    ],
)
def test_cuda_without_cupy_says_what_to_install(make):
    with pytest.raises(RuntimeError) as info:
        make()
    # without CuPy it says what to install; with CuPy but no driver/GPU, what the runtime reported
    assert "CuPy" in str(info.value) and ("pip install" in str(info.value) or "driver" in str(info.value))


@pytest.mark.gpu
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a CUDA GPU")
def test_gpu_round_trip_and_grad():
    x = ember.randn(3, 4, device="cuda", requires_grad=True)
    assert str(x.device) == "cuda:0" and x.is_cuda
    y = (x * x).sum()
    y.backward()
    assert_close(x.grad.cpu(), 2 * x.detach().cpu())
    with pytest.raises(RuntimeError, match="cpu"):
        x + ember.ones(3, 4)
