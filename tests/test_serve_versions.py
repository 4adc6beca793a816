"""Model versions under ember serve: a new version swaps in under concurrent load with no dropped request, a
corrupt version leaves the served one alone (and status says why), and the command line starts a real server."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("uvicorn")

from serving_util import REPO, call, eager, mlp, save_ember  # noqa: E402

from ember.serve import Server  # noqa: E402

X = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _publish(model, base, version, tmp):
    """Write a version the way TF Serving asks: complete it aside, then rename it into the base path."""
    staging = os.path.join(tmp, f"staging-{version}")
    save_ember(model, staging)
    os.makedirs(base, exist_ok=True)
    os.rename(staging, os.path.join(base, str(version)))


def test_new_version_swaps_in_under_load_without_dropping_a_request(tmp_path):
    base = str(tmp_path / "m")
    old, new = mlp(seed=0), mlp(seed=1)
    _publish(old, base, 1, str(tmp_path))
    answers = {1: eager(old, X), 2: eager(new, X)}
    results, stop = [], threading.Event()

    with Server({"m": base}, port=0, poll_seconds=0.1, log=lambda m: None) as server:
        def client():
            while not stop.is_set():
                sent = time.monotonic()
                status, doc = call(server.url + "/v1/models/m:predict", {"instances": X.tolist()})
                results.append(((sent, time.monotonic()), status, doc))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        swap_started = time.monotonic()
        _publish(new, base, 2, str(tmp_path))
        assert _wait(lambda: [s["version"] for s in call(server.url + "/v1/models/m")[1]["model_version_status"]]
                     == ["2"])
        swapped = time.monotonic()
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert len(results) > 20 and all(status == 200 for _, status, _ in results), \
        [doc for _, status, doc in results if status != 200][:3]
    which = []
    for when, _, doc in results:
        got = np.array(doc["predictions"])
        match = [v for v, want in answers.items() if np.allclose(got, want, rtol=1e-5, atol=1e-5)]
        assert len(match) == 1
        which.append((when, match[0]))
    # answered before the new version was published: the old one; sent after the swap was seen: the new one
    # (a request sent before the swap may finish after it with either answer, on a loaded machine)
    assert all(v == 1 for (_, done), v in which if done < swap_started)
    assert all(v == 2 for (sent, _), v in which if sent > swapped)
    assert any(v == 2 for _, v in which)


def test_a_corrupt_version_keeps_the_served_one_and_status_says_why(tmp_path):
    base = str(tmp_path / "m")
    good = mlp()
    _publish(good, base, 1, str(tmp_path))
    with Server({"m": base}, port=0, poll_seconds=0.1, log=lambda m: None) as server:
        os.makedirs(os.path.join(base, "2"))
        with open(os.path.join(base, "2", "model.ember"), "wb") as f:
            f.write(b"PK\x03\x04 this is not a model")
        assert _wait(lambda: any(s["state"] == "END" for s in call(server.url + "/v1/models/m")[1]
                                 ["model_version_status"]))
        status = {s["version"]: s for s in call(server.url + "/v1/models/m")[1]["model_version_status"]}
        assert status["1"]["state"] == "AVAILABLE"
        assert status["2"]["status"]["error_code"] != "OK"
        assert os.path.join(base, "2", "model.ember") in status["2"]["status"]["error_message"]
        got = call(server.url + "/v1/models/m:predict", {"instances": X.tolist()})
        assert got[0] == 200
        np.testing.assert_allclose(got[1]["predictions"], eager(good, X), rtol=1e-5, atol=1e-5)
        code, doc = call(server.url + "/v1/models/m/versions/2:predict", {"instances": X.tolist()})
        assert code == 404 and "failed to load" in doc["error"]
        # fixing the files is noticed on the next poll: version 2 loads and replaces 1
        shutil.rmtree(os.path.join(base, "2"))
        _publish(mlp(seed=3), base, 2, str(tmp_path))
        assert _wait(lambda: [s["version"] for s in call(server.url + "/v1/models/m")[1]["model_version_status"]]
                     == ["2"])
        assert call(server.url + "/v1/models/m/versions/2")[1]["model_version_status"][0]["state"] == "AVAILABLE"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_line_with_tf_serving_flags(tmp_path):
    model = mlp()
    save_ember(model, str(tmp_path / "a" / "1"))
    save_ember(model, str(tmp_path / "b" / "3"))
    (tmp_path / "models.config").write_text(
        f"model_config_list {{ config {{ name: 'a' base_path: '{tmp_path / 'a'}' }} "
        f"config {{ name: 'b' base_path: '{tmp_path / 'b'}' }} }}")
    (tmp_path / "batching.txt").write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 500 }\n")
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=REPO)
    cmd = [sys.executable, "-m", "ember.serve", "--model_config_file", str(tmp_path / "models.config"),
           "--rest_api_port", str(port), "--batching_parameters_file", str(tmp_path / "batching.txt")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "REST API at" in line or len(lines) > 50:
                break
        text = "".join(lines)
        assert f"REST API at http://127.0.0.1:{port}" in text, text
        assert "loading model 'a' version 1" in text and "batching on (max_batch_size 8" in text
        for name, version in (("a", "1"), ("b", "3")):
            status, doc = call(f"http://127.0.0.1:{port}/v1/models/{name}:predict", {"instances": X.tolist()})
            assert status == 200
            np.testing.assert_allclose(doc["predictions"], eager(model, X), rtol=1e-5, atol=1e-5)
            assert call(f"http://127.0.0.1:{port}/v1/models/{name}")[1]["model_version_status"][0]["version"] == version
    finally:
        proc.terminate()
        proc.wait(timeout=30)
