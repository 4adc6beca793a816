"""nn.Transformer / TransformerDecoder(Layer), EmbeddingBag, DataParallel and Module.compile against torch
with the same weights, plus the small torch-compatibility names (set_default_device, LongTensor-style
constructors, torch.cond, serialization.safe_globals)."""
import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def same_weights(em, tm):
    missing = em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    assert sorted(em.state_dict()) == sorted(tm.state_dict())
    return missing


def compare(e_out, t_out, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=rtol, atol=atol)


def grads_match(em, tm, rtol=1e-3, atol=1e-5):
    tgrads = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        t = tgrads[name].grad
        if t is None:
            assert p.grad is None or not p.grad.numpy().any(), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), t.numpy(), rtol=rtol, atol=atol, err_msg=name)


def run_pair(em, tm, inputs, kwargs=None, backward=True):
    em.eval(), tm.eval()
    e_in = [ember.tensor(x) if isinstance(x, np.ndarray) else x for x in inputs]
    t_in = [torch.tensor(x) if isinstance(x, np.ndarray) else x for x in inputs]
    kw_e = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in (kwargs or {}).items()}
    kw_t = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in (kwargs or {}).items()}
    e_out, t_out = em(*e_in, **kw_e), tm(*t_in, **kw_t)
    compare(e_out, t_out)
    if backward:
        (e_out ** 2).sum().backward()
        (t_out ** 2).sum().backward()
        grads_match(em, tm)


def f32(*shape):
    return RNG.normal(size=shape).astype(np.float32)


CAUSAL = np.triu(np.full((4, 4), -np.inf, np.float32), 1)
TRANSFORMERS = [
    ("post_norm_seq_first", dict(batch_first=False), (f32(5, 2, 8), f32(4, 2, 8)), {"tgt_mask": CAUSAL}),
    ("pre_norm_batch_first", dict(batch_first=True, norm_first=True), (f32(2, 5, 8), f32(2, 4, 8)),
     {"tgt_mask": CAUSAL, "tgt_is_causal": True}),
    ("gelu_padding", dict(batch_first=True, activation="gelu"), (f32(2, 5, 8), f32(2, 4, 8)),
     {"src_key_padding_mask": np.array([[False] * 4 + [True], [False] * 5]),
      "memory_key_padding_mask": np.array([[False] * 4 + [True], [False] * 5])}),
]


@pytest.mark.parametrize("name,kw,inputs,call_kw", TRANSFORMERS, ids=[t[0] for t in TRANSFORMERS])
def test_transformer_matches_torch(name, kw, inputs, call_kw):
    cfg = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, **kw)
    torch.manual_seed(0)
    tm = torch.nn.Transformer(**cfg)
    em = nn.Transformer(**cfg)
    same_weights(em, tm)
    run_pair(em, tm, inputs, call_kw)


def test_decoder_layer_and_stack_match_torch():
    tl = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0)
    el = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0)
    same_weights(el, tl)
    run_pair(el, tl, (f32(4, 3, 8), f32(6, 3, 8)))
    td = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16), 2, torch.nn.LayerNorm(8))
    ed = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2, nn.LayerNorm(8))
    same_weights(ed, td)
    run_pair(ed, td, (f32(4, 3, 8), f32(6, 3, 8)), {"tgt_mask": CAUSAL})


def test_subclassing_transformer_like_word_language_model():
    class LM(nn.Transformer):  # pytorch/examples' TransformerModel pattern: an encoder-only subclass
        def __init__(self, ntoken, ninp):
            super().__init__(d_model=ninp, nhead=2, dim_feedforward=16, num_encoder_layers=2)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.decoder = nn.Linear(ninp, ntoken)

        def forward(self, src):
            mask = ember.log(ember.tril(ember.ones(len(src), len(src))))
            return self.decoder(self.encoder(self.input_emb(src), mask=mask)).log_softmax(-1)

    model = LM(20, 8)
    out = model(ember.randint(0, 20, (6, 3)))
    assert out.shape == (6, 3, 20)
    assert "encoder.layers.1.self_attn.in_proj_weight" in model.state_dict()
    xavier_bound = (6 / (8 + 24)) ** 0.5  # nn.Transformer initialises matrices Xavier-uniform
    assert model.encoder.layers[0].self_attn.in_proj_weight.abs().max().item() <= xavier_bound


def test_transformer_mistakes():
    m = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        m(ember.randn(5, 2, 8), ember.randn(4, 3, 8))
    with pytest.raises(RuntimeError, match="d_model=8"):
        m(ember.randn(5, 2, 6), ember.randn(4, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be"):
        nn.TransformerDecoderLayer(8, 2, activation="swish")


BAGS = [
    ("mean_offsets", dict(mode="mean"), [1, 2, 4, 5, 4, 3, 2, 9], [0, 4], {}),
    ("sum_weights", dict(mode="sum"), [1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 2, 5], {"per_sample_weights": True}),
    ("max", dict(mode="max"), [1, 2, 4, 5, 4, 3, 2, 9], [0, 3, 6], {}),
    ("last_offset", dict(mode="sum", include_last_offset=True), [1, 2, 4, 5, 4, 3], [0, 2, 6], {}),
    ("padding_idx_mean", dict(mode="mean", padding_idx=2), [1, 2, 4, 2, 2, 3], [0, 3, 4], {}),
    ("rows_2d", dict(mode="mean"), [[1, 2, 3], [4, 4, 0]], None, {}),
]


@pytest.mark.parametrize("name,kw,idx,offsets,extra", BAGS, ids=[b[0] for b in BAGS])
def test_embedding_bag_matches_torch(name, kw, idx, offsets, extra):
    tm, em = torch.nn.EmbeddingBag(10, 3, **kw), nn.EmbeddingBag(10, 3, **kw)
    same_weights(em, tm)
    n = np.asarray(idx).size
    w = RNG.uniform(0.5, 2, n).astype(np.float32) if extra.get("per_sample_weights") else None
    e_args = [ember.tensor(idx)] + ([ember.tensor(offsets)] if offsets is not None else [])
    t_args = [torch.tensor(idx)] + ([torch.tensor(offsets)] if offsets is not None else [])
    e_kw = {"per_sample_weights": ember.tensor(w)} if w is not None else {}
    t_kw = {"per_sample_weights": torch.tensor(w)} if w is not None else {}
    e_out, t_out = em(*e_args, **e_kw), tm(*t_args, **t_kw)
    compare(e_out, t_out)
    (e_out * ember.tensor(np.arange(e_out.numel(), dtype=np.float32).reshape(e_out.shape))).sum().backward()
    (t_out * torch.arange(t_out.numel(), dtype=torch.float32).reshape(t_out.shape)).sum().backward()
    np.testing.assert_allclose(em.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_embedding_bag_mistakes():
    bag = nn.EmbeddingBag(10, 3)
    with pytest.raises(ValueError, match="needs offsets"):
        bag(ember.tensor([1, 2]))
    with pytest.raises(ValueError, match="must be None when input is 2-D"):
        bag(ember.tensor([[1, 2]]), ember.tensor([0]))
    with pytest.raises(ValueError, match="start at 0"):
        bag(ember.tensor([1, 2, 3]), ember.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="only supported with mode='sum'"):
        bag(ember.tensor([1, 2]), ember.tensor([0]), per_sample_weights=ember.ones(2))
    with pytest.raises(ValueError, match="mode must be"):
        nn.EmbeddingBag(10, 3, mode="median")


def test_data_parallel_is_a_thin_wrapper_with_torch_keys():
    lin = nn.Linear(3, 2)
    dp, tdp = nn.DataParallel(lin), torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert sorted(dp.state_dict()) == sorted(tdp.state_dict()) == ["module.bias", "module.weight"]
    x = ember.randn(4, 3)
    compare(dp(x), lin(x), 0, 0)
    assert nn.parallel.data_parallel(lin, x).shape == (4, 2) and dp.module is lin
    with pytest.raises(TypeError, match="expected an nn.Module"):
        nn.DataParallel(lambda v: v)


def test_module_compile_in_place():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x = ember.randn(5, 4)
    ref = model(x)
    ref.sum().backward()
    ref_grad = model[0].weight.grad.numpy().copy()
    model.zero_grad()
    model.compile(fullgraph=True, mode="max-autotune")
    for _ in range(2):
        model.zero_grad()
        out = model(x)
        out.sum().backward()
    compare(out, ref, 1e-6, 1e-6)
    np.testing.assert_allclose(model[0].weight.grad.numpy(), ref_grad, rtol=1e-5, atol=1e-6)
    stats = model._compiled_call.stats
    assert stats["traces"] == 1 and stats["cache_hits"] == 1 and not stats["graph_breaks"]
    with pytest.raises(TypeError, match="unexpected arguments"):
        model.compile(fullgrph=True)


def test_small_compat_names():
    assert ember.LongTensor([1, 2]).dtype == ember.int64 and ember.FloatTensor(2, 3).shape == (2, 3)
    assert ember.FloatTensor(ember.tensor([1, 2])).dtype == ember.float32
    table = [(ember.zeros(2), ember.FloatTensor, True), (ember.zeros(2), ember.LongTensor, False),
             (ember.zeros(2, dtype=ember.int64), ember.LongTensor, True),
             (ember.zeros(1).bool(), ember.BoolTensor, True), (3, ember.FloatTensor, False)]
    for value, cls, want in table:
        assert isinstance(value, cls) is want, (value, cls)
    tt = [(torch.zeros(2), torch.FloatTensor), (torch.zeros(2, dtype=torch.int64), torch.LongTensor)]
    assert all(isinstance(v, c) for v, c in tt)  # the same semantics in torch
    x = ember.tensor([1.0, -2.0])
    assert ember.cond(x.sum() > 0, lambda v: v * 2, lambda v: -v, (x,)).tolist() == [-1.0, 2.0]
    assert ember.cond(True, lambda: 1, lambda: 2) == 1
    with pytest.raises(RuntimeError, match="one-element tensor"):
        ember.cond(x > 0, lambda v: v, lambda v: v, (x,))
    with ember.serialization.safe_globals([dict]):
        assert dict in ember.serialization.get_safe_globals()
    assert dict not in ember.serialization.get_safe_globals()
    try:
        ember.set_default_device("cpu")
        assert ember.get_default_device().type == "cpu" and ember.zeros(1).device.type == "cpu"
        if not ember.cuda.is_available():
            with pytest.raises(RuntimeError, match="no CUDA device"):
                ember.set_default_device("cuda")
    finally:
        ember.set_default_device(None)


SHUFFLES = [("pixel_shuffle", lambda L, x: L.nn.PixelShuffle(2)(x), (2, 12, 3, 4)),
            ("pixel_shuffle_3d", lambda L, x: L.nn.functional.pixel_shuffle(x, 3), (18, 2, 2)),
            ("pixel_unshuffle", lambda L, x: L.nn.PixelUnshuffle(2)(x), (2, 3, 4, 6)),
            ("channel_shuffle", lambda L, x: L.nn.functional.channel_shuffle(x, 3), (2, 6, 2, 2))]


@pytest.mark.parametrize("name,fn,shape", SHUFFLES, ids=[s[0] for s in SHUFFLES])
def test_pixel_and_channel_shuffles_match_torch(name, fn, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = fn(ember, e), fn(torch, t)
    compare(eo, to, 0, 0)
    w = np.random.default_rng(1).normal(size=tuple(to.shape)).astype(np.float32)
    (eo * ember.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    compare(e.grad, t.grad, 0, 0)
    with pytest.raises(RuntimeError, match="divisible"):
        nn.PixelShuffle(2)(ember.ones(1, 3, 2, 2))


PADS = [("reflection2d", "ReflectionPad2d", (2,), (2, 3, 5, 6)),
        ("replication2d_tuple", "ReplicationPad2d", ((1, 2, 0, 3),), (2, 3, 5, 6)),
        ("zero2d", "ZeroPad2d", (1,), (3, 4, 5)),
        ("constant1d", "ConstantPad1d", ((0, 2), 3.5), (2, 3, 4)),
        ("circular2d", "CircularPad2d", (2,), (1, 2, 4, 4)),
        ("reflection1d", "ReflectionPad1d", ((3, 1),), (2, 3, 5)),
        ("replication3d", "ReplicationPad3d", (1,), (1, 2, 3, 4, 5))]


@pytest.mark.parametrize("cls,args,shape", [p[1:] for p in PADS], ids=[p[0] for p in PADS])
def test_padding_layers_match_torch(cls, args, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = getattr(nn, cls)(*args)(e), getattr(torch.nn, cls)(*args)(t)
    compare(eo, to, 0, 0)
    eo.sum().backward()
    to.sum().backward()
    compare(e.grad, t.grad, 1e-6, 1e-6)
    assert repr(getattr(nn, cls)(*args)).split("(")[0] == cls
