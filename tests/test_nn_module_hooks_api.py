"""nn.Module hooks PyTorch has (backward pre, state_dict, load_state_dict, global, extra state, set_submodule):
each row runs the same code on torch and on Ember."""
import pytest
from _nested import as_numpy as _np
from _nested import assert_same

import ember

torch = pytest.importorskip("torch")


def _same(a, b):
    assert_same(a, b, rtol=1e-5)


def _net(lib):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.Tanh(), lib.nn.Linear(2, 1))
    with lib.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(lib.linspace(-1, 1, p.numel()).reshape(p.shape) * (i + 1))
    return net


def _x(lib):
    return lib.linspace(-1, 1, 6).reshape(2, 3)


def backward_pre(lib):
    net = _net(lib)
    seen = []
    net[2].register_full_backward_pre_hook(lambda m, go: seen.append(go) or (go[0] * 2,))
    net[2].register_full_backward_hook(lambda m, gi, go: seen.append([gi, go]))
    net(_x(lib)).sum().backward()
    return [seen, net[0].weight.grad]


def global_hooks(lib):
    mm = lib.nn.modules.module
    net = _net(lib)
    names = []
    hs = [mm.register_module_forward_pre_hook(lambda m, a: names.append("pre " + type(m).__name__)),
          mm.register_module_forward_hook(lambda m, a, o: names.append("post " + type(m).__name__)),
          mm.register_module_full_backward_hook(lambda m, gi, go: names.append("bw " + type(m).__name__))]
    net[0].register_forward_hook(lambda m, a, o: names.append("own"))
    x = _x(lib).requires_grad_()
    net(x).sum().backward()
    for h in hs:
        h.remove()
    net(x)
    return names


def state_dict_hooks(lib):
    net = _net(lib)
    seen = []
    net[0].register_state_dict_pre_hook(lambda m, prefix, keep_vars: seen.append(["pre", prefix, keep_vars]))

    def post(m, sd, prefix, meta):
        seen.append(["post", prefix, sorted(sd)])
        sd[prefix + "note"] = lib.ones(1)

    net.register_state_dict_post_hook(post)
    sd = net.state_dict(prefix="model.")
    return [seen, sorted(sd)]


def load_hooks(lib):
    net = _net(lib)
    seen = []

    def pre(m, sd, prefix, meta, strict, missing, unexpected, errors):
        seen.append(["pre", prefix, strict])
        if prefix + "w_old" in sd:
            sd[prefix + "weight"] = sd.pop(prefix + "w_old")

    def post(m, keys):
        seen.append(["post", list(keys.missing_keys), list(keys.unexpected_keys)])
        if "extra" in keys.unexpected_keys:
            keys.unexpected_keys.remove("extra")

    net[2].register_load_state_dict_pre_hook(pre)
    net.register_load_state_dict_post_hook(post)
    sd = dict(_net(lib).state_dict())
    sd["2.w_old"] = sd.pop("2.weight") * 3
    sd["extra"] = lib.zeros(1)
    res = net.load_state_dict(sd)
    return [seen, net[2].weight, list(res.missing_keys), list(res.unexpected_keys)]


def extra_state(lib):
    class WithExtra(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lib.nn.Linear(2, 2)
            self.steps = 0

        def get_extra_state(self):
            return {"steps": self.steps}

        def set_extra_state(self, state):
            self.steps = state["steps"]

    a, b = WithExtra(), WithExtra()
    a.steps = 7
    sd = lib.nn.Sequential(a).state_dict()
    res = lib.nn.Sequential(b).load_state_dict(sd)
    try:
        lib.nn.Sequential(WithExtra()).load_state_dict({k: v for k, v in sd.items() if "extra" not in k})
        missing = "no error"
    except RuntimeError as e:
        missing = "0._extra_state" in str(e)
    return [sorted(sd), sd["0._extra_state"]["steps"], b.steps, list(res.missing_keys), missing]


def set_submodule(lib):
    net = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.ReLU()))
    net.set_submodule("1.0", lib.nn.Tanh())
    net.set_submodule("1.new", lib.nn.Sigmoid())
    errs = []
    for args in [("1.nope", lib.nn.ReLU(), True), ("9.0", lib.nn.ReLU(), False)]:
        try:
            net.set_submodule(*args)
            errs.append("ok")
        except AttributeError:
            errs.append("AttributeError")
    return [type(net[1][0]).__name__, type(net[1].new).__name__, errs]


ROWS = {
    "full backward pre hook": backward_pre,
    "global hooks": global_hooks,
    "state_dict pre/post hooks": state_dict_hooks,
    "load_state_dict pre/post hooks": load_hooks,
    "extra state": extra_state,
    "set_submodule": set_submodule,
}


@pytest.mark.parametrize("name", list(ROWS))
def test_module_hooks_match_torch(name):
    _same(_np(ROWS[name](torch)), _np(ROWS[name](ember)))


def test_state_dict_post_hook_must_return_none():
    net = _net(ember)
    net.register_state_dict_post_hook(lambda m, sd, prefix, meta: sd)
    with pytest.raises(RuntimeError, match="must return None"):
        net.state_dict()


def test_load_post_hook_clears_strict_error():
    net = _net(ember)
    sd = dict(net.state_dict())
    sd["stray"] = ember.zeros(1)
    with pytest.raises(RuntimeError, match='Unexpected key.*"stray"'):
        net.load_state_dict(sd)
    net.register_load_state_dict_post_hook(lambda m, keys: keys.unexpected_keys.clear())
    assert net.load_state_dict(sd).unexpected_keys == []
