"""scaled_dot_product_attention, MultiheadAttention and the Transformer encoder against PyTorch."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.testing import gradcheck

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def _rand(*shape):
    return RNG.standard_normal(shape)


def _copy(tm, em):
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _lib_args(lib, values):
    return [
        lib.tensor(v, requires_grad=v.dtype.kind == "f") if isinstance(v, np.ndarray) else v for v in values
    ]


def _lib_kw(lib, kw):
    return {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


def _compare_module(tm, em, args, kw=None, dtype="float64", tol=1e-10, train=False):
    tm, em = tm.to(getattr(torch, dtype)), em.to(getattr(ember, dtype))
    _copy(tm, em)
    tm.train(train)
    em.train(train)
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]
    ta, ea = _lib_args(torch, args), _lib_args(ember, args)
    ot, oe = tm(*ta, **_lib_kw(torch, kw or {})), em(*ea, **_lib_kw(ember, kw or {}))
    lt = [o for o in (ot if isinstance(ot, tuple) else (ot,)) if o is not None]
    le = [o for o in (oe if isinstance(oe, tuple) else (oe,)) if o is not None]
    assert len(lt) == len(le)
    for a, b in zip(lt, le):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=tol, rtol=tol)
    gs = [RNG.standard_normal(tuple(a.shape)).astype(dtype) for a in lt]
    sum((a * torch.tensor(g)).sum() for a, g in zip(lt, gs)).backward()
    sum((b * ember.tensor(g)).sum() for b, g in zip(le, gs)).backward()
    for a, b in zip(ta, ea):
        if isinstance(a, torch.Tensor) and a.requires_grad:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=tol, rtol=tol)
    ep = dict(em.named_parameters())
    assert list(ep) == [n for n, _ in tm.named_parameters()]
    for n, p in tm.named_parameters():
        if p.grad is not None:
            np.testing.assert_allclose(ep[n].grad.numpy(), p.grad.numpy(), atol=tol, rtol=tol, err_msg=n)


# -- scaled_dot_product_attention -------------------------------------------------------------------
SDPA = [
    dict(),
    dict(is_causal=True),
    dict(attn_mask=np.tril(np.ones((5, 6), bool))),
    dict(attn_mask=_rand(5, 6)),
    dict(scale=0.3),
]


@pytest.mark.parametrize("kw", SDPA)
def test_sdpa_matches_torch(kw):
    q, k, v = _rand(2, 3, 5, 4), _rand(2, 3, 6, 4), _rand(2, 3, 6, 4)
    ta, ea = _lib_args(torch, [q, k, v]), _lib_args(ember, [q, k, v])
    ot = torch.nn.functional.scaled_dot_product_attention(*ta, **_lib_kw(torch, kw))
    oe = F.scaled_dot_product_attention(*ea, **_lib_kw(ember, kw))
    np.testing.assert_allclose(oe.detach().numpy(), ot.detach().numpy(), atol=1e-10)
    g = _rand(*ot.shape)
    ot.backward(torch.tensor(g))
    oe.backward(ember.tensor(g))
    for a, b in zip(ta, ea):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=1e-10)


def test_sdpa_gradcheck_and_dropout():
    q, k, v = (ember.tensor(_rand(2, 3, 4), requires_grad=True) for _ in range(3))
    assert gradcheck(lambda *a: F.scaled_dot_product_attention(*a, is_causal=True), (q, k, v))
    ember.manual_seed(0)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    ref = F.scaled_dot_product_attention(q, k, v)
    assert not np.allclose(out.detach().numpy(), ref.detach().numpy())


# -- MultiheadAttention --------------------------------------------------------------------------------------
def test_mha_self_and_cross_attention():
    x, kv = _rand(5, 3, 8), _rand(7, 3, 8)
    _compare_module(torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2), [x, x, x])
    _compare_module(
        torch.nn.MultiheadAttention(8, 2),
        nn.MultiheadAttention(8, 2),
        [x, kv, kv],
        dict(average_attn_weights=False),
    )


@pytest.mark.parametrize("train", [True, False])
def test_mha_masks(train):
    x, kv = _rand(5, 3, 8), _rand(7, 3, 8)
    kpm = np.zeros((3, 7), bool)
    kpm[0, 5:] = True
    kw = dict(attn_mask=np.triu(np.ones((5, 7), bool), 1), key_padding_mask=kpm)
    _compare_module(
        torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2), [x, kv, kv], kw, train=train
    )
    kw = dict(attn_mask=_rand(6, 5, 7))
    _compare_module(
        torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2), [x, kv, kv], kw, train=train
    )


def test_mha_kdim_vdim_batch_first_bias_kv_float32():
    args = dict(
        embed_dim=8, num_heads=4, kdim=6, vdim=5, batch_first=True, add_bias_kv=True, add_zero_attn=True
    )
    kpm = np.zeros((5, 4), bool)
    kpm[1, 2:] = True
    x = [_rand(5, 3, 8), _rand(5, 4, 6), _rand(5, 4, 5)]
    _compare_module(
        torch.nn.MultiheadAttention(**args), nn.MultiheadAttention(**args), x, dict(key_padding_mask=kpm)
    )
    _compare_module(
        torch.nn.MultiheadAttention(8, 2, bias=False),
        nn.MultiheadAttention(8, 2, bias=False),
        [_rand(4, 2, 8)] * 3,
        dtype="float32",
        tol=1e-5,
    )


def test_mha_unbatched_and_need_weights_false():
    x = _rand(5, 8)
    _compare_module(torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2), [x, x, x])
    em = nn.MultiheadAttention(8, 2)
    out, w = em(*([ember.tensor(_rand(5, 2, 8)).float()] * 3), need_weights=False)
    assert w is None and tuple(out.shape) == (5, 2, 8)


# -- Transformer encoder -------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(norm_first, activation):
    kw = dict(
        d_model=8,
        nhead=2,
        dim_feedforward=16,
        dropout=0.0,
        activation=activation,
        norm_first=norm_first,
        batch_first=True,
    )
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64).numpy()
    _compare_module(
        torch.nn.TransformerEncoderLayer(**kw),
        nn.TransformerEncoderLayer(**kw),
        [_rand(3, 5, 8)],
        dict(src_mask=mask, is_causal=True),
        train=True,
    )


@pytest.mark.parametrize("train", [True, False])
def test_encoder_stack_with_padding_mask(train):
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    tm = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0),
        2,
        norm=torch.nn.LayerNorm(8),
        enable_nested_tensor=False,
    )
    em = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2, norm=nn.LayerNorm(8))
    _compare_module(tm, em, [_rand(5, 3, 8)], dict(src_key_padding_mask=kpm), train=train)
    assert [n for n, _ in em.named_parameters()][:2] == [
        "layers.0.self_attn.in_proj_weight",
        "layers.0.self_attn.in_proj_bias",
    ]


def test_encoder_dropout_and_causal_mask_detection():
    ember.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True), 2)
    x = ember.randn(2, 6, 8)
    assert not np.allclose(enc(x).detach().numpy(), enc(x).detach().numpy())
    enc.eval()
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    out = enc(x, mask=mask)
    np.testing.assert_allclose(out.detach().numpy(), enc(x, mask=mask, is_causal=True).detach().numpy())
    # causal: changing the last position does not change the earlier outputs
    x2 = x.clone()
    x2[:, -1] = 0.0
    np.testing.assert_allclose(
        enc(x2, mask=mask)[:, :-1].detach().numpy(), out[:, :-1].detach().numpy(), atol=1e-6
    )


BAD = [
    (lambda: nn.MultiheadAttention(10, 3), ValueError, ["embed_dim (10)", "num_heads (3)"]),
    (
        lambda: nn.MultiheadAttention(8, 2)(*([ember.randn(5, 2, 6)] * 3)),
        RuntimeError,
        ["query", "(5, 2, 6)", "8"],
    ),
    (
        lambda: nn.MultiheadAttention(8, 2)(*([ember.randn(5, 2, 8)] * 3), attn_mask=ember.zeros(4, 4)),
        RuntimeError,
        ["attn_mask", "(5, 5)", "(4, 4)"],
    ),
    (
        lambda: nn.MultiheadAttention(8, 2)(
            *([ember.randn(5, 2, 8)] * 3), key_padding_mask=ember.zeros(5, 2).bool()
        ),
        RuntimeError,
        ["key_padding_mask", "(2, 5)"],
    ),
    (
        lambda: F.scaled_dot_product_attention(
            ember.randn(2, 4, 3), ember.randn(2, 5, 4), ember.randn(2, 5, 4)
        ),
        RuntimeError,
        ["query", "(2, 4, 3)", "(2, 5, 4)"],
    ),
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="swish"), RuntimeError, ["swish", "relu"]),
    (lambda: nn.Transformer(8, 2, 1, 1, 8)(ember.randn(5, 2, 6), ember.randn(4, 2, 6)), RuntimeError,
     ["d_model=8", "(5, 2, 6)"]),
]


@pytest.mark.parametrize("fn,exc,words", BAD)
def test_bad_input_errors(fn, exc, words):
    with pytest.raises(exc) as info:
        fn()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
