"""Mixed precision on the CPU: autocast's dtype decisions and values against PyTorch's, op by op; backward
dtypes; compiled == eager under autocast; bfloat16 as a real dtype."""
import numpy as np
import pytest

import ember
from ember.testing import assert_close

torch = pytest.importorskip("torch", reason="torch is the oracle for these tests (pip install 'ember[test]')")
torch.set_num_threads(1)  # the machine is shared: two spinning threads make torch 10-50x slower here
pytestmark = pytest.mark.skipif(ember.bfloat16 is None, reason="bfloat16 needs ml_dtypes (pip install 'ember[amp]')")

RNG = np.random.default_rng(0)


def _arr(*shape, low=-1.0, high=1.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


def _t(lib, arr, dtype="float32"):
    return lib.tensor(arr).to(getattr(lib, dtype))


def f32(*shape, **kw):
    return ("float32", _arr(*shape, **kw))


def bf16(*shape, **kw):
    return ("bfloat16", _arr(*shape, **kw))


def labels(n, classes):
    return ("int64", RNG.integers(0, classes, n))


def F(lib):  # noqa: N802
    return lib.nn.functional


# (name, fn(lib, *tensors), inputs): each row runs under autocast("cpu", bfloat16) in both libraries.
# Lower precision (PyTorch's CPU list): matmul family, linear, conv, prelu, attention.
LOWER = [
    ("matmul", lambda L, a, b: L.matmul(a, b), [f32(4, 5), f32(5, 3)]),
    ("matmul_batched", lambda L, a, b: a @ b, [f32(2, 4, 5), f32(5, 3)]),
    ("mm", lambda L, a, b: L.mm(a, b), [f32(4, 5), f32(5, 3)]),
    ("bmm", lambda L, a, b: L.bmm(a, b), [f32(2, 4, 5), f32(2, 5, 3)]),
    ("tensor.matmul", lambda L, a, b: a.matmul(b), [f32(4, 5), f32(5, 3)]),
    ("linear", lambda L, x, w, b: F(L).linear(x, w, b), [f32(4, 5), f32(3, 5), f32(3)]),
    ("linear_bf16_input", lambda L, x, w, b: F(L).linear(x, w, b), [bf16(4, 5), f32(3, 5), f32(3)]),
    ("linear_3d", lambda L, x, w: F(L).linear(x, w), [f32(2, 4, 5), f32(3, 5)]),
    ("conv1d", lambda L, x, w, b: F(L).conv1d(x, w, b, padding=1), [f32(2, 3, 8), f32(4, 3, 3), f32(4)]),
    ("conv2d", lambda L, x, w, b: F(L).conv2d(x, w, b, stride=2), [f32(2, 3, 8, 8), f32(4, 3, 3, 3), f32(4)]),
    ("conv3d", lambda L, x, w: F(L).conv3d(x, w), [f32(1, 2, 5, 5, 5), f32(3, 2, 2, 2, 2)]),
    ("conv_transpose2d", lambda L, x, w: F(L).conv_transpose2d(x, w, stride=2), [f32(1, 3, 4, 4), f32(3, 2, 3, 3)]),
    ("prelu", lambda L, x, w: F(L).prelu(x, w), [f32(2, 3, 4), f32(3)]),
    ("sdpa", lambda L, q, k, v: F(L).scaled_dot_product_attention(q, k, v),
     [f32(2, 4, 6, 8), f32(2, 4, 6, 8), f32(2, 4, 6, 8)]),
]
# float32 (PyTorch's CPU list): losses, prod, 3-d max pooling; given bfloat16 inputs
FP32 = [
    ("mse_loss", lambda L, a, b: F(L).mse_loss(a, b), [bf16(4, 5), bf16(4, 5)]),
    ("l1_loss", lambda L, a, b: F(L).l1_loss(a, b), [bf16(4, 5), bf16(4, 5)]),
    ("huber_loss", lambda L, a, b: F(L).huber_loss(a, b), [bf16(4, 5), bf16(4, 5)]),
    ("cross_entropy", lambda L, x, y: F(L).cross_entropy(x, y), [bf16(6, 5), labels(6, 5)]),
    ("nll_loss", lambda L, x, y: F(L).nll_loss(x, y), [bf16(6, 5), labels(6, 5)]),
    ("bce_with_logits", lambda L, a, b: F(L).binary_cross_entropy_with_logits(a, b),
     [bf16(4, 5), bf16(4, 5, low=0, high=1)]),
    ("binary_cross_entropy", lambda L, a, b: F(L).binary_cross_entropy(a, b),
     [bf16(4, 5, low=0.05, high=0.95), bf16(4, 5, low=0, high=1)]),
    ("kl_div", lambda L, a, b: F(L).kl_div(a, b, reduction="batchmean"), [bf16(4, 5), bf16(4, 5, low=0, high=1)]),
    ("soft_margin_loss", lambda L, a, b: F(L).soft_margin_loss(a, b), [bf16(4, 5), bf16(4, 5)]),
    ("margin_ranking_loss", lambda L, a, b, c: F(L).margin_ranking_loss(a, b, c), [bf16(6), bf16(6), bf16(6)]),
    ("cosine_embedding_loss", lambda L, a, b, c: F(L).cosine_embedding_loss(a, b, c.sign()),
     [bf16(4, 5), bf16(4, 5), bf16(4)]),
    ("poisson_nll_loss", lambda L, a, b: F(L).poisson_nll_loss(a, b), [bf16(4, 5), bf16(4, 5, low=0, high=3)]),
    ("prod", lambda L, a: a.prod(-1), [bf16(3, 4, low=0.5, high=1.5)]),
    ("max_pool3d", lambda L, x: F(L).max_pool3d(x, 2), [bf16(1, 2, 4, 4, 4)]),
    ("smooth_l1_loss", lambda L, a, b: F(L).smooth_l1_loss(a, b), [bf16(4, 5), bf16(4, 5)]),
]
# Unlisted on the CPU: run in the inputs' dtype; mixed inputs promote natively
UNLISTED = [
    ("softmax", lambda L, x: x.softmax(-1), [bf16(4, 5)]),
    ("log_softmax", lambda L, x: F(L).log_softmax(x, -1), [bf16(4, 5)]),
    ("sum", lambda L, x: x.sum(), [bf16(4, 5)]),
    ("mean", lambda L, x: x.mean(0), [bf16(4, 5)]),
    ("exp", lambda L, x: L.exp(x), [bf16(4, 5)]),
    ("layer_norm", lambda L, x, w, b: F(L).layer_norm(x, (5,), w, b), [bf16(4, 5), f32(5), f32(5)]),
    ("layer_norm_bf16", lambda L, x: F(L).layer_norm(x, (5,)), [bf16(4, 5)]),
    ("group_norm", lambda L, x: F(L).group_norm(x, 2), [bf16(2, 4, 3)]),
    ("group_norm_affine", lambda L, x, w: F(L).group_norm(x, 2, w), [bf16(2, 4, 3), f32(4)]),
    ("batch_norm_eval", lambda L, x, m, v: F(L).batch_norm(x, m, v), [bf16(4, 3, 2), f32(3), f32(3, low=0.5)]),
    ("gelu", lambda L, x: F(L).gelu(x), [bf16(4, 5)]),
    ("relu", lambda L, x: F(L).relu(x), [bf16(4, 5)]),
    ("tanh", lambda L, x: L.tanh(x), [bf16(4, 5)]),
    ("add_mixed", lambda L, a, b: a + b, [bf16(4, 5), f32(4, 5)]),
    ("mul_scalar", lambda L, a: a * 3.0, [bf16(4, 5)]),
    ("cat_mixed", lambda L, a, b: L.cat([a, b]), [bf16(2, 5), f32(2, 5)]),
    ("stack_mixed", lambda L, a, b: L.stack([a, b]), [bf16(2, 5), f32(2, 5)]),
    ("mv", lambda L, a, b: L.mv(a, b), [f32(4, 5), f32(5)]),
    ("dot", lambda L, a, b: L.dot(a, b), [f32(5), f32(5)]),
    ("cosine_similarity", lambda L, a, b: F(L).cosine_similarity(a, b), [bf16(4, 5), bf16(4, 5)]),
    ("normalize", lambda L, a: F(L).normalize(a), [bf16(4, 5)]),
    ("max_pool2d", lambda L, x: F(L).max_pool2d(x, 2), [bf16(1, 2, 4, 4)]),
    ("float64_matmul", lambda L, a, b: a.double() @ b.double(), [f32(3, 4), f32(4, 2)]),
]
TABLE = LOWER + FP32 + UNLISTED


def _run(lib, fn, inputs):
    ts = [_t(lib, arr, dt) for dt, arr in inputs]
    with lib.autocast(device_type="cpu", dtype=lib.bfloat16):
        return fn(lib, *ts)


@pytest.mark.parametrize("name, fn, inputs", TABLE, ids=[r[0] for r in TABLE])
def test_autocast_cpu_dtype_and_values_match_torch(name, fn, inputs):
    ours, theirs = _run(ember, fn, inputs), _run(torch, fn, inputs)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), name
    expected = theirs.detach().float().numpy()
    assert_close(ours.detach().float().numpy(), expected, rtol=2e-2, atol=2e-2 * max(1.0, np.abs(expected).max()))


def test_lists_cover_every_decorated_function():
    # every @autocast_op name must be in some list (a typo would silently never cast)
    import ember._autocast as A

    names = {"matmul", "mm", "bmm", "mv", "dot", "linear", "conv2d", "mse_loss", "cross_entropy", "prod", "sum",
             "softmax", "layer_norm", "exp", "log", "pow"}
    for n in names:
        assert A.policy("cpu", n) or A.policy("cuda", n), n


def _mlp_step(lib, seed_arrays, autocast):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    with lib.no_grad():
        for p, arr in zip(model.parameters(), seed_arrays):
            p.copy_(lib.tensor(arr))
    x, y = lib.tensor(_X), lib.tensor(_Y)
    with lib.autocast("cpu", enabled=autocast):
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
    loss.backward()
    return out, loss, [p.grad for p in model.parameters()]


_X = _arr(32, 8)
_Y = RNG.integers(0, 3, 32)
_PARAMS = [_arr(16, 8), _arr(16), _arr(3, 16), _arr(3)]


def test_backward_runs_in_forward_dtypes_and_matches_torch():
    out, loss, grads = _mlp_step(ember, _PARAMS, True)
    t_out, t_loss, t_grads = _mlp_step(torch, _PARAMS, True)
    assert out.dtype == ember.bfloat16 and loss.dtype == ember.float32
    _, _, exact = _mlp_step(torch, _PARAMS, False)

    def err(a, b):
        return np.linalg.norm(a.numpy() - b.numpy()) / np.linalg.norm(b.numpy())

    for g, tg, ref in zip(grads, t_grads, exact):
        assert g.dtype == ember.float32  # parameters stay float32: their gradients too
        # bfloat16 keeps ~3 significant digits: our rounding error is of PyTorch's size, not more
        assert err(g, ref) < 2 * err(tg, ref) + 2e-3, (err(g, ref), err(tg, ref))
    assert abs(loss.item() - t_loss.item()) < 1e-2


def test_float64_and_explicit_dtype_are_not_cast():
    a = ember.ones(3, 4, dtype=ember.float64)
    with ember.autocast("cpu"):
        assert (a @ a.T).dtype == ember.float64
        assert ember.nn.functional.linear(a, a).dtype == ember.float64


def test_spellings_nesting_and_queries():
    x = ember.ones(2, 3)
    for ctx in (ember.autocast("cpu"), ember.amp.autocast("cpu", dtype=ember.bfloat16), ember.cpu.amp.autocast()):
        with ctx:
            assert (x @ x.T).dtype == ember.bfloat16
            assert ember.is_autocast_enabled("cpu") and not ember.is_autocast_enabled()
            with ember.autocast("cpu", enabled=False):
                assert (x @ x.T).dtype == ember.float32
            assert (x @ x.T).dtype == ember.bfloat16
    assert (x @ x.T).dtype == ember.float32 and not ember.is_autocast_enabled("cpu")
    assert ember.get_autocast_dtype("cpu") == ember.bfloat16 and ember.get_autocast_dtype("cuda") == ember.float16

    @ember.autocast("cpu")
    def f(a):
        return a @ a.T

    assert f(x).dtype == ember.bfloat16
    with ember.autocast("cpu", dtype=ember.float16):
        assert (x @ x.T).dtype == ember.float16


@pytest.mark.skipif(ember.cuda.is_available(), reason="checks the no-GPU behaviour")
def test_cuda_autocast_without_gpu_warns_and_disables_like_torch():
    x = ember.ones(2, 3)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        ctx = ember.cuda.amp.autocast()
    with ctx:
        assert (x @ x.T).dtype == ember.float32
    with pytest.warns(UserWarning):
        torch.autocast("cuda")


def test_unsupported_dtype_warns_and_bad_device_raises():
    with pytest.warns(UserWarning, match="not supported"):
        ember.autocast("cpu", dtype=ember.float64)
    with pytest.raises(ValueError, match="'tpu'"):
        ember.autocast("tpu")


def test_compiled_equals_eager_under_autocast():
    lin = ember.nn.Linear(8, 4)

    def fn(x):
        with ember.autocast("cpu"):
            h = lin(x).relu()
            return ember.nn.functional.mse_loss(h, ember.zeros_like(h)), h

    compiled = ember.compile(fn)
    x = ember.tensor(_arr(6, 8))
    (loss_e, h_e), (loss_c, h_c) = fn(x), compiled(x)
    assert h_c.dtype == h_e.dtype == ember.bfloat16 and loss_c.dtype == ember.float32
    assert_close(h_c.detach().float().numpy(), h_e.detach().float().numpy(), rtol=0, atol=0)
    assert_close(loss_c.detach().numpy(), loss_e.detach().numpy(), rtol=1e-6, atol=0)


def test_compile_keys_on_autocast_state():
    lin = ember.nn.Linear(8, 4)
    step = ember.compile(lambda x: lin(x))
    x = ember.tensor(_arr(6, 8))
    with ember.no_grad():
        assert step(x).dtype == ember.float32
        with ember.autocast("cpu"):
            assert step(x).dtype == ember.bfloat16
        assert step(x).dtype == ember.float32


def test_compiled_training_step_under_autocast_matches_eager():
    def make():
        ember.manual_seed(3)
        model = ember.nn.Sequential(ember.nn.Linear(8, 16), ember.nn.ReLU(), ember.nn.Linear(16, 3))
        return model, ember.optim.SGD(model.parameters(), lr=0.1)

    x, y = ember.tensor(_X), ember.tensor(_Y)

    def step(model, opt):
        opt.zero_grad()
        with ember.autocast("cpu"):
            loss = ember.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    (me, oe), (mc, oc) = make(), make()
    compiled = ember.compile(lambda: step(mc, oc))
    for _ in range(3):
        le, lc = step(me, oe), compiled()
        assert_close(lc.detach().numpy(), le.detach().numpy(), rtol=1e-5, atol=1e-6)
    for pe, pc in zip(me.parameters(), mc.parameters()):
        assert_close(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-5, atol=1e-6)


# -- bfloat16 as a dtype ---------------------------------------------------------------------------------------
def test_bfloat16_tensors_compute_and_train():
    x = ember.ones(1000, dtype=ember.bfloat16)
    assert x.sum().item() == 1000.0  # accumulated in float32 (NumPy's bfloat16 sum would give 256)
    assert x.is_floating_point() and ember.bfloat16.is_floating_point
    w = ember.randn(4, 3).bfloat16().requires_grad_()
    loss = (ember.ones(2, 4, dtype=ember.bfloat16) @ w).float().pow(2).mean()
    loss.backward()
    assert w.grad.dtype == ember.bfloat16
    assert (ember.ones(2, dtype=ember.bfloat16) + ember.ones(2, dtype=ember.float16)).dtype == ember.float32
    assert str(ember.ones(2, dtype=ember.bfloat16).cumsum(0).dtype) == "ember.bfloat16"
