"""The ``model.ember`` artifact keeps the layer-level IR (format_version 2): layer nodes (conv, pools, norms,
embedding, LSTM/GRU, attention) round-trip with their attrs and decompositions, the loaded program runs through
the executor (which decomposes them) at two batch sizes, and converts to ONNX with layer ops. Version 1 files
(a decomposed graph) still load."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import ember
from ember import nn
from ember.export import ArtifactError

BATCHES = (1, 5)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class Recurrent(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.rnn = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0]


def tokens(b):
    return (ember.randint(0, 10, (b, 6)),)


def images(b):
    return (ember.randn(b, 2, 8, 8),)


def seqs(b):
    return (ember.randn(b, 5, 3),)


# (name, model, example inputs by batch size, layer ops in the IR, ONNX ops of the loaded artifact)
ROWS = [
    ("cnn", lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)), images,
     {"conv", "batch_norm", "max_pool", "adaptive_avg_pool"}, {"Conv", "MaxPool", "BatchNormalization"}),
    ("norms", lambda: nn.Sequential(nn.GroupNorm(2, 2), nn.Flatten(2), nn.LayerNorm(64), nn.GELU()), images,
     {"group_norm", "layer_norm", "gelu"}, {"LayerNormalization"}),
    ("embedding", lambda: nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.LogSoftmax(-1)), tokens,
     {"embedding", "log_softmax"}, {"Gather", "LogSoftmax"}),
    ("lstm", lambda: Recurrent("LSTM"), seqs, {"lstm"}, {"LSTM"}),
    ("gru", lambda: Recurrent("GRU"), seqs, {"gru"}, {"GRU"}),
    ("attention", Attention, lambda b: (ember.randn(b, 5, 8),), {"scaled_dot_product_attention"}, {"Softmax"}),
]


def _save_load(prog):
    buf = io.BytesIO()
    ember.export.save(prog, buf)
    buf.seek(0)
    return ember.export.load(buf), buf.getvalue()


@pytest.fixture(params=ROWS, ids=[r[0] for r in ROWS])
def row(request):
    ember.manual_seed(0)
    name, build, make, layers, onnx_ops = request.param
    model = build().eval()
    prog = ember.export.export(model, make(2), dynamic_batch=True)
    return model, make, layers, onnx_ops, prog


def test_layer_nodes_and_bodies_round_trip(row):
    model, make, layers, _, prog = row
    loaded, _ = _save_load(prog)
    assert layers <= {n.op for n in loaded.graph.nodes}
    # the same IR at both levels: layer nodes with their attrs, each with its decomposition
    assert loaded.graph.format(bodies=True) == prog.graph.format(bodies=True)
    assert all(n.meta["body"] is not None for n in loaded.graph.nodes if n.op in layers)
    for b in BATCHES:
        inputs = make(b)
        with ember.no_grad():
            want = model(*inputs).numpy()
        np.testing.assert_allclose(loaded(*inputs).numpy(), want, rtol=1e-5, atol=1e-5)


def test_loaded_artifact_exports_layer_ops_to_onnx(row):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from ember.export.onnx import program_to_onnx

    model, make, _, onnx_ops, prog = row
    loaded, _ = _save_load(prog)
    proto = program_to_onnx(loaded)
    onnx.checker.check_model(proto, full_check=True)
    assert onnx_ops <= {n.op_type for n in proto.graph.node}
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for b in BATCHES:
        inputs = make(b)
        with ember.no_grad():
            want = model(*inputs).numpy()
        got = sess.run(None, {s.name: t.numpy() for s, t in zip(loaded.input_specs, inputs)})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# -- format versions ------------------------------------------------------------------------------------------
def _rewrite(raw: bytes, edit) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        doc, weights = json.loads(z.read("program.json")), z.read("weights.safetensors")
    edit(doc)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("program.json", json.dumps(doc))
        z.writestr("weights.safetensors", weights)
    return out.getvalue()


def _cnn_program(**kw):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 2)).eval()
    return model, ember.export.export(model, images(2), dynamic_batch=True, **kw)


def test_format_version_1_still_loads(tmp_path):
    model, prog = _cnn_program(keep_layers=False)  # version 1 held the decomposed graph
    assert "conv" not in {n.op for n in prog.graph.nodes}
    _, raw = _save_load(prog)
    path = tmp_path / "v1.ember"
    path.write_bytes(_rewrite(raw, lambda d: d.update(format_version=1)))
    x = ember.randn(3, 2, 8, 8)
    with ember.no_grad():
        np.testing.assert_allclose(ember.export.load(path)(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_saved_format_version_is_2():
    _, prog = _cnn_program()
    _, raw = _save_load(prog)
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        doc = json.loads(z.read("program.json"))
    assert doc["format_version"] == ember.export.FORMAT_VERSION == 2
    conv = next(n for n in doc["graph"]["nodes"] if n["op"] == "conv")
    assert conv["attrs"]["stride"] == [1, 1] and [n["op"] for n in conv["body"]["nodes"]][0] == "im2col"


def _first(doc, op):
    return next(n for n in doc["graph"]["nodes"] if n["op"] == op)


BAD = [
    ("newer", lambda d: d.update(format_version=3), "format_version 3 by a newer Ember"),
    ("body_on_a_primitive", lambda d: _first(d, "relu").update(body=_first(d, "conv")["body"]),
     "only layer ops carry a decomposition"),
    ("body_with_wrong_inputs", lambda d: _first(d, "conv")["body"].update(inputs=[0]),
     "conv) decomposition: its inputs/outputs do not match"),
    ("body_unknown_op", lambda d: _first(d, "conv")["body"]["nodes"][0].update(op="frobnicate"),
     "decomposition: node 0 (frobnicate): unknown op"),
]


@pytest.mark.parametrize("name, edit, words", BAD, ids=[b[0] for b in BAD])
def test_bad_layer_artifact_is_a_clear_error(tmp_path, name, edit, words):
    _, prog = _cnn_program()
    _, raw = _save_load(prog)
    path = tmp_path / f"{name}.ember"
    path.write_bytes(_rewrite(raw, edit))
    with pytest.raises(ArtifactError) as err:
        ember.export.load(path)
    assert words in str(err.value) and str(path) in str(err.value), str(err.value)
    if name == "newer":  # the versions this Ember reads
        assert "reads format_version <= 2" in str(err.value)


def test_loaded_artifact_exports_layer_ops_to_tflite():
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    model, prog = _cnn_program()
    loaded, _ = _save_load(prog)
    it = litert.Interpreter(model_content=ember.export.tflite(loaded, None))
    assert "CONV_2D" in [d["op_name"] for d in it._get_ops_details()]
    x = ember.randn(3, 2, 8, 8)
    index = it.get_input_details()[0]["index"]
    it.resize_tensor_input(index, list(x.shape))
    it.allocate_tensors()
    it.set_tensor(index, x.numpy())
    it.invoke()
    with ember.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(it.get_tensor(it.get_output_details()[0]["index"]), want, rtol=1e-5, atol=1e-5)
