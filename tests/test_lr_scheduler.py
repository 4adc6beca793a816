"""LR schedulers: the lr sequence over many steps matches PyTorch's; state_dict round trips are plain data."""
import json

import numpy as np
import pytest

import ember
from ember import nn, optim

torch = pytest.importorskip("torch")


def _warmup(step):
    return min(1.0, (step + 1) / 5)


SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LambdaLR", {"lr_lambda": _warmup}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.95}),
    ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 6}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 4}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 25}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "total_steps": 25, "anneal_strategy": "linear",
                    "three_phase": True}),
]


def _opt(lib, opt_name="SGD"):
    a = lib.zeros(2, requires_grad=True)
    b = lib.zeros(1, requires_grad=True)
    kw = {"momentum": 0.9} if opt_name == "SGD" else {}
    return getattr(lib.optim, opt_name)([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, **kw)


def _trajectory(lib, opt, sched, steps=24, opt_key="momentum"):
    lrs = []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr() + [g.get(opt_key, g.get("betas",
                                                               (None,))[0]) for g in opt.param_groups])
    return lrs


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[n + str(i) for i, (n, _) in enumerate(SCHEDULERS)])
def test_matches_pytorch(name, kwargs):
    eo, to = _opt(ember), _opt(torch)
    es = getattr(optim.lr_scheduler, name)(eo, **kwargs)
    ts = getattr(torch.optim.lr_scheduler, name)(to, **kwargs)
    assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    np.testing.assert_allclose(_trajectory(ember, eo, es), _trajectory(torch, to, ts), rtol=1e-12, atol=1e-15)


def test_one_cycle_cycles_adam_beta1():
    eo, to = _opt(ember, "Adam"), _opt(torch, "Adam")
    es = optim.lr_scheduler.OneCycleLR(eo, max_lr=0.3, total_steps=10)
    ts = torch.optim.lr_scheduler.OneCycleLR(to, max_lr=0.3, total_steps=10)
    np.testing.assert_allclose(_trajectory(ember, eo, es, 9), _trajectory(torch, to, ts, 9), rtol=1e-12)


def test_sequential_lr_matches_pytorch():
    runs = []
    for lib in (ember, torch):
        opt = _opt(lib)
        warm = lib.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)
        decay = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        sched = lib.optim.lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[4])
        runs.append([sched.get_last_lr()] + [r[:2] for r in _trajectory(lib, opt, sched, 16)])
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12, atol=1e-15)


def test_reduce_on_plateau_matches_pytorch():
    metrics = [1.0, 0.9, 0.9, 0.91, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7]
    runs = []
    for lib in (ember, torch):
        opt = _opt(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.01)
        lrs = []
        for m in metrics:
            sched.step(m)
            lrs.append(sched.get_last_lr())
        runs.append(lrs)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)


def test_state_dict_is_plain_data_and_resumes():
    opt = _opt(ember)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        opt.step()
        sched.step()
    sd = json.loads(json.dumps(sched.state_dict()))
    opt2 = _opt(ember)
    opt2.load_state_dict(opt.state_dict())
    sched2 = optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=10, last_epoch=-1)
    sched2.load_state_dict(sd)
    for _ in range(4):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
    assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr())
    assert sched2.last_epoch == sched.last_epoch == 7


def test_lambda_state_dict_skips_functions():
    opt = _opt(ember)
    sched = optim.lr_scheduler.LambdaLR(opt, [_warmup, lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, None]
    json.dumps(sd)


def test_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        optim.lr_scheduler.StepLR(object(), 2)
    opt = _opt(ember)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, factor=2.0)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    opt.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    with pytest.raises(KeyError, match="initial_lr"):
        optim.lr_scheduler.StepLR(optim.SGD([nn.Parameter(ember.ones(1))], lr=0.1), 2, last_epoch=3)
