"""The real TensorBoard server reads what Ember wrote, and its pages, loaded in headless Chromium, show the runs
and tags: Scalars, Images, Histograms and Graphs. Screenshots are saved as test artifacts (folder printed; set
EMBER_TEST_ARTIFACTS to keep them somewhere). Skips when Debian's chromium or Python playwright is missing."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tensorboard")
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

import ember  # noqa: E402
from ember import keras, nn  # noqa: E402
from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def _write_logs(log_dir):
    rng = np.random.default_rng(0)
    with SummaryWriter(os.path.join(log_dir, "ember_writer")) as w:
        for step in range(10):
            w.add_scalar("loss/train", 1.0 / (step + 1), step)
            w.add_histogram("weights/fc1", rng.normal(step * 0.2, 1.0, 500), step)
        w.add_images("samples", rng.random((4, 1, 28, 28)), 0)
        w.add_graph(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), ember.randn(3, 4))
    model = keras.Sequential([keras.layers.Dense(4, activation="relu", input_shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.random((32, 3)), rng.random((32, 1)), epochs=2, validation_split=0.25, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(os.path.join(log_dir, "keras"))])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log_dir = str(tmp_path_factory.mktemp("tb_logs"))
    _write_logs(log_dir)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", log_dir, "--host", "127.0.0.1",
                             "--port", str(port), "--reload_interval", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/data/runs", timeout=2) as r:
                    if len(r.read()) > 2:  # the runs are loaded
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"tensorboard did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("EMBER_TEST_ARTIFACTS") or str(tmp_path_factory.mktemp("tensorboard_screenshots"))
    os.makedirs(folder, exist_ok=True)
    print(f"\nTensorBoard screenshots in {folder}")
    return folder


def _visible(page, text):
    """The first visible element showing ``text`` (Playwright's text selectors reach into shadow DOM)."""
    loc = page.get_by_text(text, exact=True).filter(visible=True).first
    loc.wait_for(timeout=90_000)
    return loc


PAGES = [  # (tab, runs in the run selector, tags on chart cards)
    ("scalars", ["ember_writer", "keras/train", "keras/validation"], ["loss/train", "epoch_loss"]),
    ("images", ["ember_writer"], ["samples"]),
    ("histograms", ["ember_writer"], ["weights/fc1"]),
]


@pytest.mark.parametrize("tab, runs, tags", PAGES, ids=[p[0] for p in PAGES])
def test_page_shows_runs_and_tags(page, server, shots, tab, runs, tags):
    page.goto(f"{server}/#{tab}")
    try:
        for run in runs:
            _visible(page, run)
        # the tag filter opens the matching cards (groups below the first start collapsed)
        page.locator("tf-tag-filterer input").filter(visible=True).first.fill("|".join(tags))
        for tag in tags:
            _visible(page, tag)
        page.wait_for_timeout(500)  # let the charts finish drawing for the picture
    finally:
        page.screenshot(path=os.path.join(shots, f"{tab}.png"))


def test_graphs_page_draws_module_scopes(page, server, shots):
    page.goto(f"{server}/#graphs&run=ember_writer")
    seq = page.locator("svg text", has_text="Sequential").filter(visible=True).first
    seq.wait_for(timeout=90_000)
    try:
        # open the Sequential namespace: its modules appear as boxes. The scene zooms to fit after the first
        # draw, so a double-click can land where the box was: retry until its children show
        first = page.locator("svg text", has_text="Linear[0]").filter(visible=True).first
        for _ in range(12):
            page.wait_for_timeout(1000)
            seq.dblclick(force=True)
            try:
                first.wait_for(timeout=5_000)
                break
            except Exception:
                continue
        for name in ["Linear[0]", "ReLU[1]", "Linear[2]"]:
            page.locator("svg text", has_text=name).filter(visible=True).first.wait_for(timeout=90_000)
        page.wait_for_timeout(500)
    finally:
        page.screenshot(path=os.path.join(shots, "graphs.png"))
