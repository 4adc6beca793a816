"""PyTorch's Tensor methods beyond the core: the forwarded ones and the in-place ``x.op_()`` forms, against
PyTorch on the same inputs (values, dtype, and for the in-place forms that ``x`` itself changed and autograd
runs through them). The functions themselves are rows of the op table (tests/_optable/rows_more.py)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import _tensor_more

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.uniform(0.2, 0.8, (3, 4))  # inside every domain below (log, atanh, logit, acos)
Y = RNG.uniform(0.5, 1.5, (3, 4))
Z = RNG.uniform(1.2, 2.0, (3, 4))  # acosh's domain
HALF = np.where(RNG.random((3, 4)) < 0.5, X, Y)  # equal to X in about half the places
ARGS = {  # name -> (input, extra arguments) built for ``lib``; the rest take (X,) alone
    "xlogy": lambda L: (X, L.tensor(Y)), "addcmul": lambda L: (X, L.tensor(X), L.tensor(Y)),
    "addcdiv": lambda L: (X, L.tensor(X), L.tensor(Y)), "addr": lambda L: (X, L.tensor(X[:, 0]), L.tensor(Y[0])),
    "addbmm": lambda L: (X, L.tensor(np.stack([X[:, :2]] * 2)), L.tensor(np.stack([Y[:2]] * 2))),
    "masked_scatter": lambda L: (X, L.tensor(X > 0.5), L.tensor(Y)), "clamp_max": lambda L: (X, 0.5),
    "fmod": lambda L: (X, 0.3), "remainder": lambda L: (X, 0.3), "floor_divide": lambda L: (X, 0.3),
    "true_divide": lambda L: (X, 0.3), "lerp": lambda L: (X, L.tensor(Y), 0.25), "cumsum": lambda L: (X, 1),
    "cumprod": lambda L: (X, 0), "tril": lambda L: (X,), "triu": lambda L: (X, 1),
    "atan2": lambda L: (X, L.tensor(Y)), "arctan2": lambda L: (X, L.tensor(Y)),
    "baddbmm": lambda L: (np.stack([X[:2, :2]] * 2), L.tensor(np.stack([X[:2]] * 2)),
                          L.tensor(np.stack([Y.T[:, :2]] * 2))),
    "addmm": lambda L: (X[:, :2], L.tensor(X), L.tensor(Y.T[:, :2])),
    "addmv": lambda L: (X[:, 0], L.tensor(X), L.tensor(Y[0])),
    "float_power": lambda L: (X, 2.0), "heaviside": lambda L: (X - 0.5, L.tensor(Y)),
    "index_fill": lambda L: (X, 1, L.tensor([0, 2]), -1.0), "acosh": lambda L: (Z,), "arccosh": lambda L: (Z,),
    "copysign": lambda L: (X, L.tensor(Y - 1)), "hypot": lambda L: (X, L.tensor(Y)),
    "ldexp": lambda L: (X, L.tensor(np.arange(12).reshape(3, 4) % 5 - 2)), "renorm": lambda L: (X, 2, 0, 0.5),
    "scatter_reduce": lambda L: (X, 1, L.tensor([[0, 0, 2, 1]] * 3), L.tensor(Y), "amax"),
    "index_reduce": lambda L: (X, 0, L.tensor([0, 0, 2]), L.tensor(Y), "prod"),
    "gcd": lambda L: (np.arange(12).reshape(3, 4) * 6 - 30, L.tensor(np.arange(12).reshape(3, 4) * 4 - 9)),
    "lcm": lambda L: (np.arange(12).reshape(3, 4) * 6 - 30, L.tensor(np.arange(12).reshape(3, 4) * 4 - 9)),
    "nextafter": lambda L: (X, L.tensor(HALF)), "diagonal_scatter": lambda L: (X, L.tensor(Y[0, :3]), 1),
    "select_scatter": lambda L: (X, L.tensor(Y[0]), 0, 1), "slice_scatter": lambda L: (X, L.tensor(Y[:2]), 0, 1),
    "polygamma": lambda L: (X, 2), "mvlgamma": lambda L: (Z, 2),
    "igamma": lambda L: (np.abs(X) + 0.5, L.tensor(np.abs(Y) + 0.1)),
    "igammac": lambda L: (np.abs(X) + 0.5, L.tensor(np.abs(Y) + 0.1)),
}
BINARY = set("logical_and logical_or logical_xor eq ne lt le gt ge greater greater_equal less less_equal not_equal "
             "multiply subtract divide".split())
INTEGER = set("bitwise_and bitwise_or bitwise_xor bitwise_not".split())
IN_PLACE = [n for n in _tensor_more.IN_PLACE if hasattr(torch.Tensor, n + "_")]


def _call(lib, name):
    if name in INTEGER:
        x, extra = (np.arange(12).reshape(3, 4),), ((lib.tensor(np.arange(12).reshape(3, 4)[::-1].copy()),)
                                                   if name != "bitwise_not" else ())
        return x[0], extra
    if name in BINARY:
        return X, (lib.tensor(HALF),)
    built = ARGS.get(name, lambda L: (X,))(lib)
    return built[0], built[1:]


def _dtype(t):
    return str(t.dtype).split(".")[-1]


@pytest.mark.parametrize("name", IN_PLACE)
def test_in_place_form_matches_torch(name):
    results = {}
    for lib in (ember, torch):
        base, extra = _call(lib, name)
        x = lib.tensor(base.copy())
        out = getattr(x, name + "_")(*extra)
        assert out is x, f"{name}_ returns the tensor itself"
        results[lib.__name__] = x
    got, want = results["ember"], results["torch"]
    assert _dtype(got) == _dtype(want), f"{name}_: dtype {got.dtype} vs {want.dtype}"
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64), rtol=1e-6,
                               atol=1e-7, err_msg=f"{name}_")


@pytest.mark.parametrize("name", [n for n in ("addcmul", "addcdiv", "lerp", "xlogy", "sin", "clamp_max", "tril")])
def test_in_place_forms_are_differentiated(name):
    grads = []
    for lib in (ember, torch):
        base, extra = ARGS.get(name, lambda L: (X,))(lib)[0], ARGS.get(name, lambda L: (X,))(lib)[1:]
        w = lib.tensor(base.copy(), requires_grad=True)
        y = w * 2  # a non-leaf: in-place ops on it are recorded
        getattr(y, name + "_")(*extra)
        (y * lib.tensor(Y)).sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-7)


def test_in_place_refuses_a_float_result_into_an_integer_tensor():
    x = ember.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"floor_divide_: result type float32 can't be cast[\s\S]*test_torch_names"):
        x.floor_divide_(2.5)
    with pytest.raises(RuntimeError, match="shape"):
        ember.zeros(2).addcmul_(ember.ones(3, 2), ember.ones(2))


@pytest.mark.parametrize("name", _tensor_more.FORWARDED)
def test_forwarded_methods_exist_in_torch_and_agree(name):
    if not hasattr(torch.Tensor, name):
        pytest.skip(f"torch.Tensor has no {name} method (a function only)")
    if name in INTEGER or name in ("bincount",):
        base, extra = np.array([0, 2, 2, 3]), ()
    else:
        base, extra = _call(ember, name) if name in ARGS or name in BINARY else (X, ())
    t_extra = tuple(torch.tensor(e.numpy()) if isinstance(e, ember.Tensor) else e for e in extra)
    extra_args = {"quantile": (0.3,), "nanquantile": (0.3,), "diff": (), "index_fill": (1, [0], 2.0),
                  "hsplit": (2,), "vsplit": (3,), "dsplit": None, "kron": "self", "inner": "self", "vdot": None,
                  "matrix_power": None, "cross": None, "rot90": (), "take": "idx", "clamp_min": (0.5,),
                  "clamp_max": (0.5,), "fmax": "self", "fmin": "self", "logaddexp": "self", "logaddexp2": "self",
                  "heaviside": "self", "float_power": (2,), "isclose": "self", "moveaxis": (0, 1),
                  "cummax": (1,), "cummin": (0,), "logcumsumexp": (1,), "dist": "self",
                  "narrow_copy": (1, 1, 2)}.get(name, ())
    if extra_args is None:
        pytest.skip(f"{name}: needs a particular shape; its function row covers it")
    if extra_args == "self":
        e_args, t_args = (ember.tensor(Y),), (torch.tensor(Y),)
    elif extra_args == "idx":
        e_args, t_args = (ember.tensor([0, 5]),), (torch.tensor([0, 5]),)
    elif name == "index_fill":
        e_args, t_args = (1, ember.tensor([0]), 2.0), (1, torch.tensor([0]), 2.0)
    else:
        e_args, t_args = extra or extra_args, t_extra or extra_args
    got = getattr(ember.tensor(base.copy()), name)(*e_args)
    want = getattr(torch.tensor(base.copy()), name)(*t_args)
    flat_got = got if isinstance(got, (tuple, list)) else (got,)
    flat_want = want if isinstance(want, (tuple, list)) else (want,)
    for g, w in zip(flat_got, flat_want):
        np.testing.assert_allclose(g.detach().numpy().astype(np.float64), w.detach().numpy().astype(np.float64),
                                   rtol=1e-6, atol=1e-7, err_msg=name)
