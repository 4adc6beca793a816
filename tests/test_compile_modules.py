"""ember.compile on real nn.Modules and whole training steps with ember.optim (issue 5), small sizes.

Each bench workload (seed_linear, mlp, cnn, lstm, transformer) is built twice from the same seed; one copy
trains eagerly, the other through ``ember.compile(step)``; losses and parameters must agree to 1e-6.
"""

import logging

import numpy as np
import pytest

import ember
from ember import nn, optim
from ember.graph.compile import GraphBreak


def _seed_linear():
    model = nn.Linear(20, 5)
    return model, optim.Adam(model.parameters(), lr=1e-2), ember.randn(8, 20), ember.randint(0, 5, (8,))


def _mlp():
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, opt, ember.randn(8, 20), ember.randint(0, 5, (8,))


def _cnn():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(96, 16), nn.ReLU(), nn.Linear(16, 5))
    return model, optim.Adam(model.parameters(), lr=1e-2), ember.randn(4, 1, 12, 12), ember.randint(0, 5, (4,))


class _LSTMLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.lstm, self.head = nn.Embedding(10, 8), nn.LSTM(8, 12, batch_first=True), nn.Linear(12, 10)

    def forward(self, tokens):
        out, _ = self.lstm(self.emb(tokens))
        return self.head(out).reshape(-1, 10)


class _Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Linear(32, d))

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.ff(self.ln2(x))


class _TinyGPT(nn.Module):
    def __init__(self, d=16, seq=8):
        super().__init__()
        self.tok, self.pos = nn.Embedding(10, d), nn.Parameter(ember.randn(seq, d) * 0.1)
        self.blocks = nn.ModuleList([_Block(d), _Block(d)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, 10, bias=False)
        self.head.weight = self.tok.weight
        self.seq = seq

    def forward(self, tokens):
        mask = ember.triu(ember.ones(self.seq, self.seq, dtype=ember.bool), diagonal=1)
        x = self.tok(tokens) + self.pos
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln(x)).reshape(-1, 10)


def _lstm():
    model = _LSTMLM()
    return model, optim.Adam(model.parameters(), lr=1e-2), ember.randint(0, 10, (3, 6)), ember.randint(0, 10, (18,))


def _transformer():
    model = _TinyGPT()
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    return model, opt, ember.randint(0, 10, (2, 8)), ember.randint(0, 10, (16,))


WORKLOADS = {"seed_linear": _seed_linear, "mlp": _mlp, "cnn": _cnn, "lstm": _lstm, "transformer": _transformer}


def _make(name):
    ember.manual_seed(0)
    model, opt, x, y = WORKLOADS[name]()

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return model, step, x, y


def _close(got, want, rtol=1e-6, atol=1e-6, what=""):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_compiled_training_step_equals_eager(name):
    model_e, step_e, x, y = _make(name)
    model_c, step_c, _, _ = _make(name)
    compiled = ember.compile(step_c)
    # step 1 from identical weights: the same loss; later steps drift by float32 rounding (the eager fast
    # paths compute the cross-entropy backward and Adam's bias corrections by other formulas)
    _close(float(compiled(x, y)), float(step_e(x, y)), what="loss of step 1")
    for i in range(3):  # calls 3 and 4 run the compiled executor
        _close(float(compiled(x, y)), float(step_e(x, y)), rtol=2e-5, what=f"loss of step {i + 2}")
    for (k, pe), pc in zip(model_e.named_parameters(), model_c.parameters()):
        # Adam moves entries whose gradient is rounding noise (e.g. attention's key bias, which cannot
        # change the output) by about lr in a noise-dependent direction: compare the others
        real = np.abs(pe.grad.numpy()) > 1e-6
        _close(pc.detach().numpy()[real], pe.detach().numpy()[real], rtol=1e-5, atol=5e-6, what=k)
    stats = ember.compile.stats(compiled)
    # the first call creates the optimizer state, the second traces again; the step counter is a graph
    # input, so later steps never retrace
    assert stats["traces"] == 2 and stats["cache_hits"] == 2 and stats["fallbacks"] == 0


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_compiled_step_gradients_equal_eager_at_the_same_weights(name):
    model_e, step_e, x, y = _make(name)
    model_c, step_c, _, _ = _make(name)
    compiled = ember.compile(step_c)
    compiled(x, y), compiled(x, y)  # the two traces
    model_e.load_state_dict(model_c.state_dict())
    loss_c = float(compiled(x, y))  # the executor: grads at these weights, written into .grad
    model_e.zero_grad()
    loss_e = nn.functional.cross_entropy(model_e(x), y)
    loss_e.backward()
    _close(loss_c, float(loss_e), what="loss")
    for (k, pe), pc in zip(model_e.named_parameters(), model_c.parameters()):
        scale = float(np.abs(pe.grad.numpy()).max()) or 1.0
        _close(pc.grad.numpy(), pe.grad.numpy(), rtol=1e-5, atol=1e-6 * scale, what=k)


def test_learning_rate_change_is_seen():
    model, step, x, y = _make("mlp")
    opt_holder = ember.compile(step)
    for _ in range(3):
        opt_holder(x, y)
    reach = opt_holder._found
    reach.optimizers[0].param_groups[0]["lr"] = 0.0
    before = [p.detach().numpy().copy() for p in model.parameters()]
    opt_holder(x, y)
    after = [p.detach().numpy() for p in model.parameters()]
    # lr = 0 but momentum still moves the weights by -lr * buf = 0: nothing changes
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def _mlp_module():
    ember.manual_seed(1)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def test_compiled_module_forward_backward_outside():
    model = _mlp_module()
    fast = ember.compile(model)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = ember.randn(5, 6, requires_grad=True)
    for _ in range(3):
        out = fast(x)
        assert out.requires_grad and out.grad_fn is not None
        opt.zero_grad()
        x.grad = None
        (out * out).sum().backward()
        got = [p.grad.numpy().copy() for p in model.parameters()] + [x.grad.numpy().copy()]
        opt.zero_grad()
        x.grad = None
        ref_out = model(x)
        (ref_out * ref_out).sum().backward()
        want = [p.grad.numpy() for p in model.parameters()] + [x.grad.numpy()]
        np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), rtol=1e-6, atol=1e-6)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        opt.step()  # the compiled forward must see the updated weights next time
    assert ember.compile.stats(fast)["traces"] == 1


def test_compiled_module_double_backward_raises():
    fast = ember.compile(_mlp_module())
    x = ember.randn(2, 6, requires_grad=True)
    (g,) = ember.autograd.grad(fast(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), ember.autograd.grad(fast._fn(x).sum(), x)[0].numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="double backward"):
        ember.autograd.grad(fast(x).sum(), x, create_graph=True)


def test_train_eval_mode_is_part_of_the_signature():
    ember.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 32), nn.Dropout(0.5), nn.BatchNorm1d(32), nn.Linear(32, 2))
    fast = ember.compile(model)
    x = ember.randn(8, 6)
    with ember.no_grad():
        fast(x)
        mean_after_train = model[2].running_mean.numpy().copy()
        assert np.abs(mean_after_train).sum() > 0  # the BatchNorm buffer update is written back
        model.eval()
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(model[2].running_mean.numpy(), mean_after_train)
    assert ember.compile.stats(fast)["signatures"] == 2


def test_module_batch_sizes_trace_at_most_twice_and_log_names_argument(caplog):
    model = _mlp_module()
    fast = ember.compile(model)
    with caplog.at_level(logging.INFO, logger="ember"):
        for b in [32, 17, 9, 32, 5, 64]:
            x = ember.randn(b, 6)
            out = fast(x)
            out.sum().backward()
            with ember.no_grad():
                np.testing.assert_allclose(out.detach().numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
    assert ember.compile.stats(fast)["traces"] <= 2
    text = caplog.text
    assert "argument 'input'" in text and "(32, 6) -> (17, 6)" in text


class _Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc(x)
        if h.sum() > 0:  # data-dependent control flow: a graph break
            return h.relu()
        return h.tanh()


def test_graph_break_in_module_explain_strict_and_fallback():
    model = _Gate()
    x = ember.randn(3, 4)
    exp = ember.compile.explain(model, x)
    assert exp.graph_break_count == 1 and "if h.sum() > 0" in str(exp)
    with pytest.raises(GraphBreak, match="test_compile_modules.py"):
        ember.compile(model, strict=True)(x)
    fast = ember.compile(model)
    with pytest.warns(RuntimeWarning, match="graph break"):
        out = fast(x)
    np.testing.assert_allclose(out.detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    assert ember.compile.stats(fast)["graph_breaks"]


def test_explain_whole_training_step_has_no_breaks():
    _, step, x, y = _make("mlp")
    exp = ember.compile.explain(step, x, y)
    assert exp.graph_break_count == 0 and exp.graph is not None


@pytest.mark.parametrize("grad", [True, False])
def test_compiled_batchnorm_and_dropout_match_eager(grad):
    def make():
        ember.manual_seed(3)
        return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))

    eager, model = make(), make()
    fast = ember.compile(model)
    x = ember.randn(6, 5)
    with ember.set_grad_enabled(grad):
        for i in range(3):  # the first call traces; the others run the graph, which must update the buffers
            ember.manual_seed(10 + i)  # the graph draws the dropout mask from the global generator as eager does
            want = eager(x)
            ember.manual_seed(10 + i)
            got = fast(x)
            _close(got.detach().numpy(), want.detach().numpy(), what=f"output {i}")
            if grad:
                want.sum().backward()
                got.sum().backward()
                _close(model[0].weight.grad.numpy(), eager[0].weight.grad.numpy(), what=f"grad {i}")
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        _close(getattr(model[1], name).numpy(), getattr(eager[1], name).numpy(), what=name)
    assert ember.compile.stats(fast)["traces"] == 1


def _keras_fit(run_eagerly, bn=False):
    from ember import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((96, 6)).astype("float32"), rng.integers(0, 3, 96)
    layers = [keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    if bn:
        layers[1:1] = [keras.layers.BatchNormalization(), keras.layers.Dropout(0.3)]
    model = keras.Sequential([keras.Input(shape=(6,))] + layers)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], run_eagerly=run_eagerly)
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, history.history["loss"]


def test_keras_fit_uses_compiled_step_and_matches_eager():
    compiled, loss_c = _keras_fit(run_eagerly=False)
    eager, loss_e = _keras_fit(run_eagerly=True)
    assert compiled.train_function.compiled is not None and eager.train_function.compiled is None
    _close(loss_c, loss_e, rtol=1e-5)
    for a, b in zip(compiled.weights, eager.weights):
        _close(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_keras_train_step_with_batchnorm_and_dropout_is_one_graph(recwarn):
    # forward, loss, backward, the optimizer update, BatchNormalization's moving statistics and the metric
    # updates: one graph, run for every step after the first (eager, building) and the second (tracing)
    model, _ = _keras_fit(run_eagerly=False, bn=True)
    stats = ember.compile.stats(model.train_function.compiled)
    assert (stats["traces"], stats["cache_hits"], stats["fallbacks"], stats["graph_breaks"]) == (1, 10, 0, [])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("jit", [False, True])
def test_embedding_backward_lowering_matches_add_at(jit):
    from ember.graph import Graph, interpret, kernels
    from ember.graph.executor import build

    if jit and not kernels.jit_available():
        pytest.skip("numba not installed")

    g = Graph()
    vals, idx = g.add_input((4, 3, 5), "float32"), g.add_input((4, 3), "int64")
    zero = g.add_constant(np.zeros((7, 5), np.float32))
    g.outputs.append(g.add_node("index_put", [zero, vals, idx], {"index": (("tensor", 0),), "accumulate": True}))
    exe = build(g, jit=jit)
    assert "E" in exe.source  # the one-hot GEMM form (numba row loop with jit), not np.add.at
    rng = np.random.default_rng(0)
    v = rng.standard_normal((4, 3, 5)).astype(np.float32)
    i = rng.integers(-7, 7, (4, 3))  # repeats and negative indices
    _close(exe(v, i)[0], interpret(g, [v, i])[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 2), (3, 2), (1, 1), (4, 4)])
def test_compiled_module_whose_parameters_broadcast_against_each_other(shape):
    """The parameters' bookkeeping compares tensors by identity: a (2, 2) weight beside a (2,) bias once made
    ``bias in [weight, bias]`` compare elementwise and fail."""
    model = nn.Linear(*shape)
    x = ember.randn(3, shape[0])
    compiled = ember.compile(model)
    out = compiled(x)
    np.testing.assert_allclose(out.detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(model.bias.grad.numpy(), np.full(shape[1], 3.0), rtol=1e-6)


TORCH_COMPILE_ARGUMENTS = [dict(mode="max-autotune"), dict(mode="reduce-overhead", dynamic=False),
                           dict(backend="eager"), dict(backend="aot_eager"), dict(options={"trace.enabled": False}),
                           dict(fullgraph=True)]


@pytest.mark.parametrize("kwargs", TORCH_COMPILE_ARGUMENTS, ids=str)
def test_torch_compile_arguments_are_accepted_and_compute_the_same(kwargs):
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    x = ember.randn(2, 4)
    compiled = ember.compile(model, **kwargs)
    np.testing.assert_allclose(compiled(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)


def test_disable_returns_the_function_and_bad_arguments_are_refused():
    fn = lambda x: x * 2  # noqa: E731
    assert ember.compile(fn, disable=True) is fn
    assert ember.compile(disable=True)(fn) is fn
    for kwargs, error, words in [(dict(mode="fastest"), RuntimeError, "unrecognized mode"),
                                 (dict(backend="tvm"), ValueError, "not available"),
                                 (dict(backend=lambda gm, inputs: gm), ValueError, "custom backend")]:
        with pytest.raises(error, match=words):
            ember.compile(fn, **kwargs)


def test_fullgraph_makes_a_graph_break_an_error():
    @ember.compile(fullgraph=True)
    def branchy(x):
        return x if x.sum() > 0 else -x

    with pytest.raises(GraphBreak):
        branchy(ember.ones(2))
