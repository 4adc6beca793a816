"""``keras.utils.get_file`` against a loopback HTTP server (started and stopped here, 127.0.0.1 only), the
cache, hashes, extraction and the offline error; and the code-free pickle data reader behind the datasets."""

import hashlib
import http.server
import io
import os
import pickle
import socket
import tarfile
import threading
import zipfile

import numpy as np
import pytest

from ember.keras import utils
from ember.keras.datasets._pickle_data import PickleRefused, load_npz, loads


class _Server:
    """Serves ``files`` ({name: bytes}) on 127.0.0.1 and counts requests."""

    def __init__(self, files):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                body = outer.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _tar_gz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


PAYLOAD = os.urandom(300_000)
SHA, MD5 = hashlib.sha256(PAYLOAD).hexdigest(), hashlib.md5(PAYLOAD).hexdigest()


def test_download_then_cache_with_progress(tmp_path, capsys):
    with _Server({"data.bin": PAYLOAD}) as server:
        path = utils.get_file("data.bin", server.url("data.bin"), file_hash=SHA, cache_dir=tmp_path)
        assert path == str(tmp_path / "datasets" / "data.bin") and open(path, "rb").read() == PAYLOAD
        err = capsys.readouterr().err
        assert server.url("data.bin") in err and "300.0 kB" in err and "/s" in err  # size and speed
        again = utils.get_file("data.bin", server.url("data.bin"), md5_hash=MD5, cache_dir=tmp_path)
        assert again == path and len(server.requests) == 1  # served from the cache, hash checked


def test_stale_cache_is_fetched_again_and_bad_download_refused(tmp_path):
    target = tmp_path / "sub" / "data.bin"
    target.parent.mkdir()
    target.write_bytes(b"stale")
    with _Server({"data.bin": PAYLOAD}) as server:
        url = server.url("data.bin")
        assert open(utils.get_file(origin=url, file_hash=SHA, cache_dir=tmp_path, cache_subdir="sub"),
                    "rb").read() == PAYLOAD
        with pytest.raises(ValueError, match="hash is .*not 0+"):
            utils.get_file("other.bin", url, file_hash="0" * 64, cache_dir=tmp_path)
        assert not (tmp_path / "datasets" / "other.bin").exists()
        utils.get_file("forced.bin", url, cache_dir=tmp_path)
        utils.get_file("forced.bin", url, cache_dir=tmp_path, force_download=True)
        assert len(server.requests) == 4


@pytest.mark.parametrize("kind,pack", [("tar.gz", _tar_gz), ("zip", _zip)])
def test_extract_archives(tmp_path, kind, pack):
    archive = pack({"pkg/a.txt": b"alpha", "pkg/deep/b.txt": b"beta"})
    with _Server({f"pkg.{kind}": archive}) as server:
        folder = utils.get_file(f"pkg.{kind}", server.url(f"pkg.{kind}"), extract=True, cache_dir=tmp_path)
        assert folder == str(tmp_path / "datasets" / "pkg_extracted")  # Keras 3's naming
        assert open(os.path.join(folder, "pkg", "deep", "b.txt"), "rb").read() == b"beta"
        named = utils.get_file("pkgdir", server.url(f"pkg.{kind}"), untar=kind == "tar.gz",
                               extract=kind == "zip", cache_dir=tmp_path)
        assert named == str(tmp_path / "datasets" / "pkgdir") and os.path.isdir(os.path.join(named, "pkg"))


def test_archive_escaping_its_folder_is_refused(tmp_path):
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "evil.zip").write_bytes(_zip({"../escaped.txt": b"x"}))
    with pytest.raises(ValueError, match="outside"):
        utils.get_file("evil.zip", "http://127.0.0.1:9/evil.zip", extract=True, cache_dir=tmp_path)
    assert not (tmp_path / "escaped.txt").exists()


def test_offline_error_names_url_and_cache_path(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/missing.npz"
    target = str(tmp_path / "home" / "datasets" / "missing.npz")
    with pytest.raises(RuntimeError) as err:
        utils.get_file("missing.npz", url)
    assert url in str(err.value) and target in str(err.value)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    open(target, "wb").write(b"copied by hand")
    assert utils.get_file("missing.npz", url) == target  # the cached copy is used offline


# -- the pickle data reader ----------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_reader_reads_plain_data_and_arrays(protocol):
    value = {b"data": np.arange(24, dtype=np.uint8).reshape(4, 6), "labels": [3, 1, 2], "f": np.ones((2, 3)).T,
             "big_endian": np.arange(3, dtype=">i4"), "misc": [True, None, "é", b"\x00", (1, 2), -5, 2**70, 1.5]}
    got = loads(pickle.dumps(value, protocol=protocol))
    assert got["misc"] == value["misc"] and got["labels"] == value["labels"]
    for key in (b"data", "f", "big_endian"):
        assert got[key].dtype == value[key].dtype and np.array_equal(got[key], value[key])


def test_npz_object_arrays_without_unpickling(tmp_path):
    ragged = np.empty(3, dtype=object)
    ragged[:] = [[1, 2], [3], [4, 5, 6]]
    np.savez(tmp_path / "r.npz", x=ragged, y=np.arange(3))
    got = load_npz(tmp_path / "r.npz")
    assert [list(s) for s in got["x"]] == [[1, 2], [3], [4, 5, 6]] and got["y"].tolist() == [0, 1, 2]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))


def test_pickle_reader_refuses_code():
    with pytest.raises(PickleRefused, match="system"):
        loads(pickle.dumps(_Evil()))
    with pytest.raises(PickleRefused, match="builtins.eval"):
        loads(b"cbuiltins\neval\n(S'1'\ntR.")


def test_python2_strings_stay_bytes():
    # what CIFAR's files hold: a protocol-2 stream written by Python 2 (str -> SHORT_BINSTRING)
    stream = b"\x80\x02}q\x00(U\x06labelsq\x01]q\x02(K\x01K\x02eU\x01nq\x03U\x02abq\x04u."
    assert loads(stream) == {b"labels": [1, 2], b"n": b"ab"}
    assert loads(stream, encoding="latin1") == {"labels": [1, 2], "n": "ab"}
