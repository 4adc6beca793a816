"""Every nn layer of the core set against PyTorch: the same weights copied in (through state_dict, so the keys
match too), outputs, input gradients and parameter gradients in float32 (1e-5) and float64 (1e-10), in train
and
eval mode; plus a contract test per layer (repr, parameter count, state_dict round trip, deepcopy, one
training step lowers the loss)."""
import copy

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")


class Spec:
    def __init__(self, cls, args=(), kwargs=None, shape=(4, 6), inputs=None, random_train=False, name=None,
                 tol64=1e-10):
        self.cls, self.args, self.kwargs, self.shape, self.tol64 = cls, args, kwargs or {}, shape, tol64
        self.inputs = inputs  # callable(rng) -> list of numpy arrays, for multi-input / integer layers
        self.random_train = random_train
        self.name = name or cls + ("-" + "-".join(f"{k}={v}" for k,
                                                  v in self.kwargs.items()) if self.kwargs else "")


def _ints(high, shape):
    return lambda rng: [rng.integers(0, high, size=shape)]


SPECS = [
    Spec("Identity"),
    Spec("Linear", (6, 5)),
    Spec("Linear", (6, 3), {"bias": False}),
    Spec("Linear", (6, 4), shape=(2, 3, 6), name="Linear-3d"),
    Spec("Bilinear", (3, 4, 5), inputs=lambda rng: [rng.normal(size=(6, 3)), rng.normal(size=(6, 4))]),
    Spec("Flatten", shape=(2, 3, 4, 5)),
    Spec("Flatten", (0, 2), shape=(2, 3, 4, 5), name="Flatten-0-2"),
    Spec("Unflatten", (1, (2, 3)), shape=(4, 6)),
    Spec("ReLU"), Spec("ReLU6"), Spec("LeakyReLU", (0.2,)), Spec("ELU", (0.7,)), Spec("SELU"), Spec("CELU",
                                                                                                    (1.5,)),
    Spec("GELU"), Spec("GELU", kwargs={"approximate": "tanh"}), Spec("SiLU"), Spec("Sigmoid"), Spec("Tanh"),
    Spec("Softmax", (1,)), Spec("LogSoftmax", (-1,)), Spec("Softmin", (0,)), Spec("Softplus"),
    Spec("Softplus", (2.0, 1.0), name="Softplus-beta2-th1"), Spec("Hardtanh", (-2.0, 1.5)), Spec("Mish"),
    Spec("PReLU"), Spec("PReLU", (6,), name="PReLU-6"), Spec("PReLU", (3,), shape=(2, 3, 5),
                                                             name="PReLU-3-3d"),
    # PyTorch's float64 Hardsigmoid backward multiplies by the float32 constant 1.0f / 6.0f (~3e-8 off)
    Spec("Softsign"), Spec("Hardswish"), Spec("Hardsigmoid", tol64=1e-7), Spec("LogSigmoid"), Spec("GLU"),
    Spec("Threshold", (0.1, -2.0)), Spec("Tanhshrink"),
    Spec("BatchNorm1d", (6,), shape=(8, 6)),
    Spec("BatchNorm1d", (3,), shape=(4, 3, 5), name="BatchNorm1d-3d"),
    Spec("BatchNorm1d", (6,), {"momentum": None}, shape=(8, 6)),
    Spec("BatchNorm1d", (6,), {"affine": False}, shape=(8, 6)),
    Spec("BatchNorm1d", (6,), {"track_running_stats": False}, shape=(8, 6)),
    Spec("BatchNorm2d", (3,), shape=(2, 3, 4, 5)),
    Spec("BatchNorm2d", (3,), {"momentum": 0.3, "eps": 1e-3}, shape=(2, 3, 4, 5)),
    Spec("LayerNorm", (6,)),
    Spec("LayerNorm", ((4, 5),), shape=(2, 3, 4, 5), name="LayerNorm-2d"),
    Spec("LayerNorm", (6,), {"elementwise_affine": False}),
    Spec("LayerNorm", (6,), {"bias": False}),
    Spec("RMSNorm", (6,)),
    Spec("RMSNorm", ((4, 5),), {"eps": 1e-3}, shape=(2, 3, 4, 5), name="RMSNorm-2d"),
    Spec("RMSNorm", (6,), {"elementwise_affine": False}),
    Spec("GroupNorm", (2, 6), shape=(3, 6, 4)),
    Spec("GroupNorm", (3, 6), {"affine": False}, shape=(2, 6, 2, 2)),
    Spec("InstanceNorm1d", (3,), shape=(2, 3, 5)),
    Spec("InstanceNorm2d", (3,), {"affine": True}, shape=(2, 3, 4, 5)),
    Spec("InstanceNorm2d", (3,), {"track_running_stats": True}, shape=(2, 3, 4, 5)),
    Spec("InstanceNorm2d", (3,), shape=(3, 4, 5), name="InstanceNorm2d-unbatched"),
    Spec("InstanceNorm3d", (2,), {"affine": True}, shape=(2, 2, 3, 3, 3)),
    Spec("Dropout", (0.3,), random_train=True),
    Spec("Dropout2d", (0.5,), shape=(2, 3, 4, 4), random_train=True),
    Spec("Embedding", (10, 4), inputs=_ints(10, (3, 5))),
    Spec("Embedding", (10, 4), {"padding_idx": 2}, inputs=lambda rng: [np.array([[2, 1, 2], [0, 9, 3]])]),
    Spec("Embedding", (10, 4), {"max_norm": 1.0}, inputs=_ints(10, (2, 6))),
]


def _inputs(spec, rng):
    if spec.inputs is not None:
        return spec.inputs(rng)
    return [rng.normal(size=spec.shape) * 2]


def _as(lib, arr, dtype):
    if arr.dtype.kind in "iu":
        return lib.tensor(arr.astype(np.int64))
    return lib.tensor(arr.astype(dtype), requires_grad=True)


def _pair(spec, dtype):
    torch.manual_seed(0)
    tmod = getattr(torch.nn, spec.cls)(*spec.args, **spec.kwargs)
    emod = getattr(nn, spec.cls)(*spec.args, **spec.kwargs)
    if dtype == np.float64:
        tmod, emod = tmod.double(), emod.double()
    sd = {k: ember.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()}
    assert sorted(emod.state_dict()) == sorted(sd)
    emod.load_state_dict(sd)
    return tmod, emod


def _check(spec, dtype, train):
    tol = 1e-5 if dtype == np.float32 else spec.tol64
    rng = np.random.default_rng(1)
    tmod, emod = _pair(spec, dtype)
    tmod.train(train)
    emod.train(train)
    for _ in range(2):  # twice, so running statistics are used after an update
        arrays = _inputs(spec, rng)
        tin = [_as(torch, a, dtype) for a in arrays]
        ein = [_as(ember, a, dtype) for a in arrays]
        tout, eout = tmod(*tin), emod(*ein)
        np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
        g = rng.normal(size=tuple(tout.shape)).astype(dtype)
        (tout * torch.tensor(g)).sum().backward()
        (eout * ember.tensor(g)).sum().backward()
        for t, e in zip(tin, ein):
            if t.requires_grad:
                np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)
    tparams = dict(tmod.named_parameters())
    for name, p in emod.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=tol, atol=tol,
                                   err_msg=name)
    tstate = tmod.state_dict()
    for name, b in emod.state_dict().items():
        np.testing.assert_allclose(b.numpy(), tstate[name].numpy(), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_matches_pytorch(spec, train, dtype):
    if spec.random_train and train:
        pytest.skip("random in training mode: checked statistically below")
    _check(spec, dtype, train)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_layer_contract(spec):
    rng = np.random.default_rng(2)
    tmod, emod = _pair(spec, np.float32)
    assert repr(emod) == repr(tmod)
    assert sum(p.numel() for p in emod.parameters()) == sum(p.numel() for p in tmod.parameters())
    fresh = getattr(nn, spec.cls)(*spec.args, **spec.kwargs)
    fresh.load_state_dict(emod.state_dict())
    twin = copy.deepcopy(emod)
    emod.eval(), fresh.eval(), twin.eval()
    arrays = _inputs(spec, rng)
    ins = [_as(ember, a, np.float32) for a in arrays]
    out = emod(*ins)
    np.testing.assert_array_equal(fresh(*ins).detach().numpy(), out.detach().numpy())
    np.testing.assert_array_equal(twin(*ins).detach().numpy(), out.detach().numpy())
    params = list(emod.parameters())
    if not params:
        return
    emod.train()
    target = ember.tensor(rng.normal(size=tuple(out.shape)).astype(np.float32))
    opt = ember.optim.SGD(params, lr=0.05)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = ((emod(*ins) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[1] < losses[0]


def test_default_initialisation_statistics():
    ember.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / 400 ** 0.5  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) too
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= bound and abs(w.std() - bound / 3 ** 0.5) < 0.02 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    emb = nn.Embedding(1000, 50, padding_idx=0)
    e = emb.weight.detach().numpy()
    assert abs(e[1:].std() - 1.0) < 0.02 and not e[0].any()
    bn = nn.BatchNorm2d(5)
    assert bn.weight.tolist() == [1.0] * 5 and bn.running_var.tolist() == [1.0] * 5
    assert bn.num_batches_tracked.dtype == ember.int64


def test_dropout_statistics_and_scaling():
    ember.manual_seed(0)
    x = ember.ones(200, 100, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)
    z = nn.Dropout2d(0.5)(ember.ones(50, 40, 3, 3)).numpy()
    per_channel = z.reshape(50, 40, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05
    assert nn.Dropout(1.0)(ember.ones(3)).tolist() == [0.0, 0.0, 0.0]


def test_embedding_padding_gets_no_gradient_and_from_pretrained():
    emb = nn.Embedding(5, 3, padding_idx=1)
    out = emb(ember.tensor([[1, 2, 1], [4, 1, 0]]))
    out.sum().backward()
    g = emb.weight.grad.numpy()
    assert not g[1].any() and (g[2] == 1).all() and (g[4] == 1).all()
    w = ember.randn(4, 2)
    frozen = nn.Embedding.from_pretrained(w)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(ember.tensor([3])).numpy(), w.numpy()[[3]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(IndexError, match="out of range for an embedding table with 5 rows"):
        emb(ember.tensor([5]))
    with pytest.raises(TypeError, match="integer"):
        emb(ember.tensor([1.0]))


def test_batchnorm_eval_uses_running_stats_and_errors():
    bn = nn.BatchNorm1d(3)
    bn(ember.randn(16, 3) * 2 + 5)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    x = ember.randn(4, 3)
    want = (x.numpy() - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(bn(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(ember.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ember.randn(1, 3))
    with pytest.raises(RuntimeError, match="has 4 channels"):
        nn.BatchNorm1d(3)(ember.randn(5, 4))


def test_linear_errors_name_shapes():
    lin = nn.Linear(784, 10)
    with pytest.raises(RuntimeError, match=r"\(64, 28\).*784"):
        lin(ember.randn(64, 28))
    with pytest.raises(RuntimeError, match="dtype"):
        lin(ember.randn(2, 784, dtype=ember.float64))
    with pytest.raises(TypeError, match="ember.tensor"):
        lin(np.zeros((2, 784), dtype=np.float32))


def test_inplace_activation_writes_under_no_grad():
    x = ember.tensor([-1.0, 2.0])
    with ember.no_grad():
        y = nn.ReLU(inplace=True)(x)
    assert y is x and x.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_fused_linear_and_relu_match_composites_incl_second_order(shape):
    from ember.functional.math import relu as composite_relu
    from ember.ops import apply

    rng = np.random.default_rng(3)
    x0, w0, b0 = rng.normal(size=shape), rng.normal(size=(4, 3)), rng.normal(size=4)
    results = []
    for fused in (True, False):
        x, w, b = (ember.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        if fused:
            y = apply("relu", apply("linear", x, w, b))
        else:
            y = composite_relu(x @ w.t() + b)
        weights = ember.tensor(rng.normal(size=tuple(y.shape)) if fused else results[0][-1])
        grads = ember.autograd.grad((y * weights * y).sum(), (x, w, b), create_graph=True)
        second = ember.autograd.grad(sum((g * g).sum() for g in grads), (x, w, b))
        arrays = [y.detach().numpy()] + [g.detach().numpy() for g in grads + second]
        results.append(arrays + [weights.numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
