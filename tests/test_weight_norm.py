"""nn.utils.weight_norm / spectral_norm (the hook forms) against PyTorch's: the same parameters and buffers
(state_dict keys), outputs and gradients over training calls (spectral_norm's power iteration updates its
buffers in training only), and their remove_* functions."""
from __future__ import annotations

import numpy as np
import pytest
from _train_step import squared_output_losses

import ember
from ember import nn

torch = pytest.importorskip("torch")

LAYERS = {  # name -> (build(lib), input shape)
    "linear": (lambda L: L.nn.Linear(5, 4), (3, 5)),
    "conv1d": (lambda L: L.nn.Conv1d(3, 4, 3), (2, 3, 8)),
    "conv_transpose2d": (lambda L: L.nn.ConvTranspose2d(3, 2, 3), (1, 3, 4, 4)),
}


def _twin(layer_name):
    """An Ember layer and a PyTorch one with the same weights."""
    build, shape = LAYERS[layer_name]
    t_layer = build(torch).double()
    e_layer = build(ember).double()
    e_layer.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t_layer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape)
    return e_layer, t_layer, x


def _grads(layer):
    return {n: p.grad.numpy().copy() for n, p in layer.named_parameters() if p.grad is not None}


def _same_call(e_layer, t_layer, x, step):
    """One call and backward of each twin: the same outputs and accumulated parameter gradients."""
    e_out, t_out = e_layer(ember.tensor(x)), t_layer(torch.tensor(x))
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    (e_out * e_out).sum().backward()
    (t_out * t_out).sum().backward()
    eg, tg = _grads(e_layer), _grads(t_layer)
    for name in tg:
        np.testing.assert_allclose(eg[name], tg[name], rtol=1e-9, atol=1e-12, err_msg=f"{name} step {step}")


@pytest.mark.parametrize("dim", [0, 1, None])
@pytest.mark.parametrize("layer_name", list(LAYERS))
def test_weight_norm_matches_torch(layer_name, dim):
    e_layer, t_layer, x = _twin(layer_name)
    nn.utils.weight_norm(e_layer, dim=dim)
    torch.nn.utils.weight_norm(t_layer, dim=dim)
    assert sorted(e_layer.state_dict()) == sorted(t_layer.state_dict())
    for step in range(2):
        _same_call(e_layer, t_layer, x, step)
    nn.utils.remove_weight_norm(e_layer)
    torch.nn.utils.remove_weight_norm(t_layer)
    assert sorted(e_layer.state_dict()) == sorted(t_layer.state_dict())
    np.testing.assert_allclose(e_layer.weight.detach().numpy(), t_layer.weight.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("n_power_iterations", [1, 3])
@pytest.mark.parametrize("layer_name", list(LAYERS))
def test_spectral_norm_matches_torch(layer_name, n_power_iterations):
    e_layer, t_layer, x = _twin(layer_name)
    nn.utils.spectral_norm(e_layer, n_power_iterations=n_power_iterations)
    torch.nn.utils.spectral_norm(t_layer, n_power_iterations=n_power_iterations)
    assert sorted(e_layer.state_dict()) == sorted(t_layer.state_dict())
    for buf in ("weight_u", "weight_v"):  # the random start vectors: PyTorch's
        getattr(e_layer, buf).copy_(ember.tensor(getattr(t_layer, buf).numpy()))
    for step, training in enumerate((True, True, False, True)):
        e_layer.train(training)
        t_layer.train(training)
        _same_call(e_layer, t_layer, x, step)
        np.testing.assert_allclose(e_layer.weight_u.numpy(), t_layer.weight_u.numpy(), rtol=1e-10, atol=1e-12)
    nn.utils.remove_spectral_norm(e_layer)
    torch.nn.utils.remove_spectral_norm(t_layer)
    assert sorted(e_layer.state_dict()) == sorted(t_layer.state_dict())
    np.testing.assert_allclose(e_layer.weight.detach().numpy(), t_layer.weight.detach().numpy(), rtol=1e-10)


def test_misuse_is_refused_by_name():
    layer = nn.utils.weight_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="already has weight norm"):
        nn.utils.weight_norm(layer)
    with pytest.raises(ValueError, match="remove_spectral_norm: spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(layer)
    with pytest.raises(AttributeError, match="has no parameter 'kernel'"):
        nn.utils.spectral_norm(nn.Linear(2, 2), name="kernel")


def test_compiled_training_step_equals_eager():
    """The hooks recompute the weights and update the power-iteration buffers with traced ops: a compiled step
    (strict: one graph) gives the eager losses."""
    def make():
        ember.manual_seed(0)
        model = nn.Sequential(nn.utils.spectral_norm(nn.Linear(4, 3)), nn.ReLU(),
                              nn.utils.weight_norm(nn.Linear(3, 2)))
        return model, ember.optim.SGD(model.parameters(), lr=0.1)

    x = ember.tensor(np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))
    eager, compiled = squared_output_losses(make, x)
    assert eager == compiled
