"""torch.nn names added for drop-in use (unpooling, 3-D adaptive/LP pooling, ConvTranspose3d, fractional max
pooling, MultiLabelMarginLoss, lazy modules, AdaptiveLogSoftmaxWithLoss, nn.Buffer, deprecated aliases)
against PyTorch: the same outputs and input gradients for the same inputs and weights (float64), the same
repr / parameter count / state_dict keys, finite-difference gradient checks, and error rows."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from ember.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(0)
IMG = RNG.standard_normal((2, 3, 6, 7))
VOL = RNG.standard_normal((2, 2, 5, 6, 7))
SAMPLES = RNG.random((2, 3, 2))
SAMPLES3 = RNG.random((2, 2, 3))
SCORES = RNG.standard_normal((3, 5))
KERNEL3 = RNG.standard_normal((2, 3, 2, 2, 2))
LABEL_LISTS = np.array([[3, 0, -1, 1, 2], [4, 4, 1, -1, 0], [-1, 2, 3, 0, 1]])


def _unpool(nd, kernel, stride, size=None):
    def run(lib, F, x):
        values, indices = getattr(F, f"max_pool{nd}d")(x, kernel, stride, return_indices=True)
        return getattr(F, f"max_unpool{nd}d")(values, indices, kernel, stride, output_size=size)
    return run


ROWS = {  # name -> (fn(lib, F, *tensors), arrays; the first gets a gradient)
    "max_unpool1d": (_unpool(1, 2, 2), (IMG[:, :, 0],)),
    "max_unpool2d": (_unpool(2, 2, 2, (6, 7)), (IMG,)),
    "max_unpool2d_overlapping": (_unpool(2, 3, 2), (IMG,)),
    "max_unpool3d": (_unpool(3, 2, 2, (5, 6, 7)), (VOL,)),
    "MaxUnpool2d_module": (lambda L, F, x: L.nn.MaxUnpool2d(2)(*L.nn.MaxPool2d(2, return_indices=True)(x)),
                           (IMG[:, :, :, :6],)),
    "max_pool2d_with_indices": (lambda L, F, x: F.max_pool2d_with_indices(x, 3, 2, 1)[0], (IMG,)),
    "adaptive_max_pool2d_with_indices": (lambda L, F, x: F.adaptive_max_pool2d_with_indices(x, (4, 3))[0],
                                         (IMG,)),
    "AdaptiveAvgPool3d": (lambda L, F, x: L.nn.AdaptiveAvgPool3d((2, None, 3))(x), (VOL,)),
    "AdaptiveMaxPool3d": (lambda L, F, x: L.nn.AdaptiveMaxPool3d((2, 4, 3))(x), (VOL,)),
    "LPPool3d": (lambda L, F, x: L.nn.LPPool3d(2, (2, 3, 2), stride=1)(x), (VOL,)),
    "lp_pool3d_p3": (lambda L, F, x: F.lp_pool3d(x.abs() + 0.1, 3, 2), (VOL,)),
    "fractional_max_pool2d": (lambda L, F, x, s: F.fractional_max_pool2d(x, (2, 3), output_size=(4, 3),
                                                                         _random_samples=s), (IMG, SAMPLES)),
    "FractionalMaxPool2d_ratio": (lambda L, F, x, s: L.nn.FractionalMaxPool2d(
        2, output_ratio=0.5, _random_samples=s)(x), (IMG, SAMPLES)),
    "fractional_max_pool3d": (lambda L, F, x, s: F.fractional_max_pool3d(x, 2, output_size=(3, 4, 4),
                                                                         _random_samples=s), (VOL, SAMPLES3)),
    "multilabel_margin_loss": (lambda L, F, x, y: F.multilabel_margin_loss(x, y), (SCORES, LABEL_LISTS)),
    "MultiLabelMarginLoss_none": (lambda L, F, x, y: L.nn.MultiLabelMarginLoss(reduction="none")(x, y),
                                  (SCORES, LABEL_LISTS)),
    "multilabel_margin_loss_1d": (lambda L, F, x, y: F.multilabel_margin_loss(x[0], y[0]), (SCORES, LABEL_LISTS)),
    "upsample_nearest": (lambda L, F, x: F.upsample_nearest(x, scale_factor=2), (IMG,)),
    "upsample_bilinear": (lambda L, F, x: F.upsample_bilinear(x, size=(9, 5)), (IMG,)),
}


def _run(lib, name):
    fn, arrays = ROWS[name]
    args = [lib.tensor(a.copy(), requires_grad=(i == 0)) if a.dtype.kind == "f" else lib.tensor(a.copy())
            for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = fn(lib, EF if lib is ember else TF, *args)
    (out * lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum().backward()
    return out.detach().numpy(), args[0].grad.numpy()


@pytest.mark.parametrize("name", ROWS)
def test_matches_torch(name):
    (out, grad), (t_out, t_grad) = _run(ember, name), _run(torch, name)
    assert out.shape == t_out.shape, name
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-10, atol=1e-12, err_msg=f"{name} gradient")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fractional_windows_and_indices_equal_torch_exactly(dtype):
    for seed in range(4):
        rng = np.random.default_rng(seed)
        x, s = rng.standard_normal((2, 3, 11, 13)).astype(dtype), rng.random((2, 3, 2)).astype(dtype)
        ours = EF.fractional_max_pool2d(ember.tensor(x), 3, output_size=(5, 6), return_indices=True,
                                        _random_samples=ember.tensor(s))
        theirs = TF.fractional_max_pool2d(torch.tensor(x), 3, output_size=(5, 6), return_indices=True,
                                          _random_samples=torch.tensor(s))
        assert np.array_equal(ours[0].numpy(), theirs[0].numpy()) and np.array_equal(ours[1].numpy(),
                                                                                     theirs[1].numpy())


def test_unpool_indices_and_with_indices_forms_equal_torch():
    for nd, x in ((1, IMG[:, :, 0]), (2, IMG), (3, VOL)):
        ours = getattr(EF, f"max_pool{nd}d_with_indices")(ember.tensor(x), 2)
        theirs = getattr(TF, f"max_pool{nd}d_with_indices")(torch.tensor(x), 2)
        assert np.array_equal(ours[1].numpy(), theirs[1].numpy())
        ours = getattr(EF, f"adaptive_max_pool{nd}d_with_indices")(ember.tensor(x), 3)
        theirs = getattr(TF, f"adaptive_max_pool{nd}d_with_indices")(torch.tensor(x), 3)
        assert np.array_equal(ours[1].numpy(), theirs[1].numpy()) and np.allclose(ours[0].numpy(), theirs[0].numpy())


CHECKED = {  # finite-difference gradient checks (float64)
    "max_unpool2d": lambda x: EF.max_unpool2d(x[:4].reshape(1, 1, 2, 2), ember.tensor([[[[0, 5], [7, 15]]]]), 2),
    "fractional_max_pool2d": lambda x: EF.fractional_max_pool2d(
        x.reshape(1, 1, 4, 5), 2, output_size=(2, 3), _random_samples=ember.tensor([[[0.3, 0.7]]])),
    "adaptive_max_pool3d": lambda x: EF.adaptive_max_pool3d(x.reshape(1, 1, 2, 2, 5), (1, 2, 3)),
    "lp_pool3d": lambda x: EF.lp_pool3d(x.reshape(1, 1, 2, 2, 5) ** 2 + 0.5, 2, (2, 1, 2)),
    "multilabel_margin_loss": lambda x: EF.multilabel_margin_loss(x.reshape(4, 5), ember.tensor(
        [[3, 0, -1, 1, 2], [4, 1, -1, 0, 0], [2, -1, 0, 0, 0], [0, 1, 2, 3, 4]])),
    "conv_transpose3d": lambda x: EF.conv_transpose3d(x.reshape(1, 2, 2, 1, 5), ember.tensor(KERNEL3),
                                                      stride=(1, 2, 2), padding=(0, 0, 1)),
}


@pytest.mark.parametrize("name", CHECKED)
def test_gradients_match_finite_differences(name):
    x = ember.tensor(np.random.default_rng(3).standard_normal(20), requires_grad=True)
    assert gradcheck(CHECKED[name], (x,))


LAYERS = {  # name -> constructor(nn); repr, parameter count and state_dict keys compared with torch
    "MaxUnpool1d": lambda nn: nn.MaxUnpool1d(3, stride=2, padding=1),
    "MaxUnpool3d": lambda nn: nn.MaxUnpool3d((2, 2, 2)),
    "AdaptiveAvgPool3d": lambda nn: nn.AdaptiveAvgPool3d((1, None, 2)),
    "AdaptiveMaxPool3d": lambda nn: nn.AdaptiveMaxPool3d(2),
    "LPPool3d": lambda nn: nn.LPPool3d(2, 3, stride=2),
    "FractionalMaxPool2d": lambda nn: nn.FractionalMaxPool2d(3, output_ratio=0.5),
    "ConvTranspose3d": lambda nn: nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
    "ConvTranspose3d_nobias": lambda nn: nn.ConvTranspose3d(2, 3, (1, 2, 3), bias=False, dilation=2),
    "MultiLabelMarginLoss": lambda nn: nn.MultiLabelMarginLoss(),
    "LazyLinear": lambda nn: nn.LazyLinear(3),
    "LazyConv2d": lambda nn: nn.LazyConv2d(4, 3, stride=2, bias=False),
    "LazyConvTranspose1d": lambda nn: nn.LazyConvTranspose1d(4, 3, stride=2, output_padding=1),
    "LazyBatchNorm1d_no_affine": lambda nn: nn.LazyBatchNorm1d(affine=False),
    "LazyInstanceNorm3d": lambda nn: nn.LazyInstanceNorm3d(),
    "AdaptiveLogSoftmaxWithLoss": lambda nn: nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], head_bias=True),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_contract_matches_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = LAYERS[name](ember.nn), LAYERS[name](torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if not any(type(p).__name__ == "UninitializedParameter" for p in theirs.parameters()):
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


LAZY = [("LazyLinear", (5,), (4, 3), ("Linear", 3, 5)), ("LazyConv1d", (4, 3), (2, 3, 8), ("Conv1d", 3, 4, 3)),
        ("LazyConv2d", (4, 3), (2, 3, 6, 6), ("Conv2d", 3, 4, 3)),
        ("LazyConv3d", (4, 2), (1, 2, 3, 3, 3), ("Conv3d", 2, 4, 2)),
        ("LazyConvTranspose1d", (4, 3), (2, 3, 5), ("ConvTranspose1d", 3, 4, 3)),
        ("LazyConvTranspose2d", (4, 3), (2, 3, 4, 4), ("ConvTranspose2d", 3, 4, 3)),
        ("LazyConvTranspose3d", (4, 2), (1, 2, 3, 3, 3), ("ConvTranspose3d", 2, 4, 2)),
        ("LazyBatchNorm1d", (), (6, 3), ("BatchNorm1d", 3)), ("LazyBatchNorm2d", (), (2, 3, 4, 4), ("BatchNorm2d", 3)),
        ("LazyBatchNorm3d", (), (2, 3, 2, 2, 2), ("BatchNorm3d", 3)),
        ("LazyInstanceNorm1d", (), (2, 3, 5), ("InstanceNorm1d", 3)),
        ("LazyInstanceNorm2d", (), (2, 3, 4, 4), ("InstanceNorm2d", 3)),
        ("LazyInstanceNorm3d", (), (2, 3, 2, 2, 2), ("InstanceNorm3d", 3))]


@pytest.mark.parametrize("name,args,shape,plain", LAZY, ids=[r[0] for r in LAZY])
def test_lazy_module_materializes_like_torch_and_its_plain_layer(name, args, shape, plain):
    """Before the call: the uninitialized entries; the first call materializes them in place (an optimizer
    built before it trains them), initialises them as the plain layer does from the same seed, and the module
    becomes that layer, as torch's does; outputs equal torch's with the same weights."""
    x = RNG.standard_normal(shape)
    ours, theirs = getattr(ember.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert [type(p).__name__ for p in ours.parameters()] == [type(p).__name__ for p in theirs.parameters()]
    opt = ember.optim.SGD(ours.parameters(), lr=0.5)
    ember.manual_seed(7)
    out = ours(ember.tensor(x, dtype=ember.float32))
    theirs(torch.tensor(x, dtype=torch.float32))
    assert type(ours).__name__ == type(theirs).__name__ == plain[0] and repr(ours) == repr(theirs)
    ember.manual_seed(7)
    reference = getattr(ember.nn, plain[0])(*plain[1:])
    if plain[0].startswith("InstanceNorm"):  # torch's lazy instance norms have affine weights and running stats
        reference = getattr(ember.nn, plain[0])(*plain[1:], affine=True, track_running_stats=True)
    for (k, v), (rk, rv) in zip(ours.state_dict().items(), reference.state_dict().items()):
        if k != "running_mean" and k != "running_var" and k != "num_batches_tracked":
            assert k == rk and ember.equal(v, rv), k
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(ours(ember.tensor(x, dtype=ember.float32)).detach().numpy(),
                               theirs(torch.tensor(x, dtype=torch.float32)).detach().numpy(), rtol=1e-5, atol=1e-6)
    before = [p.detach().clone() for p in ours.parameters()]
    (out * out).sum().backward()
    opt.step()
    assert all(not ember.equal(b, p) for b, p in zip(before, ours.parameters()))


def test_lazy_modules_load_state_dicts_keep_dtype_and_refuse_shape_questions():
    source = torch.nn.Linear(5, 3)
    lazy = ember.nn.LazyLinear(3)
    lazy.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in source.state_dict().items()})
    assert tuple(lazy.weight.shape) == (3, 5) and np.allclose(lazy.weight.detach().numpy(),
                                                               source.weight.detach().numpy())
    lazy(ember.ones(2, 5))  # loaded weights are kept by the dry run
    assert np.allclose(lazy.weight.detach().numpy(), source.weight.detach().numpy())
    bn = ember.nn.LazyBatchNorm2d().double()
    assert str(bn.state_dict()["running_mean"]) == "<UninitializedBuffer>"
    bn(ember.randn(2, 3, 2, 2, dtype=ember.float64))
    assert bn.weight.dtype == bn.running_mean.dtype == ember.float64
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = ember.nn.LazyConv2d(2, 3).weight.shape
    with pytest.raises(ValueError, match="LazyConv2d: expected a 3-D .* or 4-D"):
        ember.nn.LazyConv2d(2, 3)(ember.ones(5, 5))


def test_adaptive_log_softmax_matches_torch():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((9, 16)), np.array([0, 3, 4, 9, 10, 14, 15, 19, 2])
    ours = ember.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0, head_bias=True).double()
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0, head_bias=True).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    oe, ot = ours(xe, ember.tensor(y)), theirs(xt, torch.tensor(y))
    assert type(oe).__name__ == "_ASMoutput" and oe._fields == ("output", "loss")
    (oe.loss + oe.output.sin().sum()).backward()
    (ot.loss + ot.output.sin().sum()).backward()
    for a, b in [(oe.output, ot.output), (oe.loss, ot.loss), (xe.grad, xt.grad)] + list(
            zip([p.grad for p in ours.parameters()], [p.grad for p in theirs.parameters()])):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.log_prob(ember.tensor(x)).detach().numpy(),
                               theirs.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    for scale in (1.0, 4.0):
        assert np.array_equal(ours.predict(ember.tensor(x * scale)).numpy(),
                              theirs.predict(torch.tensor(x * scale)).numpy())
    single = ours(ember.tensor(x[0]), ember.tensor(12))
    assert single.output.shape == () and np.isclose(single.output.item(),
                                                    theirs(torch.tensor(x[0]), torch.tensor(12)).output.item())


def test_buffer_registers_and_deprecated_names_warn_like_torch():
    class Net(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.steps = ember.nn.Buffer(ember.zeros(()))
            self.cache = ember.nn.Buffer(ember.ones(2), persistent=False)

    net = Net()
    assert list(net.state_dict()) == ["steps"] and [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert isinstance(net.cache, ember.nn.Buffer) and not isinstance(ember.ones(1), ember.nn.Buffer)
    for name in ("uniform", "normal", "constant", "xavier_uniform", "xavier_normal", "kaiming_uniform",
                 "kaiming_normal", "orthogonal", "sparse", "dirac", "eye"):
        w = ember.empty(3, 4, 3) if name == "dirac" else ember.empty(3, 4)
        args = {"constant": (0.5,), "sparse": (0.5,)}.get(name, ())
        with pytest.warns(FutureWarning, match=f"nn.init.{name}` is now deprecated"):
            assert getattr(ember.nn.init, name)(w, *args) is w
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        loss = ember.nn.NLLLoss2d()
    assert isinstance(loss, ember.nn.NLLLoss)
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        EF.upsample_bilinear(ember.ones(1, 1, 2, 2), scale_factor=2)


ERRORS = [  # (call, exception, words the message must contain)
    (lambda: EF.max_unpool2d(ember.ones(1, 1, 2, 2), ember.zeros(1, 1, 2, 2).long(), 2, output_size=(6, 6)),
     ValueError, "max_unpool2d: invalid output_size"),
    (lambda: EF.max_unpool2d(ember.ones(1, 1, 2, 2), ember.full((1, 1, 2, 2), 16).long(), 2), RuntimeError,
     "max_unpool2d: found an invalid max index 16"),
    (lambda: EF.max_unpool1d(ember.ones(1, 1, 2), ember.zeros(1, 1, 2), 2), RuntimeError, "must be an int64"),
    (lambda: EF.fractional_max_pool2d(ember.ones(1, 1, 4, 4), 2), ValueError, "output_size or an output_ratio"),
    (lambda: EF.fractional_max_pool2d(ember.ones(1, 1, 4, 4), 3, output_size=3), RuntimeError, "too large"),
    (lambda: ember.nn.FractionalMaxPool2d(2, output_ratio=1.5), ValueError, "between 0 and 1"),
    (lambda: EF.multilabel_margin_loss(ember.ones(2, 3), ember.tensor([[3, 0, -1], [0, 1, 2]])), RuntimeError,
     "out of range"),
    (lambda: EF.multilabel_margin_loss(ember.ones(2, 3), ember.ones(2, 2).long()), RuntimeError,
     "must have the input's shape"),
    (lambda: ember.nn.AdaptiveLogSoftmaxWithLoss(4, 10, [6, 3]), ValueError, "cutoffs should be"),
    (lambda: ember.nn.AdaptiveLogSoftmaxWithLoss(4, 10, [3])(ember.ones(2, 4), ember.tensor([1, 10])),
     RuntimeError, "should be in [0, 9]"),
    (lambda: EF.conv_transpose3d(ember.ones(2, 2), ember.ones(2, 1, 1, 1, 1)), RuntimeError,
     "conv_transpose3d: expected a 4-D (unbatched) or 5-D"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_name_the_function(case):
    call, exc, words = ERRORS[case]
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)
