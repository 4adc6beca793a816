"""torch's top-level second names (ember/_torch_toplevel.py) against PyTorch: every nn.functional name torch
also exports at the top level, the in-place top-level forms, window functions, *_copy views and predicates."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import _torch_toplevel

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", _torch_toplevel.FROM_NN)
def test_top_level_nn_names_are_nn_functionals(name):
    if not hasattr(ember.nn.functional, name):
        pytest.skip(f"ember.nn.functional has no {name} yet")
    fn = getattr(ember, name)
    assert fn is getattr(ember.nn.functional, name) or fn.__wrapped__ is getattr(ember.nn.functional, name)
    assert hasattr(torch, name)  # (the list holds only names torch has at its top level)


@pytest.mark.parametrize("name", _torch_toplevel.IN_PLACE)
def test_top_level_in_place_forms_match_torch(name):
    if not hasattr(torch, name + "_"):
        pytest.skip(f"torch has no top-level {name}_")
    args = {"clamp": (0.0, 0.5), "clamp_max": (0.5,), "clamp_min": (0.5,), "clip": (0.0, 0.5), "ldexp": "T",
            "xlogy": "T", "gcd": "I", "lcm": "I", "fill": (2.0,), "threshold": (0.1, 20.0),
            "index_put": "P"}.get(name, ())
    data = np.array([0.25, 0.5, 0.75], np.float64)
    if args == "I":
        data = np.array([4, 6, 9])
    results = []
    for lib in (ember, torch):
        x = lib.tensor(data if name != "feature_alpha_dropout" else data.reshape(1, 3))
        extra = {"T": (lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64),), "I": (lib.tensor([6, 4, 3]),),
                 "P": ((lib.tensor([0]),), lib.tensor([9.0], dtype=lib.float64))}.get(args, args)
        if name in ("dropout", "alpha_dropout", "feature_alpha_dropout", "rrelu"):
            out = getattr(lib, name + "_")(x, 0.0, False) if name != "rrelu" else getattr(lib, name + "_")(x)
        else:
            out = getattr(lib, name + "_")(x, *extra)
        assert out is x, name
        results.append(x.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, err_msg=name)


WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("periodic", [True, False])
def test_window_functions_match_torch(name, periodic):
    for n in (0, 1, 2, 5, 8, 33):
        got, want = getattr(ember, name)(n, periodic), getattr(torch, name)(n, periodic)
        assert got.dtype.name == str(want.dtype).split(".")[1]
        # (PyTorch's Kaiser window runs its Bessel function in float32; Ember's in float64, rounded once)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=2e-7, rtol=2e-6 if name == "kaiser_window" else 0,
                                   err_msg=f"{name}({n}, {periodic})")
    assert getattr(ember, name)(4, dtype=ember.float64).dtype is ember.float64


CALLS = {
    "permute_copy": lambda L: L.permute_copy(L.arange(6.0).reshape(2, 3), (1, 0)),
    "slice_copy": lambda L: L.slice_copy(L.arange(10), 0, 2, 8, 2),
    "t_copy": lambda L: L.t_copy(L.arange(6.0).reshape(2, 3)),
    "squeeze_copy": lambda L: L.squeeze_copy(L.ones(1, 3, 1)),
    "unsqueeze_copy": lambda L: L.unsqueeze_copy(L.ones(3), 0),
    "view_copy": lambda L: L.view_copy(L.arange(6.0), (3, 2)),
    "unbind_copy": lambda L: L.stack(L.unbind_copy(L.arange(4.0).reshape(2, 2))),
    "expand_copy": lambda L: L.expand_copy(L.ones(3, 1), (3, 2)),
    "rsub": lambda L: L.rsub(L.tensor([1.0, 2.0]), 5, alpha=2),
    "scalar_tensor": lambda L: L.scalar_tensor(3),
    "row_stack": lambda L: L.row_stack((L.ones(2), L.zeros(2))),
    "detach": lambda L: L.detach(L.ones(2, requires_grad=True)),
    "fill": lambda L: L.fill(L.ones(2), 7.0),
    "conv2d": lambda L: L.conv2d(L.ones(1, 1, 3, 3), L.ones(1, 1, 2, 2)),
    "selu": lambda L: L.selu(L.tensor([-1.0, 2.0])),
}


@pytest.mark.parametrize("name", CALLS)
def test_top_level_calls_match_torch(name):
    got, want = CALLS[name](ember), CALLS[name](torch)
    assert got.dtype.name == str(want.dtype).split(".")[1] and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)


def test_predicates_answer_as_torch():
    for lib in (ember, torch):
        x = lib.ones(2, 3)
        assert lib.is_same_size(x, lib.zeros(2, 3)) and lib.is_signed(x) and not lib.is_complex(x)
        assert not lib.is_conj(x) and not lib.is_neg(x) and lib.get_device(x) == -1
    assert ember.typename(ember.ones(1)) == "ember.FloatTensor" and ember.typename(3) == torch.typename(3)
    with pytest.raises(ValueError, match="window_length"):
        ember.hann_window(-1)
