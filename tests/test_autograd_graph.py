"""torch.autograd.graph and grad_fn Nodes: each row runs the same code on torch and on Ember."""
import importlib
import warnings

import numpy as np
import pytest
from _nested import as_numpy as _np
from _nested import assert_same

import ember

torch = pytest.importorskip("torch")


def G(lib):
    return importlib.import_module(lib.__name__ + ".autograd.graph")


_same = assert_same


def _x(lib):
    return lib.tensor([1.0, 2.0, -0.5], requires_grad=True)


def hooks_identity(lib):
    x = _x(lib)
    store = []
    with G(lib).saved_tensors_hooks(lambda t: store.append(t) or len(store) - 1, lambda i: store[i]):
        y = (x * x).sin().sum()
    y.backward()
    return [x.grad, len(store) > 0]


def hooks_unpack_changes(lib, f):
    x = _x(lib)
    a = x * 1
    with G(lib).saved_tensors_hooks(lambda t: t, lambda t: t * 2):
        y = f(a)
    y.sum().backward()
    return [x.grad]


def hooks_no_version_check(lib):
    x = _x(lib)
    a = x * 1
    with G(lib).saved_tensors_hooks(lambda t: t, lambda t: t):
        y = a * a
    a.add_(1)  # packed values are not version-checked (the unpacked, changed value is used)
    y.sum().backward()
    return [x.grad]


def hooks_custom_function(lib):
    class Sq(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = _x(lib)
    packed = []
    with G(lib).saved_tensors_hooks(lambda t: packed.append(1) or t, lambda t: t * 3):
        y = Sq.apply(x)
    y.sum().backward()
    return [x.grad, len(packed)]


def hooks_double_backward(lib):
    x = _x(lib)
    with G(lib).saved_tensors_hooks(lambda t: t, lambda t: t):
        y = (x * x * x).sum()
    (gx,) = lib.autograd.grad(y, x, create_graph=True)
    (ggx,) = lib.autograd.grad(gx.sum(), x)
    return [gx, ggx]


def save_on_cpu(lib):
    x = _x(lib)
    with G(lib).save_on_cpu():
        y = (x.exp() * x).sum()
    y.backward()
    return [x.grad]


def node_api(lib):
    x = _x(lib)
    y = (x * 2).exp()
    fn = y.grad_fn
    (prev, i), = fn.next_functions
    leaf, j = prev.next_functions[0]
    none, _ = prev.next_functions[1]
    fn.metadata["k"] = 1
    return [i, j, none is None, leaf.variable is x, len(prev.next_functions), fn.metadata["k"]]


def node_hooks(lib):
    x = _x(lib)
    y = x * x
    seen = []
    y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
    h = y.grad_fn.register_hook(lambda gi, go: seen.append([gi, go]))
    y.sum().backward(retain_graph=True)
    h.remove()
    y.sum().backward()
    return [x.grad, seen]


def node_hook_replaces(lib):
    x = _x(lib)
    y = x * 3
    y.grad_fn.register_hook(lambda gi, go: (gi[0] + 1, None))
    y.sum().backward()
    return [x.grad]


def multi_all(lib):
    a, b = lib.tensor(1.0, requires_grad=True), lib.tensor(2.0, requires_grad=True)
    got = []
    G(lib).register_multi_grad_hook((a, b), lambda gs: got.append(list(gs)))
    (a * 3).backward()
    (a * 3 + b * b).backward()
    return got


def multi_any(lib):
    a, b = lib.tensor(1.0, requires_grad=True), lib.tensor(2.0, requires_grad=True)
    got = []
    h = G(lib).register_multi_grad_hook((a, b), lambda g: got.append(g), mode="any")
    (a * 3 + b).backward()
    h.remove()
    (a * 3 + b).backward()
    return [len(got)]


def increment(lib):
    t = lib.zeros(2)
    G(lib).increment_version(t)
    G(lib).increment_version(t)
    return [t._version]


ROWS = {
    "saved_tensors_hooks identity": hooks_identity,
    "unpack doubles (mul)": lambda lib: hooks_unpack_changes(lib, lambda a: a * a),
    "unpack doubles (saved output: exp)": lambda lib: hooks_unpack_changes(lib, lambda a: a.exp()),
    "unpack doubles (matmul)": lambda lib: hooks_unpack_changes(lib, lambda a: a[None] @ a[:, None]),
    "no version check when packed": hooks_no_version_check,
    "hooks on ctx.save_for_backward": hooks_custom_function,
    "double backward under hooks": hooks_double_backward,
    "save_on_cpu": save_on_cpu,
    "Node next_functions/metadata": node_api,
    "Node hooks": node_hooks,
    "Node hook replaces grad_inputs": node_hook_replaces,
    "multi grad hook all": multi_all,
    "multi grad hook any": multi_any,
    "increment_version": increment,
}


@pytest.mark.parametrize("name", list(ROWS))
def test_graph_matches_torch(name):
    _same(_np(ROWS[name](torch)), _np(ROWS[name](ember)))


def test_node_names():
    x = _x(ember)
    y = (x * 2).exp()
    assert y.grad_fn.name() == "ExpBackward"  # torch numbers them: ExpBackward0
    assert y.grad_fn.next_functions[0][0].next_functions[0][0].name() == "AccumulateGrad"


def disable_then_hooks(lib):
    with G(lib).disable_saved_tensors_hooks("no hooks here"):
        with G(lib).saved_tensors_hooks(lambda t: t, lambda t: t):
            pass


def hooks_then_disable(lib):
    with G(lib).saved_tensors_hooks(lambda t: t, lambda t: t):
        with G(lib).disable_saved_tensors_hooks("no hooks here"):
            pass


@pytest.mark.parametrize("fn", [disable_then_hooks, hooks_then_disable])
def test_disable_saved_tensors_hooks(fn):
    with pytest.raises(RuntimeError, match="no hooks here"):
        fn(torch)
    with pytest.raises(RuntimeError, match="no hooks here"):
        fn(ember)
    with G(ember).saved_tensors_hooks(lambda t: t, lambda t: t):  # the state is restored after the error
        pass


def test_multi_grad_hook_bad_mode():
    a = ember.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="'all' or 'any'"):
        G(ember).register_multi_grad_hook((a,), print, mode="some")


def test_compile_under_saved_tensors_hooks_runs_eagerly():
    lin = ember.nn.Linear(3, 2)
    x = ember.randn(4, 3)

    def f(x):
        return (lin(x) ** 2).sum()

    cf = ember.compile(f)
    for _ in range(2):
        cf(x).backward()
    lin.zero_grad()
    with G(ember).saved_tensors_hooks(lambda t: t, lambda t: t * 2):
        want = f(x)
    want.backward()
    want_grad = lin.weight.grad.clone()
    lin.zero_grad()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with G(ember).saved_tensors_hooks(lambda t: t, lambda t: t * 2):
            got = cf(x)
    got.backward()
    assert any("saved_tensors_hooks" in str(w.message) and w.filename == __file__ for w in caught)
    np.testing.assert_allclose(lin.weight.grad.numpy(), want_grad.numpy(), rtol=1e-6)
    strict = ember.compile(f, strict=True)
    with pytest.raises(RuntimeError, match="saved_tensors_hooks"):
        with G(ember).saved_tensors_hooks(lambda t: t, lambda t: t):
            strict(x)
