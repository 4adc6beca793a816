"""nn.utils.fuse_conv_bn_eval / fuse_linear_bn_eval against PyTorch's (float64): the fused layer computes
PyTorch's fused layer and the two layers it replaces; training-mode modules are refused."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")

CASES = {  # name -> (layer(lib), batch norm(lib), input shape, transpose)
    "conv2d": (lambda L: L.nn.Conv2d(2, 3, 3), lambda L: L.nn.BatchNorm2d(3), (1, 2, 5, 5), False),
    "conv1d_no_bias": (lambda L: L.nn.Conv1d(2, 3, 3, bias=False), lambda L: L.nn.BatchNorm1d(3), (1, 2, 6), False),
    "conv_transpose2d": (lambda L: L.nn.ConvTranspose2d(2, 3, 3), lambda L: L.nn.BatchNorm2d(3), (1, 2, 4, 4), True),
    "linear": (lambda L: L.nn.Linear(4, 3), lambda L: L.nn.BatchNorm1d(3), (5, 4), None),
}


@pytest.mark.parametrize("case", CASES)
def test_fused_layer_matches_torch_and_the_pair(case):
    make_layer, make_bn, shape, transpose = CASES[case]
    rng = np.random.default_rng(0)
    t_layer, t_bn = make_layer(torch).double().eval(), make_bn(torch).double().eval()
    with torch.no_grad():
        for name, values in (("running_mean", rng.standard_normal(3)), ("running_var", rng.random(3) + 0.5),
                             ("weight", rng.standard_normal(3)), ("bias", rng.standard_normal(3))):
            getattr(t_bn, name).copy_(torch.tensor(values))
    e_layer, e_bn = make_layer(ember).double().eval(), make_bn(ember).double().eval()
    for e, t in ((e_layer, t_layer), (e_bn, t_bn)):
        e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()})
    if transpose is None:
        ours, theirs = nn.utils.fuse_linear_bn_eval(e_layer, e_bn), torch.nn.utils.fuse_linear_bn_eval(t_layer, t_bn)
    else:
        ours = nn.utils.fuse_conv_bn_eval(e_layer, e_bn, transpose)
        theirs = torch.nn.utils.fuse_conv_bn_eval(t_layer, t_bn, transpose)
    x = rng.standard_normal(shape)
    got = ours(ember.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, e_bn(e_layer(ember.tensor(x))).detach().numpy(), rtol=1e-12, atol=1e-12)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert ours.weight.requires_grad and ours is not e_layer


def test_training_mode_is_refused():
    with pytest.raises(AssertionError, match=r"fuse_conv_bn_eval: fusion is for evaluation; call .eval\(\)"):
        nn.utils.fuse_conv_bn_eval(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1))
    with pytest.raises(AssertionError, match="must equal bn.num_features"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(2).eval())


def test_stateless_functional_call_is_the_func_one():
    assert nn.utils.stateless.functional_call is ember.func.functional_call
