"""Module semantics (registration, iteration, state_dict, modes, conversion, hooks, repr, deepcopy), the
containers, nn.init and nn.utils, checked against PyTorch where it defines the behaviour."""
import copy
import math

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")


class Net(nn.Module):
    def __init__(self, lib_nn=nn, lib=ember):
        super().__init__()
        self.fc1 = lib_nn.Linear(4, 8)
        self.act = lib_nn.ReLU()
        self.blocks = lib_nn.ModuleList([lib_nn.Linear(8, 8), lib_nn.Sequential(lib_nn.Linear(8, 8),
                                                                                lib_nn.Tanh())])
        self.head = lib_nn.Linear(8, 2)
        self.scale = lib_nn.Parameter(lib.ones(1))
        self.register_buffer("steps", lib.zeros(()))
        self.register_buffer("cache", lib.zeros(3), persistent=False)

    def forward(self, x):
        x = self.act(self.fc1(x))
        for b in self.blocks:
            x = b(x)
        return self.head(x) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        Net.__init__.__wrapped__(self, torch.nn, torch) if hasattr(Net.__init__, "__wrapped__") else None
        self.fc1 = torch.nn.Linear(4, 8)
        self.act = torch.nn.ReLU()
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(8, 8),
                                           torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh())])
        self.head = torch.nn.Linear(8, 2)
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.register_buffer("steps", torch.zeros(()))
        self.register_buffer("cache", torch.zeros(3), persistent=False)


def test_registration_and_iteration_match_pytorch():
    e, t = Net(), TorchNet()
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict()) == list(t.state_dict())
    assert len(list(e.modules())) == len(list(t.modules()))
    assert repr(e).replace("Net", "X") == repr(t).replace("TorchNet", "X")
    assert e.get_submodule("blocks.1.0") is e.blocks[1][0]
    with pytest.raises(AttributeError, match="no submodule `nope`"):
        e.get_submodule("blocks.nope")
    assert e.get_parameter("blocks.1.0.bias") is e.blocks[1][0].bias


def test_attribute_semantics():
    m = nn.Module()
    m.w = nn.Parameter(ember.ones(2))
    m.sub = nn.Linear(2, 2)
    m.plain = ember.ones(2)  # a plain tensor attribute is not registered
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    m.w = None
    assert "w" in m._parameters and m.w is None
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.w = ember.ones(2)
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        _ = m.missing
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", ember.ones(1))
    shared = nn.Linear(2, 2)
    s = nn.Sequential(shared, shared)
    assert len(list(s.parameters())) == 2


def test_state_dict_round_trip_and_strict_errors():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    x = ember.randn(3, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    sd = a.state_dict()
    assert "cache" not in sd and sd["fc1.weight"]._data is a.fc1.weight._data  # shares memory, detached
    assert not sd["fc1.weight"].requires_grad
    bad = dict(sd)
    del bad["head.bias"]
    bad["extra.weight"] = ember.zeros(1)
    bad["fc1.weight"] = ember.zeros(8, 5)
    with pytest.raises(RuntimeError) as info:
        b.load_state_dict(bad)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "head.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for fc1.weight: copying a param with shape (8, 5) from checkpoint, the shape in " \
           "current model is (8, 4)" in msg
    del bad["fc1.weight"]
    result = b.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["fc1.weight", "head.bias"] and result.unexpected_keys == ["extra.weight"]


def test_load_pytorch_state_dict_gives_same_outputs():
    t = TorchNet()
    e = Net()
    e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    tout = t.head(torch.tanh(t.blocks[1][0](t.blocks[0](t.act(t.fc1(torch.tensor(x))))))) * t.scale
    np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(), tout.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_train_eval_requires_grad_zero_grad_apply():
    m = Net()
    assert m.training and m.blocks[1][1].training
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m(ember.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Net" and seen[0] == "Linear"


def test_to_dtype_keeps_parameter_objects():
    m = Net()
    w = m.fc1.weight
    opt = ember.optim.SGD(m.parameters(), lr=0.1)
    m.double()
    assert m.fc1.weight is w and w.dtype == ember.float64 and m.steps.dtype == ember.float64
    m(ember.randn(2, 4, dtype=ember.float64)).sum().backward()
    opt.step()
    m.to(ember.float32)
    assert w.dtype == ember.float32
    m.to("cpu").cpu().float()
    with pytest.raises(TypeError, match="floating point"):
        m.to(ember.int64)
    bn = nn.BatchNorm1d(2).double()
    assert bn.num_batches_tracked.dtype == ember.int64


def test_hooks():
    m = nn.Linear(3, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    h2 = m.register_forward_hook(lambda mod, args, out: out + 1)
    x = ember.ones(1, 3)
    want = (x * 2) @ m.weight.t() + m.bias + 1
    np.testing.assert_allclose(m(x).detach().numpy(), want.detach().numpy(), rtol=1e-6)
    h1.remove()
    h2.remove()
    assert not m._hooked
    np.testing.assert_allclose(m(x).detach().numpy(), (x @ m.weight.t() + m.bias).detach().numpy(), rtol=1e-6)

    def bhook(mod, grad_input, grad_output):
        calls.append((tuple(grad_input[0].shape), tuple(grad_output[0].shape)))
        return (grad_input[0] * 0,)

    h3 = m.register_full_backward_hook(bhook)
    xi = ember.ones(4, 3, requires_grad=True)
    m(xi).sum().backward()
    assert calls == [((4, 3), (4, 2))] and float(xi.grad.abs().sum()) == 0
    h3.remove()
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, tuple(go[0].shape))))
    m(ember.ones(4, 3)).sum().backward()  # the input needs no grad: grad_input is (None,)
    assert seen == [((None,), (4, 2))]


def test_hooks_with_kwargs_and_call_is_forward_without_hooks():
    m = nn.Linear(3, 2)
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, kwargs), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out * 0, with_kwargs=True)
    assert float(m(ember.ones(1, 3)).abs().sum()) == 0
    plain = nn.Linear(3, 2)
    plain.forward = lambda x: "forward called"
    assert plain(ember.ones(1, 3)) == "forward called"


def test_parameter_repr_and_deepcopy():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(p).replace("ember", "torch") == repr(tp)
    assert p.requires_grad and isinstance(p, ember.Tensor)
    assert not nn.Parameter(ember.ones(1), requires_grad=False).requires_grad
    m = Net()
    m2 = copy.deepcopy(m)
    assert m2.fc1.weight is not m.fc1.weight and isinstance(m2.fc1.weight, nn.Parameter)
    np.testing.assert_array_equal(m2.fc1.weight.detach().numpy(), m.fc1.weight.detach().numpy())
    m2.fc1.weight.data.zero_()
    assert float(m.fc1.weight.abs().sum()) > 0
    assert m2.blocks[1][0].weight is dict(m2.named_parameters())["blocks.1.0.weight"]


def test_containers():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear) and len(s[1:]) == 2
    s.append(nn.Sigmoid())
    assert len(s) == 4 and [type(m).__name__ for m in s][-1] == "Sigmoid"
    del s[1]
    assert list(s._modules) == ["0", "1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        s[7]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("a", nn.Linear(2, 2)), ("b", nn.ReLU())]))
    assert list(named.state_dict()) == ["a.weight", "a.bias"]
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml += [nn.Linear(1, 1)]
    ml.insert(0, nn.ReLU())
    assert len(ml) == 3 and isinstance(ml[0], nn.ReLU)
    md = nn.ModuleDict({"x": nn.Linear(1, 2)})
    md["y"] = nn.Tanh()
    assert list(md.keys()) == ["x", "y"] and "y" in md
    pl = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(1))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(list(pl.parameters())) == 2
    pd = nn.ParameterDict({"a": ember.ones(1)})
    pd["b"] = nn.Parameter(ember.ones(2))
    assert sorted(n for n, _ in pd.named_parameters()) == ["a", "b"]
    tl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2))])
    assert repr(nn.ParameterList([nn.Parameter(ember.ones(2))])) == repr(tl).replace("torch", "ember")


def test_init_functions():
    ember.manual_seed(0)
    w = ember.empty(300, 200)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(ember.empty(8, 4, 3, 3))
    assert (fan_in, fan_out) == (36, 72)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.003
    nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 500)) < 0.003
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.numpy()).max() <= 0.5 and w.numpy().std() > 0.2
    nn.init.orthogonal_(w)
    np.testing.assert_allclose(w.numpy().T @ w.numpy(), np.eye(200), atol=1e-4)
    nn.init.eye_(w)
    assert float(w.sum()) == 200
    nn.init.constant_(w, 0.5)
    assert float(w.mean()) == 0.5
    p = nn.Parameter(ember.ones(3, 3))
    nn.init.uniform_(p, -0.1, 0.1)  # in place on a leaf that requires grad: allowed (runs without grad)
    assert p.requires_grad and float(p.abs().max()) <= 0.1
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(ember.empty(3))


def test_clip_grad_matches_pytorch():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=s).astype(np.float32) for s in ((3, 4), (5,))]
    for norm_type in (2.0, 1.0, math.inf):
        ep = [nn.Parameter(ember.ones(*a.shape)) for a in arrays]
        tp = [torch.nn.Parameter(torch.ones(*a.shape)) for a in arrays]
        for e, t, a in zip(ep, tp, arrays):
            e.grad, t.grad = ember.tensor(a), torch.tensor(a)
        en = nn.utils.clip_grad_norm_(ep, 0.5, norm_type)
        tn = torch.nn.utils.clip_grad_norm_(tp, 0.5, norm_type)
        assert float(en) == pytest.approx(float(tn), rel=1e-6)
        for e, t in zip(ep, tp):
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    nn.utils.clip_grad_value_(ep, 0.01)
    assert float(ep[0].grad.abs().max()) <= 0.01
    bad = nn.Parameter(ember.ones(1))
    bad.grad = ember.tensor([float("nan")])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)


def test_parameters_vector_round_trip():
    m = Net()
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.numel() == sum(p.numel() for p in m.parameters())
    nn.utils.vector_to_parameters(v * 2, m.parameters())
    np.testing.assert_allclose(nn.utils.parameters_to_vector(m.parameters()).detach().numpy(),
                               v.detach().numpy() * 2)
    with pytest.raises(ValueError, match="holds|hold"):
        nn.utils.vector_to_parameters(v[:3], m.parameters())


def test_module_errors():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)
    with pytest.raises(KeyError, match="can't contain"):
        nn.Module().register_buffer("a.b", ember.ones(1))
