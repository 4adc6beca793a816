"""nn.utils.parametrize and nn.utils.parametrizations against PyTorch's: the same state_dict keys, module
reprs, outputs and gradients (float64) for a user parametrization, a chain, assignment through
right_inverse, weight norm and spectral norm (power iteration buffers step by step); removal both ways; a
compiled training step equal to the eager one."""
from __future__ import annotations

import numpy as np
import pytest
from _train_step import squared_output_losses

import ember
from ember import nn

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3))


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).mT

        def right_inverse(self, a):
            return a.triu()

    return Symmetric()


def _scaled(lib):
    class Scaled(lib.nn.Module):
        def forward(self, x):
            return x * 2.0

        def right_inverse(self, a):
            return a / 2.0

    return Scaled()


def _linear_twins(out_features=3):
    t = torch.nn.Linear(3, out_features).double()
    e = nn.Linear(3, out_features).double()
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return e, t


SETUPS = {  # name -> register(lib, parametrize module, utils module, layer)
    "user": lambda L, P, U, m: P.register_parametrization(m, "weight", _symmetric(L)),
    "chain": lambda L, P, U, m: P.register_parametrization(P.register_parametrization(
        m, "weight", _symmetric(L)), "weight", _scaled(L)),
    "bias": lambda L, P, U, m: P.register_parametrization(m, "bias", _scaled(L)),
    "weight_norm": lambda L, P, U, m: U.parametrizations.weight_norm(m),
    "weight_norm_dim_none": lambda L, P, U, m: U.parametrizations.weight_norm(m, dim=None),
}


def _apply(lib, name, layer):
    utils = lib.nn.utils
    return SETUPS[name](lib, utils.parametrize, utils, layer)


def _call(layer, lib):
    out = layer(lib.tensor(X))
    (out * out).sum().backward()
    return out.detach().numpy(), {n: p.grad.numpy().copy() for n, p in layer.named_parameters()}


@pytest.mark.parametrize("name", SETUPS)
def test_parametrization_matches_torch(name):
    e, t = _linear_twins()
    _apply(ember, name, e)
    _apply(torch, name, t)
    assert sorted(e.state_dict()) == sorted(t.state_dict())
    assert repr(e).replace("ember.", "") == repr(t).replace("torch.", "")
    (eo, eg), (to, tg) = _call(e, ember), _call(t, torch)
    np.testing.assert_allclose(eo, to, rtol=1e-12, atol=1e-12)
    assert sorted(eg) == sorted(tg)
    for k in tg:
        np.testing.assert_allclose(eg[k], tg[k], rtol=1e-10, atol=1e-12, err_msg=k)
    tensor = "bias" if name == "bias" else "weight"
    for leave in (True, False) if name in ("user", "bias") else (True,):
        e2, t2 = _linear_twins()
        _apply(ember, name, e2)
        _apply(torch, name, t2)
        ember.nn.utils.parametrize.remove_parametrizations(e2, tensor, leave_parametrized=leave)
        torch.nn.utils.parametrize.remove_parametrizations(t2, tensor, leave_parametrized=leave)
        assert type(e2).__name__ == type(t2).__name__ == "Linear"
        np.testing.assert_allclose(getattr(e2, tensor).detach().numpy(), getattr(t2, tensor).detach().numpy(),
                                   rtol=1e-12)


def test_assignment_goes_through_right_inverse_and_cached_reuses():
    e, t = _linear_twins()
    for lib, layer in ((ember, e), (torch, t)):
        lib.nn.utils.parametrize.register_parametrization(layer, "weight", _symmetric(lib))
        with lib.no_grad():
            layer.weight = lib.tensor(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(e.weight.detach().numpy(), t.weight.detach().numpy())
    with nn.utils.parametrize.cached():
        assert e.weight is e.weight
    assert e.weight is not e.weight


def test_a_shape_changing_parametrization_needs_unsafe():
    class Row(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="changes it from .* pass unsafe=True"):
        nn.utils.parametrize.register_parametrization(nn.Linear(3, 3), "weight", Row())
    with pytest.raises(ValueError, match="no parametrization on 'weight'"):
        nn.utils.parametrize.remove_parametrizations(nn.Linear(3, 3), "weight")


@pytest.mark.parametrize("layer", ["linear", "conv_transpose1d"])
def test_spectral_norm_parametrization_matches_torch(layer):
    if layer == "linear":
        e, t = _linear_twins(out_features=5)
        x = X
    else:
        t = torch.nn.ConvTranspose1d(3, 2, 3).double()
        e = nn.ConvTranspose1d(3, 2, 3).double()
        e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
        x = RNG.standard_normal((2, 3, 5))
    nn.utils.parametrizations.spectral_norm(e, n_power_iterations=2)
    torch.nn.utils.parametrizations.spectral_norm(t, n_power_iterations=2)
    assert sorted(e.state_dict()) == sorted(t.state_dict())
    for buf in ("_u", "_v"):  # PyTorch's random start
        getattr(e.parametrizations.weight[0], buf).copy_(
            ember.tensor(getattr(t.parametrizations.weight[0], buf).numpy()))
    for step, training in enumerate((True, True, False, True)):
        e.train(training)
        t.train(training)
        eo, to = e(ember.tensor(x)), t(torch.tensor(x))
        np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
        (eo * eo).sum().backward()
        (to * to).sum().backward()
        np.testing.assert_allclose(e.parametrizations.weight.original.grad.numpy(),
                                   t.parametrizations.weight.original.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"step {step}")


def test_compiled_training_step_equals_eager():
    def make():
        ember.manual_seed(0)
        model = nn.Sequential(nn.utils.parametrizations.spectral_norm(nn.Linear(3, 4)), nn.Tanh(),
                              nn.utils.parametrizations.weight_norm(nn.Linear(4, 2)))
        return model, ember.optim.Adam(model.parameters(), lr=0.01)

    eager, compiled = squared_output_losses(make, ember.tensor(X.astype(np.float32)))
    assert eager == compiled
