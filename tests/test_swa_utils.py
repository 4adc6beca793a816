"""ember.optim.swa_utils against torch.optim.swa_utils: the same sequence of updates on the same weights gives
the same averaged weights and buffers, SWALR the same learning rates, update_bn the same statistics."""
import numpy as np
import pytest

import ember
from ember import nn, optim
from ember.optim import swa_utils

torch = pytest.importorskip("torch")
from torch.optim import swa_utils as tswa  # noqa: E402


def _pair():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    return net, tnet


def _set_same(net, tnet, rng):
    """Give both models the same new weights and buffers (as a training step would change them)."""
    with ember.no_grad(), torch.no_grad():
        for (_, t), (_, tt) in zip(net.state_dict().items(), tnet.state_dict().items()):
            if t.is_floating_point():
                v = rng.standard_normal(tuple(t.shape)).astype(np.float32)
            else:
                v = np.asarray(rng.integers(0, 5), dtype=np.int64).reshape(tuple(t.shape))
            t.copy_(ember.tensor(v))
            tt.copy_(torch.from_numpy(v))


# name -> (keyword arguments for Ember, for torch)
CONFIGS = {
    "swa (default)": ({}, {}),
    "swa avg_fn": ({"avg_fn": swa_utils.get_swa_avg_fn()}, {"avg_fn": tswa.get_swa_avg_fn()}),
    "swa multi_avg_fn": ({"multi_avg_fn": swa_utils.get_swa_multi_avg_fn()},
                         {"multi_avg_fn": tswa.get_swa_multi_avg_fn()}),
    "ema avg_fn 0.9": ({"avg_fn": swa_utils.get_ema_avg_fn(0.9)}, {"avg_fn": tswa.get_ema_avg_fn(0.9)}),
    "ema multi 0.9": ({"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.9)},
                      {"multi_avg_fn": tswa.get_ema_multi_avg_fn(0.9)}),
    "ema multi 0.3 (weight >= 0.5)": ({"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.3)},
                                      {"multi_avg_fn": tswa.get_ema_multi_avg_fn(0.3)}),
    "ema multi, buffers averaged": ({"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.75), "use_buffers": True},
                                    {"multi_avg_fn": tswa.get_ema_multi_avg_fn(0.75), "use_buffers": True}),
    "swa, buffers averaged": ({"use_buffers": True}, {"use_buffers": True}),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_averaged_model_equals_torch(name):
    kw, tkw = CONFIGS[name]
    net, tnet = _pair()
    rng = np.random.default_rng(0)
    _set_same(net, tnet, rng)
    avg, tavg = swa_utils.AveragedModel(net, **kw), tswa.AveragedModel(tnet, **tkw)
    for _ in range(6):
        _set_same(net, tnet, rng)
        avg.update_parameters(net)
        tavg.update_parameters(tnet)
        state, tstate = avg.state_dict(), tavg.state_dict()
        assert list(state) == list(tstate)
        for key in state:
            np.testing.assert_allclose(state[key].numpy(), tstate[key].numpy(), rtol=2e-7, atol=1e-7,
                                       err_msg=key)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    avg.eval()
    tavg.eval()
    np.testing.assert_allclose(avg(ember.tensor(x)).detach().numpy(),
                               tavg(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_averaged_model_is_a_copy_and_counts():
    net = nn.Linear(2, 2)
    avg = swa_utils.AveragedModel(net)
    assert avg.module is not net and int(avg.n_averaged) == 0
    assert avg.n_averaged.dtype == ember.int64
    with pytest.raises(AssertionError, match="only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(net, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="Invalid decay value 1.5"):
        swa_utils.get_ema_multi_avg_fn(1.5)


SCHEDULES = [  # (anneal_epochs, anneal_strategy, swa_lr)
    (10, "cos", 0.05), (3, "linear", 0.01), (1, "cos", 0.2), (0, "linear", 0.3), (4, "cos", [0.01, 0.02]),
]


@pytest.mark.parametrize("epochs,strategy,swa_lr", SCHEDULES)
def test_swalr_equals_torch(epochs, strategy, swa_lr):
    a, b = nn.Linear(2, 2), nn.Linear(2, 1)
    ta, tb = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    opt = optim.SGD([{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.3}], lr=0.5)
    topt = torch.optim.SGD([{"params": ta.parameters()}, {"params": tb.parameters(), "lr": 0.3}], lr=0.5)
    sched = swa_utils.SWALR(opt, swa_lr, anneal_epochs=epochs, anneal_strategy=strategy)
    tsched = tswa.SWALR(topt, swa_lr, anneal_epochs=epochs, anneal_strategy=strategy)
    for _ in range(14):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    state = sched.state_dict()
    assert "anneal_func" not in state and state["_anneal_strategy"] == strategy
    again = swa_utils.SWALR(opt, swa_lr, anneal_epochs=epochs, anneal_strategy="cos")
    again.load_state_dict(state)
    assert again.anneal_func is again._cosine_anneal or strategy == "linear"


@pytest.mark.parametrize("kwargs,words", [
    ({"anneal_strategy": "step"}, "anneal_strategy must be one of 'cos' or 'linear'"),
    ({"anneal_epochs": -1}, "anneal_epochs must be equal or greater than 0"),
    ({"anneal_epochs": 2.5}, "anneal_epochs must be equal or greater than 0"),
])
def test_swalr_bad_arguments(kwargs, words):
    opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match=words):
        swa_utils.SWALR(opt, 0.05, **kwargs)


def test_update_bn_equals_torch():
    net, tnet = _pair()
    _set_same(net, tnet, np.random.default_rng(2))
    net.eval()
    tnet.eval()
    rng = np.random.default_rng(3)
    batches = [(rng.standard_normal((n, 3)).astype(np.float32), 0) for n in (8, 5, 11)]
    swa_utils.update_bn([(ember.tensor(x), y) for x, y in batches], net)
    tswa.update_bn([(torch.from_numpy(x), y) for x, y in batches], tnet)
    assert not net.training and net[1].momentum == 0.1
    for key in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_allclose(net.state_dict()[key].numpy(), tnet.state_dict()[key].numpy(), rtol=1e-5,
                                   err_msg=key)


def test_update_bn_leaves_instance_norm_alone():
    net = nn.Sequential(nn.InstanceNorm1d(3, track_running_stats=True))
    with ember.no_grad():
        net[0].running_mean.fill_(5.0)
    swa_utils.update_bn([ember.randn(2, 3, 4)], net)
    assert float(net[0].running_mean[0]) == 5.0  # PyTorch's update_bn resets only BatchNorm layers
