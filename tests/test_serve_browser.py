"""In the browser: a real headless Chromium (Debian's, through playwright) runs the folder ember.export.web writes
(served by a plain static file server) and must match Ember to 1e-5 on real MNIST digits; the demo page of
ember serve is driven like a person (mouse strokes on the canvas) and a screenshot is saved in test-artifacts/."""

import functools
import http.server
import os
import threading

import numpy as np
import pytest

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("onnxruntime")
CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from serving_util import HAVE_MNIST, NORMALIZE, REPO, cnn, eager, mlp, mnist_images, save_ember, train_mlp  # noqa: E402

import ember  # noqa: E402
from ember.export import ExportError  # noqa: E402
from ember.export.browser import find_ort_dist  # noqa: E402

try:
    find_ort_dist()
except ExportError:
    pytest.skip("onnxruntime-web is not installed (npm ci)", allow_module_level=True)

ARTIFACTS = os.path.join(REPO, "test-artifacts")


class _Static(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm"}

    def log_message(self, *args):
        pass


def _static_server(folder):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Static, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _digits(n):
    if HAVE_MNIST:
        return mnist_images()[0][:n]
    return np.random.default_rng(0).standard_normal((n, 1, 28, 28)).astype(np.float32)


@pytest.mark.parametrize("make", [mlp, cnn], ids=["mlp", "cnn"])
def test_exported_web_folder_runs_in_chromium_like_ember(browser, tmp_path, make):
    model = make()
    try:
        out = ember.export.web(model, str(tmp_path / "web"), (ember.randn(1, 1, 28, 28),), normalize=NORMALIZE,
                               verbose=False)
    except ExportError as exc:
        pytest.skip(f"this Ember's ONNX exporter cannot write the model yet: {exc}")
    assert sorted(os.listdir(out)) == ["ember-web.js", "index.html", "model.json", "model.onnx", "ort"]
    x = _digits(8)
    static = _static_server(out)
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{static.server_address[1]}/index.html")
        page.wait_for_function("window.emberReady === true", timeout=60000)
        got = page.evaluate("([data, dims]) => window.emberRun({input: {data, dims}})",
                            [x.reshape(-1).tolist(), list(x.shape)])
    finally:
        page.close()
        static.shutdown()
    out_tensor = got["output"]
    assert out_tensor["dims"] == [8, 10]
    np.testing.assert_allclose(np.reshape(out_tensor["data"], (8, 10)), eager(model, x), rtol=1e-5, atol=1e-5)


def test_demo_page_drawn_digit_browser_and_server_agree(browser, tmp_path):
    pytest.importorskip("uvicorn")
    from ember.serve import Server

    model = train_mlp() if HAVE_MNIST else mlp()
    save_ember(model, str(tmp_path / "mnist" / "1"), metadata={"normalize": list(NORMALIZE)})
    os.makedirs(ARTIFACTS, exist_ok=True)
    with Server({"mnist": str(tmp_path / "mnist")}, port=0, log=lambda m: None) as server:
        page = browser.new_page(viewport={"width": 1000, "height": 560})
        try:
            page.goto(server.url + "/")
            page.wait_for_function("window.emberReady === true", timeout=60000)
            assert "ready" in page.inner_text("#status")
            box = page.locator("#canvas").bounding_box()
            # a "1": one slightly slanted stroke down the middle, drawn with the mouse in small steps
            page.mouse.move(box["x"] + 150, box["y"] + 50)
            page.mouse.down()
            page.mouse.move(box["x"] + 135, box["y"] + 235, steps=25)
            page.mouse.up()
            page.wait_for_function("Number(document.body.dataset.predictions || 0) >= 1", timeout=30000)
            page.screenshot(path=os.path.join(ARTIFACTS, "serve_demo.png"))
            browser_digit, server_digit = page.inner_text("#browser-digit"), page.inner_text("#server-digit")
            logits = [np.array(page.evaluate(f"JSON.parse(document.getElementById('{w}-digit').dataset.logits)"))
                      for w in ("browser", "server")]
        finally:
            page.close()
    assert browser_digit == server_digit
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-5, atol=1e-5)
    if HAVE_MNIST:  # the trained model reads the drawn stroke as a one
        assert server_digit == "1", logits[1]
