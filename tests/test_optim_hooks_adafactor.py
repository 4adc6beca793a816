"""Optimizer state-dict hooks, global step hooks, Adafactor and SparseAdam: the same code on torch and Ember."""
import importlib

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _params(lib, dt="float32"):
    w = lib.tensor(np.linspace(-1, 1, 12).astype(dt).reshape(4, 3), requires_grad=True)
    b = lib.tensor(np.linspace(0.5, -0.5, 3).astype(dt), requires_grad=True)
    return w, b


def _train(lib, opt, w, b, steps=6):
    x = lib.tensor(np.linspace(-2, 2, 6).astype(w.detach().numpy().dtype).reshape(2, 3))
    for i in range(steps):
        opt.zero_grad()
        ((x @ w.T).tanh().sum() + (b * b * (i + 1)).sum()).backward()
        opt.step()
    return [w.detach().numpy(), b.detach().numpy()]


ADAFACTOR = [{}, {"lr": 0.05, "weight_decay": 0.1}, {"maximize": True, "beta2_decay": -0.5, "d": 2.0},
             {"eps": (1e-6, 1e-2)}, {"lr": 0.5}]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("kw", ADAFACTOR, ids=str)
def test_adafactor_matches_torch(kw, dt):
    got = []
    for lib in (torch, ember):
        w, b = _params(lib, dt)
        got.append(_train(lib, lib.optim.Adafactor([w, b], **kw), w, b))
    for a, e in zip(*got):  # float32: rounding differences grow over large steps (lr=0.5), float64 agrees
        np.testing.assert_allclose(e, a, rtol=1e-10 if dt == "float64" else 1e-4, atol=1e-12 if dt == "float64"
                                   else 5e-5)


def test_adafactor_state_and_defaults():
    w, b = _params(ember)
    tw, tb = _params(torch)
    opt, topt = ember.optim.Adafactor([w, b]), torch.optim.Adafactor([tw, tb])
    _train(ember, opt, w, b, 1)
    _train(torch, topt, tw, tb, 1)
    for p, tp in ((w, tw), (b, tb)):
        assert sorted(opt.state[p]) == sorted(topt.state[tp])
        for k in opt.state[p]:
            assert tuple(opt.state[p][k].shape) == tuple(topt.state[tp][k].shape)
    assert {k: v for k, v in opt.defaults.items() if k != "foreach"} == \
        {k: v for k, v in topt.defaults.items() if k in opt.defaults and k != "foreach"}


@pytest.mark.parametrize("kw", [{}, {"lr": 0.1, "betas": (0.5, 0.9)}, {"maximize": True, "eps": 1e-3}], ids=str)
def test_sparse_adam_dense_grads_match_torch_sparse(kw):
    got = []
    for lib, sparse in ((torch, True), (ember, False)):
        emb = lib.nn.Embedding(6, 3, sparse=sparse)
        with lib.no_grad():
            emb.weight.copy_(lib.tensor(np.linspace(-1, 1, 18, dtype=np.float32).reshape(6, 3)))
        opt = lib.optim.SparseAdam(emb.parameters(), **kw)
        for idx in [[1, 2], [2, 4], [1], [5, 5, 0]]:
            opt.zero_grad()
            (emb(lib.tensor(idx)) * lib.tensor([1.0, -2.0, 0.5])).sum().backward()
            opt.step()
        got.append(emb.weight.detach().numpy())
    np.testing.assert_allclose(got[1], got[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [
    lambda lib, p: lib.optim.Adafactor(p, beta2_decay=0.5),
    lambda lib, p: lib.optim.Adafactor(p, lr=-1.0),
    lambda lib, p: lib.optim.SparseAdam(p, betas=(1.0, 0.9)),
    lambda lib, p: lib.optim.SparseAdam(p, eps=-1.0),
])
def test_bad_hyperparameters_raise_as_torch(make):
    with pytest.raises(ValueError):
        make(torch, list(_params(torch)))
    with pytest.raises(ValueError):
        make(ember, list(_params(ember)))


def _hooks_row(lib):
    w, b = _params(lib)
    opt = lib.optim.SGD([w, b], lr=0.1, momentum=0.9)
    _train(lib, opt, w, b, 2)
    seen = []
    opt.register_state_dict_pre_hook(lambda o: seen.append("sd pre"))
    opt.register_state_dict_post_hook(lambda o, sd: seen.append("sd post") or {**sd, "extra": 1})
    opt.register_state_dict_post_hook(lambda o, sd: seen.append(sorted(sd)))

    def load_pre(o, sd):
        seen.append("load pre")
        sd = dict(sd)
        sd.pop("extra")
        sd["param_groups"] = [dict(g, lr=0.5) for g in sd["param_groups"]]
        return sd

    sd = opt.state_dict()
    w2, b2 = _params(lib)
    opt2 = lib.optim.SGD([w2, b2], lr=0.1, momentum=0.9)
    opt2.register_load_state_dict_pre_hook(load_pre)
    opt2.register_load_state_dict_post_hook(lambda o: seen.append(["load post", o.param_groups[0]["lr"]]))
    opt2.register_load_state_dict_pre_hook(lambda o, sd: seen.append("first"), prepend=True)
    opt2.load_state_dict(sd)
    mm = importlib.import_module(lib.__name__ + ".optim.optimizer")
    hs = [mm.register_optimizer_step_pre_hook(lambda o, a, k: seen.append("global pre")),
          mm.register_optimizer_step_post_hook(lambda o, a, k: seen.append("global post"))]
    opt2.register_step_pre_hook(lambda o, a, k: seen.append("own pre"))
    opt2.step()
    for h in hs:
        h.remove()
    opt2.step()
    return seen


def test_optimizer_hooks_match_torch():
    assert _hooks_row(ember) == _hooks_row(torch)
