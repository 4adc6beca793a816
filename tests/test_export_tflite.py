"""TFLite export (optional extra ``tflite``): each row is exported with ember.export.tflite, run in the LiteRT
interpreter at two batch sizes (inputs resized through the dynamic batch dim) and compared with Ember's eager
output; the lowering table covers every primitive or says why not."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import keras, nn
from ember.export import ExportError
from ember.ops import REGISTRY

pytest.importorskip("flatbuffers")
litert = pytest.importorskip("ai_edge_litert.interpreter")
from ember.export.tfl import LOWERINGS, UNSUPPORTED  # noqa: E402

RTOL = ATOL = 1e-5


def run_litert(data: bytes, inputs: list) -> list:
    interp = litert.Interpreter(model_content=data)
    details = interp.get_input_details()
    for d, x in zip(details, inputs):
        interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    for d, x in zip(details, inputs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def _eager(fn, xs):
    with ember.no_grad():
        out = fn(*[ember.tensor(x) for x in xs])
    return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]


def _f(*shape, lo=-2.0, hi=2.0):
    return lambda rng, b: rng.uniform(lo, hi, (b,) + shape).astype(np.float32)


def _i(*shape, hi=10):
    return lambda rng, b: rng.integers(0, hi, (b,) + shape).astype(np.int64)


def _seeded(make):
    ember.manual_seed(0)
    return make().eval()


class Dense(nn.Module):
    """A Keras-style dense layer (x @ W + b): a constant right operand becomes FULLY_CONNECTED."""

    def __init__(self):
        super().__init__()
        self.w, self.b = nn.Parameter(ember.randn(6, 4)), nn.Parameter(ember.randn(4))

    def forward(self, x):
        return ember.sigmoid(x @ self.w + self.b)


# name, model or function, input makers (dim 0 is the batch)
ROWS = [
    ("mlp", lambda: _seeded(lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 10),
                                                  nn.Softmax(-1))), [_f(3, 4)]),
    ("dense_matmul_const", lambda: _seeded(Dense), [_f(6)]),
    ("layer_norm_tanh", lambda: _seeded(lambda: nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Tanh())),
     [_f(5, 8)]),
    ("embedding_gather", lambda: _seeded(lambda: nn.Sequential(nn.Embedding(10, 4), nn.Flatten(),
                                                               nn.Linear(12, 3))), [_i(3)]),
    ("unary", lambda: lambda x: (x.exp() - x.tanh() + x.sigmoid() * x.abs().sqrt() - x.neg().sin() + x.cos()
                                 + x.abs().log() + x.floor() + x.ceil() + x.round() + x.sign() + x.trunc()),
     [_f(7, lo=0.1, hi=3.0)]),
    ("binary_broadcast", lambda: lambda x, y: ((x + y) * (x - 1.5) / (y.abs() + 1) + x.abs() ** 1.5
                                               + ember.maximum(x, y) - ember.minimum(x, y * 2)
                                               + (x // 0.7) + (x % 0.7)), [_f(3, 4), _f(1, 4)]),
    ("compare_where_cast", lambda: lambda x, y: (ember.where((x > y) & ~(x <= 0.3) | (x == y), x, y * 2)
                                                 + (x >= y).float() + (x < 0).float() * (x != y).float()),
     [_f(5), _f(5)]),
    ("reductions", lambda: lambda x: (x.sum(1), x.mean((1, 2), keepdim=True), x.amax(2), x.amin(-1, keepdim=True),
                                      (x.abs() + 0.5).prod(1)), [_f(3, 4)]),
    ("arg_and_cumsum", lambda: lambda x: (x.argmax(1), x.argmin(-1, keepdim=True), x.cumsum(1)), [_f(6)]),
    ("shapes", lambda: lambda x, y: ember.cat([x.permute(0, 2, 1).reshape(-1, 12), y], 1).unsqueeze(1),
     [_f(4, 3), _f(5)]),
    # expand keeps the example's sizes in its attr, so it traces with a static batch (BROADCAST_TO)
    ("expand_static", lambda: lambda x: x.unsqueeze(1).expand(-1, 3, -1) * 2, [_f(5)], False),
    ("pad_slice_index", lambda: lambda x: (ember.nn.functional.pad(x, (1, 2), value=-1.0)[:, 1:-1:2],
                                           x[:, -1], x[..., None, 0], x[:, ::-1]), [_f(4, 5)]),
    ("softmax_axis_1", lambda: lambda x: ember.softmax(x, 1) * 3, [_f(4, 5)]),
    ("batched_matmul_and_vectors", lambda: lambda x, y: (x @ y, x[:, 0] @ y[0, :, 0]), [_f(2, 3), _f(3, 4)]),
]


@pytest.mark.parametrize("name, make, inputs, dynamic", [r + (True,) * (4 - len(r)) for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_litert_matches_ember_at_two_batch_sizes(name, make, inputs, dynamic, tmp_path):
    fn = make()
    rng = np.random.default_rng(0)
    example = [ember.tensor(m(rng, 2)) for m in inputs]
    data = ember.export.tflite(fn, tuple(example), tmp_path / "m.tflite", dynamic_batch=dynamic)
    assert (tmp_path / "m.tflite").read_bytes() == data and data[4:8] == b"TFL3"
    for batch in (1, 5) if dynamic else (2,):
        xs = [m(rng, batch) for m in inputs]
        got, want = run_litert(data, xs), _eager(fn, xs)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def test_every_primitive_is_lowered_or_says_why_not():
    missing = sorted(set(REGISTRY) - set(LOWERINGS) - set(UNSUPPORTED))
    assert not missing, f"primitives with no TFLite lowering and no stated reason: {missing}"
    assert not set(LOWERINGS) & set(UNSUPPORTED)
    assert all(isinstance(r, str) and len(r) > 20 for r in UNSUPPORTED.values())
    stale = sorted((set(LOWERINGS) | set(UNSUPPORTED)) - set(REGISTRY) - {"fused"})
    assert not stale, f"the TFLite tables name ops the registry does not have: {stale}"


class Asin(nn.Module):
    def forward(self, x):
        return x.asin()


def test_unsupported_op_names_op_layer_and_line():
    model = nn.Sequential(nn.Linear(2, 2), Asin()).eval()
    with pytest.raises(ExportError) as err:
        ember.export.tflite(model, (ember.randn(1, 2),))
    msg = str(err.value)
    assert "op 'asin'" in msg and "layer '1'" in msg and "test_export_tflite.py:" in msg, msg
    assert "ONNX export has it" in msg


def test_float64_is_refused_with_the_fix():
    with pytest.raises(ExportError, match="model.float"):
        ember.export.tflite(nn.Linear(2, 2).double().eval(), (ember.randn(1, 2, dtype=ember.float64),))


def test_signature_runner_and_keras_export(tmp_path):
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Dense(5, activation="relu", name="h")(keras.layers.Concatenate()([a, b]))
    model = keras.Model([a, b], keras.layers.Dense(2, activation="softmax", name="probs")(h))
    model.export(str(tmp_path / "m.tflite"), format="tflite", verbose=False)
    interp = litert.Interpreter(model_path=str(tmp_path / "m.tflite"))
    runner = interp.get_signature_runner("serving_default")
    xa, xb = np.random.rand(3, 4).astype(np.float32), np.random.rand(3, 3).astype(np.float32)
    out = runner(a=xa, b=xb)
    assert list(out) == ["probs"]
    np.testing.assert_allclose(out["probs"], np.asarray(model([xa, xb])), rtol=RTOL, atol=ATOL)


def test_a_loaded_artifact_exports_too(tmp_path):
    model = _seeded(lambda: nn.Sequential(nn.Linear(4, 3), nn.Sigmoid()))
    ember.export.save(ember.export.export(model, (ember.ones(2, 4),), dynamic_batch=True), tmp_path / "m.ember")
    data = ember.export.tflite(ember.export.load(tmp_path / "m.ember"), None)
    x = np.random.rand(6, 4).astype(np.float32)
    np.testing.assert_allclose(run_litert(data, [x])[0], _eager(model, [x])[0], rtol=RTOL, atol=ATOL)


def test_hand_built_dynamic_graph_expand_and_reshape():
    """IR with dynamic dims written directly (expand to a dynamic target: the broadcast-add form; the
    registry's expand itself takes concrete sizes, so the reference is NumPy's)."""
    from ember.export import ExportedProgram, TensorSpec
    from ember.graph import Graph

    g = Graph()
    x = g.add_input((None, 1, 4), "float32", hint="x")
    y = g.add_node("expand", [x], {"shape": (-1, 3, -1)})
    g.outputs.append(g.add_node("reshape", [y], {"shape": (-1, 12)}))
    prog = ExportedProgram(g, [TensorSpec("x", (None, 1, 4), "float32", ("batch", None, None))],
                           [TensorSpec("y", (None, 12), "float32", ("batch", None))])
    data = ember.export.tflite(prog, None)
    for batch in (1, 4):
        xs = np.random.rand(batch, 1, 4).astype(np.float32)
        want = np.broadcast_to(xs, (batch, 3, 4)).reshape(batch, 12)
        np.testing.assert_array_equal(run_litert(data, [xs])[0], want)


def _gelu_primitive_program(op="gelu_erf"):
    """A graph holding one unary primitive ``op`` itself (for gelu_erf: a decomposed layer's form, not the
    ``gelu`` layer)."""
    from ember.export import ExportedProgram, TensorSpec
    from ember.graph import Graph

    g = Graph()
    x = g.add_input((None, 6), "float32", hint="x")
    g.outputs.append(g.add_node(op, [x]))
    return ExportedProgram(g, [TensorSpec("x", (None, 6), "float32", ("batch", None))],
                           [TensorSpec("y", (None, 6), "float32", ("batch", None))])


def test_gelu_primitive_lowers_to_tflite_gelu_and_onnx():
    prog = _gelu_primitive_program()
    xs = np.linspace(-5, 5, 18, dtype=np.float32).reshape(3, 6)
    want = ember.ops.apply("gelu_erf", ember.tensor(xs)).numpy()
    np.testing.assert_allclose(run_litert(ember.export.tflite(prog, None), [xs])[0], want, rtol=1e-5, atol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    from ember.export.onnx import to_onnx

    for opset in (17, 20):  # the erf form, then ONNX's Gelu
        proto = to_onnx(prog.graph, ["x"], ["y"], opset_version=opset)
        assert ("Gelu" in {n.op_type for n in proto.graph.node}) == (opset >= 20)
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(sess.run(None, {"x": xs})[0], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["log1p", "expm1"])
def test_log1p_and_expm1_primitives_run_in_litert_and_onnxruntime(op):
    """Neither format has the op: log(1 + x) and exp(x) - 1 stand in (float32 rounding apart from tiny x)."""
    prog = _gelu_primitive_program(op)
    xs = np.linspace(-0.9, 3, 18, dtype=np.float32).reshape(3, 6)
    want = getattr(np, op)(xs.astype(np.float64))
    np.testing.assert_allclose(run_litert(ember.export.tflite(prog, None), [xs])[0], want, rtol=1e-5, atol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    from ember.export.onnx import to_onnx

    sess = ort.InferenceSession(to_onnx(prog.graph, ["x"], ["y"]).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": xs})[0], want, rtol=1e-5, atol=1e-6)
