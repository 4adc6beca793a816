"""``keras.datasets`` loaders that use Keras's cache: small fixture files in Keras's layout are served by a
loopback HTTP server (127.0.0.1, stopped by the test) or placed in the cache, and each loader's result is
compared with real Keras 3's loader reading the very same file."""

import hashlib
import io
import os
import pickle

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

os.environ.setdefault("KERAS_BACKEND", "torch")
real = pytest.importorskip("keras")

from ember import keras  # noqa: E402
from tests.test_keras_get_file import _Server, _tar_gz  # noqa: E402

RNG = np.random.default_rng(7)


def _batch(n, label_keys):
    d = {b"batch_label": b"fixture", b"data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8),
         b"filenames": [b"img%d.png" % i for i in range(n)]}
    for key, classes in label_keys.items():
        d[key.encode()] = [int(v) for v in RNG.integers(0, classes, n)]
    return pickle.dumps(d, protocol=3)  # Keras's own reader refuses protocol 2's _codecs.encode for bytes


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _same(ours, theirs):
    for a, b in zip(ours, theirs):  # (x, y) of one split
        assert a.shape == b.shape and a.dtype == b.dtype
        if a.dtype == object:
            assert [list(s) for s in a] == [list(s) for s in b]
        else:
            assert np.array_equal(a, b)


CIFAR = {
    "cifar10": ("cifar-10-python.tar.gz", "cifar-10-batches-py-target",
                {f"cifar-10-batches-py/data_batch_{i}": ({"labels": 10}, 4) for i in range(1, 6)}
                | {"cifar-10-batches-py/test_batch": ({"labels": 10}, 3)}, {}),
    "cifar100": ("cifar-100-python.tar.gz", "cifar-100-python-target",
                 {"cifar-100-python/train": ({"fine_labels": 100, "coarse_labels": 20}, 5),
                  "cifar-100-python/test": ({"fine_labels": 100, "coarse_labels": 20}, 3)}, {"label_mode": "coarse"}),
}


@pytest.mark.parametrize("name", sorted(CIFAR))
def test_cifar_download_extract_and_parse_like_keras(name, tmp_path, monkeypatch):
    archive_name, dirname, members, kwargs = CIFAR[name]
    archive = _tar_gz({m: _batch(n, keys) for m, (keys, n) in members.items()})
    module = getattr(keras.datasets, name)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with _Server({archive_name: archive}) as server:
        monkeypatch.setattr(module, "ORIGIN", server.url(archive_name))
        monkeypatch.setattr(module, "SHA256", _sha(archive))
        ours = module.load_data(**kwargs)
        module.load_data(**kwargs)  # second call: from the cache
        assert len(server.requests) == 1
    folder = tmp_path / "datasets" / dirname
    assert (tmp_path / "datasets" / f"{dirname}_archive").is_file() and folder.is_dir()  # Keras's layout
    theirs = _keras_cifar(name, folder, monkeypatch, **kwargs)
    for (xo, yo), (xt, yt) in zip(ours, theirs):
        assert xo.dtype == xt.dtype == np.uint8 and xo.shape == xt.shape and np.array_equal(xo, xt)
        assert yo.shape == yt.shape and np.array_equal(yo, yt.astype(yo.dtype))


def _keras_cifar(name, folder, monkeypatch, **kwargs):
    if name == "cifar100":  # Keras's own loader, pointed at the folder Ember extracted
        from keras.src.datasets import cifar100

        monkeypatch.setattr(cifar100, "get_file", lambda *a, **k: str(folder))
        return cifar100.load_data(**kwargs)
    # Keras's cifar10.load_data assumes 10,000 images per batch; read the small batches with its load_batch
    from keras.src.datasets.cifar import load_batch

    parts = [load_batch(str(folder / "cifar-10-batches-py" / f)) for f in
             [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]]
    x = [np.concatenate([p[0] for p in parts[:5]]), parts[5][0]]
    y = [np.concatenate([p[1] for p in parts[:5]]), np.asarray(parts[5][1])]
    return [(xi.transpose(0, 2, 3, 1), yi.astype(np.uint8).reshape(-1, 1)) for xi, yi in zip(x, y)]


def _ragged(n, vocab, longest):
    out = np.empty(n, dtype=object)
    out[:] = [[int(w) for w in RNG.integers(1, vocab, RNG.integers(1, longest))] for _ in range(n)]
    return out


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


SEQUENCES = {
    "imdb": (lambda: _npz(x_train=_ragged(30, 60, 25), y_train=RNG.integers(0, 2, 30),
                          x_test=_ragged(20, 60, 25), y_test=RNG.integers(0, 2, 20)),
             [{}, {"num_words": 20, "skip_top": 3, "maxlen": 15, "seed": 5}, {"start_char": None, "oov_char": None,
                                                                               "num_words": 30}]),
    "reuters": (lambda: _npz(x=_ragged(40, 80, 30), y=RNG.integers(0, 46, 40)),
                [{}, {"num_words": 25, "maxlen": 20, "test_split": 0.3}, {"index_from": 0, "start_char": None}]),
    "boston_housing": (lambda: _npz(x=RNG.random((23, 13)), y=RNG.random(23) * 50),
                       [{}, {"test_split": 0.35, "seed": 1}]),
    "california_housing": (lambda: _npz(x=RNG.random((640, 8)), y=RNG.random(640) * 5e5),
                           [{}, {"version": "small", "test_split": 0.3, "seed": 2}]),
}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_npz_datasets_match_keras(name, tmp_path, monkeypatch):
    make, variants = SEQUENCES[name]
    data = make()
    fname = f"{name}.npz"
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / fname).write_bytes(data)  # already in Keras's cache: no download
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    module = getattr(keras.datasets, name)
    monkeypatch.setattr(module, "SHA256", _sha(data))
    keras_module = __import__(f"keras.src.datasets.{name}", fromlist=["load_data"])
    monkeypatch.setattr(keras_module, "get_file", lambda *a, **k: str(tmp_path / "datasets" / fname))
    for kwargs in variants:
        ours, theirs = module.load_data(**kwargs), keras_module.load_data(**kwargs)
        for split_ours, split_theirs in zip(ours, theirs):
            _same(split_ours, split_theirs)
    with pytest.raises(RuntimeError, match="storage.googleapis.com"):  # wrong file in the cache, offline
        monkeypatch.setattr(module, "SHA256", "0" * 64)
        module.load_data()
