"""Bad input to the artifact and the exported program: one row per case, and the words the error must say.
Saves are atomic: a failure or a crash part-way through leaves the previous file."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

import ember
from ember import nn
from ember.export import ArtifactError, Dim, ExportError
from ember.export import artifact as artifact_mod
from ember.graph.tracer import GraphBreak


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(path, program.json data, weights) of a small saved MLP."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    path = tmp_path_factory.mktemp("art") / "model.ember"
    ember.export.save(ember.export.export(model, (ember.randn(2, 12),), dynamic_batch=True), path)
    with zipfile.ZipFile(path) as z:
        return path, json.loads(z.read("program.json")), st_load(z.read("weights.safetensors"))


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _artifact(doc, weights) -> bytes:
    return _zip({"program.json": json.dumps(doc), "weights.safetensors": st_save(weights)})


def _edit_doc(fn):
    def make(raw, doc, weights):
        doc = json.loads(json.dumps(doc))
        fn(doc)
        return _artifact(doc, weights)

    return make


def _edit_weights(fn):
    def make(raw, doc, weights):
        weights = dict(weights)
        fn(weights)
        return _artifact(doc, weights)

    return make


def _flip_byte_in_weights(raw, doc, weights):
    data = bytearray(raw)
    at = raw.index(b"weights.safetensors") + 200  # inside the stored (uncompressed) tensor bytes
    data[at] ^= 0xFF
    return bytes(data)


def _set(path, value):
    def edit(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


ARTIFACT_ROWS = [
    ("truncated", lambda raw, d, w: raw[: len(raw) // 2], "truncated or corrupt"),
    ("corrupt_bytes", _flip_byte_in_weights, "truncated or corrupt"),
    ("not_a_zip", lambda raw, d, w: b"hello, this is not a model" * 4, "not a zip archive"),
    ("safetensors_file", lambda raw, d, w: st_save(w), "safetensors file (weights only"),
    ("missing_member", lambda raw, d, w: _zip({"program.json": json.dumps(d)}), "'weights.safetensors'] are missing"),
    ("bad_json", lambda raw, d, w: _zip({"program.json": "{nope", "weights.safetensors": st_save(w)}),
     "program.json is not valid JSON"),
    ("not_ember", _edit_doc(_set(["format"], "onnx")), "not an Ember program"),
    ("newer_version", _edit_doc(_set(["format_version"], 99)), "format_version 99 by a newer Ember"),
    ("bad_version", _edit_doc(_set(["format_version"], "one")), "bad format_version"),
    ("unknown_op", _edit_doc(_set(["graph", "nodes", 1, "op"], "frobnicate")), "unknown op 'frobnicate'"),
    ("missing_weight", _edit_weights(lambda w: w.pop("2.bias")), "'2.bias' (value 4) has no tensor"),
    ("extra_weight", _edit_weights(lambda w: w.update(extra=np.zeros(3, np.float32))),
     "tensor(s) the graph does not use: ['extra']"),
    ("wrong_shape", _edit_weights(lambda w: w.update({"0.weight": np.zeros((16, 13), np.float32)})),
     "weight '0.weight' in weights.safetensors is float32[16, 13] but the graph expects float32[16, 12]"),
    ("wrong_dtype", _edit_weights(lambda w: w.update({"0.bias": np.zeros(16, np.float64)})),
     "is float64[16] but the graph expects float32[16]"),
    ("signature_mismatch", _edit_doc(_set(["signature", "inputs", 0, "shape"], ["batch", 11])),
     "does not match the graph's f32[?,12]"),
    ("inconsistent_graph", _edit_doc(_set(["graph", "values", 5, "shape"], ["batch", 17])),
     "the graph is inconsistent"),
    ("bad_value_ref", _edit_doc(_set(["graph", "nodes", 0, "inputs"], [0, 99, 2])), "out of range"),
    # attrs are data: a string where an axis belongs is refused, never evaluated (see the test below)
    ("code_in_an_attr", _edit_doc(_set(["graph", "nodes", 0, "attrs"], {"axis": "__import__('os').system('x')"})),
     "program.json"),
]


@pytest.mark.parametrize("name, make, words", ARTIFACT_ROWS, ids=[r[0] for r in ARTIFACT_ROWS])
def test_bad_artifact_is_a_clear_error(saved, tmp_path, name, make, words):
    path, doc, weights = saved
    bad = tmp_path / f"{name}.ember"
    bad.write_bytes(make(path.read_bytes(), doc, weights))
    with pytest.raises(ArtifactError) as err:
        ember.export.load(bad)
    assert words in str(err.value) and str(bad) in str(err.value), str(err.value)


def test_attrs_are_never_executed(saved, tmp_path):
    """A reduction whose axis attr is Python source: loading and running must not run it."""
    path, doc, weights = saved
    doc = json.loads(json.dumps(doc))
    marker = tmp_path / "PWNED"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    x = doc["graph"]["nodes"][-1]["outputs"][0]
    doc["graph"]["values"].append({"shape": [], "dtype": "float32"})
    doc["graph"]["nodes"].append({"op": "sum", "inputs": [x], "outputs": [len(doc["graph"]["values"]) - 1],
                                  "attrs": {"axis": code, "keepdims": False}})
    bad = tmp_path / "evil.ember"
    bad.write_bytes(_artifact(doc, weights))
    try:
        ember.export.load(bad).run([np.zeros((2, 12), np.float32)])
    except (ArtifactError, ValueError, TypeError):
        pass
    assert not marker.exists()


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.ember: no such artifact"):
        ember.export.load(tmp_path / "nothing.ember")


# ----------------------------------------------------------------------------------------- call time
@pytest.fixture(scope="module")
def two_inputs():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 3)

        def forward(self, x, y):
            return self.fc(x) * y

    return ember.export.export(Net().eval(), (ember.ones(2, 5), ember.ones(2, 3)), dynamic_batch=True)


f32 = np.float32
CALL_ROWS = [
    ("wrong_dtype", [np.ones((2, 5)), np.ones((2, 3), f32)], "'x' (float32[batch, 5]) got dtype float64; "
     "convert it with .astype('float32')"),
    ("wrong_shape", [np.ones((2, 4), f32), np.ones((2, 3), f32)], "input 'x' (float32[batch, 5]) got shape (2, 4)"),
    ("wrong_rank", [np.ones((2, 5, 1), f32), np.ones((2, 3), f32)], "got shape (2, 5, 1)"),
    ("too_few", [np.ones((2, 5), f32)], "expects 2 input(s)"),
    ("dims_disagree", [np.ones((2, 5), f32), np.ones((4, 3), f32)],
     "dim 'batch' is 2 in input 'x' but 4 in input 'y'"),
    ("missing_name", {"x": np.ones((2, 5), f32)}, "missing ['y']"),
    ("unknown_name", {"x": np.ones((2, 5), f32), "y": np.ones((2, 3), f32), "z": 1}, "unknown ['z']"),
    ("not_numbers", [[["a"] * 5], np.ones((1, 3), f32)], "cannot convert list to float32"),
    ("not_a_list", "x", "takes a list or a dict"),
]


@pytest.mark.parametrize("name, inputs, words", CALL_ROWS, ids=[r[0] for r in CALL_ROWS])
def test_bad_call_is_a_clear_error(two_inputs, name, inputs, words):
    with pytest.raises(ExportError) as err:
        two_inputs.run(inputs)
    assert words in str(err.value), str(err.value)


def test_lists_are_converted_and_tensors_accepted(two_inputs):
    out = two_inputs.run([[[0.0] * 5], [[1.0, 2.0, 3.0]]])[0]
    assert out.shape == (1, 3) and out.dtype == np.float32
    assert tuple(two_inputs(ember.ones(4, 5), ember.ones(4, 3)).shape) == (4, 3)
    with pytest.raises(ExportError, match="expects 2 tensor input"):
        two_inputs(ember.ones(4, 5))


# ----------------------------------------------------------------------------------------- export time
def _branchy(x):
    if x.sum() > 0:  # Python control flow on a value: not traceable
        return x
    return -x


EXPORT_ROWS = [
    ("size_dependent_constant", lambda x: x + ember.arange(x.shape[0]).float()[:, None], {"dynamic_batch": True},
     "cannot make dim 0 of 'x' (batch) dynamic"),
    ("zeros_of_batch_size", lambda x: ember.cat([x, ember.zeros(x.shape[0], 1)], 1), {"dynamic_batch": True},
     "a constant of shape [2, 1] that changes with the input's size"),
    ("control_flow", _branchy, {}, "test_export_errors.py"),
    ("unknown_dim_key", nn.Linear(4, 4), {"dynamic_shapes": {"z": {0: Dim("b")}}},
     "names 'z', which is not an argument"),
    ("bad_axis", nn.Linear(4, 4), {"dynamic_shapes": {"input": {5: Dim("b")}}}, "axis 5"),
    ("bad_metadata", nn.Linear(4, 4), {"metadata": {"f": object()}}, "metadata must be JSON"),
    ("dim_range_too_tight", nn.Linear(4, 4), {"dynamic_shapes": ({0: Dim("b", min=2, max=2)},)},
     "cannot pick a second size"),
]


@pytest.mark.parametrize("name, model, kwargs, words", EXPORT_ROWS, ids=[r[0] for r in EXPORT_ROWS])
def test_bad_export_is_a_clear_error(name, model, kwargs, words):
    x = ember.randn(2, 4)
    with pytest.raises((ExportError, GraphBreak)) as err:
        ember.export.export(model, (x,), **kwargs)
    assert words in str(err.value), str(err.value)


def test_save_needs_a_program(tmp_path):
    with pytest.raises(TypeError, match="takes an ExportedProgram"):
        ember.export.save(nn.Linear(2, 2), tmp_path / "m.ember")


# ----------------------------------------------------------------------------------------- atomic saves
def _program(seed):
    ember.manual_seed(seed)
    return ember.export.export(nn.Linear(3, 2).eval(), (ember.ones(1, 3),))


def test_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.ember"
    ember.export.save(_program(0), path)
    before = path.read_bytes()

    def boom(arrays):
        raise OSError("disk full (simulated after program.json was written)")

    monkeypatch.setattr(artifact_mod, "_weights_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        ember.export.save(_program(1), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.ember"]
    ember.export.load(path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork to crash a writer")
def test_crash_mid_save_leaves_the_previous_file(tmp_path):
    path = tmp_path / "model.ember"
    ember.export.save(_program(0), path)
    before = path.read_bytes()
    pid = os.fork()
    if pid == 0:  # the child dies (no cleanup, no exception handling) half-way through writing the zip
        artifact_mod._weights_bytes = lambda arrays: os._exit(3)
        ember.export.save(_program(1), path)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 3
    assert path.read_bytes() == before
    leftovers = [p for p in os.listdir(tmp_path) if p != "model.ember"]
    assert all(p.startswith(".tmp-") for p in leftovers)  # a crash can leave its temp file, never a torn one
    ember.export.load(path)
