"""Op-table rows: random primitives and the fused nn primitives (relu, linear, cross-entropy, conv, pool,
LSTM)."""

from __future__ import annotations

import contextlib
import math

import numpy as np

import ember.nn.functional  # noqa: F401  (ember.nn.functional for these rows)

from .spec import NZ, D, F, Fn, P, Row


def _random(L):
    L.manual_seed(3)
    a, n, i, p = L.rand(40, 50), L.randn(40, 50, dtype=L.float64), L.randint(2, 9, (40, 50)), L.randperm(30)
    L.manual_seed(3)
    again = L.rand(40, 50), L.randn(40, 50, dtype=L.float64), L.randint(2, 9, (40, 50)), L.randperm(30)
    return (a, n, i, p) + again + (L.rand(0, 3), L.randn(()))


def _check_random(a, n, i, p, a2, n2, i2, p2, empty, scalar):
    u, z, k = a.numpy(), n.numpy(), i.numpy()
    assert u.dtype == np.float32 and z.dtype == np.float64 and u.shape == z.shape == (40, 50)
    assert (u >= 0).all() and (u < 1).all() and abs(u.mean() - 0.5) < 0.05 and abs(u.std() - 0.2887) < 0.03
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1
    assert k.dtype == np.int64 and k.min() == 2 and k.max() == 8, "randint draws from [low, high)"
    assert sorted(p.tolist()) == list(range(30)) and p.numpy().dtype == np.int64, "randperm is a permutation"
    for x, y in ((a, a2), (n, n2), (i, i2), (p, p2)):
        assert (x.numpy() == y.numpy()).all(), "manual_seed does not reproduce the draws"
    assert tuple(empty.shape) == (0, 3) and tuple(scalar.shape) == ()


def _keyed(L):
    def draw(kind, seed, counter, shape, dtype="float32"):
        return L.ops.apply(f"keyed_{kind}", L.tensor([seed, counter]), shape=shape, dtype=dtype)

    return (draw("uniform", 7, 0, (40, 50)), draw("uniform", 7, 0, (40, 50)), draw("uniform", 7, 1, (40, 50)),
            draw("normal", 7, 0, (40, 50), "float64"), draw("normal", 8, 0, (40, 50), "float64"),
            draw("uniform", -1, 2 ** 40, (0, 3)))


def _check_keyed(u, same, next_u, z, other_z, empty):
    u, z = u.numpy(), z.numpy()
    assert u.dtype == np.float32 and z.dtype == np.float64 and u.shape == z.shape == (40, 50)
    assert (u >= 0).all() and (u < 1).all() and abs(u.mean() - 0.5) < 0.05 and abs(u.std() - 0.2887) < 0.03
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1
    assert (same.numpy() == u).all(), "the same key must give the same numbers"
    assert not (next_u.numpy() == u).any() and not (other_z.numpy() == z).any(), "another key, other numbers"
    assert tuple(empty.shape) == (0, 3)


def _param_draws(L):
    def draw(kind, params, shape, key=None, dtype="float32"):
        params = [L.tensor(np.asarray(v, np.float32)) for v in params]
        if key is None:
            return L.ops.apply(kind, *params, shape=shape, dtype=dtype)
        return L.ops.apply(f"keyed_{kind}", L.tensor(key), *params, shape=shape, dtype=dtype)

    L.manual_seed(5)
    first = draw("gamma", [2.0], (4000,))
    L.manual_seed(5)
    return (first, draw("gamma", [2.0], (4000,)), draw("beta", [[[2.0], [0.5]], 3.0], (2, 4000), dtype="float64"),
            draw("binomial", [[[4.0], [9.0]], 0.5], (2, 4000)), draw("gamma", [0.5], (4000,), [1, 0]),
            draw("beta", [1.0, 1.0], (4000,), [1, 0]), draw("binomial", [3.0, 0.2], (4000,), [1, 0]),
            draw("binomial", [3.0, 0.2], (4000,), [1, 0]), draw("poisson", [[[0.5], [7.0]]], (2, 4000)),
            draw("poisson", [3.0], (4000,), [1, 0]))


def _check_param_draws(g, g_again, b, n, kg, kb, kn, kn_again, po, kpo):
    g, b, n = g.numpy(), b.numpy(), n.numpy()
    assert (g == g_again.numpy()).all(), "manual_seed does not reproduce the draws"
    assert abs(g.mean() - 2) < 0.15 and abs(g.var() - 2) < 0.3, "gamma(2) has mean and variance 2"
    assert b.dtype == np.float64 and abs(b[0].mean() - 0.4) < 0.02 and abs(b[1].mean() - 0.5 / 3.5) < 0.02
    assert abs(n[0].mean() - 2) < 0.1 and abs(n[1].mean() - 4.5) < 0.15 and n.max() <= 9
    assert abs(kg.numpy().mean() - 0.5) < 0.05 and abs(kb.numpy().mean() - 0.5) < 0.03
    assert (kn.numpy() == kn_again.numpy()).all(), "the same key must give the same numbers"
    po = po.numpy()
    assert abs(po[0].mean() - 0.5) < 0.05 and abs(po[1].mean() - 7) < 0.25 and abs(po[1].var() - 7) < 1.0
    assert (po == np.floor(po)).all() and abs(kpo.numpy().mean() - 3) < 0.15


_ADAM = dict(lr=0.01, weight_decay=0.1, amsgrad=False, maximize=False, decoupled_weight_decay=True)


def _adam_step_ref(p, m, v, g, step):
    from ember.optim.adam import adam_kernel
    from ember.optim.optimizer import array_kernels

    new = adam_kernel(array_kernels(p), p, g, m, v, None, step=float(step), betas=(0.9, 0.999), eps=1e-8, **_ADAM)
    return np.stack(new[:3])


_SGD = dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False, maximize=True)


def _sgd_step_ref(p, buf, g):
    from ember.optim.optimizer import array_kernels
    from ember.optim.sgd import sgd_kernel

    return np.stack(sgd_kernel(array_kernels(p), p, g, buf, step=None, **_SGD))


def _ce(L, x, t):
    F_ = L.nn.functional
    return (
        F_.cross_entropy(x, t),
        F_.cross_entropy(x, t, reduction="sum"),
        F_.cross_entropy(x, t, reduction="none"),
        F_.cross_entropy(x, t, label_smoothing=0.1),
        F_.cross_entropy(x, t, ignore_index=1),
    )


def _ce_ref(x, t):
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    nll = -logp[np.arange(len(t)), t]
    smooth = 0.9 * nll - 0.1 * logp.mean(1)
    keep = t != 1
    return nll.mean(), nll.sum(), nll, smooth.mean(), (nll * keep).sum() / max(keep.sum(), 1)


def _windows(x, k, stride, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    w = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    return w[:, :, ::stride, ::stride]  # (N, C, OH, OW, k, k)


def _conv(L, x, w, b):
    F_ = L.nn.functional
    return F_.conv2d(x, w, b, padding=1), F_.conv2d(x, w, stride=2), F_.unfold(x, 2, stride=2)


def _winograd(L, x, w, b):
    """3x3 stride-1 convolutions with the Winograd path forced in Ember (odd output sizes: partial tiles)."""
    F_ = L.nn.functional
    ctx = L.ops.winograd.forced(True) if L.__name__ == "ember" else contextlib.nullcontext()
    with ctx:
        return (F_.conv2d(x, w, b), F_.conv2d(x, w, padding=1), F_.conv2d(x, w, b, padding="same"),
                F_.conv2d(x, w, padding=2))


def _winograd_ref(x, w, b):
    return tuple(np.einsum("nchwij,ocij->nohw", _windows(x, 3, 1, p), w) + (b[None, :, None, None] if p in (0, 1)
                                                                           and bias else 0)
                 for p, bias in ((0, True), (1, False), (1, True), (2, False)))


def _winograd_prims(L, x, g, w, h):
    """The primitives themselves, both forms, with asymmetric and negative (cropping) padding."""
    ap = L.ops.apply
    pad = ((2, 0), (-1, 1))
    return (ap("winograd_conv", x, w, padding=pad, transposed=False),
            ap("winograd_conv", g, w, padding=((1, 0), (0, 2)), transposed=True),
            ap("winograd_wgrad", x, h, padding=pad, transposed=False),
            ap("winograd_wgrad", g, x, padding=((0, 2), (2, 0)), transposed=True))


def _winograd_prims_ref(x, g, w, h):
    def windows(a, pad):  # 3x3 windows of a with explicit (possibly negative: cropping) padding
        (t, b), (lf, r) = pad
        a = np.pad(a, ((0, 0), (0, 0), (max(t, 0), max(b, 0)), (max(lf, 0), max(r, 0))))
        a = a[:, :, max(-t, 0):a.shape[2] - max(-b, 0), max(-lf, 0):a.shape[3] - max(-r, 0)]
        return np.lib.stride_tricks.sliding_window_view(a, (3, 3), axis=(2, 3))

    def turned(k):
        return k[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)

    win0 = windows(x, ((2, 0), (-1, 1)))
    y0 = np.einsum("nchwij,ocij->nohw", win0, w)
    y1 = np.einsum("nchwij,ocij->nohw", windows(g, ((1, 0), (0, 2))), turned(w))
    dw0 = np.einsum("nohw,nchwij->ocij", h, win0)
    dw3 = turned(np.einsum("nohw,nchwij->ocij", x, windows(g, ((0, 2), (2, 0)))))
    return y0, y1, dw0, dw3


def _bn_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _batch_standardize_ref(x):
    axes = _bn_axes(x)
    return ((x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5),)


def _batch_moments(L, x):
    return (L.ops.apply("batch_moments", x),)


def _batch_moments_torch(T, x):
    axes = _bn_axes(x)
    return (T.stack([x.mean(axes), x.var(axes, unbiased=False)]),)


_CONV_POOL_PAD = ((1, 0), (0, 2))  # odd output sizes (the pool drops the last row), asymmetric padding


def _conv_pool(L, x, w, b):
    """Winograd convolution + bias + 2x2 max pool in one primitive (the compiled step's fused form)."""
    return (L.ops.apply("winograd_conv_pool", x, w, b, padding=_CONV_POOL_PAD)[0],)


def _conv_pool_torch(T, x, w, b):
    x = T.nn.functional.pad(x, (0, 2, 1, 0))
    return (T.nn.functional.max_pool2d(T.nn.functional.conv2d(x, w, b), 2),)


def _conv_pool_ref(x, w, b):
    y = np.einsum("nchwij,ocij->nohw", _windows(np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 2))), 3, 1, 0), w)
    y = y + b[None, :, None, None]
    return (_windows(y, 2, 2, 0)[:, :, :y.shape[2] // 2, :y.shape[3] // 2].max(axis=(4, 5)),)


def _conv_ref(x, w, b):
    c1 = np.einsum("nchwij,ocij->nohw", _windows(x, 3, 1, 1), w) + b[None, :, None, None]
    c2 = np.einsum("nchwij,ocij->nohw", _windows(x, 3, 2, 0), w)
    win = _windows(x, 2, 2, 0)  # unfold: (N, C*k*k, L) with C outermost, then the kernel offsets
    n, c, oh, ow = win.shape[:4]
    return c1, c2, win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * 4, oh * ow)


def _fold_ref(cols):
    n, ckk, nl = cols.shape
    c, k, size = ckk // 4, 2, 4
    out = np.zeros((n, c, size, size))
    cols = cols.reshape(n, c, k, k, 3, 3)  # kernel 2, stride 1 over a 4x4 output: 3x3 windows
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + 3, j : j + 3] += cols[:, :, i, j]
    return out


def _pool(L, x):
    F_ = L.nn.functional
    out, idx = F_.max_pool2d(x, 2, return_indices=True)
    return out, idx, F_.max_pool2d(x, 3, stride=1, padding=1)


_POOL2 = dict(kernel=(2, 2), stride=(2, 2), padding=((0, 0), (0, 0)), dilation=(1, 1))


def _gather_at_ref(y, arg):  # each 2x2 window of y at its flat offset arg (max pooling's double backward)
    n, c, h, w = y.shape
    blocks = y.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    return np.take_along_axis(blocks, arg.astype(np.int64)[..., None], -1)[..., 0]


def _pool_ref(x):
    n, c, h, w = x.shape
    blocks = (
        x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    )
    arg = blocks.argmax(-1)
    rows = np.arange(h // 2)[:, None] * 2 + arg // 2
    cols = np.arange(w // 2)[None, :] * 2 + arg % 2
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    p3 = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3)).max((-1, -2))
    return blocks.max(-1), rows * w + cols, p3


def _lstm_ref(xw, whh, h, c):
    hs, cs = [], []
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for t in range(xw.shape[0]):
        z = xw[t] + h @ whh.T
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return np.stack([np.stack(hs), np.stack(cs)])


def _lstm_torch(T, xw, whh, h, c):
    hs, cs = [], []
    for t in range(xw.shape[0]):
        i, f, g, o = (xw[t] + h @ whh.T).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        hs.append(h)
        cs.append(c)
    return T.stack([T.stack(hs), T.stack(cs)])


def _layer_norm_ref(x, w, b):
    m = x.mean(-1, keepdims=True)
    y = (x - m) / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-5)
    m2 = x.mean((-2, -1), keepdims=True)
    y2 = (x - m2) / np.sqrt(((x - m2) ** 2).mean((-2, -1), keepdims=True) + 1e-3)
    return y * w + b, y2


def _rms_norm_ref(x, w):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
    y2 = x / np.sqrt((x * x).mean((-2, -1), keepdims=True) + np.finfo(np.float32).eps)
    return y * w, y2


def _standardize_grad_ref(g, x):
    m = x.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-5)
    y = (x - m) * rstd
    return rstd * (g - g.mean(-1, keepdims=True) - y * (g * y).mean(-1, keepdims=True))


def _standardize_grad_torch(T, g, x):
    # torch's layer-norm input gradient, taken with create_graph so its own gradient exists
    x = x if x.requires_grad else x.detach().requires_grad_()
    y = T.nn.functional.layer_norm(x, x.shape[-1:], eps=1e-5)
    return T.autograd.grad(y, x, g, create_graph=True)[0]


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_ref(x):
    return x * 0.5 * (1 + _erf(x / math.sqrt(2.0)))


def _gelu_vjp_ref(g, x):
    return g * (0.5 * (1 + _erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))


def _gelu_vjp_torch(T, g, x):
    x = x if x.requires_grad else x.detach().requires_grad_()
    return T.autograd.grad(T.nn.functional.gelu(x), x, g, create_graph=True)[0]


def _targets(rng, sizes):
    return rng.integers(0, 4, (5,)).astype(np.int64)


ROWS = [
    Row(
        "random", _random, None, [()], prims=("uniform", "normal", "randint", "randperm"), covers=(), grad=False,
        check=_check_random,
    ),
    Row("keyed_random", _keyed, None, [()], prims=("keyed_uniform", "keyed_normal"), covers=(), grad=False,
        check=_check_keyed, torch=False),  # Keras's SeedGenerator draws: numbers a function of the key
    Row("parameter_random", _param_draws, None, [()], prims=("gamma", "beta", "binomial", "keyed_gamma",
        "keyed_beta", "keyed_binomial", "poisson", "keyed_poisson"), covers=(), grad=False,
        check=_check_param_draws, torch=False),
    Row(
        "relu_primitive",
        lambda L, x: L.nn.functional.relu(x),
        lambda x: np.maximum(x, 0),
        [(NZ("a", "b"),), (NZ(),), (NZ(0, "a"),)],
        prims=("relu",),
        covers=(),
    ),
    Row(
        "linear",
        lambda L, x, w, b: (L.nn.functional.linear(x, w, b), L.nn.functional.linear(x[None], w, b)),
        lambda x, w, b: (x @ w.T + b, (x @ w.T + b)[None]),
        [(F("a", "b"), F("c", "b"), F("c"))],
        prims=("linear",),
        covers=(),
    ),
    Row(
        "layer_norm",
        lambda L, x, w, b: (
            L.nn.functional.layer_norm(x, (x.shape[-1],), w, b),
            L.nn.functional.layer_norm(x, tuple(x.shape[-2:]), eps=1e-3),
        ),
        _layer_norm_ref,
        [(F("a", "b", "c"), F("c"), F("c")), (F("a", "c"), F("c"), F("c"))],
        prims=("standardize",),
        covers=(),
    ),
    Row(
        "rms_norm",
        lambda L, x, w: (
            L.nn.functional.rms_norm(x, (x.shape[-1],), w, eps=1e-6),
            L.nn.functional.rms_norm(x, tuple(x.shape[-2:]), eps=float(np.finfo(np.float32).eps)),
        ),
        _rms_norm_ref,
        [(F("a", "b", "c"), F("c")), (F("a", "c"), F("c"))],
        prims=("sqrt", "sum"),
    ),
    Row("gelu_exact", lambda L, x: L.nn.functional.gelu(x), _gelu_ref,
        [(F("a", "b"),), (F(),), (F(0, "a"),), (F("a", "b", lo=-7, hi=7),)], prims=("gelu_erf",), covers=()),
    Row("gelu_erf_vjp", lambda L, g, x: L.ops.apply("gelu_erf_vjp", g, x, L.ops.apply("gelu_erf", x)), _gelu_vjp_ref,
        [(F("a", "b"), F("a", "b")), (F(), F()), (F("a", "b", "c"), F("a", "b", "c", lo=-7, hi=7))],
        prims=("gelu_erf_vjp",), covers=(), torch_fn=_gelu_vjp_torch),
    Row(
        "standardize_grad",
        lambda L, g, x: L.ops.apply("standardize_grad", g, x, L.ops.apply("standardize", x, ndim=1, eps=1e-5),
                                    ndim=1, eps=1e-5),
        _standardize_grad_ref,
        [(F("a", "b"), F("a", "b")), (F("a", "b", "c"), F("a", "b", "c"))],
        prims=("standardize_grad",),
        covers=(),
        torch_fn=_standardize_grad_torch,
    ),
    Row(
        "cross_entropy",
        _ce,
        _ce_ref,
        [(F(5, 4, lo=-3, hi=3), Fn(_targets, False))],
        prims=("softmax_cross_entropy", "softmax_cross_entropy_grad"),
        covers=(),
    ),
    Row(
        "assert_all",  # a value check that stays in compiled graphs; its raising is tested in test_compile_rules
        lambda L, x: L.ops.apply("assert_all", x > -3.0, x, message="x = {value} is not above -3"),
        lambda x: np.asarray(True),
        [(F("a", "b"),), (F(0, 3),)],
        prims=("assert_all",),
        covers=(),
        grad=False,
        torch=False,
    ),
    Row(
        "adam_step",  # an update primitive: its functional form, against the functional Adam kernel
        lambda L, p, m, v, g, step: L.ops.apply("adam_step", p, m, v, g, step, beta1=0.9, beta2=0.999, eps=1e-8,
                                                **_ADAM),
        _adam_step_ref,
        [(F("a", "b"), F("a", "b"), P("a", "b"), F("a", "b"), Fn(lambda rng, sizes: np.asarray(3.0), False))],
        prims=("adam_step",),
        covers=(),
        grad=False,
        torch=False,
    ),
    Row(
        "sgd_step",  # an update primitive: its functional form, against the functional SGD kernel
        lambda L, p, buf, g: L.ops.apply("sgd_step", p, buf, g, **_SGD),
        _sgd_step_ref,
        [(F("a", "b"), F("a", "b"), F("a", "b"))],
        prims=("sgd_step",),
        covers=(),
        grad=False,
        torch=False,
    ),
    Row(
        "conv2d_unfold",
        _conv,
        _conv_ref,
        [(F(2, 3, 5, 5), F(4, 3, 3, 3), F(4))],
        prims=("im2col",),
        covers=(),
    ),
    Row(
        "conv2d_winograd",  # the Winograd path against torch, forward, first and second order, both sizes
        _winograd,
        _winograd_ref,
        [(F(1, 3, 7, 5), F(5, 3, 3, 3), F(5)), (F(2, 5, 6, 9), F(3, 5, 3, 3), F(3))],
        prims=("winograd_conv", "winograd_wgrad"),
        covers=(),
    ),
    Row(
        "batch_standardize",  # batch norm's training core: against torch's batch_norm without affine or stats
        lambda L, x: (L.ops.apply("batch_standardize", x, eps=1e-5),),
        _batch_standardize_ref,
        [(F(4, 3, 5, 2),), (F(6, 5),)],
        prims=("batch_standardize", "batch_standardize_grad"),
        covers=(),
        torch_fn=lambda T, x: (T.nn.functional.batch_norm(x, None, None, training=True, eps=1e-5),),
    ),
    Row(
        "batch_moments",
        _batch_moments,
        lambda x: (np.stack([x.mean(_bn_axes(x)), x.var(_bn_axes(x))]),),
        [(F(4, 3, 5),), (F(6, 5),)],
        prims=("batch_moments",),
        covers=(),
        torch_fn=_batch_moments_torch,
    ),
    Row(
        "winograd_conv_pool",
        _conv_pool,
        _conv_pool_ref,
        [(F(2, 3, 6, 7), F(4, 3, 3, 3), F(4))],
        prims=("winograd_conv_pool", "winograd_conv", "winograd_wgrad", "pool_scatter_at"),
        covers=(),
        torch_fn=_conv_pool_torch,
    ),
    Row(
        "winograd_primitives",
        _winograd_prims,
        _winograd_prims_ref,
        [(F(2, 3, 6, 7), F(2, 4, 6, 7), F(4, 3, 3, 3), F(2, 4, 6, 5))],
        prims=("winograd_conv", "winograd_wgrad"),
        covers=(),
        torch=False,
    ),
    Row(
        "fold",
        lambda L, cols: L.nn.functional.fold(cols, (4, 4), 2),
        _fold_ref,
        [(F(2, 12, 9),)],
        prims=("col2im",),
        covers=(),
    ),
    Row(
        "max_pool2d",
        _pool,
        _pool_ref,
        [(D(2, 3, 4, 6),)],
        prims=("pool_select", "pool_argmax", "pool_scatter", "pool_max_arg", "pool_scatter_at"),
        covers=(),
    ),
    Row(
        "pool_gather_at",
        lambda L, y, arg: L.ops.apply("pool_gather_at", y, arg, **_POOL2),
        _gather_at_ref,
        [(F(2, 3, 4, 6), Fn(lambda rng, sizes: rng.integers(0, 4, (2, 3, 2, 3)).astype(np.float64), False))],
        prims=("pool_gather_at", "pool_scatter_at"),
        covers=(),
        torch=False,
    ),
    Row(
        "lstm_seq",
        lambda L, xw, whh, h, c: L.ops.apply("lstm_seq", xw, whh, h, c),
        _lstm_ref,
        [(F(3, 2, 8), F(8, 2, lo=-1, hi=1), F(2, 2), F(2, 2))],
        prims=("lstm_seq", "lstm_seq_grad"),
        covers=(),
        torch_fn=_lstm_torch,
        grad2=False,
    ),
]
