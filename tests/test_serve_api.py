"""ember serve's HTTP APIs against a real uvicorn server on 127.0.0.1: TF Serving REST v1 and the Open Inference
Protocol (KServe V2) as tables, a fuzz table of bad requests (always a 4xx naming the input, the server keeps
answering), Ember artifact vs ONNX, metrics, batching, and tritonclient as a V2 peer."""

import base64
import concurrent.futures
import json
import os

import numpy as np
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
pytest.importorskip("onnxruntime")

from serving_util import HAVE_MNIST, call, cnn, eager, mlp, mnist_images, save_ember, save_onnx  # noqa: E402

import ember  # noqa: E402
from ember import nn  # noqa: E402
from ember.serve import Server  # noqa: E402
from ember.serve.manager import parse_batching_parameters, parse_model_config  # noqa: E402


class Pair(nn.Module):
    """Two named inputs, two named outputs."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, a, b):
        return self.lin(a) + b, a.sum(1)


def _images(n):
    if HAVE_MNIST:
        return mnist_images()[0][:n]
    return np.random.default_rng(0).standard_normal((n, 1, 28, 28)).astype(np.float32)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    models = {"mlp": mlp(), "cnn": cnn()}
    save_ember(models["mlp"], str(base / "mlp" / "1"))
    save_onnx(models["mlp"], str(base / "mlp_onnx" / "1"))
    save_ember(models["cnn"], str(base / "cnn" / "1"))
    ember.manual_seed(1)
    models["pair"] = Pair().eval()
    prog = ember.export.export(models["pair"], (ember.randn(2, 3), ember.randn(2, 2)), dynamic_batch=True,
                               input_names=["a", "b"], output_names=["sum", "total"])
    os.makedirs(base / "pair" / "1")
    ember.export.save(prog, str(base / "pair" / "1" / "model.ember"))
    logs = []
    names = ["mlp", "mlp_onnx", "cnn", "pair"]
    with Server({n: str(base / n) for n in names}, port=0, log=logs.append) as server:
        yield server, models, logs


def _ok(server):
    """The server still answers a good request."""
    status, doc = call(server.url + "/v1/models/mlp:predict", {"instances": _images(1).tolist()})
    assert status == 200 and len(doc["predictions"][0]) == 10


# ------------------------------------------------------------------------------------------ TF Serving v1
def test_v1_status_and_metadata(served):
    server, _, logs = served
    status, doc = call(server.url + "/v1/models/mlp")
    assert status == 200 and doc == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    assert call(server.url + "/v1/models/mlp/versions/1")[1] == doc
    status, meta = call(server.url + "/v1/models/mlp/metadata")
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert meta["model_spec"] == {"name": "mlp", "signature_name": "", "version": "1"}
    assert sig["inputs"]["input"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["inputs"]["input"]["tensor_shape"]["dim"]] == ["-1", "1", "28", "28"]
    assert [d["size"] for d in sig["outputs"]["output"]["tensor_shape"]["dim"]] == ["-1", "10"]
    assert any("model 'mlp' version 1 is available" in m for m in logs)  # loads say what they do


def _b64(a):
    return {"b64": base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode()}


X3 = _images(3)
A, B = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 2), np.float32)
V1_ROWS = [  # (model, path suffix, body, key, inputs the expected answer is computed from)
    ("mlp", ":predict", {"instances": X3.tolist()}, "predictions", [X3]),
    ("mlp", "/versions/1:predict", {"instances": X3.tolist()}, "predictions", [X3]),
    ("mlp", ":predict", {"signature_name": "serving_default", "inputs": X3.tolist()}, "outputs", [X3]),
    ("mlp", ":predict", {"inputs": {"input": X3.tolist()}}, "outputs", [X3]),
    ("mlp", ":predict", {"instances": [{"input": x.tolist()} for x in X3]}, "predictions", [X3]),
    ("mlp", ":predict", {"instances": [_b64(x) for x in X3]}, "predictions", [X3]),
    ("mlp", ":predict", {"inputs": _b64(X3)}, "outputs", [X3]),
    ("mlp_onnx", ":predict", {"instances": X3.tolist()}, "predictions", [X3]),
    ("cnn", ":predict", {"instances": X3.tolist()}, "predictions", [X3]),
    ("pair", ":predict", {"instances": [{"a": a.tolist(), "b": b.tolist()} for a, b in zip(A, B)]}, "predictions",
     [A, B]),
    ("pair", ":predict", {"inputs": {"a": A.tolist(), "b": B.tolist()}}, "outputs", [A, B]),
]


@pytest.mark.parametrize("model,suffix,body,key,inputs", V1_ROWS,
                         ids=[f"{r[0]}{r[1]}-{r[3]}-{i}" for i, r in enumerate(V1_ROWS)])
def test_v1_predict(served, model, suffix, body, key, inputs):
    server, models, _ = served
    status, doc = call(f"{server.url}/v1/models/{model}{suffix}", body)
    assert status == 200, doc
    want = models["mlp" if model == "mlp_onnx" else model]
    if model == "pair":
        with ember.no_grad():
            s, t = (o.numpy() for o in want(*[ember.tensor(x) for x in inputs]))
        got = doc[key]
        if key == "predictions":  # row format: one object per instance
            got = {"sum": [r["sum"] for r in got], "total": [r["total"] for r in got]}
        np.testing.assert_allclose(got["sum"], s, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got["total"], t, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(doc[key], eager(want, inputs[0]), rtol=1e-5, atol=1e-5)


def test_ember_artifact_and_onnx_give_the_same_answer(served):
    server, _, _ = served
    x = _images(16).tolist()
    answers = [np.array(call(f"{server.url}/v1/models/{m}:predict", {"instances": x})[1]["predictions"])
               for m in ("mlp", "mlp_onnx")]
    np.testing.assert_allclose(answers[0], answers[1], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ Open Inference V2
def _v2_input(x, name="input", nested=False, dtype="FP32"):
    return {"name": name, "shape": list(x.shape), "datatype": dtype, "data": x.tolist() if nested else
            x.reshape(-1).tolist()}


def test_v2_health_and_metadata(served):
    server, _, _ = served
    assert call(server.url + "/v2/health/live") == (200, {"live": True})
    assert call(server.url + "/v2/health/ready") == (200, {"ready": True})
    assert call(server.url + "/v2")[1]["name"] == "ember"
    status, meta = call(server.url + "/v2/models/mlp")
    assert status == 200 and meta == {"name": "mlp", "versions": ["1"], "platform": "ember",
                                      "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]}],
                                      "outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 10]}]}
    assert call(server.url + "/v2/models/mlp_onnx/versions/1")[1]["platform"] == "onnxruntime"
    assert call(server.url + "/v2/models/mlp/ready") == (200, {"name": "mlp", "ready": True})
    assert call(server.url + "/v2/models/mlp/versions/7/ready") == (503, {"name": "mlp", "ready": False})


V2_ROWS = [
    ("mlp", {"inputs": [_v2_input(X3)]}),
    ("mlp", {"id": "r1", "inputs": [_v2_input(X3, nested=True)], "outputs": [{"name": "output"}]}),
    ("mlp_onnx", {"inputs": [_v2_input(X3)]}),
    ("cnn", {"inputs": [_v2_input(X3)]}),
]


@pytest.mark.parametrize("model,body", V2_ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(V2_ROWS)])
def test_v2_infer(served, model, body):
    server, models, _ = served
    status, doc = call(f"{server.url}/v2/models/{model}/versions/1/infer", body)
    assert status == 200, doc
    out, = doc["outputs"]
    assert (doc["model_name"], doc["model_version"], out["name"], out["shape"], out["datatype"]) == \
        (model, "1", "output", [3, 10], "FP32")
    assert doc.get("id") == body.get("id")
    want = eager(models["mlp" if model == "mlp_onnx" else model], X3)
    np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), want, rtol=1e-5, atol=1e-5)


def test_tritonclient_is_a_v2_peer(served):
    http = pytest.importorskip("tritonclient.http")
    server, models, _ = served
    client = http.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("cnn")
    assert client.get_model_metadata("cnn")["inputs"][0]["shape"] == [-1, 1, 28, 28]
    for binary in (False, True):  # JSON data, then the binary tensor extension
        inp = http.InferInput("input", list(X3.shape), "FP32")
        inp.set_data_from_numpy(X3, binary_data=binary)
        result = client.infer("cnn", [inp], outputs=[http.InferRequestedOutput("output", binary_data=False)])
        np.testing.assert_allclose(result.as_numpy("output"), eager(models["cnn"], X3), rtol=1e-5, atol=1e-5)
    client.close()


# ------------------------------------------------------------------------------------------ bad input
IMG = X3[0].tolist()
FUZZ = [  # (path, raw body, status, words the message must hold)
    ("/v1/models/mlp:predict", b"{\"instances\": [1, 2", 400, ["malformed JSON"]),
    ("/v1/models/mlp:predict", b"", 400, ["empty"]),
    ("/v1/models/mlp:predict", b"[1, 2]", 400, ["JSON object"]),
    ("/v1/models/mlp:predict", b"{}", 400, ["instances", "inputs"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": []}).encode(), 400, ["non-empty", "float32[batch, 1, 28, 28]"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [X3[0, 0].tolist()]}).encode(), 400,
     ["'input'", "shape (28, 28)", "expected (1, 28, 28)"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [[IMG]]}).encode(), 400, ["'input'", "(1, 1, 28, 28)"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [[[["1"] * 28] * 28]]}).encode(), 400,
     ["'input'", "string '1'", "float32"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [[[[None] * 28] * 28]]}).encode(), 400, ["null", "float32"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [[[[1.0] * 27] * 28]]}).encode(), 400,
     ["'input'", "shape (1, 28, 27)"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [[[[1.0] * 28] * 27 + [[1.0]]]]}).encode(), 400,
     ["'input'", "ragged"]),
    ("/v1/models/mlp:predict", b"{\"instances\": [NaN]}", 400, ["NaN", "finite"]),
    ("/v1/models/mlp:predict", b"{\"inputs\": [[Infinity]]}", 400, ["Infinity"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [[[[True] * 28] * 28]]}).encode(), 400, ["true/false"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [[[[1e300] * 28] * 28]]}).encode(), 400, ["too large"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [{"b64": "!!"}]}).encode(), 400, ["base64"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [{"b64": "AAAA"}]}).encode(), 400,
     ["4 bytes", "(1, 28, 28)"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [{"x": 1}]}).encode(), 400, ["missing ['input']"]),
    ("/v1/models/mlp:predict", json.dumps({"instances": [IMG], "signature_name": "x"}).encode(), 400, ["signature"]),
    ("/v1/models/pair:predict", json.dumps({"instances": [[1, 2, 3]]}).encode(), 400, ["2 inputs", "'a'", "'b'"]),
    ("/v1/models/pair:predict", json.dumps({"inputs": {"a": [[1, 2, 3]], "b": [[1, 2]], "c": 1}}).encode(), 400,
     ["unknown ['c']"]),
    ("/v1/models/pair:predict", json.dumps({"inputs": {"a": [[1, 2, 3]], "b": [[1, 2], [3, 4]]}}).encode(), 400,
     ["'batch'"]),
    ("/v1/models/nope:predict", json.dumps({"instances": [IMG]}).encode(), 404, ["'nope' not found"]),
    ("/v1/models/mlp/versions/9:predict", json.dumps({"instances": [IMG]}).encode(), 404, ["version 9", "[1]"]),
    ("/v1/models/mlp/versions/x:predict", json.dumps({"instances": [IMG]}).encode(), 400, ["not a number"]),
    ("/v1/models/mlp/bogus", None, 404, ["unknown path"]),
    ("/v2/models/mlp/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "INT64",
                                                      "data": [0] * 784}]}).encode(), 400, ["'input'", "'FP32'"]),
    ("/v2/models/mlp/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 28, 28], "datatype": "FP32",
                                                      "data": [0] * 784}]}).encode(), 400,
     ["'input'", "(?, 1, 28, 28)"]),
    ("/v2/models/mlp/infer", json.dumps({"inputs": [{"name": "input", "shape": [2, 1, 28, 28], "datatype": "FP32",
                                                      "data": [0] * 784}]}).encode(), 400, ["784 values", "1568"]),
    ("/v2/models/mlp/infer", json.dumps({"inputs": [{"name": "img", "shape": [1], "datatype": "FP32",
                                                      "data": [0]}]}).encode(), 400, ["unknown input 'img'"]),
    ("/v2/models/mlp/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                                      "data": ["a"] * 784}]}).encode(), 400, ["string 'a'"]),
    ("/v2/models/mlp/infer", json.dumps({"inputs": [_v2_input(X3[:1])], "outputs": [{"name": "z"}]}).encode(), 400,
     ["unknown output"]),
    ("/v2/models/mlp/infer", b"{\"inputs\": 3}", 400, ["\"inputs\" list"]),
    ("/v2/models/nope/infer", json.dumps({"inputs": [_v2_input(X3[:1])]}).encode(), 404, ["'nope' not found"]),
]


@pytest.mark.parametrize("path,raw,status,words", FUZZ, ids=[f"{i}-{r[0].split('/')[-1]}" for i, r in enumerate(FUZZ)])
def test_bad_requests_get_a_4xx_naming_the_problem(served, path, raw, status, words):
    server, _, _ = served
    got, doc = call(server.url + path, raw=raw, method="POST" if raw is not None else "GET")
    assert got == status, doc
    assert isinstance(doc, dict) and set(doc) == {"error"}, doc
    for word in words:
        assert word in doc["error"], (word, doc["error"])
    _ok(server)


def test_a_100_mb_body_gets_413_and_the_server_keeps_answering(served):
    server, _, _ = served
    raw = b"{\"instances\": [" + b"0," * (50 << 20) + b"0]}"
    status, doc = call(server.url + "/v1/models/mlp:predict", raw=raw, timeout=60)
    assert status == 413 and "limit" in doc["error"] and str(64 << 20) in doc["error"]
    _ok(server)


def test_metrics_are_prometheus_text(served):
    server, _, _ = served
    _ok(server)
    call(server.url + "/v1/models/nope:predict", {"instances": [IMG]})  # (tests may run on other workers)
    status, text = call(server.url + "/monitoring/prometheus/metrics")
    assert status == 200
    assert 'ember_serving_request_count_total{api="predict",model_name="mlp",status="200"}' in text
    assert 'ember_serving_request_count_total{api="predict",model_name="nope",status="404"}' in text
    assert "ember_serving_request_latency_seconds_bucket" in text and "ember_serving_batch_size_bucket" in text


# ------------------------------------------------------------------------------------------ batching
def test_batching_merges_concurrent_requests_and_answers_each(tmp_path):
    model = mlp()
    save_ember(model, str(tmp_path / "mlp" / "1"))
    x = _images(24)
    with Server({"mlp": str(tmp_path / "mlp")}, port=0, enable_batching=True, max_batch_size=8,
                batch_timeout_micros=20000, log=lambda m: None) as server:
        def one(i):
            return call(server.url + "/v1/models/mlp:predict", {"instances": x[i:i + 1].tolist()})

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            results = list(pool.map(one, range(24)))
        for i, (status, doc) in enumerate(results):
            assert status == 200
            np.testing.assert_allclose(doc["predictions"], eager(model, x[i:i + 1]), rtol=1e-5, atol=1e-5)
        text = call(server.url + "/monitoring/prometheus/metrics")[1]
        calls = float(next(line.split()[-1] for line in text.splitlines()
                           if line.startswith("ember_serving_batch_size_count")))
        assert calls < 24  # some requests shared a model call


# ------------------------------------------------------------------------------------------ config files
def test_tf_serving_config_files_parse():
    text = """model_config_list {
      config { name: 'a' base_path: '/m/a' model_platform: 'ember' }
      config { name: "b" base_path: "/m/b" model_version_policy { specific { versions: 1 versions: 3 } } }
      config { name: 'c' base_path: '/m/c' model_version_policy { latest { num_versions: 2 } } }
      config { name: 'd' base_path: '/m/d' model_version_policy { all {} } }
    }"""
    got = [(c.name, c.base_path, c.policy) for c in parse_model_config(text)]
    assert got == [("a", "/m/a", ("latest", 1)), ("b", "/m/b", ("specific", [1, 3])), ("c", "/m/c", ("latest", 2)),
                   ("d", "/m/d", ("all",))]
    assert parse_batching_parameters("max_batch_size { value: 16 }\nbatch_timeout_micros { value: 500 }") == \
        {"max_batch_size": 16, "batch_timeout_micros": 500}
    with pytest.raises(ValueError, match="name and base_path"):
        parse_model_config("model_config_list { config { name: 'a' } }")
