"""The programs in examples/ run end to end (short schedules) on the data shipped in the repository, and the
quickstart downloads MNIST with checksums and a progress bar, falling back to the shipped split."""
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "examples", "data", "mnist")
SHARED_MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist")


def run(script, *args, cwd=None, env_extra=None, timeout=300):
    env = dict(os.environ, PYTHONPATH=ROOT, EMBER_NO_JIT="1", **(env_extra or {}))  # no numba compile wait
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout, proc.stderr


def losses(text, pattern):
    return [float(v) for v in re.findall(pattern, text)]


def test_shipped_mnist_split_is_the_official_one():
    import hashlib

    want = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
    for name, md5 in want.items():
        with open(os.path.join(SHIPPED, name), "rb") as f:
            assert hashlib.md5(f.read()).hexdigest() == md5, name
    assert "Attribution-Share Alike 3.0" in open(os.path.join(SHIPPED, "README.md")).read()


@pytest.fixture
def mirror(tmp_path):
    """An MNIST mirror on 127.0.0.1: the real test split, and a training-images file with the wrong bytes."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(os.path.join(SHIPPED, name), folder / name)
    shutil.copy(os.path.join(SHIPPED, "t10k-labels-idx1-ubyte.gz"), folder / "train-images-idx3-ubyte.gz")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(folder), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_quickstart_downloads_with_checksums_and_falls_back(tmp_path, mirror):
    out, err = run("quickstart.py", "--epochs", "1", "--mirror", mirror, cwd=tmp_path,
                   env_extra={"EMBER_DATA_DIR": str(tmp_path / "cache")})
    assert "Downloading " + mirror + "t10k-images-idx3-ubyte.gz" in err
    assert re.search(r"100% \|#+\| 1\.6 MB/1\.6 MB \[[\d.]+s, [\d.]+ [kMG]?B/s\]", err), err
    assert (tmp_path / "cache" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists()
    assert "Could not download MNIST" in out and "MD5 mismatch" in out
    assert "Using the 10,000-image MNIST test split shipped in examples/data/mnist" in out
    assert not (tmp_path / "cache" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()  # nothing half-kept
    assert float(re.search(r"final test accuracy: ([\d.]+)", out).group(1)) > 0.85


@pytest.mark.skipif(not os.path.isdir(SHARED_MNIST), reason="../shared/data/mnist is not present")
def test_quickstart_reads_a_data_folder():
    out, _ = run("quickstart.py", "--data", SHARED_MNIST, "--epochs", "0")
    assert f"Using MNIST's test split from {SHARED_MNIST}" in out and "final test accuracy" in out


def test_mnist_cnn(tmp_path):
    out, _ = run("mnist_cnn.py", "--max-batches", "8", "--test-batch-size", "100", "--log-interval", "4",
                 "--save-model", str(tmp_path / "cnn.pt"))
    first, *_, last = losses(out, r"Loss: ([\d.]+)")
    assert last < first
    accuracy = float(re.search(r"Accuracy: \d+/\d+ \((\d+)%\)", out).group(1))
    assert accuracy > 50 and (tmp_path / "cnn.pt").exists()


def test_vae(tmp_path):
    pytest.importorskip("PIL")
    out, _ = run("vae.py", "--max-batches", "8", "--log-interval", "2", "--save-images", str(tmp_path))
    first, *_, last = losses(out, r"\tLoss: ([\d.]+)")
    assert last < first and (tmp_path / "sample.png").exists() and (tmp_path / "reconstruction.png").exists()


def test_char_rnn():
    out, _ = run("char_rnn.py", "--steps", "30", "--seq-len", "32", "--hidden", "48", "--layers", "1",
                 "--sample-length", "30")
    first, *_, last = losses(out, r"loss ([\d.]+)")
    assert last < first and out.rstrip().splitlines()[-1]  # a sample was written


def test_transformer_lm():
    out, _ = run("transformer_lm.py", "--steps", "20", "--block", "32", "--d-model", "32", "--layers", "1",
                 "--sample-length", "20", "--compile")
    first, *_, last = losses(out, r"train loss ([\d.]+)")
    assert last < first and "validation loss" in out


def test_keras_convnet_with_callbacks(tmp_path):
    out, _ = run("keras_convnet.py", "--epochs", "2", "--max-samples", "512", "--out", str(tmp_path), cwd=tmp_path)
    rows = open(tmp_path / "training_log.csv").read().strip().splitlines()
    assert rows[0].split(",") == ["epoch", "accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"]
    assert len(rows) == 3  # one row per epoch (CSVLogger)
    test_acc = losses(out, r"Test accuracy: ([0-9.]+)")[0]
    val_losses = [float(r.split(",")[-1]) for r in rows[1:]]
    reloaded_acc = losses(out, r"Reloaded .*test accuracy ([0-9.]+)")[0]
    if val_losses[-1] == min(val_losses):  # the checkpoint holds the best epoch: here the last, the model's own
        assert reloaded_acc == test_acc
    assert reloaded_acc > 0.3
    assert test_acc > 0.3  # 2 epochs of 4 steps from scratch: well above chance (0.1)
    assert (tmp_path / "best.keras").exists()
