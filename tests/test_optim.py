"""Optimizers: 100 steps against PyTorch's (same data, same initial weights), the in-place updates against
the functional kernels, param groups and state_dict round trips."""
import numpy as np
import pytest

import ember
from ember import nn, optim

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.95, "weight_decay": 0.01}),
    ("Adamax", {"lr": 0.01}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.01, "maximize": True}),
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.01, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.01, "maximize": True}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Rprop", {"lr": 0.01}),
    ("Rprop", {"lr": 0.02, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.05), "maximize": True}),
    ("ASGD", {"lr": 0.01}),
    ("ASGD", {"lr": 0.01, "lambd": 0.01, "alpha": 0.5, "t0": 20, "weight_decay": 0.01}),
]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(8, 5)).astype(np.float32)
    b1 = rng.normal(size=(8,)).astype(np.float32)
    w2 = rng.normal(size=(3, 8)).astype(np.float32)
    xs = rng.normal(size=(100, 16, 5)).astype(np.float32)
    ys = rng.normal(size=(100, 16, 3)).astype(np.float32)
    return [w1, b1, w2], xs, ys


def _loss(lib, params, x, y):
    w1, b1, w2 = params
    h = (x @ w1.t() + b1).tanh()
    return ((h @ w2.t() - y) ** 2).mean()


def _run(lib, opt_cls, kwargs, init, xs, ys, steps=100):
    params = [lib.tensor(a.copy(), requires_grad=True) for a in init]
    opt = opt_cls(params, **kwargs)
    sign = -1.0 if kwargs.get("maximize") else 1.0  # maximize the negated loss, so both stay bounded
    for x, y in zip(xs[:steps], ys[:steps]):
        opt.zero_grad()
        (sign * _loss(lib, params, lib.tensor(x), lib.tensor(y))).backward()
        opt.step()
    return [p.detach().numpy() for p in params], opt


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_pytorch_over_100_steps(name, kwargs):
    init, xs, ys = _data()
    got, _ = _run(ember, getattr(optim, name), kwargs, init, xs, ys)
    want, _ = _run(torch, getattr(torch.optim, name), kwargs, init, xs, ys)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def test_update_is_in_place_and_bumps_version():
    p = nn.Parameter(ember.ones(3))
    buf = p._data
    opt = optim.Adam([p], lr=0.1)
    p.grad = ember.ones(3)
    v0 = p._version
    opt.step()
    assert p._data is buf and p._version > v0
    assert float(p[0]) < 1.0


def test_param_groups_and_add_param_group():
    a, b = nn.Parameter(ember.ones(2)), nn.Parameter(ember.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0.9
    c = nn.Parameter(ember.ones(1))
    opt.add_param_group({"params": c, "lr": 1.0})
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    for p in (a, b, c):
        p.grad = ember.ones(*p.shape)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.5)
    np.testing.assert_allclose(c.detach().numpy(), 0.0)


def test_state_dict_round_trip_continues_identically():
    init, xs, ys = _data(2)
    full, _ = _run(ember, optim.Adam, {"lr": 0.01, "amsgrad": True}, init, xs, ys, steps=20)
    part, opt = _run(ember, optim.Adam, {"lr": 0.01, "amsgrad": True}, init, xs, ys, steps=10)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2] and sd["param_groups"][0]["params"] == [0, 1, 2]
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    params = [ember.tensor(a.copy(), requires_grad=True) for a in part]
    opt2 = optim.Adam(params, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01
    for x, y in zip(xs[10:20], ys[10:20]):
        opt2.zero_grad()
        _loss(ember, params, ember.tensor(x), ember.tensor(y)).backward()
        opt2.step()
    for p, w in zip(params, full):
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-6, atol=1e-7)


def test_state_dict_loads_pytorch_format():
    init, xs, ys = _data(3)
    _, topt = _run(torch, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}, init, xs, ys, steps=3)
    tsd = topt.state_dict()
    sd = {"state": {k: {n: ember.tensor(v.numpy()) for n, v in s.items()} for k, s in tsd["state"].items()},
          "param_groups": tsd["param_groups"]}
    params = [ember.tensor(a.copy(), requires_grad=True) for a in init]
    opt = optim.SGD(params, lr=0.05, momentum=0.9)
    opt.load_state_dict(sd)
    np.testing.assert_allclose(opt.state[params[0]]["momentum_buffer"].numpy(),
                               tsd["state"][0]["momentum_buffer"].numpy())


def test_zero_grad_and_closure():
    p = nn.Parameter(ember.tensor([2.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 4.0 and abs(float(p) - 1.6) < 1e-6
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and float(p.grad) == 0.0
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("bad,match", [
    (lambda: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda: optim.Adam([nn.Parameter(ember.ones(1))], lr=-1.0), "Invalid learning rate"),
    (lambda: optim.Adam([nn.Parameter(ember.ones(1))], betas=(1.5, 0.9)), "beta parameter at index 0"),
    (lambda: optim.SGD(nn.Parameter(ember.ones(1)), lr=0.1), "iterable of Tensors"),
    (lambda: optim.SGD([nn.Parameter(ember.ones(1))], lr=0.1, nesterov=True), "Nesterov"),
])
def test_bad_arguments(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bad()


def test_model_training_lowers_loss():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = optim.AdamW(model.parameters(), lr=0.01)
    x = ember.randn(64, 4)
    y = x.sum(1, keepdim=True)
    first = None
    for _ in range(50):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss)
    assert float(loss) < 0.3 * first


# the in-place updates the optimizers run against the functional kernels (ember.keras calls those): same
# operations in the same order, so bit-identical
_UPDATE_ROWS = [
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False, maximize=False)),
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True, maximize=True)),
    ("adam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
                  decoupled_weight_decay=False)),
    ("adam", dict(lr=1e-3, betas=(0.3, 0.99), eps=1e-8, weight_decay=0.01, amsgrad=True, maximize=False,
                  decoupled_weight_decay=True)),
    ("adam", dict(lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1, amsgrad=False, maximize=True,
                  decoupled_weight_decay=False)),
    ("rmsprop", dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                     maximize=False)),
    ("rmsprop", dict(lr=0.01, alpha=0.3, eps=1e-8, weight_decay=0.01, momentum=0.9, centered=True,
                     maximize=True)),
    ("adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, eps=1e-10, maximize=False)),
    ("adadelta", dict(lr=0.5, rho=0.95, eps=1e-6, weight_decay=0.01, maximize=True)),
    ("adamax", dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01, maximize=True, eps_outside_max=False)),
    ("adamax", dict(lr=0.01, betas=(0.9, 0.99), eps=1e-7, weight_decay=0.0, maximize=False, eps_outside_max=True)),
    ("nadam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, momentum_decay=4e-3,
                   decoupled_weight_decay=False, maximize=False)),
    ("nadam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.1, momentum_decay=1.0,
                   decoupled_weight_decay=True, maximize=True)),
]
_N_STATE = {"sgd": 1, "adam": 3, "rmsprop": 3, "adagrad": 1, "adadelta": 2, "adamax": 2, "nadam": 3}


@pytest.mark.parametrize("name,hyper", _UPDATE_ROWS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_UPDATE_ROWS)])
def test_in_place_update_is_bit_identical_to_kernel(name, hyper):
    from ember.optim import adam, adamax, rmsprop, sgd
    from ember.optim.optimizer import array_kernels

    module = {"sgd": sgd, "adam": adam, "adamax": adamax, "nadam": adamax}.get(name, rmsprop)
    kernel, update = getattr(module, f"{name}_kernel"), getattr(module, f"{name}_update_")
    rng = np.random.default_rng(0)
    p, g = (rng.standard_normal(257).astype(np.float32) for _ in range(2))
    state = [np.abs(rng.standard_normal(257)).astype(np.float32) for _ in range(_N_STATE[name])]
    if name == "rmsprop":  # grad_avg ** 2 below square_avg, as in a run
        state[1] = None if not hyper["centered"] else state[1] * 0.1
    if name == "rmsprop" and not hyper["momentum"]:
        state[2] = None
    if name == "adam" and not hyper["amsgrad"]:
        state[2] = None
    expected = kernel(array_kernels(p), p, g, *state, step=3.0, **hyper)
    tp = ember.tensor(p.copy())
    ts = [None if s is None else ember.tensor(s.copy()) for s in state]
    with ember.no_grad():
        got = update(tp, ember.tensor(g), *ts, step=ember.tensor(3.0), **hyper)
    np.testing.assert_array_equal(tp.numpy(), expected[0])
    for want, have in zip(expected[1:], got):
        if want is not None:
            np.testing.assert_array_equal(have.numpy(), want)


@pytest.mark.parametrize("name", ["RAdam", "Rprop", "ASGD"])
def test_newer_optimizers_compiled_step_equals_eager(name):
    """Their updates read the step count as a 0-d tensor, so a compiled training step stays one graph and
    gives the eager step's values."""
    init, xs, ys = _data(4)
    results = []
    for compiled in (False, True):
        params = [ember.tensor(a.copy(), requires_grad=True) for a in init]
        opt = getattr(optim, name)(params, lr=0.01)

        def step(x, y, params=params, opt=opt):
            opt.zero_grad()
            loss = _loss(ember, params, x, y)
            loss.backward()
            opt.step()
            return loss

        run = ember.compile(step, strict=True) if compiled else step
        for x, y in zip(xs[:8], ys[:8]):
            run(ember.tensor(x), ember.tensor(y))
        results.append([p.detach().numpy().copy() for p in params])
    for eager, graph in zip(*results):
        np.testing.assert_allclose(graph, eager, rtol=1e-6, atol=1e-7)
