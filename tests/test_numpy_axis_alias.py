"""`axis=` / `keepdims=` as aliases of `dim` / `keepdim`, exactly where torch accepts them (torch is the oracle)."""
import inspect

import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from ember import _numpy_names

torch = pytest.importorskip("torch")
TF = torch.nn.functional

X = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
IDX = np.zeros((3, 1), dtype=np.int64)

# name -> call(namespace, x, index); namespace is `torch`/`ember` (module call) or a Tensor-method shim
ACCEPTS = {
    "sum": lambda ns, x, i: ns.sum(x, axis=1, keepdims=True),
    "mean": lambda ns, x, i: ns.mean(x, axis=1),
    "std": lambda ns, x, i: ns.std(x, axis=1, keepdims=True),
    "var": lambda ns, x, i: ns.var(x, axis=0),
    "prod": lambda ns, x, i: ns.prod(x, axis=1),
    "amax": lambda ns, x, i: ns.amax(x, axis=1, keepdims=True),
    "amin": lambda ns, x, i: ns.amin(x, axis=0),
    "argmax": lambda ns, x, i: ns.argmax(x, axis=1),
    "argmin": lambda ns, x, i: ns.argmin(x, axis=1, keepdims=True),
    "max": lambda ns, x, i: ns.max(x, axis=1)[0],
    "min": lambda ns, x, i: ns.min(x, axis=0, keepdims=True)[1],
    "logsumexp": lambda ns, x, i: ns.logsumexp(x, axis=1),
    "median": lambda ns, x, i: ns.median(x, axis=1)[0],
    "softmax": lambda ns, x, i: ns.softmax(x, axis=1),
    "log_softmax": lambda ns, x, i: ns.log_softmax(x, axis=0),
    "cumsum": lambda ns, x, i: ns.cumsum(x, axis=1),
    "cumprod": lambda ns, x, i: ns.cumprod(x, axis=0),
    "any": lambda ns, x, i: ns.any(x > 0, axis=1),
    "all": lambda ns, x, i: ns.all(x > -1, axis=0, keepdims=True),
    "count_nonzero": lambda ns, x, i: ns.count_nonzero(x > 0, axis=1),
    "sort": lambda ns, x, i: ns.sort(x, axis=1)[0],
    "argsort": lambda ns, x, i: ns.argsort(x, axis=0),
    "topk": lambda ns, x, i: ns.topk(x, 2, axis=1)[0],
    "kthvalue": lambda ns, x, i: ns.kthvalue(x, 2, axis=1)[0],
    "squeeze": lambda ns, x, i: ns.squeeze(x[:, :1], axis=1),
    "unsqueeze": lambda ns, x, i: ns.unsqueeze(x, axis=1),
    "chunk": lambda ns, x, i: ns.chunk(x, 2, axis=1)[1],
    "tensor_split": lambda ns, x, i: ns.tensor_split(x, 2, axis=1)[0],
    "unbind": lambda ns, x, i: ns.unbind(x, axis=1)[2],
    "narrow": lambda ns, x, i: ns.narrow(x, axis=1, start=1, length=2),
    "select": lambda ns, x, i: ns.select(x, axis=1, index=2),
    "index_select": lambda ns, x, i: ns.index_select(x, axis=1, index=i[:2, 0]),
    "gather": lambda ns, x, i: ns.gather(x, axis=1, index=i),
    "take_along_dim": lambda ns, x, i: ns.take_along_dim(x, i, axis=1),
    "repeat_interleave": lambda ns, x, i: ns.repeat_interleave(x, 2, axis=1),
}
MODULE_ONLY = {
    "stack": lambda ns, x, i: ns.stack([x, x], axis=1),
    "cat": lambda ns, x, i: ns.cat([x, x], axis=1),
    "concat": lambda ns, x, i: ns.concat([x, x], axis=0),
    "concatenate": lambda ns, x, i: ns.concatenate([x, x], axis=1),
    "std_mean": lambda ns, x, i: ns.std_mean(x, axis=1)[0],
    "var_mean": lambda ns, x, i: ns.var_mean(x, axis=1)[1],
    "unflatten": lambda ns, x, i: ns.unflatten(x, axis=1, sizes=(2, 2)),
}
# torch refuses axis= on these (Python-level functions, or `dims` rather than `dim`): so does Ember
REFUSES = {
    "split": lambda ns, x: ns.split(x, 2, axis=1),
    "norm": lambda ns, x: ns.norm(x, axis=1),
    "flip": lambda ns, x: ns.flip(x, axis=(1,)),
    "roll": lambda ns, x: ns.roll(x, 1, axis=1),
    "F.softmax": lambda ns, x: (TF if ns is torch else EF).softmax(x, axis=1),
    "F.log_softmax": lambda ns, x: (TF if ns is torch else EF).log_softmax(x, axis=1),
    "Tensor.split": lambda ns, x: x.split(2, axis=1),
    "Tensor.norm": lambda ns, x: x.norm(axis=1),
    "Tensor.unflatten": lambda ns, x: x.unflatten(axis=1, sizes=(2, 2)),
}


class Methods:
    """``ns.f(x, ...)`` -> ``x.f(...)``: the same table rows, as Tensor methods."""

    def __getattr__(self, name):
        return lambda x, *args, **kwargs: getattr(x, name)(*args, **kwargs)


def _np(out):
    return out.detach().numpy() if hasattr(out, "detach") else np.asarray(out)


def _both(call, ns_t, ns_e):
    want = call(ns_t, torch.tensor(X), torch.tensor(IDX))
    got = call(ns_e, ember.tensor(X), ember.tensor(IDX))
    return _np(got), want.numpy()


@pytest.mark.parametrize("name", sorted(ACCEPTS) + sorted(MODULE_ONLY))
def test_function_accepts_axis_like_torch(name):
    got, want = _both({**ACCEPTS, **MODULE_ONLY}[name], torch, ember)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACCEPTS))
def test_tensor_method_accepts_axis_like_torch(name):
    got, want = _both(ACCEPTS[name], Methods(), Methods())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(REFUSES))
def test_refuses_axis_where_torch_does(name):
    short = name.split(".")[-1]
    with pytest.raises(TypeError):
        REFUSES[name](torch, torch.tensor(X))
    with pytest.raises(TypeError, match=short):
        REFUSES[name](ember, ember.tensor(X))


def test_dim_and_axis_together_is_an_error_naming_the_function():
    with pytest.raises(TypeError, match="sum"):
        ember.sum(ember.tensor(X), dim=1, axis=1)


def test_the_wrapped_set_is_torchs_rule():
    """Every Ember function taking `dim` gets the aliases exactly when torch's counterpart is native (parsed)."""
    for name in dir(ember):
        fn = getattr(ember, name)
        if name.startswith("_") or not _numpy_names.takes_dim(fn) or not hasattr(torch, name):
            continue
        native = inspect.isbuiltin(getattr(torch, name))
        assert getattr(fn, "_numpy_names", False) == native, name


def test_the_wrapped_tensor_methods_are_torchs_rule():
    """A Tensor method taking `dim` itself gets the aliases exactly when torch's method is native (parsed)."""
    for name in dir(ember.Tensor):
        fn = getattr(ember.Tensor, name)
        if name.startswith("_") or not _numpy_names.takes_dim(fn) or not hasattr(torch.Tensor, name):
            continue
        native = inspect.ismethoddescriptor(getattr(torch.Tensor, name))
        assert getattr(fn, "_numpy_names", False) == native, name
