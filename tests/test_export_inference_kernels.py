"""The executor of a loaded program runs conv and max_pool layer nodes through their inference kernels
(``ember/ops/layers/conv_infer.py``) and folds relu into the linear/conv before it; its outputs equal the
previous executor's (every layer decomposed, relu a node of its own) and eager Ember's, at batch sizes 1 and 5
through a dynamic batch, with and without the compiled (numba) epilogue. Bad input still gets the same errors
on the fast call path."""

from __future__ import annotations

import io

import numpy as np
import pytest

import ember
from ember import nn
from ember._threads import blas_controllers
from ember.export import ExportError
from ember.graph import executor, infer_linear
from ember.ops import linalg

BATCHES = (1, 5)


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(8, 16)

    def forward(self, tokens):
        return self.head(self.layer(self.embed(tokens)))


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.rnn, self.head = nn.Embedding(16, 8), nn.LSTM(8, 12, batch_first=True), nn.Linear(12, 16)

    def forward(self, tokens):
        return self.head(self.rnn(self.embed(tokens))[0])


class ConvOut(nn.Module):
    """A conv whose output is both relu'd and returned: the relu must not be folded into it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)

    def forward(self, x):
        y = self.conv(x)
        return y, ember.relu(y)


class ConvPoolOut(nn.Module):
    """A conv whose output is pooled and returned: the pool must not be folded into it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)

    def forward(self, x):
        y = self.conv(x)
        return y, ember.nn.functional.max_pool2d(y, 2)


def images(c=2, size=9, nd=2):
    return lambda b: (ember.randn(b, c, *([size] * nd)),)


def tokens(b):
    return (ember.randint(0, 16, (b, 7)),)


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 5 * 5, 8), nn.ReLU(), nn.Linear(8, 3))


# (name, model, inputs by batch size, conv/max_pool nodes run by their inference kernels)
ROWS = [
    ("mlp", lambda: nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)),
     lambda b: (ember.randn(b, 12),), 0),
    ("cnn", cnn, images(1, 14), 2),  # conv2's relu and max pool folded into it
    ("conv_padding_stride", lambda: nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU()), images(), 1),
    ("conv_same_dilation", lambda: nn.Conv2d(2, 4, 3, padding="same", dilation=2, bias=False), images(), 1),
    ("conv_rect_stride", lambda: nn.Conv2d(2, 4, (3, 2), stride=(1, 2), padding=(1, 0)), images(), 1),
    ("conv1d", lambda: nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2)),
     images(nd=1), 1),
    ("conv_pool_stride_odd", lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.MaxPool2d(3, stride=2)),
     images(size=12), 1),
    ("conv_pool_no_relu", lambda: nn.Sequential(nn.Conv2d(2, 4, 3, stride=2), nn.MaxPool2d((2, 1))), images(), 1),
    ("conv_pool_padded", lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.MaxPool2d(2, padding=1)),
     images(), 2),
    ("conv_pool_out_too", ConvPoolOut, images(), 2),
    ("cnn_float64", lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                          nn.Linear(36, 5)).double(), lambda b: (ember.randn(b, 2, 9, 9).double(),), 1),
    ("conv3d", lambda: nn.Sequential(nn.Conv3d(2, 3, 2), nn.ReLU(), nn.MaxPool3d(2)), images(size=5, nd=3), 2),
    ("conv_groups", lambda: nn.Sequential(nn.Conv2d(2, 4, 3, groups=2), nn.ReLU()), images(), 0),
    ("conv_out_and_relu", ConvOut, images(), 1),
    ("pool_padding_ceil", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), images(), 1),
    ("pool_dilation", lambda: nn.MaxPool2d(2, stride=1, dilation=2), images(), 1),
    # >= 8 channels in and out, 3x3, stride 1: Winograd F(2x2, 3x3) (conv_winograd_infer) where numba is there
    ("winograd_cnn", lambda: nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                                           nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 3)), images(1, 13), 2),
    ("winograd_padded_odd", lambda: nn.Sequential(nn.Conv2d(8, 9, 3, padding=(1, 2), bias=False), nn.ReLU()),
     images(8, 9), 1),
    ("winograd_pool_even", lambda: nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.MaxPool2d(2)), images(8, 10), 1),
    ("winograd_other_pool", lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(3, stride=2)),
     images(8, 11), 1),
    ("lstm", Lstm, tokens, 0),
    ("transformer", Transformer, tokens, 0),
]


def _previous_executor(monkeypatch, graph, jit):
    """The executor as it was: every layer decomposed, relu a node of its own."""
    with monkeypatch.context() as m:
        m.setattr(executor, "keep_kernel_layers", lambda g: None)
        m.setattr(executor, "fold_relu", lambda g: None)
        m.setattr(executor, "fold_pool", lambda g: None)
        return executor.build(graph, jit=jit)


def _loaded(model, make):
    buf = io.BytesIO()
    ember.export.save(ember.export.export(model, make(2), dynamic_batch=True), buf)
    buf.seek(0)
    return ember.export.load(buf)


@pytest.mark.parametrize("jit", [True, False], ids=["numba", "numpy"])
@pytest.mark.parametrize("name, build, make, kernels", ROWS, ids=[r[0] for r in ROWS])
def test_lean_executor_equals_previous_executor_and_eager(monkeypatch, name, build, make, kernels, jit):
    if jit and not executor.kernels.jit_available("cpu"):
        pytest.skip("numba is not installed")
    ember.manual_seed(0)
    model = build().eval()
    prog = _loaded(model, make)
    lean, before = executor.build(prog.graph, jit=jit), _previous_executor(monkeypatch, prog.graph, jit)
    assert sum(n.meta.get("kernel") == "inference" for n in lean.graph.nodes) == kernels, lean.graph
    for b in BATCHES:
        xs = make(b)
        arrays = [x.numpy() for x in xs]
        with ember.no_grad():
            eager = model(*xs)
        eager = [t.numpy() for t in (eager if isinstance(eager, tuple) else (eager,))]
        got, ref = lean(*arrays), before(*arrays)
        for g, r, e in zip(got, ref, eager):
            assert g.shape == r.shape == e.shape and g.dtype == r.dtype
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_relu_is_folded_only_where_it_is_the_only_reader():
    ember.manual_seed(0)
    prog = _loaded(cnn().eval(), images(1, 14))
    nodes = executor.build(prog.graph, jit=False).graph.nodes
    assert [n.op for n in nodes] == ["conv", "conv", "reshape", "linear", "linear"]
    assert [n.meta.get("activation") for n in nodes] == ["relu", "relu", None, "relu", None]
    assert [n.meta.get("pool", {}).get("kernel") for n in nodes] == [None, (2, 2), None, None, None]
    assert nodes[1].outputs[0].shape[2:] == (5, 5)  # the pooled map
    prog = _loaded(ConvOut().eval(), images())
    nodes = executor.build(prog.graph, jit=False).graph.nodes
    assert [(n.op, n.meta.get("activation")) for n in nodes] == [("conv", None), ("relu", None)]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN passes through kernels silently, as in PyTorch
def test_nan_and_negative_zero_pass_as_before(monkeypatch):
    """relu and max pooling keep NaN (and max keeps the first of equal values) in the kernels too."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(), nn.MaxPool2d(2)).eval()
    prog = _loaded(model, images(1, 4))
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 0], x[0, 0, 3, 3] = np.nan, -0.0
    got = executor.build(prog.graph)(x)[0]
    ref = _previous_executor(monkeypatch, prog.graph, None)(x)[0]
    np.testing.assert_array_equal(got, ref)
    assert np.isnan(got[0, :, 0, 0]).all()


# ----------------------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def one_input():
    return ember.export.export(cnn().eval(), (ember.randn(2, 1, 14, 14),), dynamic_batch=True)


f32 = np.float32
BAD_ROWS = [
    ("wrong_dtype", np.ones((2, 1, 14, 14)), "got dtype float64; convert it with .astype('float32')"),
    ("wrong_shape", np.ones((2, 1, 14, 13), f32), "(float32[batch, 1, 14, 14]) got shape (2, 1, 14, 13)"),
    ("wrong_rank", np.ones((1, 14, 14), f32), "got shape (1, 14, 14)"),
]


@pytest.mark.parametrize("name, x, words", BAD_ROWS, ids=[r[0] for r in BAD_ROWS])
def test_bad_input_gets_the_same_error_on_every_path(one_input, name, x, words):
    for call in (lambda: one_input.run([x]), lambda: one_input.run(x), lambda: one_input(ember.tensor(x)),
                 lambda: one_input.run({"input": x})):
        with pytest.raises(ExportError) as err:
            call()
        assert words in str(err.value), str(err.value)
        assert "test_export_inference_kernels.py" in str(err.value)  # the user's line


def test_good_input_runs_on_every_path(one_input):
    x = np.random.default_rng(0).standard_normal((3, 1, 14, 14)).astype(f32)
    ref = one_input.run([x])[0]
    np.testing.assert_array_equal(one_input.run(x)[0], ref)
    np.testing.assert_array_equal(one_input(ember.tensor(x)).numpy(), ref)
    assert ref.shape == (3, 3)


# ----------------------------------------------------------------------------------------- BLAS threads
def test_split_gemm_blocks_equal_one_gemm(monkeypatch):
    from ember.graph import gemm_split
    from ember.ops.linalg import gemm

    monkeypatch.setattr(gemm_split, "SPLIT_MIN", 1)
    monkeypatch.setattr(gemm_split, "_HELD", [2])  # as inside a OneBlasThread block of a 2-thread BLAS
    rng = np.random.default_rng(0)
    for a_shape, b_shape in [((64, 40), (40, 24)), ((5, 40), (40, 300)), ((3, 4, 40), (40, 7))]:
        a, b = rng.standard_normal(a_shape).astype(np.float32), rng.standard_normal(b_shape).astype(np.float32)
        out = np.empty(a_shape[:-1] + b_shape[1:], np.float32)
        np.testing.assert_allclose(gemm_split.split_gemm(gemm)(np, a, b, out), a @ b, rtol=1e-5, atol=1e-5)
    # a narrow output (fewer than NARROW columns or rows) stays one GEMM: NumPy's matmul holds the GIL there
    jobs = []
    monkeypatch.setattr(linalg, "run_job", lambda *a: jobs.append(a))
    a, b = rng.standard_normal((64, 400)).astype(np.float32), rng.standard_normal((400, 9)).astype(np.float32)
    np.testing.assert_allclose(gemm_split.split_gemm(gemm)(np, a, b, np.empty((64, 9), np.float32)), a @ b,
                               rtol=1e-5, atol=1e-5)
    assert jobs == []


def test_programs_hold_blas_at_one_thread_and_restore_it(monkeypatch):
    from ember.graph import gemm_split

    controllers = blas_controllers()
    if not controllers:
        pytest.skip("threadpoolctl is not installed")
    ember.manual_seed(0)
    prog = _loaded(cnn().eval(), images(1, 14))
    # a batch above infer_linear.ROWS_MAX: the linears run as BLAS GEMMs too
    x = np.random.default_rng(0).standard_normal((infer_linear.ROWS_MAX + 1, 1, 14, 14)).astype(f32)
    monkeypatch.setattr(gemm_split, "ENABLED", False)
    ref = prog.run([x])[0]
    monkeypatch.setattr(gemm_split, "ENABLED", True)
    monkeypatch.setattr(gemm_split, "HOLD_MIN", 1)
    monkeypatch.setattr(gemm_split, "SPLIT_MIN", 1)
    monkeypatch.setattr(gemm_split, "NARROW", 1)  # (the small model's outputs are narrow: split them anyway)
    seen = []
    monkeypatch.setattr(linalg, "run_job", lambda fn, size, chunk, n: (seen.append(n), fn(0, size)))
    before = [c.get_num_threads() for c in controllers]
    np.testing.assert_allclose(prog.run([x])[0], ref, rtol=1e-5, atol=1e-5)
    assert [c.get_num_threads() for c in controllers] == before and gemm_split._HELD == []
    assert len(seen) == (4 if max(before) > 1 else 0)  # both convs and both linears, split when BLAS had threads


def test_scratch_not_kept_past_its_limit_gives_the_same_results(monkeypatch):
    from ember.ops.layers import conv_infer

    ember.manual_seed(0)
    prog = _loaded(nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU()).eval(), images())
    before = _previous_executor(monkeypatch, prog.graph, None)
    monkeypatch.setattr(conv_infer, "KEEP_BYTES", 0)
    lean = executor.build(prog.graph)
    for b in (5, 1, 5):  # every call rebuilds its columns and padded copy
        x = np.random.default_rng(b).standard_normal((b, 2, 9, 9)).astype(f32)
        np.testing.assert_allclose(lean(x)[0], before(x)[0], rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------- Winograd at small batch
def _winograd_program(pool=True):
    ember.manual_seed(0)
    layers = [nn.Conv2d(8, 16, 3), nn.ReLU()] + ([nn.MaxPool2d(2)] if pool else [])
    return _loaded(nn.Sequential(*layers).eval(), images(8, 12))


def _conv_kernels(exe):
    from ember.ops.layers import conv_infer, conv_winograd_infer

    kinds = {conv_infer.ConvKernel: "columns", conv_winograd_infer.WinogradConvKernel: "winograd"}
    return [kinds[type(fn)] for fn in exe._gen.ns.values() if type(fn) in kinds]


needs_numba = pytest.mark.skipif(not executor.kernels.jit_available("cpu"), reason="numba is not installed")


@needs_numba
@pytest.mark.parametrize("pool", [True, False], ids=["pool", "no_pool"])
def test_winograd_is_chosen_and_matches_the_columns_form(monkeypatch, pool):
    prog = _winograd_program(pool)
    exe = executor.build(prog.graph, jit=True)
    assert _conv_kernels(exe) == ["winograd"]
    assert _conv_kernels(executor.build(prog.graph, jit=False)) == ["columns"]  # its loops need numba
    columns = _previous_executor(monkeypatch, prog.graph, True)
    rng = np.random.default_rng(1)
    for b in (1, 3):
        x = rng.standard_normal((b, 8, 12, 12)).astype(np.float32)
        got, ref = exe(x)[0], columns(x)[0]
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=2e-6 * np.abs(ref).max())


@needs_numba
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("case", ["nan_inf_input", "nan_weight", "large_batch"])
def test_winograd_leaves_non_finite_values_and_large_batches_to_the_columns_form(monkeypatch, case):
    """NaN/inf stay in the windows that read them (Winograd's transforms would spread one over a whole tile),
    and a batch whose transform planes pass MAX_SCRATCH runs the columns form: the columns form's bits."""
    from ember.ops.layers import conv_winograd_infer

    prog = _winograd_program()
    x = np.random.default_rng(2).standard_normal((1, 8, 12, 12)).astype(np.float32)
    if case == "nan_inf_input":
        x[0, 3, 5, 5], x[0, 1, 0, 0] = np.nan, np.inf
    elif case == "nan_weight":
        w = next(v for v in prog.graph.constants.values() if v.ndim == 4)
        w[0, 0, 1, 1] = np.nan
    else:
        monkeypatch.setattr(conv_winograd_infer, "MAX_SCRATCH", 1)
        x = np.concatenate([x, x[:, ::-1]])
    exe = executor.build(prog.graph, jit=True)
    assert _conv_kernels(exe) == ["winograd"]
    kernel = next(fn for fn in exe._gen.ns.values() if isinstance(fn, conv_winograd_infer.WinogradConvKernel))
    monkeypatch.setattr(kernel, "input_tf", None)  # the Winograd path, if taken, would fail
    got = exe(x)[0]
    with monkeypatch.context() as m:
        m.setattr(conv_winograd_infer, "suits", lambda *a: False)
        columns = executor.build(prog.graph, jit=True)
    assert _conv_kernels(columns) == ["columns"]
    np.testing.assert_array_equal(got, columns(x)[0])
    assert case == "large_batch" or np.isnan(got).any()
