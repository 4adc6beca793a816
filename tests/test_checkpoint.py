"""Activation checkpointing (ember.utils.checkpoint): gradients equal the plain model's exactly (dropout
included), values equal PyTorch's, the argument forms PyTorch accepts, ember.compile's graph break, and the
memory it saves (tracemalloc peak of a deep MLP)."""
import tracemalloc
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.graph.compile import GraphBreak
from ember.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential


def _mlp(seed=0, p=0.5):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 16), nn.Tanh(),
                         nn.Dropout(p), nn.Linear(16, 3))


def _grads(net, x):
    return [p.grad.numpy().copy() for p in net.parameters()] + [x.grad.numpy().copy()]


RUNS = {  # name -> how the checkpointed model is called
    "whole module, reentrant": lambda net, x: checkpoint(net, x, use_reentrant=True),
    "whole module, non-reentrant": lambda net, x: checkpoint(net, x, use_reentrant=False),
    "two halves": lambda net, x: checkpoint(net[4:], checkpoint(net[:4], x, use_reentrant=False),
                                            use_reentrant=False),
    "sequential, 1 segment": lambda net, x: checkpoint_sequential(net, 1, x, use_reentrant=False),
    "sequential, 3 segments": lambda net, x: checkpoint_sequential(net, 3, x, use_reentrant=True),
    "sequential, 7 segments": lambda net, x: checkpoint_sequential(list(net), 7, x, use_reentrant=False),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_gradients_equal_plain_backward_with_dropout(name):
    plain, ck = _mlp(), _mlp()
    x0 = ember.randn(8, 6)
    xa, xb = x0.clone().requires_grad_(True), x0.clone().requires_grad_(True)
    ember.manual_seed(7)
    ya = plain(xa)
    ya.pow(2).sum().backward()
    after_plain = ember.rand(3).numpy()
    ember.manual_seed(7)
    yb = RUNS[name](ck, xb)
    yb.pow(2).sum().backward()
    np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
    for ga, gb in zip(_grads(plain, xa), _grads(ck, xb)):
        np.testing.assert_array_equal(ga, gb)
    # the recompute restored the generator: later draws are those of the plain run
    np.testing.assert_array_equal(after_plain, ember.rand(3).numpy())


def test_without_preserved_rng_the_masks_differ():
    """The check above can fail: with preserve_rng_state=False the recompute draws new dropout masks."""
    plain, ck = _mlp(), _mlp()
    x = ember.randn(8, 6)
    ember.manual_seed(7)
    plain(x).sum().backward()
    ember.manual_seed(7)
    checkpoint(ck, x, use_reentrant=False, preserve_rng_state=False).sum().backward()
    assert not np.array_equal(plain[0].weight.grad.numpy(), ck[0].weight.grad.numpy())


def test_values_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    from torch.utils import checkpoint as tcp

    net = _mlp(p=0.0).double()
    tnet = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.0),
                               torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Dropout(0.0),
                               torch.nn.Linear(16, 3)).double()
    tnet.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 6))
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ey = checkpoint_sequential(net, 2, ex, use_reentrant=False)
    ty = tcp.checkpoint_sequential(tnet, 2, tx, use_reentrant=False)
    (ey * ey).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def _two_out(a, scale, b=None, *, shift=0.0):
    base = a * scale + shift
    return base.sin(), "tag", base.cos() * (1 if b is None else b)


# (name, args builder -> (args, kwargs), use_reentrant): checkpoint must equal the plain call in value and grads
CASES = [
    ("input without grad", lambda w: ((ember.randn(4), 1.5), {}), True),
    ("non-tensor arguments", lambda w: ((ember.randn(4, requires_grad=True), 3.0, None), {}), True),
    ("keyword arguments", lambda w: ((ember.randn(4, requires_grad=True), 2.0),
                                     {"b": ember.randn(4, requires_grad=True), "shift": 0.5}), False),
    ("integer tensor argument", lambda w: ((ember.randn(4, requires_grad=True), ember.tensor(2)), {}), None),
]


@pytest.mark.parametrize("name,make,reentrant", CASES, ids=[c[0] for c in CASES])
def test_argument_forms_equal_the_plain_call(name, make, reentrant):
    w = ember.randn(4, requires_grad=True)  # read by closure, like a parameter

    def fn(a, scale, b=None, **kw):
        s, tag, c = _two_out(a * w, scale, b, **kw)
        return s, tag, c

    args, kwargs = make(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s1, tag, c1 = checkpoint(fn, *args, use_reentrant=reentrant, **kwargs)
    assert tag == "tag"
    leaves = [w] + [t for t in list(args) + list(kwargs.values()) if isinstance(t, ember.Tensor) and t.requires_grad]
    g1 = ember.autograd.grad((s1 * 2 + c1).sum(), leaves)
    s2, _, c2 = fn(*args, **kwargs)
    g2 = ember.autograd.grad((s2 * 2 + c2).sum(), leaves)
    np.testing.assert_array_equal(s1.detach().numpy(), s2.detach().numpy())
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_closure_over_a_non_leaf_tensor_and_second_order():
    x = ember.tensor([0.5, -1.0, 2.0], requires_grad=True)
    h = x * 3  # an intermediate of the outer graph, read inside the segment
    y = checkpoint(lambda t: (t * h).sin(), x, use_reentrant=False)
    (gx,) = ember.autograd.grad(y.sum(), x, create_graph=True)
    xv = x.detach().numpy()
    np.testing.assert_allclose(gx.detach().numpy(), 6 * xv * np.cos(3 * xv * xv), rtol=1e-6)
    gx.sum().backward()  # second order through the recomputed graph
    want = 6 * np.cos(3 * xv * xv) - 36 * xv * xv * np.sin(3 * xv * xv)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5)


def test_use_reentrant_none_warns_as_torch_does():
    x = ember.randn(3, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(ember.sin, x)
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint_sequential([ember.sin], 1, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(ember.sin, x, use_reentrant=True)
        checkpoint(ember.sin, x, use_reentrant=False)


@pytest.mark.parametrize("call,err,words", [
    (lambda x: checkpoint(lambda a, b=1: a * b, x, b=2, use_reentrant=True), ValueError,
     "Unexpected keyword arguments: b"),
    (lambda x: checkpoint(ember.sin, x, use_reentrant=True, context_fn=lambda: (None, None)), ValueError,
     "context_fn is only supported with use_reentrant=False"),
    (lambda x: checkpoint(ember.sin, x, use_reentrant=False, determinism_check="bad"), ValueError,
     "determinism_check"),
    (lambda x: checkpoint_sequential([ember.sin], 0, x, use_reentrant=False), ValueError, "segments"),
])
def test_bad_arguments(call, err, words):
    with pytest.raises(err, match=words):
        call(ember.randn(3, requires_grad=True))


def test_recompute_that_differs_is_an_error():
    calls = []

    def fn(x):
        calls.append(1)
        return x[: len(calls)] * 2

    y = checkpoint(fn, ember.randn(4, requires_grad=True), use_reentrant=False)
    with pytest.raises(CheckpointError, match="differ from the forward"):
        y.sum().backward()


def test_context_fn_wraps_forward_and_recompute():
    seen = []

    class Ctx:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            seen.append((self.name, ember.is_grad_enabled()))

        def __exit__(self, *exc):
            return False

    x = ember.randn(3, requires_grad=True)
    checkpoint(ember.sin, x, use_reentrant=False, context_fn=lambda: (Ctx("fwd"), Ctx("re"))).sum().backward()
    assert seen == [("fwd", False), ("re", True)]


def test_under_compile_it_is_a_graph_break_with_equal_results():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.b(checkpoint(lambda t: ember.relu(self.a(t)), x, use_reentrant=False))

    ember.manual_seed(0)
    net, x = Net(), ember.randn(3, 4)
    ref = net(x)
    ref.sum().backward()
    want = net.a.weight.grad.numpy().copy()
    compiled = ember.compile(net)
    with pytest.warns(RuntimeWarning, match="graph break .*activation checkpointing"):
        for _ in range(2):
            net.zero_grad()
            out = compiled(x)
            out.sum().backward()
            np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
            np.testing.assert_array_equal(net.a.weight.grad.numpy(), want)
    with pytest.raises(GraphBreak, match="checkpoint"):
        ember.compile(net, strict=True)(x)


def test_a_compiled_function_inside_is_refused_by_name():
    lin = nn.Linear(4, 4)
    inner = ember.compile(lin)
    x = ember.randn(2, 4)
    checkpoint(inner, x, use_reentrant=False).sum().backward()  # its first call traces: eager ops, seen
    want = (x.sum(0).numpy()[None, :].repeat(4, 0))
    np.testing.assert_allclose(lin.weight.grad.numpy(), want, rtol=1e-6)
    with pytest.raises(RuntimeError, match="compiled .*cannot be followed"):
        checkpoint(inner, x, use_reentrant=False)  # now one compiled graph: its reads are not seen


def _peak_bytes(use_checkpoint, depth=16, width=256, batch=512):
    ember.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    net, x = nn.Sequential(*layers), ember.randn(batch, width)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = checkpoint_sequential(net, 4, x, use_reentrant=False) if use_checkpoint else net(x)
        out.sum().backward()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_peak_memory_of_a_deep_mlp_is_lower():
    _peak_bytes(False), _peak_bytes(True)  # one-time allocations (first calls) are not activations
    plain, ck = _peak_bytes(False), _peak_bytes(True)
    activation = 512 * 256 * 4
    assert plain > 32 * activation  # every Linear's input and ReLU's output are held until backward
    # checkpointed: 4 segment inputs plus one segment's 8 activations at a time, not all 32
    assert ck < plain - 12 * activation, (plain, ck)  # (measured: 14 activations fewer)
