"""ember.export.export/save/load, ember.jit and Keras model.export: the model.ember artifact end to end,
including a fresh process in which the model's Python module cannot be imported."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import ember
from ember import keras, nn
from ember.export import Dim, TensorSpec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _eager(model, *xs):
    with ember.no_grad():
        return model(*[ember.tensor(x) for x in xs])


class TwoHeads(nn.Module):
    """Two inputs sharing a batch dim, a dict result: the call structure survives the artifact."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(5, 4), nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, x, y):
        h = self.norm(self.a(x) + self.b(y))
        return {"probs": ember.softmax(h, -1), "score": h.sum(-1, keepdim=True).tanh()}


# name, model, input shapes (dim 0: the example batch), whether the batch can be dynamic
MODELS = [
    ("mlp", lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3)), [(2, 3, 4)], True),
    ("cnn", lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(4 * 4 * 4, 5)), [(2, 1, 8, 8)], True),
    ("two_heads", TwoHeads, [(2, 5), (2, 3)], True),
    ("embedding", lambda: nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2)), [("int", 2, 3)],
     True),
    ("transformer_layer", lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), [(2, 5, 8)], True),
    # nn.GRU makes its default h0 with zeros(batch, ...): a constant of the batch's size, so the batch is static
    ("gru", lambda: nn.GRU(6, 5, batch_first=True), [(3, 4, 6)], False),
]


def _inputs(shapes, batch, rng):
    out = []
    for s in shapes:
        if s[0] == "int":
            out.append(rng.integers(0, 10, (batch,) + s[2:]).astype(np.int64))
        else:
            out.append(rng.standard_normal((batch,) + s[1:]).astype(np.float32))
    return out


def _close(a, b):
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def _leaves(o):
    if isinstance(o, dict):
        return [y for k in o for y in _leaves(o[k])]
    if isinstance(o, (tuple, list)):
        return [y for x in o for y in _leaves(x)]
    return [o.numpy() if isinstance(o, ember.Tensor) else o]


@pytest.mark.parametrize("name, make, shapes, dynamic", MODELS, ids=[m[0] for m in MODELS])
def test_saved_program_matches_eager_at_two_batch_sizes(name, make, shapes, dynamic, tmp_path):
    ember.manual_seed(0)
    model = make().eval()
    rng = np.random.default_rng(0)
    example = [ember.tensor(x) for x in _inputs(shapes, shapes[0][1] if shapes[0][0] == "int" else shapes[0][0], rng)]
    prog = ember.export.export(model, tuple(example), dynamic_batch=dynamic)
    ember.export.save(prog, tmp_path / "model.ember")
    loaded = ember.export.load(tmp_path / "model.ember")
    assert [s.shape[0] is None for s in loaded.input_specs] == [dynamic] * len(shapes)
    assert loaded.input_specs == prog.input_specs and loaded.output_specs == prog.output_specs
    for batch in (1, 5) if dynamic else (len(example[0]),):
        xs = _inputs(shapes, batch, rng)
        want = _eager(model, *xs)
        _close(loaded(*[ember.tensor(x) for x in xs]), want)
        _close(loaded.run(xs), _leaves(want))


def test_signature_names_shapes_and_metadata():
    prog = ember.export.export(TwoHeads().eval(), (ember.randn(2, 5), ember.randn(2, 3)),
                               dynamic_shapes={"x": {0: Dim("batch")}, "y": {0: Dim("batch")}},
                               metadata={"task": "demo", "classes": [0, 1]})
    assert prog.input_specs == [TensorSpec("x", (None, 5), "float32"), TensorSpec("y", (None, 3), "float32")]
    assert [s.name for s in prog.output_specs] == ["probs", "score"]
    assert prog.output_specs[1].shape == (None, 1) and prog.output_specs[1].dim_names == ("batch", None)
    meta = prog.metadata
    assert meta["module"].endswith("TwoHeads") and meta["user"] == {"task": "demo", "classes": [0, 1]}
    assert meta["producer"] == "ember.export" and meta["ember_version"] == ember.__version__
    out = prog.run({"x": np.ones((3, 5), np.float32), "y": np.ones((3, 3), np.float32)})
    assert [o.shape for o in out] == [(3, 4), (3, 1)]
    # the IR, printable at both levels: layer nodes, and the primitives the executor runs
    assert "layer_norm" in str(prog.graph) and "standardize" not in str(prog.graph)
    assert "standardize" in prog.graph.format(decomposed=True)
    assert "decomposition(" in prog.graph.format(bodies=True)


def test_named_dims_survive_the_artifact(tmp_path):
    model = nn.Sequential(nn.Linear(6, 6), nn.Tanh()).eval()
    x = ember.randn(2, 4, 6)
    prog = ember.export.export(model, (x,), dynamic_shapes=({0: Dim("batch"), 1: Dim("seq", max=64)},))
    ember.export.save(prog, tmp_path / "m.ember")
    loaded = ember.export.load(tmp_path / "m.ember")
    assert loaded.input_specs[0].dim_names == ("batch", "seq", None)
    assert loaded.output_specs[0].dim_names == ("batch", "seq", None)
    doc = json.loads(zipfile.ZipFile(tmp_path / "m.ember").read("program.json"))
    assert doc["signature"]["inputs"][0]["shape"] == ["batch", "seq", 6]
    assert doc["signature"]["dims"] == {"seq": {"min": None, "max": 64}}
    y = np.random.rand(3, 7, 6).astype(np.float32)
    np.testing.assert_allclose(loaded.run([y])[0], _eager(model, y).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ember.export.ExportError, match="outside its range"):
        loaded.run([np.zeros((1, 65, 6), np.float32)])


def test_artifact_is_a_zip_of_json_and_safetensors(tmp_path):
    from safetensors.numpy import load

    model = nn.Sequential(nn.Linear(3, 2)).eval()
    ember.export.save(ember.export.export(model, (ember.ones(1, 3),)), tmp_path / "m.ember")
    with zipfile.ZipFile(tmp_path / "m.ember") as z:
        assert z.namelist() == ["program.json", "weights.safetensors"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        doc = json.loads(z.read("program.json"))
        weights = load(z.read("weights.safetensors"))
    assert doc["format"] == "ember.program" and doc["format_version"] == ember.export.FORMAT_VERSION
    assert [n["op"] for n in doc["graph"]["nodes"]] == ["linear"]
    np.testing.assert_array_equal(weights["0.weight"], model[0].weight.detach().numpy())


def test_weights_are_a_snapshot_and_the_program_is_thread_safe():
    import threading

    model = nn.Linear(4, 4).eval()
    prog = ember.export.export(model, (ember.ones(2, 4),), dynamic_batch=True)
    x = np.random.rand(8, 4).astype(np.float32)
    want = prog.run([x])[0]
    with ember.no_grad():
        model.weight.add_(1.0)  # later training does not change the exported program
    errors = []

    def worker():
        for _ in range(50):
            if not np.array_equal(prog.run([x])[0], want):
                errors.append("differs")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors


def test_jit_trace_save_load_and_script_error(tmp_path):
    model = nn.Sequential(nn.Linear(3, 8), nn.GELU(), nn.Linear(8, 2)).eval()
    traced = ember.jit.trace(model, ember.randn(4, 3))
    traced.save(str(tmp_path / "traced.ember"))
    loaded = ember.jit.load(str(tmp_path / "traced.ember"))
    x = np.random.rand(6, 3).astype(np.float32)
    np.testing.assert_allclose(loaded(ember.tensor(x)).numpy(), _eager(model, x).numpy(), rtol=1e-5, atol=1e-6)
    assert "linear" in loaded.code
    with pytest.raises(NotImplementedError, match="ember.jit.trace"):
        ember.jit.script(model)


def test_keras_model_export_formats(tmp_path):
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Dense(5, activation="relu", name="h")(keras.layers.Concatenate()([a, b]))
    model = keras.Model([a, b], [keras.layers.Dense(2, name="o1")(h), keras.layers.Dense(1, name="o2")(b)])
    model.export(str(tmp_path / "model.ember"), verbose=False)
    prog = ember.export.load(str(tmp_path))  # a folder holding model.ember
    assert [s.name for s in prog.input_specs] == ["a", "b"] and [s.name for s in prog.output_specs] == ["o1", "o2"]
    xa, xb = np.random.rand(3, 4).astype(np.float32), np.random.rand(3, 3).astype(np.float32)
    for got, want in zip(prog.run({"a": xa, "b": xb}), model([xa, xb])):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unknown format 'savedmodel'"):
        model.export(str(tmp_path / "x"), format="savedmodel")
    if importlib.util.find_spec("ember.onnx") is not None:  # written in parallel (WP11-ir)
        ort = pytest.importorskip("onnxruntime")
        model.export(str(tmp_path / "model.onnx"), format="onnx", verbose=False)
        sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(sess.run(None, {"a": xa, "b": xb})[0], np.asarray(model([xa, xb])[0]),
                                   rtol=1e-5, atol=1e-6)


def test_keras_sequential_export_needs_known_inputs(tmp_path):
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ember.export.ExportError, match="input_signature"):
        model.export(str(tmp_path / "m.ember"), verbose=False)
    model.export(str(tmp_path / "m.ember"), verbose=False, input_signature=[(None, 6)])
    assert ember.export.load(tmp_path / "m.ember").input_specs[0].shape == (None, 6)


MODEL_SOURCE = textwrap.dedent('''
    import ember
    from ember import nn

    class Private(nn.Module):
        """Defined only in this file: the fresh process must not need it."""

        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))

        def forward(self, x):
            return ember.log_softmax(self.body(x) * 2.0, -1)
''')

READER = textwrap.dedent('''
    import importlib, sys, numpy as np, ember
    try:
        importlib.import_module("private_model_for_export")
        raise SystemExit("the model's module is importable: the test would prove nothing")
    except ModuleNotFoundError:
        pass
    prog = ember.export.load(sys.argv[1])
    probe = np.random.default_rng(0).standard_normal((11, 8)).astype(np.float32)
    got = prog.run([probe])[0]
    np.testing.assert_allclose(got, np.load(sys.argv[2]), rtol=1e-5, atol=1e-6)
    print("OK", prog.metadata["module"], got.shape)
''')


def _train_private_model(path):
    """Import the model's module from a file (never on sys.path), train it a little, export and save it."""
    spec = importlib.util.spec_from_file_location("private_model_for_export", path)
    pm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pm)
    ember.manual_seed(1)
    model = pm.Private()
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    x, y = ember.randn(32, 8), ember.randint(0, 3, (32,))
    for _ in range(3):  # a few training steps, so the weights are not the initial ones
        opt.zero_grad()
        ember.nn.functional.nll_loss(model(x), y).backward()
        opt.step()
    return model.eval(), x[:4]


def test_loads_in_a_fresh_process_without_the_model_source(tmp_path):
    src = tmp_path / "private_model_for_export.py"
    src.write_text(MODEL_SOURCE)
    model, example = _train_private_model(src)
    art, ref = tmp_path / "model.ember", tmp_path / "ref.npy"
    ember.export.save(ember.export.export(model, (example,), dynamic_batch=True), art)
    probe = np.random.default_rng(0).standard_normal((11, 8)).astype(np.float32)
    np.save(ref, _eager(model, probe).numpy())
    src.unlink()
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", READER, str(art), str(ref)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK private_model_for_export.Private (11, 3)"), out.stdout
