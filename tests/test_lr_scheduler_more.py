"""CosineAnnealingWarmRestarts, CyclicLR, PolynomialLR and ChainedScheduler against PyTorch's, step by step:
the same learning rates (and cycled momenta) for each configuration, one row each; state_dict round trips."""
from __future__ import annotations

import pytest

import ember

torch = pytest.importorskip("torch")


def _sgd(lib, momentum=0.9, groups=1):
    params = [lib.nn.Parameter(lib.zeros(1)) for _ in range(groups)]
    return lib.optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], lr=0.1,
                         momentum=momentum)


def _adam(lib):
    return lib.optim.Adam([lib.nn.Parameter(lib.zeros(1))], lr=0.01)


CASES = {  # name -> (make the optimizer, make the scheduler, epochs stepped with step(epoch) or None)
    "warm_restarts": (_sgd, lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3), None),
    "warm_restarts_mult": (_sgd, lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.01),
                           None),
    "warm_restarts_fractional": (_sgd, lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3),
                                 [0.25 * i for i in range(40)]),
    "cyclic": (_sgd, lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4), None),
    "cyclic_two_groups": (lambda L: _sgd(L, groups=2), lambda s, o: s.CyclicLR(o, base_lr=[0.01, 0.02],
                                                                               max_lr=0.1, step_size_up=3,
                                                                               step_size_down=5), None),
    "cyclic_triangular2": (_sgd, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="triangular2"), None),
    "cyclic_exp_range": (_sgd, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=2, mode="exp_range",
                                                       gamma=0.9), None),
    "cyclic_adam": (_adam, lambda s, o: s.CyclicLR(o, 0.001, 0.01, step_size_up=3), None),
    "cyclic_no_momentum": (lambda L: _sgd(L, momentum=0.0), lambda s, o: s.CyclicLR(o, 0.01, 0.1, 2,
                                                                                    cycle_momentum=False), None),
    "polynomial": (_sgd, lambda s, o: s.PolynomialLR(o, total_iters=6, power=2.0), None),
    "chained": (_sgd, lambda s, o: s.ChainedScheduler([s.LinearLR(o, start_factor=0.2, total_iters=4),
                                                       s.ExponentialLR(o, gamma=0.9)]), None),
}


def _trace(lib, case):
    make_opt, make_sched, epochs = CASES[case]
    opt = make_opt(lib)
    sched = make_sched(lib.optim.lr_scheduler, opt)
    seen = [(sched.get_last_lr(), _momenta(opt))]
    for i in range(25 if epochs is None else len(epochs)):
        opt.step()
        sched.step() if epochs is None else sched.step(epochs[i])
        seen.append((sched.get_last_lr(), _momenta(opt)))
    return seen


def _momenta(opt):
    return [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]


@pytest.mark.parametrize("case", CASES)
def test_schedule_matches_torch(case):
    ours, theirs = _trace(ember, case), _trace(torch, case)
    assert len(ours) == len(theirs)
    for step, ((lr, mom), (tlr, tmom)) in enumerate(zip(ours, theirs)):
        assert lr == pytest.approx(tlr, rel=1e-12, abs=1e-15), f"{case} step {step}"
        assert mom == pytest.approx(tmom, rel=1e-12), f"{case} step {step} momentum"


@pytest.mark.parametrize("case", ["warm_restarts_mult", "cyclic", "polynomial", "chained"])
def test_state_dict_resumes_the_schedule(case):
    make_opt, make_sched, _ = CASES[case]
    opt = make_opt(ember)
    sched = make_sched(ember.optim.lr_scheduler, opt)
    for _ in range(5):
        opt.step()
        sched.step()
    saved = sched.state_dict()
    twin_opt = make_opt(ember)
    twin = make_sched(ember.optim.lr_scheduler, twin_opt)
    twin.load_state_dict(saved)
    twin_opt.load_state_dict(opt.state_dict())
    for _ in range(5):
        opt.step()
        sched.step()
        twin_opt.step()
        twin.step()
        assert twin.get_last_lr() == pytest.approx(sched.get_last_lr())


def test_bad_arguments_are_refused_by_name():
    opt = _sgd(ember)
    with pytest.raises(ValueError, match="T_0"):
        ember.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="mode must be one of"):
        ember.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        ember.optim.lr_scheduler.CyclicLR(ember.optim.Adagrad([ember.nn.Parameter(ember.zeros(1))]), 0.01, 0.1)
