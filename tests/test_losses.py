"""Losses (functional and module) against PyTorch: values and input gradients, every reduction; the fused
softmax-cross-entropy primitive against the composite (incl. grads of grads); error messages."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.functional.linalg import log_softmax

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(0)


def _f(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def _p(*shape):
    return RNG.uniform(0.05, 0.95, size=shape).astype(np.float32)


def _lbl(n, c, shape=None):
    return RNG.integers(0, c, size=shape or (n,))


def _compare(name, arrays, kwargs, grad_idx=(0,), tol=1e-5):
    tin = [torch.tensor(a, requires_grad=i in grad_idx and a.dtype.kind == "f") for i, a in enumerate(arrays)]
    ein = [ember.tensor(a, requires_grad=i in grad_idx and a.dtype.kind == "f") for i, a in enumerate(arrays)]
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ekw = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    tout, eout = getattr(TF, name)(*tin, **tkw), getattr(F, name)(*ein, **ekw)
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    g = _f(*tout.shape)
    (tout * torch.tensor(g)).sum().backward()
    (eout * ember.tensor(g)).sum().backward()
    for t, e in zip(tin, ein):
        if t.requires_grad:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


W5 = RNG.uniform(0.2, 2.0, size=5).astype(np.float32)
CASES = [
    ("cross_entropy", lambda: [_f(8, 5), _lbl(8, 5)], {}),
    ("cross_entropy", lambda: [_f(8, 5), np.array([0, -100, 3, 4, -100, 1, 2, 2])], {}),
    ("cross_entropy", lambda: [_f(8, 5), _lbl(8, 5)], {"label_smoothing": 0.1}),
    ("cross_entropy", lambda: [_f(8, 5), np.array([0, 7, 3, 4, 7, 1, 2, 2])], {"ignore_index": 7,
                                                                              "label_smoothing": 0.2}),
    ("cross_entropy", lambda: [_f(8, 5), _lbl(8, 5)], {"weight": W5}),
    ("cross_entropy", lambda: [_f(8, 5), np.array([0, -100, 3, 4, 1, 1, 2, 2])], {"weight": W5,
                                                                                 "label_smoothing": 0.1}),
    ("cross_entropy", lambda: [_f(3, 5, 4, 2), _lbl(3, 5, (3, 4, 2))], {}),
    ("cross_entropy", lambda: [_f(3, 5, 4), _lbl(3, 5, (3, 4))], {"weight": W5, "label_smoothing": 0.05}),
    ("cross_entropy", lambda: [_f(5), np.array(2)], {}),
    ("cross_entropy", lambda: [_f(6, 5), np.asarray(TF.softmax(torch.tensor(_f(6, 5)), 1))], {}),
    ("cross_entropy", lambda: [_f(6, 5), np.asarray(TF.softmax(torch.tensor(_f(6, 5)), 1))],
     {"label_smoothing": 0.1, "weight": W5}),
    ("nll_loss", lambda: [_f(8, 5), _lbl(8, 5)], {}),
    ("nll_loss", lambda: [_f(8, 5), np.array([0, -100, 3, 4, 1, 1, 2, 2])], {"weight": W5}),
    ("nll_loss", lambda: [_f(2, 5, 3), _lbl(2, 5, (2, 3))], {}),
    ("mse_loss", lambda: [_f(4, 3), _f(4, 3)], {}),
    ("l1_loss", lambda: [_f(4, 3), _f(4, 3)], {}),
    ("smooth_l1_loss", lambda: [_f(4, 3), _f(4, 3)], {"beta": 0.5}),
    ("smooth_l1_loss", lambda: [_f(4, 3), _f(4, 3)], {"beta": 0.0}),
    ("huber_loss", lambda: [_f(4, 3) * 3, _f(4, 3)], {"delta": 1.5}),
    ("binary_cross_entropy", lambda: [_p(4, 3), _p(4, 3)], {}),
    ("binary_cross_entropy", lambda: [_p(4, 3), _p(4, 3)], {"weight": _p(4, 3)}),
    ("binary_cross_entropy_with_logits", lambda: [_f(4, 3) * 5, _p(4, 3)], {}),
    ("binary_cross_entropy_with_logits", lambda: [_f(4, 3) * 5, _p(4, 3)],
     {"pos_weight": _p(3) * 3, "weight": _p(4, 3)}),
    ("kl_div", lambda: [np.log(_p(4, 3)), _p(4, 3)], {}),
    ("kl_div", lambda: [np.log(_p(4, 3)), np.log(_p(4, 3))], {"log_target": True}),
    ("kl_div", lambda: [np.log(_p(4, 3)), np.concatenate([_p(4, 2), np.zeros((4, 1), np.float32)], 1)], {}),
    ("soft_margin_loss", lambda: [_f(4, 3), np.sign(_f(4, 3))], {}),
    ("poisson_nll_loss", lambda: [_f(4, 3), _p(4, 3) * 4], {}),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,make,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_pytorch(name, make, kwargs, reduction):
    _compare(name, make(), dict(kwargs, reduction=reduction))


def test_kl_div_batchmean():
    _compare("kl_div", [np.log(_p(4, 3)), _p(4, 3)], {"reduction": "batchmean"})


@pytest.mark.parametrize("cls,args,kwargs,make", [
    ("CrossEntropyLoss", (), {"label_smoothing": 0.1, "ignore_index": 1}, lambda: [_f(6, 4), _lbl(6, 4)]),
    ("CrossEntropyLoss", (), {"weight": "w4", "reduction": "sum"}, lambda: [_f(6, 4), _lbl(6, 4)]),
    ("NLLLoss", (), {}, lambda: [_f(6, 4), _lbl(6, 4)]),
    ("MSELoss", (), {"reduction": "sum"}, lambda: [_f(3, 2), _f(3, 2)]),
    ("L1Loss", (), {}, lambda: [_f(3, 2), _f(3, 2)]),
    ("SmoothL1Loss", (), {"beta": 0.3}, lambda: [_f(3, 2), _f(3, 2)]),
    ("HuberLoss", (), {"delta": 0.4}, lambda: [_f(3, 2), _f(3, 2)]),
    ("BCELoss", (), {}, lambda: [_p(3, 2), _p(3, 2)]),
    ("BCEWithLogitsLoss", (), {"pos_weight": "p2"}, lambda: [_f(3, 2), _p(3, 2)]),
    ("KLDivLoss", (), {"reduction": "batchmean", "log_target": True}, lambda: [_f(3, 2), _f(3, 2)]),
])
def test_modules_match_pytorch(cls, args, kwargs, make):
    consts = {"w4": _p(4) * 2, "p2": _p(2) * 2}
    arrays = make()
    tkw = {k: torch.tensor(consts[v]) if v in consts else v for k, v in kwargs.items()}
    ekw = {k: ember.tensor(consts[v]) if v in consts else v for k, v in kwargs.items()}
    tl, el = getattr(torch.nn, cls)(*args, **tkw), getattr(nn, cls)(*args, **ekw)
    assert repr(el) == repr(tl)
    tin = [torch.tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    ein = [ember.tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    to, eo = tl(*tin), el(*ein)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-6)
    to.backward()
    eo.backward()
    np.testing.assert_allclose(ein[0].grad.numpy(), tin[0].grad.numpy(), rtol=1e-5, atol=1e-6)


def test_numpy_int_labels_just_work():
    logits = ember.randn(6, 3, requires_grad=True)
    for labels in (np.array([0, 1, 2, 0, 1, 2]), np.array([0, 1, 2, 0, 1, 2], dtype=np.int32), [0, 1, 2, 0,
                                                                                                1, 2]):
        loss = nn.CrossEntropyLoss()(logits, labels)
        want = F.cross_entropy(logits, ember.tensor([0, 1, 2, 0, 1, 2]))
        assert abs(float(loss) - float(want)) < 1e-7
    ember_int32 = ember.from_numpy(np.array([0, 1, 2, 0, 1, 2], dtype=np.int32))
    nn.CrossEntropyLoss()(logits, ember_int32).backward()
    assert logits.grad is not None


@pytest.mark.parametrize("ignore_index,smoothing,reduction", [(-100, 0.0, "mean"), (2, 0.1, "mean"),
                                                              (-100, 0.3, "sum"), (0, 0.0, "none")])
def test_fused_cross_entropy_matches_composite_incl_second_order(ignore_index, smoothing, reduction):
    x0 = _f(7, 4).astype(np.float64)
    t = ember.tensor(np.array([0, 1, 2, 3, 2, 1, 0]))

    def composite(x):
        logp = log_softmax(x, 1)
        valid = (t != ignore_index).to(x.dtype)
        safe = ember.where(t != ignore_index, t, ember.zeros_like(t))
        nll = -logp.gather(1, safe.unsqueeze(1)).squeeze(1)
        per = ((1 - smoothing) * nll - smoothing * logp.mean(1)) * valid
        return per.sum() / valid.sum() if reduction == "mean" else per.sum() if reduction == "sum" else per

    def fused(x):
        return ember.ops.apply("softmax_cross_entropy", x, t, ignore_index=ignore_index,
                               label_smoothing=smoothing,
                               reduction=reduction)

    outs = []
    for fn in (fused, composite):
        x = ember.tensor(x0, requires_grad=True)
        y = fn(x)
        w = ember.tensor(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)))
        (gx,) = ember.autograd.grad((y * w).sum(), x, create_graph=True)
        (ggx,) = ember.autograd.grad((gx * gx).sum(), x)
        (gx_fast,) = ember.autograd.grad((fn(x) * w).sum(), x)  # no create_graph: the array fast path
        outs.append([y.detach().numpy(), gx.detach().numpy(), ggx.numpy(), gx_fast.numpy()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.cross_entropy(ember.randn(4, 3), ember.tensor([0, 1, 3, 0])), IndexError, "out of bounds for "
                                                                                         "3"),
    (lambda: F.cross_entropy(ember.randn(4, 3), ember.tensor([0, 1])), ValueError, r"expected target of "
                                                                                   r"shape \(4,\)"),
    (lambda: F.cross_entropy(ember.randn(4, 3), ember.randn(4)), ValueError, "class probabilities"),
    (lambda: F.nll_loss(ember.randn(4, 3), ember.tensor([0.0, 1, 1, 1])), RuntimeError, "integer"),
    (lambda: F.nll_loss(ember.randn(4, 3, 2), ember.tensor([0, 1, 1, 1])), ValueError, r"\(4, 2\)"),
    (lambda: F.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0])), RuntimeError, "between 0 and "
                                                                                             "1"),
    (lambda: F.mse_loss(ember.randn(3), ember.randn(3), reduction="avg"), ValueError, "reduction must be"),
    (lambda: F.cross_entropy(ember.randn(2, 3), ember.tensor([0, 1]), label_smoothing=1.5), ValueError,
     "label_smoothing"),
])
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_mse_broadcast_warns():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(ember.randn(4, 1), ember.randn(4))
