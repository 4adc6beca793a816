"""Convolution and pooling: primitives (numerical gradients), functional forms and layers against PyTorch."""
import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.ops import apply, conv_forms
from ember.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(0)


def _rand(*shape):
    return RNG.standard_normal(shape)


def _pair(a):
    return ember.tensor(a, requires_grad=a.dtype.kind == "f"), torch.tensor(
        a, requires_grad=a.dtype.kind == "f"
    )


def _check(fe, ft, *arrays, tol=1e-10):
    """Run both functions, compare the outputs and the input gradients for a random cotangent."""
    pairs = [_pair(a) for a in arrays]
    oe, ot = fe(*[p[0] for p in pairs]), ft(*[p[1] for p in pairs])
    if isinstance(ot, tuple):
        np.testing.assert_array_equal(oe[1].numpy(), ot[1].numpy())
        oe, ot = oe[0], ot[0]
    assert tuple(oe.shape) == tuple(ot.shape)
    np.testing.assert_allclose(oe.detach().numpy(), ot.detach().numpy(), atol=tol, rtol=tol)
    g = RNG.standard_normal(tuple(ot.shape)).astype(arrays[0].dtype)
    oe.backward(ember.tensor(g))
    ot.backward(torch.tensor(g))
    for e, t in pairs:
        if t.requires_grad:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), atol=tol, rtol=tol)


# -- primitives ----------------------------------------------------------------------------------------------
WINDOWS = [
    dict(kernel=(3, 3), stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1)),
    dict(kernel=(2, 3), stride=(2, 1), padding=((1, 0), (1, 2)), dilation=(1, 2)),
    dict(kernel=(3,), stride=(2,), padding=((1, 1),), dilation=(2,)),
]


@pytest.mark.parametrize("attrs", WINDOWS)
def test_im2col_col2im_gradients_and_adjoint(attrs):
    nd = len(attrs["kernel"])
    x = ember.tensor(_rand(2, 3, *(7, 6)[:nd]), requires_grad=True)
    assert gradcheck(lambda t: apply("im2col", t, **attrs), (x,))
    assert gradgradcheck(lambda t: apply("im2col", t, **attrs) ** 2, (x,))
    cols = apply("im2col", x, **attrs)
    c = ember.tensor(_rand(*cols.shape), requires_grad=True)
    size = tuple(x.shape[2:])
    assert gradcheck(lambda t: apply("col2im", t, size=size, **attrs), (c,))
    assert gradgradcheck(lambda t: apply("col2im", t, size=size, **attrs) ** 2, (c,))
    # <im2col(x), c> == <x, col2im(c)>: each is the other's adjoint
    lhs = (cols * c).sum().item()
    rhs = (x * apply("col2im", c, size=size, **attrs)).sum().item()
    assert abs(lhs - rhs) < 1e-9 * (1 + abs(lhs))


@pytest.mark.parametrize("fold_batch", [False, True])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_im2col_never_aliases_its_input(fold_batch, layout):
    # a 1x1 unpadded window reshapes the input; the columns must still be their own array (a view made the
    # weight gradient of a 1x1 convolution follow later in-place writes, and compiled graphs reuse buffers)
    x = ember.randn(2, 4, 3, 3) if layout == "nchw" else ember.randn(2, 3, 3, 4).permute(0, 3, 1, 2)
    attrs = dict(kernel=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), fold_batch=fold_batch)
    cols = apply("im2col", x, **attrs)
    assert not np.shares_memory(cols.numpy(), x.numpy())
    w = ember.randn(2, 4, 1, 1, requires_grad=True)
    with conv_forms.forced("im2col"):  # the form that saves columns (2 outputs of 4 channels would be shift-sum,
        y = F.conv2d(x, w)  # which saves x itself and, like PyTorch, refuses the mul_ below at backward)
    want = (x.sum((0, 2, 3)) * ember.ones(2, 1)).reshape(2, 4, 1, 1)  # d sum(y) / d w
    x.mul_(0)  # the saved columns keep the values the forward used
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), want.numpy(), rtol=1e-5)


def test_shift_sum_conv_refuses_an_input_changed_before_backward_as_torch_does():
    x, w = ember.randn(2, 4, 3, 3), ember.randn(1, 4, 3, 3, requires_grad=True)
    with conv_forms.forced("shift"):
        y = F.conv2d(x, w, padding=1)
    x.mul_(0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


@pytest.mark.parametrize("form", ["shift", "last", "im2col"])
@pytest.mark.parametrize("fn, x_shape, w_shape, kw", [
    ("conv2d", (0, 8, 6, 6), (1, 8, 3, 3), dict(padding=1)),
    ("conv2d", (0, 16, 6, 6), (16, 16, 3, 3), dict(stride=2)),
    ("conv_transpose2d", (0, 8, 3, 3), (8, 4, 4, 4), dict(stride=2, padding=1))])
def test_every_conv_form_takes_an_empty_batch(form, fn, x_shape, w_shape, kw):
    x, w = ember.zeros(*x_shape, requires_grad=True), ember.randn(*w_shape, requires_grad=True)
    with conv_forms.forced(form):
        y = getattr(F, fn)(x, w, **kw)
    y.sum().backward()
    ref = getattr(TF, fn)(torch.zeros(x_shape), torch.tensor(w.detach().numpy()), **kw)
    assert tuple(y.shape) == tuple(ref.shape) and float(w.grad.abs().sum()) == 0.0


DISJOINT = dict(kernel=(2, 2), stride=(2, 2), padding=((0, 1), (0, 0)), dilation=(1, 1))  # windows tile the input


@pytest.mark.parametrize("attrs", WINDOWS[:2] + [DISJOINT])
def test_max_pool_primitives_gradients(attrs):
    x = ember.tensor(_rand(2, 3, 7, 6), requires_grad=True)
    assert gradcheck(lambda t: apply("pool_select", t, t, **attrs), (x,))
    assert gradgradcheck(lambda t: apply("pool_select", t, t, **attrs) ** 2, (x,))
    out = apply("pool_select", x, x, **attrs)
    g = ember.tensor(_rand(*out.shape), requires_grad=True)
    assert gradcheck(lambda t: apply("pool_scatter", t, x.detach(), **attrs), (g,))


@pytest.mark.parametrize("attrs", WINDOWS[:2] + [DISJOINT])
def test_max_pool_kept_argmax_gradients(attrs):
    """The training form (argmax kept from the forward) against the search form, and its gradients of any order."""
    x = ember.tensor(_rand(2, 3, 7, 6), requires_grad=True)
    packed = apply("pool_max_arg", x, **attrs)
    assert np.array_equal(packed[0].detach().numpy(), apply("pool_select", x, x, **attrs).detach().numpy())
    assert gradcheck(lambda t: apply("pool_max_arg", t, **attrs)[0], (x,))
    assert gradgradcheck(lambda t: apply("pool_max_arg", t, **attrs)[0] ** 2, (x,))
    g = ember.tensor(_rand(*packed.shape[1:]), requires_grad=True)
    arg, size = packed[1].detach(), tuple(x.shape[2:])
    scattered = apply("pool_scatter_at", g, arg, size=size, **attrs)
    assert np.array_equal(scattered.detach().numpy(), apply("pool_scatter", g, x.detach(), **attrs).detach().numpy())
    assert gradcheck(lambda t: apply("pool_scatter_at", t, arg, size=size, **attrs), (g,))
    assert gradcheck(lambda t: apply("pool_gather_at", t, arg, **attrs), (x,))


def test_max_pool_training_nan_and_ties_match_torch():
    """NaN wins its window and ties go to the first maximum, in the value and the gradient, as in PyTorch."""
    x = _rand(2, 2, 6, 6).astype(np.float32)
    x[0, 0, 0, 1], x[1, 1, 2:4, 2:4], x[0, 1, 4, 4] = np.nan, 1.0, np.nan
    for args in [(2,), (3, 2, 1), (3, 1, 1, 2)]:
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = F.max_pool2d(xe, *args), TF.max_pool2d(xt, *args)
        ye.sum().backward()
        yt.sum().backward()
        assert np.array_equal(ye.detach().numpy(), yt.detach().numpy(), equal_nan=True)
        assert np.array_equal(xe.grad.numpy(), xt.grad.numpy(), equal_nan=True)


def test_unfold_fold_match_torch():
    x = _rand(2, 3, 8, 7)
    _check(
        lambda t: F.unfold(t, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        lambda t: TF.unfold(t, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        x,
    )
    cols = _rand(2, 12, 28)
    _check(
        lambda t: F.fold(t, (6, 7), 2, padding=1, stride=(1, 2)),
        lambda t: TF.fold(t, (6, 7), 2, padding=1, stride=(1, 2)),
        cols,
    )


# -- functional against torch --------------------------------------------------------------------------------
CONV2D = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
]


@pytest.mark.parametrize("kw", CONV2D)
def test_conv2d_matches_torch(kw):
    x, w, b = _rand(2, 4, 9, 8), _rand(6, 4 // kw.get("groups", 1), 4, 3), _rand(6)
    _check(lambda *a: F.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw), x, w, b)


def test_conv1d_and_unbatched_match_torch():
    _check(
        lambda *a: F.conv1d(*a, stride=2, padding=2, dilation=2),
        lambda *a: TF.conv1d(*a, stride=2, padding=2, dilation=2),
        _rand(2, 3, 11),
        _rand(5, 3, 3),
        _rand(5),
    )
    _check(
        lambda *a: F.conv1d(*a, padding="same"),
        lambda *a: TF.conv1d(*a, padding="same"),
        _rand(2, 3, 11),
        _rand(4, 3, 4),
    )
    _check(lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), _rand(3, 6, 5), _rand(2, 3, 2, 2))


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=2, padding=1, output_padding=1, groups=2),
        dict(stride=(3, 2), padding=(0, 2), output_padding=(2, 0), dilation=(1, 3)),
        dict(),
    ],
)
def test_conv_transpose2d_matches_torch(kw):
    x, w, b = _rand(2, 4, 5, 6), _rand(4, 3, 3, 2), _rand(3 * kw.get("groups", 1))
    _check(lambda *a: F.conv_transpose2d(*a, **kw), lambda *a: TF.conv_transpose2d(*a, **kw), x, w, b)


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3),
        dict(kernel_size=(3, 2), stride=(2, 3), padding=1, ceil_mode=True),
        dict(kernel_size=2, dilation=2, ceil_mode=True, return_indices=True),
        dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, return_indices=True),
    ],
)
def test_max_pool2d_matches_torch(kw):
    _check(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), _rand(2, 3, 9, 10))


def test_max_pool_propagates_nan_like_torch():
    x = _rand(1, 2, 6, 6)
    x[0, 0, 1, 1] = x[0, 1, 4, 3] = np.nan
    e, ei = F.max_pool2d(ember.tensor(x), 3, 1, return_indices=True)
    t, ti = TF.max_pool2d(torch.tensor(x), 3, 1, return_indices=True)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 1)])
def test_max_pool_gradient_with_nan_goes_where_torch_sends_it(kernel, stride):
    # the NaN-aware argmax runs only when a window's maximum is NaN: both paths in one tensor
    x = _rand(1, 2, 6, 6)
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = x[0, 1, 4, 3] = np.nan
    e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.max_pool2d(e, kernel, stride).sum().backward()
    TF.max_pool2d(t, kernel, stride).sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())


def test_max_pool_ties_go_to_the_first_maximum_like_torch():
    x = np.zeros((1, 2, 4, 4))  # all ties (e.g. after a ReLU)
    _check(
        lambda t: F.max_pool2d(t, 2, return_indices=True),
        lambda t: TF.max_pool2d(t, 2, return_indices=True),
        x,
    )
    _check(
        lambda t: F.max_pool1d(t, 3, 2, 1, return_indices=True),
        lambda t: TF.max_pool1d(t, 3, 2, 1, return_indices=True),
        _rand(2, 3, 10),
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3),
        dict(kernel_size=(3, 2), stride=(2, 3), padding=1, ceil_mode=True),
        dict(kernel_size=(3, 2), stride=(2, 3), padding=1, ceil_mode=True, count_include_pad=False),
        dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False),
        dict(kernel_size=2, divisor_override=3),
    ],
)
def test_avg_pool2d_matches_torch(kw):
    _check(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), _rand(2, 3, 9, 10))


@pytest.mark.parametrize("size", [(3, 5), 4, (1, 1), (5, None), 7])
def test_adaptive_pools_match_torch(size):
    x = _rand(2, 3, 9, 10)
    _check(lambda t: F.adaptive_avg_pool2d(t, size), lambda t: TF.adaptive_avg_pool2d(t, size), x)
    _check(
        lambda t: F.adaptive_max_pool2d(t, size, return_indices=True),
        lambda t: TF.adaptive_max_pool2d(t, size, return_indices=True),
        x,
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(size=(13, 7)),
        dict(scale_factor=2),
        dict(scale_factor=1.7),
        dict(size=(5, 4), mode="bilinear"),
        dict(size=(15, 21), mode="bilinear", align_corners=True),
        dict(scale_factor=2.3, mode="bilinear"),
        dict(scale_factor=(0.5, 3), mode="bilinear", align_corners=False),
        dict(size=(4, 17), mode="nearest-exact"),
    ],
)
def test_interpolate_matches_torch(kw):
    _check(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw), _rand(2, 3, 9, 10))


def test_float32_conv_and_pool_within_1e5():
    x, w = _rand(2, 3, 12, 12).astype(np.float32), _rand(8, 3, 3, 3).astype(np.float32)
    _check(
        lambda a, b: F.max_pool2d(F.conv2d(a, b, padding=1), 2),
        lambda a, b: TF.max_pool2d(TF.conv2d(a, b, padding=1), 2),
        x,
        w,
        tol=1e-5,
    )


# -- layers --------------------------------------------------------------------------------------------------
def _copy(tm, em):
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


LAYERS = [
    ("Conv1d", (3, 5, 3), dict(stride=2, padding=1), (2, 3, 10)),
    ("Conv2d", (3, 4, 3), dict(padding="same", groups=1, bias=False), (2, 3, 8, 8)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), dilation=(1, 2), groups=2), (2, 4, 9, 8)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5, 5)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 10)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 8, 8)),
    ("AdaptiveAvgPool2d", ((3, 2),), {}, (2, 3, 8, 7)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 8, 7)),
    ("Upsample", (), dict(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("name,args,kw,shape", LAYERS)
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 1e-5)])
@pytest.mark.parametrize("train", [True, False])
def test_layer_matches_torch(name, args, kw, shape, dtype, tol, train):
    tm = getattr(torch.nn, name)(*args, **kw).to(getattr(torch, dtype))
    em = getattr(nn, name)(*args, **kw).to(getattr(ember, dtype))
    _copy(tm, em)
    tm.train(train)
    em.train(train)
    x = _rand(*shape).astype(dtype)
    _check(em, tm, x, tol=tol)
    for n, p in tm.named_parameters():
        np.testing.assert_allclose(dict(em.named_parameters())[n].grad.numpy(), p.grad.numpy(), atol=tol, rtol=tol)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]


def test_conv_transpose2d_output_size_argument():
    tm, em = torch.nn.ConvTranspose2d(3, 2, 3, stride=2), nn.ConvTranspose2d(3, 2, 3, stride=2)
    _copy(tm, em)
    x = _rand(1, 3, 4, 4).astype(np.float32)
    out = em(ember.tensor(x), output_size=(10, 10))
    np.testing.assert_allclose(
        out.detach().numpy(), tm(torch.tensor(x), output_size=(10, 10)).detach().numpy(), atol=1e-5
    )
    with pytest.raises(ValueError, match="not reachable"):
        em(ember.tensor(x), output_size=(20, 20))


def test_default_init_follows_pytorch():
    ember.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)  # kaiming_uniform_(a=sqrt(5)) and the bias both give 1/sqrt(fan_in)
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(b).max() <= bound
    assert tuple(nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape) == (4, 3, 3, 3)


def test_conv_net_trains():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    x = ember.randn(16, 1, 8, 8)
    y = (x.mean((1, 2, 3)) > 0).long()
    params = list(model.parameters())
    first = None
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        for p in params:
            p.grad = None
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= 0.1 * p.grad
    assert loss.item() < 0.5 * first


# -- bad input -----------------------------------------------------------------------------------------------
BAD = [
    (
        lambda: nn.Conv2d(1, 8, 3)(ember.randn(4, 3, 28, 28)),
        RuntimeError,
        ["conv2d", "(4, 3, 28, 28)", "(8, 1, 3, 3)", "1 channels", "3 channels"],
    ),
    (lambda: nn.Conv2d(3, 8, 3)(ember.randn(28, 28)), RuntimeError, ["conv2d", "(28, 28)", "4-D"]),
    (
        lambda: F.conv2d(ember.randn(1, 1, 5, 5), ember.randn(1, 1, 3, 3), stride=2, padding="same"),
        ValueError,
        ["same", "strided"],
    ),
    (
        lambda: nn.Conv2d(3, 8, 5)(ember.randn(1, 3, 3, 3)),
        RuntimeError,
        ["smaller than the kernel", "(3, 3)"],
    ),
    (
        lambda: nn.Conv2d(3, 8, 3)(ember.randn(1, 3, 5, 5, dtype=ember.float64)),
        RuntimeError,
        ["float64", "float32"],
    ),
    (lambda: nn.Conv2d(3, 8, 3, groups=2), ValueError, ["divisible by groups"]),
    (lambda: F.max_pool2d(ember.randn(1, 1, 8, 8), 2, padding=2), RuntimeError, ["padding", "half"]),
    (
        lambda: F.interpolate(ember.randn(1, 1, 4, 4), scale_factor=2, mode="bicubic"),
        NotImplementedError,
        ["bicubic"],
    ),
    (
        lambda: F.interpolate(ember.randn(1, 1, 4), scale_factor=2, mode="bilinear"),
        ValueError,
        ["bilinear", "4-D"],
    ),
    (lambda: nn.Conv2d(3, 8, 3, padding="full"), ValueError, ["full"]),
]


@pytest.mark.parametrize("fn,exc,words", BAD)
def test_bad_input_errors(fn, exc, words):
    with pytest.raises(exc) as info:
        fn()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_conv3d_and_max_pool3d_match_torch():
    _check(
        lambda x, w: F.conv3d(x, w, stride=(1, 2, 1), padding=1, groups=2),
        lambda x, w: TF.conv3d(x, w, stride=(1, 2, 1), padding=1, groups=2),
        _rand(2, 4, 5, 6, 4),
        _rand(4, 2, 3, 2, 3),
    )
    _check(
        lambda x: F.max_pool3d(x, 2, return_indices=True),
        lambda x: TF.max_pool3d(x, 2, return_indices=True),
        _rand(2, 3, 4, 5, 6),
    )
    _check(
        lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
        lambda x, w: TF.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
        _rand(2, 3, 7),
        _rand(3, 2, 4),
    )
