"""ember.func (grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, functional_call) and
ember.autograd.functional (jacobian, hessian, vjp, jvp, vhp, hvp) against torch's, one row per transform."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).normal(size=(3,))
Y = np.random.default_rng(1).normal(size=(3,))
M = np.random.default_rng(2).normal(size=(4, 3))


def f_scalar(L):
    return lambda x: (x.sin() * x ** 2).sum()


def f_vec(L):
    return lambda x: x.tanh() * x.sum()


def f_two(L):
    return lambda x, y: (x * y.exp()).sum()


def t(L, a):
    return L.tensor(np.asarray(a), dtype=L.float64)


def flat(out):
    if isinstance(out, dict):
        return [y for k in sorted(out) for y in flat(out[k])]
    if isinstance(out, (tuple, list)):
        return [y for o in out for y in flat(o)]
    return [out]


# name, fn(L, F) -> result, where F is ember.func / torch.func
FUNC_ROWS = [
    ("grad", lambda L, F: F.grad(f_scalar(L))(t(L, X))),
    ("grad_argnums", lambda L, F: F.grad(f_two(L), argnums=(0, 1))(t(L, X), t(L, Y))),
    ("grad_of_grad", lambda L, F: F.grad(F.grad(lambda x: x.sin() * x))(t(L, 0.7))),
    ("grad_has_aux", lambda L, F: F.grad(lambda x: ((x ** 2).sum(), x.mean()), has_aux=True)(t(L, X))),
    ("grad_and_value", lambda L, F: F.grad_and_value(f_scalar(L))(t(L, X))),
    ("grad_dict", lambda L, F: F.grad(lambda p: (p["w"] * p["b"]).sum())({"w": t(L, X), "b": t(L, Y)})),
    ("vjp", lambda L, F: F.vjp(f_vec(L), t(L, X))[1](t(L, Y))),
    ("jvp", lambda L, F: F.jvp(f_vec(L), (t(L, X),), (t(L, Y),))),
    ("jvp_two_args", lambda L, F: F.jvp(lambda a, b: a * b.sin(), (t(L, X), t(L, Y)), (t(L, Y), t(L, X)))),
    ("jacrev", lambda L, F: F.jacrev(f_vec(L))(t(L, X))),
    ("jacrev_matrix", lambda L, F: F.jacrev(lambda m: m @ m.T)(t(L, M))),
    ("jacfwd", lambda L, F: F.jacfwd(f_vec(L))(t(L, X))),
    ("jacrev_argnums", lambda L, F: F.jacrev(lambda a, b: a * b, argnums=(0, 1))(t(L, X), t(L, Y))),
    ("hessian", lambda L, F: F.hessian(f_scalar(L))(t(L, X))),
    ("vmap", lambda L, F: F.vmap(lambda row: row.dot(row))(t(L, M))),
    ("vmap_in_dims", lambda L, F: F.vmap(lambda a, b: a * b, in_dims=(1, None))(t(L, M), t(L, 2.0))),
    ("vmap_out_dims", lambda L, F: F.vmap(lambda r: (r * 2, r.sum()), out_dims=(1, 0))(t(L, M))),
    ("vmap_grad", lambda L, F: F.vmap(F.grad(lambda x: (x ** 3).sum()))(t(L, M))),
]


@pytest.mark.parametrize("name,fn", FUNC_ROWS, ids=[r[0] for r in FUNC_ROWS])
def test_func_matches_torch(name, fn):
    got, want = flat(fn(ember, ember.func)), flat(fn(torch, torch.func))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape), name
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_functional_call_swaps_and_restores():
    lin = ember.nn.Linear(3, 2)
    tlin = torch.nn.Linear(3, 2)
    w, b = np.ones((2, 3)), np.arange(2.0)
    x = np.random.default_rng(3).normal(size=(4, 3))
    params = {"weight": ember.tensor(w, requires_grad=True), "bias": ember.tensor(b)}
    out = ember.func.functional_call(lin, params, (ember.tensor(x),))
    want = torch.func.functional_call(tlin, {"weight": torch.tensor(w), "bias": torch.tensor(b)},
                                      (torch.tensor(x),))
    np.testing.assert_allclose(out.detach().numpy(), want.numpy())
    out.sum().backward()
    assert params["weight"].grad is not None and lin.weight.grad is None  # gradients go to the passed tensors
    assert lin.weight.shape == (2, 3) and not np.allclose(lin.weight.detach().numpy(), 1.0)  # restored
    grads = ember.func.grad(lambda p: ember.func.functional_call(lin, p, (ember.tensor(x),)).pow(2).sum())(
        {k: v.detach() for k, v in params.items()})
    tgrads = torch.func.grad(lambda p: torch.func.functional_call(tlin, p, (torch.tensor(x),)).pow(2).sum())(
        {"weight": torch.tensor(w), "bias": torch.tensor(b)})
    for k in grads:
        np.testing.assert_allclose(grads[k].numpy(), tgrads[k].numpy(), rtol=1e-10)
    with pytest.raises(AttributeError, match="no parameter or buffer 'wieght'"):
        ember.func.functional_call(lin, {"wieght": ember.ones(2, 3)}, (ember.tensor(x),))


def test_functional_call_reaches_keras_weights_and_tied_weights():
    from ember import keras

    dense, x = keras.layers.Dense(2), ember.ones(1, 3)
    dense(x)  # a Keras layer reads its weights as attributes (self.kernel): they must be swapped too
    zeros = {n: ember.zeros_like(p) for n, p in dense.named_parameters()}
    assert ember.func.functional_call(dense, zeros, (x,)).tolist() == [[0.0, 0.0]]
    assert dense(x).abs().sum().item() > 0  # restored
    for tie in (True, False):  # torch's tie_weights: a weight shared by two layers is replaced in both, or not
        tlin = torch.nn.Linear(2, 2)
        tseq = torch.nn.Sequential(tlin, torch.nn.Linear(2, 2))
        tseq[1].weight = tlin.weight
        seq = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.Linear(2, 2))
        seq.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tseq.state_dict().items()})
        seq[1].weight = seq[0].weight
        want = torch.func.functional_call(tseq, {"0.weight": torch.zeros(2, 2)}, (torch.ones(1, 2),),
                                          tie_weights=tie)
        got = ember.func.functional_call(seq, {"0.weight": ember.zeros(2, 2)}, (ember.ones(1, 2),),
                                         tie_weights=tie)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)


def g_two(a, b):
    return a.exp() * b.sum(), (a * b).sum()


AF_ROWS = [
    ("jacobian", lambda L, A: A.jacobian(lambda x: x.tanh() * x.sum(), t(L, X))),
    ("jacobian_tuple", lambda L, A: A.jacobian(g_two, (t(L, X), t(L, Y)))),
    ("hessian", lambda L, A: A.hessian(lambda x: (x.sin() * x ** 2).sum(), t(L, X))),
    ("hessian_tuple", lambda L, A: A.hessian(lambda a, b: (a * a * b).sum(), (t(L, X), t(L, Y)))),
    ("vjp", lambda L, A: A.vjp(lambda x: x.tanh() * 2, t(L, X), t(L, Y))),
    ("jvp", lambda L, A: A.jvp(lambda x: x.tanh() * x.sum(), t(L, X), t(L, Y))),
    ("vhp", lambda L, A: A.vhp(lambda x: (x ** 3).sum(), t(L, X), t(L, Y))),
    ("hvp", lambda L, A: A.hvp(lambda x: (x ** 3).prod(), t(L, X), t(L, Y))),
]


@pytest.mark.parametrize("name,fn", AF_ROWS, ids=[r[0] for r in AF_ROWS])
def test_autograd_functional_matches_torch(name, fn):
    from ember.autograd import functional as EA

    got, want = fn(ember, EA), fn(torch, torch.autograd.functional)
    assert isinstance(got, tuple) == isinstance(want, tuple)
    g, w = flat(got), flat(want)
    assert len(g) == len(w)
    for a, b in zip(g, w):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("bad, match", [
    (lambda: ember.func.grad(lambda x: x * 2)(ember.ones(3)), "single-element"),
    (lambda: ember.func.grad(lambda x: x.sum(), argnums=2)(ember.ones(3)), "out of range"),
    (lambda: ember.func.vmap(lambda a, b: a + b)(ember.ones(3, 2), ember.ones(4, 2)), "same size"),
    (lambda: ember.func.vmap(lambda a: a, in_dims=(0, 0))(ember.ones(3)), "in_dims has 2"),
    (lambda: ember.func.jvp(lambda x: x, (ember.ones(3),), (ember.ones(2),)), "tangent has shape"),
    (lambda: ember.autograd.functional.vjp(lambda x: x * 2, ember.ones(3)), "v can be omitted"),
    (lambda: ember.autograd.functional.jacobian(lambda x: x, [1.0]), "tensor or a tuple"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_mistakes_raise_clear_errors(bad, match):
    with pytest.raises((RuntimeError, ValueError, TypeError), match=match):
        bad()
