"""Ember on a CUDA device against Ember on the CPU (and PyTorch CUDA where it decides: autocast dtypes).

Two devices run these tests:
- ``cuda``: a real GPU (marker ``gpu``; ``pytest -m gpu`` selects them; skipped without CuPy and a GPU).
- ``fake``: ``tests/fake_cupy.py``, NumPy arrays posing as CuPy ones, on any machine. It checks Ember's device
  plumbing (dispatch by array module, moves, compile's executor choice, no host/device mixing in ufuncs), not
  CuPy: kernels, memory, dtype support and timing are only exercised by ``cuda``. Tests that only mean
  something on a real GPU take ``real_gpu`` and never run on the fake.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from _optable import rows_fft, rows_index, rows_math, rows_nn, rows_reduce, rows_scatter, rows_shape
from _optable import rows_special as special_rows
from _optable.spec import make_case
from _train_step import classifier_step

import ember
from ember.testing import assert_close

HAS_GPU = ember.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="needs CuPy and a CUDA GPU")
DEVICES = [pytest.param("cuda", marks=[pytest.mark.gpu, needs_gpu]), "fake"]


@pytest.fixture(params=DEVICES)
def dev(request, monkeypatch):
    if request.param == "fake":
        import fake_cupy

        fake_cupy.install(monkeypatch)
    return "cuda"


@pytest.fixture
def real_gpu():
    if not HAS_GPU:
        pytest.skip("needs CuPy and a CUDA GPU")
    return "cuda"


def _host(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


# -- the op table: forward and backward on the device against the CPU, float32 and float64 ---------------------
ROWS = rows_math.ROWS + rows_reduce.ROWS + rows_shape.ROWS + rows_index.ROWS + rows_nn.ROWS + rows_scatter.ROWS
ROWS += special_rows.ROWS + rows_fft.ROWS


# CPU-only by design (numba transform loops); convolutions on CUDA run im2col and never pick them
CPU_ONLY_ROWS = {"winograd_primitives", "winograd_conv_pool"}


def _covering(rows):
    """A few rows that together run every primitive (the fake device's share of the table)."""
    chosen, seen = [], set()
    for r in sorted([r for r in rows if r.name not in CPU_ONLY_ROWS], key=lambda r: -len(set(r.prims))):
        if set(r.prims) - seen:
            chosen.append(r.name)
            seen |= set(r.prims)
    return set(chosen)


FAKE_ROWS = _covering(ROWS)


def _inputs(values, flags, dtype, device):
    out = []
    for v, f in zip(values, flags):
        if not isinstance(v, np.ndarray):
            out.append(v)
        elif v.dtype.kind == "f":
            out.append(ember.tensor(v, dtype=getattr(ember, dtype), device=device, requires_grad=bool(f)))
        else:
            out.append(ember.tensor(v, device=device))
    return out


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [y for o in out for y in _flat(o)]
    return [out]


def _run_row(row, values, flags, dtype, device):
    ins = _inputs(values, flags, dtype, device)
    outs = [o for o in _flat(row.fn(ember, *ins)) if isinstance(o, ember.Tensor)]
    diff = [o for o in outs if o.requires_grad]
    grads = []
    if row.grad and diff:
        rng = np.random.default_rng(0)
        cot = [ember.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=device) for o in diff]
        wrt = [t for t in ins if isinstance(t, ember.Tensor) and t.requires_grad]
        grads = ember.autograd.grad(diff, wrt, cot, allow_unused=True)
    return outs, grads


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_op_table_on_device_matches_cpu(row, dtype, dev, request):
    if "fake" in request.node.callspec.id and (dtype == "float64" or row.name not in FAKE_ROWS):
        pytest.skip("the fake device checks plumbing: float32 rows that cover every primitive once suffice")
    tol = dict(rtol=max(row.rtol, 1e-4), atol=max(row.atol, 1e-5)) if dtype == "float32" else \
        dict(rtol=1e-9, atol=1e-11)
    for k, case in enumerate(row.cases[:2]):
        values, flags = make_case(case, zlib.crc32(f"{row.name}/{k}".encode()))
        if row.name in CPU_ONLY_ROWS and "fake" not in request.node.callspec.id:
            with pytest.raises(RuntimeError, match="Winograd convolutions run on CPU"):
                _run_row(row, values, flags, dtype, dev)
            continue
        cpu_outs, cpu_grads = _run_row(row, values, flags, dtype, "cpu")
        dev_outs, dev_grads = _run_row(row, values, flags, dtype, dev)
        stays = row.name != "to_device" and any(isinstance(v, np.ndarray) for v in values)  # else made on cpu
        for j, (a, b) in enumerate(zip(dev_outs, cpu_outs)):
            assert a.device.type == "cuda" or not stays, f"{row.name} output {j} came back on {a.device}"
            if row.check is None:  # random ops: values differ by design
                assert_close(_host(a), _host(b), **tol, msg=f"{row.name} case {k} output {j}")
        for j, (a, b) in enumerate(zip(dev_grads, cpu_grads)):
            if a is None or b is None:
                assert a is None and b is None, f"{row.name} case {k} grad {j}"
                continue
            assert a.device.type == "cuda"
            assert_close(_host(a), _host(b), **tol, msg=f"{row.name} case {k} gradient {j}")


# -- every nn layer ----------------------------------------------------------------------------------------------
def _layer_specs():
    from test_nn_layers import SPECS

    return SPECS


@pytest.mark.parametrize("spec", _layer_specs(), ids=[s.name for s in _layer_specs()])
def test_nn_layer_on_device_matches_cpu(spec, dev):
    rng = np.random.default_rng(3)
    ember.manual_seed(0)
    cpu_mod = getattr(ember.nn, spec.cls)(*spec.args, **spec.kwargs)
    dev_mod = getattr(ember.nn, spec.cls)(*spec.args, **spec.kwargs)
    dev_mod.load_state_dict(cpu_mod.state_dict())
    dev_mod.to(dev)
    train = not spec.random_train  # dropout layers: compare in eval mode only
    cpu_mod.train(train)
    dev_mod.train(train)
    for _ in range(2):
        arrays = spec.inputs(rng) if spec.inputs is not None else [rng.normal(size=spec.shape) * 2]
        outs = []
        for mod, device in ((cpu_mod, "cpu"), (dev_mod, dev)):
            ins = [ember.tensor(a.astype(np.int64)) if a.dtype.kind in "iu" else
                   ember.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
            ins = [t.to(device).detach().requires_grad_(t.requires_grad) for t in ins]
            out = mod(*ins)
            (out * out).sum().backward()
            outs.append((out, ins))
        (co, ci), (do, di) = outs
        assert do.device.type == "cuda"
        assert_close(_host(do), _host(co), rtol=1e-4, atol=1e-5, msg=spec.name)
        for a, b in zip(di, ci):
            if b.requires_grad:
                assert_close(_host(a.grad), _host(b.grad), rtol=1e-4, atol=1e-4, msg=f"{spec.name} input grad")
    for (name, p), q in zip(dev_mod.named_parameters(), cpu_mod.parameters()):
        assert p.device.type == "cuda" and p.grad.device.type == "cuda", name
        assert_close(_host(p.grad), _host(q.grad), rtol=1e-4, atol=1e-4, msg=f"{spec.name}.{name}.grad")
    for (name, b), c in zip(dev_mod.state_dict().items(), cpu_mod.state_dict().values()):
        assert_close(_host(b), _host(c), rtol=1e-4, atol=1e-5, msg=f"{spec.name} state {name}")


# -- optimizers and a compiled training step ---------------------------------------------------------------------
OPTIMIZERS = [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ("Adam", {"lr": 1e-2}),
              ("AdamW", {"lr": 1e-2, "weight_decay": 0.1}), ("RMSprop", {"lr": 1e-2, "momentum": 0.5})]


def _mlp(device, seed=0):
    ember.manual_seed(seed)
    model = ember.nn.Sequential(ember.nn.Linear(12, 32), ember.nn.GELU(), ember.nn.LayerNorm(32),
                                ember.nn.Linear(32, 5))
    return model.to(device)


def _data(device, n=16):
    rng = np.random.default_rng(7)
    x = ember.tensor(rng.standard_normal((n, 12)).astype(np.float32), device=device)
    y = ember.tensor(rng.integers(0, 5, n), device=device)
    return x, y


@pytest.mark.parametrize("name, kw", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_steps_on_device_match_cpu(name, kw, dev):
    runs = []
    for device in ("cpu", dev):
        model = _mlp(device)
        opt = getattr(ember.optim, name)(model.parameters(), **kw)
        x, y = _data(device)
        for _ in range(3):
            opt.zero_grad()
            ember.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        runs.append(model)
    for p, q in zip(runs[1].parameters(), runs[0].parameters()):
        assert p.device.type == "cuda"
        assert_close(_host(p), _host(q), rtol=1e-4, atol=1e-5)


class _TokenModel(ember.nn.Module):
    """Embedding -> LSTM or a transformer encoder layer -> per-token logits (the bench's lstm/transformer kind:
    their embedding backward is a row scatter in compiled graphs)."""

    def __init__(self, kind, vocab=20, width=16):
        super().__init__()
        self.embed = ember.nn.Embedding(vocab, width)
        self.kind = kind
        self.body = ember.nn.LSTM(width, width, batch_first=True) if kind == "lstm" else \
            ember.nn.TransformerEncoderLayer(width, 2, 32, dropout=0.0, batch_first=True)
        self.head = ember.nn.Linear(width, vocab)

    def forward(self, tokens):
        h = self.body(self.embed(tokens))
        return self.head(h[0] if self.kind == "lstm" else h).reshape(-1, 20)


def _step_case(kind, device):
    ember.manual_seed(0)
    rng = np.random.default_rng(5)
    if kind == "mlp":
        return (_mlp(device),) + _data(device)
    if kind == "conv":
        model = ember.nn.Sequential(ember.nn.Conv2d(2, 4, 3, padding=1), ember.nn.BatchNorm2d(4), ember.nn.ReLU(),
                                    ember.nn.MaxPool2d(2), ember.nn.Flatten(), ember.nn.Linear(36, 5)).to(device)
        x = ember.tensor(rng.standard_normal((8, 2, 6, 6)).astype(np.float32), device=device)
        return model, x, ember.tensor(rng.integers(0, 5, 8), device=device)
    tokens = ember.tensor(rng.integers(0, 20, (4, 6)), device=device)
    return _TokenModel(kind).to(device), tokens, ember.tensor(rng.integers(0, 20, 24), device=device)


@pytest.mark.parametrize("kind", ["mlp", "conv", "lstm", "transformer"])
def test_compiled_training_step_on_device_matches_eager_cpu(kind, dev):
    losses = []
    for device, compiled in (("cpu", False), (dev, True)):
        model, x, y = _step_case(kind, device)
        step = classifier_step(model, ember.optim.Adam(model.parameters(), lr=1e-2), x, y)
        fn = ember.compile(step) if compiled else step
        losses.append([fn().item() for _ in range(5)])
        if compiled:
            assert fn.stats["cache_hits"] >= 3 and not fn.stats["fallbacks"], fn.stats
    assert_close(np.array(losses[1]), np.array(losses[0]), rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_cuda_executor_fuses_elementwise_kernels(real_gpu):
    from ember.graph import kernels

    x = ember.randn(256, 256, device=real_gpu)
    f = ember.compile(lambda a: ((a * 2 + 1).tanh() * a.sigmoid()).sum(-1))
    assert_close(_host(f(x)), _host(((x * 2 + 1).tanh() * x.sigmoid()).sum(-1)), rtol=1e-5, atol=1e-5)
    assert any(isinstance(k, kernels.CudaKernel) for k in kernels._CACHE.values())


# -- moves, pinned memory, DataLoader --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"])
def test_to_device_round_trips(dtype, dev):
    arr = (np.random.default_rng(0).standard_normal((3, 5)) * 10).astype(dtype)
    t = ember.tensor(arr)
    d = t.to(dev)
    assert d.device == ember.device("cuda:0") and d.dtype == t.dtype and d.is_cuda
    assert np.array_equal(d.cpu().numpy(), arr) and np.array_equal(d.to("cpu").numpy(), arr)
    assert d.cuda() is d or d.cuda().device == d.device
    x = ember.tensor(arr.astype(np.float32), requires_grad=True)
    (x.to(dev) * 3).sum().backward()
    assert x.grad.device.type == "cpu" and np.allclose(x.grad.numpy(), 3)


@pytest.mark.gpu
def test_bfloat16_round_trip(real_gpu):
    if ember.bfloat16 is None:
        pytest.skip("needs ml_dtypes")
    t = ember.randn(4, 4).bfloat16()
    assert np.array_equal(t.to(real_gpu).cpu().float().numpy(), t.float().numpy())


def test_pinned_dataloader_batches_move_to_device(dev):
    data = ember.utils.data.TensorDataset(ember.arange(40.0).reshape(20, 2), ember.arange(20))
    seen = []
    for xb, yb in ember.utils.data.DataLoader(data, batch_size=8, pin_memory=True):
        xd, yd = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        assert xd.device.type == "cuda" and np.array_equal(xd.cpu().numpy(), xb.numpy())
        seen.extend(yd.cpu().tolist())
    assert seen == list(range(20))


# -- mixed precision on the GPU ----------------------------------------------------------------------------------
def _autocast_table():
    from test_amp import TABLE

    return TABLE


@pytest.mark.gpu
@pytest.mark.parametrize("low", ["float16", "bfloat16"])
@pytest.mark.parametrize("name, fn, inputs", _autocast_table(), ids=[r[0] for r in _autocast_table()])
def test_cuda_autocast_dtypes_match_torch_cuda(name, fn, inputs, low, real_gpu):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA here")
    if name == "binary_cross_entropy":
        pytest.skip("refused under CUDA autocast by both (checked in test_cuda_autocast_refuses_bce)")

    def run(lib):
        ts = [lib.tensor(a).to(getattr(lib, "bfloat16" if dt == "bfloat16" else dt)).to("cuda") for dt, a in inputs]
        with lib.autocast(device_type="cuda", dtype=getattr(lib, low)):
            return fn(lib, *ts)

    ours, theirs = run(ember), run(torch)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), name
    expected = theirs.detach().float().cpu().numpy()
    assert_close(_host(ours.float()), expected, rtol=2e-2, atol=2e-2 * max(1.0, np.abs(expected).max()))


@pytest.mark.gpu
def test_cuda_autocast_refuses_bce(real_gpu):
    p = ember.rand(4, device=real_gpu) * 0.8 + 0.1
    with ember.autocast("cuda"), pytest.raises(RuntimeError, match="binary_cross_entropy_with_logits"):
        ember.nn.functional.binary_cross_entropy(p, p)


@pytest.mark.gpu
@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_cuda_autocast_training_with_grad_scaler(low, real_gpu):
    model = _mlp(real_gpu)
    opt = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = ember.amp.GradScaler("cuda", init_scale=2.0 ** 12)
    x, y = _data(real_gpu, 64)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        with ember.autocast("cuda", dtype=getattr(ember, low)):
            out = model(x)
            loss = ember.nn.functional.cross_entropy(out, y)
        assert out.dtype.name == low and loss.dtype == ember.float32
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert all(p.dtype == ember.float32 for p in model.parameters())
    assert losses[-1] < 0.7 * losses[0], losses


# -- device memory and the torch.cuda names ----------------------------------------------------------------------
@pytest.mark.gpu
def test_memory_stays_flat_over_10000_steps(real_gpu):
    model = ember.nn.Sequential(ember.nn.Linear(32, 32), ember.nn.ReLU(), ember.nn.Linear(32, 4)).to(real_gpu)
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    x, y = ember.randn(16, 32, device=real_gpu), ember.randint(0, 4, (16,), device=real_gpu)
    marks = []
    for i in range(10_000):
        opt.zero_grad()
        ember.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if i in (100, 5_000, 9_999):
            ember.cuda.synchronize()
            marks.append(ember.cuda.memory_allocated())
    assert marks[0] > 0 and marks[-1] == marks[0] == marks[1], marks
    assert ember.cuda.max_memory_allocated() >= marks[0]


@pytest.mark.gpu
def test_out_of_memory_names_shape_and_memory_in_use(real_gpu):
    keep = ember.ones(1024, 1024, device=real_gpu)  # something in use, so the figure is not 0
    free, total = ember.cuda.mem_get_info()
    n = int(total // 4 * 2)  # float32 elements: twice the device
    with pytest.raises(RuntimeError) as info:
        ember.empty(n, device=real_gpu)
    msg = str(info.value)
    assert "out of memory" in msg and f"({n},)" in msg and "in use" in msg and ("MiB" in msg or "GiB" in msg)
    with pytest.raises(RuntimeError) as info:
        keep[:1].expand(n // 1024, 1024).contiguous()
    assert f"({n // 1024}, 1024)" in str(info.value) and "in use" in str(info.value)


@pytest.mark.gpu
def test_cuda_namespace_on_a_gpu(real_gpu):
    c = ember.cuda
    assert c.is_available() and c.device_count() >= 1 and c.current_device() == 0
    assert c.get_device_name() and c.get_device_capability()[0] >= 5 and "name=" in repr(c.get_device_properties())
    assert ember.accelerator.current_accelerator() == ember.device("cuda")
    assert ember.accelerator.current_device_index() == 0
    before = c.memory_allocated()
    x = ember.empty(1 << 20, device=real_gpu)  # 4 MiB
    assert c.memory_allocated() >= before + 4 * 2 ** 20 and c.max_memory_allocated() >= c.memory_allocated()
    del x
    c.empty_cache()
    start, end = c.Event(enable_timing=True), c.Event(enable_timing=True)
    s = c.Stream()
    with c.stream(s):
        start.record()
        y = ember.randn(1024, 1024, device=real_gpu) @ ember.randn(1024, 1024, device=real_gpu)
        end.record()
    end.synchronize()
    assert start.elapsed_time(end) > 0 and end.query()
    c.synchronize()
    s.synchronize()
    assert y.shape == (1024, 1024)
    c.manual_seed_all(3)
    a = ember.randn(3, device=real_gpu)
    c.manual_seed(3)
    assert ember.equal(a, ember.randn(3, device=real_gpu))
