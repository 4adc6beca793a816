"""DLPack: Ember tensors shared with NumPy and PyTorch without copying (writes through one side show on the
other), ember.from_dlpack / ember.utils.dlpack both ways, and the refusals."""
import numpy as np
import pytest

import ember
from ember.utils.dlpack import from_dlpack, to_dlpack

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"]


def _write_one(arr):
    arr[(0,) * arr.ndim] = True if arr.dtype in (np.bool_, torch.bool) else 7


# name -> (make the pair (ember tensor, other side's view) from a NumPy array, other side's array as NumPy)
ROUTES = {
    "np.from_dlpack(ember)": (lambda a: (lambda t: (t, np.from_dlpack(t)))(ember.tensor(a)), lambda o: o),
    "torch.from_dlpack(ember)": (lambda a: (lambda t: (t, torch.from_dlpack(t)))(ember.tensor(a)),
                                 lambda o: o.numpy()),
    "torch.utils.dlpack.from_dlpack(to_dlpack(ember))": (
        lambda a: (lambda t: (t, torch.utils.dlpack.from_dlpack(to_dlpack(t))))(ember.tensor(a)),
        lambda o: o.numpy()),
    "ember.from_dlpack(numpy)": (lambda a: (lambda n: (ember.from_dlpack(n), n))(a.copy()), lambda o: o),
    "ember.from_dlpack(torch)": (lambda a: (lambda x: (ember.from_dlpack(x), x))(torch.from_numpy(a.copy())),
                                 lambda o: o.numpy()),
    "from_dlpack(torch.utils.dlpack.to_dlpack(torch))": (
        lambda a: (lambda x: (from_dlpack(torch.utils.dlpack.to_dlpack(x)), x))(torch.from_numpy(a.copy())),
        lambda o: o.numpy()),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_round_trip_shares_memory(route, dtype):
    make, as_np = ROUTES[route]
    base = (np.arange(6).reshape(2, 3) % 2).astype(dtype)
    t, other = make(base)
    np.testing.assert_array_equal(t.numpy(), base)
    np.testing.assert_array_equal(as_np(other), base)
    assert t.dtype.name == dtype or (dtype == "bool" and t.dtype == ember.bool)
    _write_one(other)  # written through the other library ...
    assert t.numpy()[0, 0] == as_np(other)[0, 0] != base[0, 0]  # ... read through Ember
    if route.startswith("from_dlpack(torch.utils"):
        # NumPy reads a bare (legacy) capsule as read-only memory: Ember's writes are refused, by name
        with pytest.raises(ValueError, match="read-only"):
            t[1, 2] = 1
        return
    t[1, 2] = 1  # written through Ember, read through the other side
    assert as_np(other)[1, 2] == 1


def test_strided_views_keep_their_layout():
    t = ember.arange(12.0).reshape(3, 4)[:, 1::2].T
    np.testing.assert_array_equal(np.from_dlpack(t), t.numpy())
    np.testing.assert_array_equal(torch.from_dlpack(t).numpy(), t.numpy())
    x = torch.arange(12.0).reshape(3, 4).T
    np.testing.assert_array_equal(ember.from_dlpack(x).numpy(), x.numpy())


def test_device_and_grad_rules():
    assert ember.zeros(2).__dlpack_device__() == (1, 0)
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="can't export a tensor that requires grad; use tensor.detach"):
        np.from_dlpack(ember.ones(2, requires_grad=True))
    e = ember.from_dlpack(x.detach())
    assert not e.requires_grad


@pytest.mark.parametrize("call,err,words", [
    (lambda: ember.from_dlpack([1.0, 2.0]), TypeError, "expects an object with __dlpack__ .* got list"),
    (lambda: ember.from_dlpack(torch.zeros(2, dtype=torch.bfloat16)), RuntimeError, "from_dlpack: .*dtype"),
    (lambda: np.from_dlpack(ember.zeros(2, dtype=ember.bfloat16)), BufferError,
     "bfloat16 tensor of shape \\(2,\\) on cpu cannot be exported"),
])
def test_refusals_are_named(call, err, words):
    if ember.bfloat16 is None and "bfloat16" in words:
        pytest.skip("ml_dtypes (bfloat16) is not installed")
    with pytest.raises(err, match=words):
        call()
