"""ember.vision: IDX/CIFAR parsing, datasets (local files, mirrors via file:// URLs, MD5 checks), transforms
(against torch's interpolate and torchvision's documented behaviour), and fast DataLoader batches."""
import gzip
import hashlib
import os
import shutil
import struct
import tarfile
import time

import numpy as np
import pytest

import ember
from ember.utils import download as dl
from ember.utils.data import DataLoader, StackedSamples
from ember.vision import datasets
from ember.vision import transforms as T

MNIST_DIR = os.environ.get("EMBER_TEST_MNIST_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
HAVE_MNIST = os.path.isfile(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"))
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason="real MNIST test files not present")


def write_idx(path, arr, code=0x08, compress=True):
    big = arr.astype(arr.dtype.newbyteorder(">"))
    raw = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + big.tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(raw)


def fake_mnist(folder, n=6, split="t10k", compress=True):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    ext = ".gz" if compress else ""
    write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte{ext}"), images, compress=compress)
    write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte{ext}"), labels, compress=compress)
    return images, labels


def md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


# ------------------------------------------------------------------------------------------ IDX / MNIST


def test_read_idx_dtypes_and_errors(tmp_path):
    arr = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    write_idx(tmp_path / "a.gz", arr, code=0x0C)
    out = datasets.read_idx(str(tmp_path / "a.gz"))
    assert out.dtype == np.int32 and out.dtype.isnative and out.tolist() == arr.tolist()
    write_idx(tmp_path / "f", np.array([1.5, -2.0], np.float32), code=0x0D, compress=False)
    assert datasets.read_idx(str(tmp_path / "f")).tolist() == [1.5, -2.0]
    (tmp_path / "bad").write_bytes(b"\x12\x34\x56\x78rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        datasets.read_idx(str(tmp_path / "short"))


@pytest.mark.parametrize("where, compress", [("MNIST/raw", True), ("MNIST/raw", False), ("", True)])
def test_mnist_from_local_files(tmp_path, where, compress):
    images, labels = fake_mnist(tmp_path / where, compress=compress)
    ds = datasets.MNIST(tmp_path, train=False)
    # torchvision's MNIST exposes tensors: data uint8 N x 28 x 28, targets int64
    assert len(ds) == 6 and ds.data.dtype == ember.uint8 and ds.targets.dtype == ember.int64
    assert ds.data.shape == (6, 28, 28) and (ds.targets == 4).sum().item() == 1
    img, label = ds[4]
    assert isinstance(img, np.ndarray) and img.shape == (28, 28) and type(label) is int and label == 4
    np.testing.assert_array_equal(ds.data, images)
    got_images, got_labels = datasets.mnist_arrays(tmp_path, train=False)
    np.testing.assert_array_equal(got_labels, labels.astype(np.int64))


def test_mnist_missing_files_error_names_files_and_dirs(tmp_path):
    with pytest.raises(RuntimeError) as err:
        datasets.MNIST(tmp_path, train=True)
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg and "download=True" in msg


def test_mnist_download_through_mirrors_with_md5(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    fake_mnist(mirror, n=5, split="t10k")
    sums = {name: md5(mirror / name) for name in os.listdir(mirror)}
    monkeypatch.setattr(datasets.FashionMNIST, "resources", sums)
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["file:///nonexistent-mirror/", f"file://{mirror}/"])
    ds = datasets.FashionMNIST(tmp_path / "root", train=False, download=True)
    assert len(ds) == 5 and ds.classes[0] == "T-shirt/top"
    raw = tmp_path / "root" / "FashionMNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(["t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz",
                                              "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"])
    bad = dict(sums, **{"t10k-labels-idx1-ubyte.gz": "0" * 32})
    monkeypatch.setattr(datasets.FashionMNIST, "resources", bad)
    with pytest.raises(dl.DownloadError, match="(?s)nonexistent-mirror.*MD5 mismatch.*copy t10k-labels"):
        datasets.FashionMNIST(tmp_path / "other", train=False, download=True)
    assert not any(n.startswith(".tmp-") for n in os.listdir(tmp_path / "other" / "FashionMNIST" / "raw"))


@needs_mnist
def test_real_mnist_test_split(tmp_path):
    for name, digest in datasets.MNIST.resources.items():
        if name.startswith("t10k"):
            assert md5(os.path.join(MNIST_DIR, name)) == digest  # our table holds the published sums
    ds = datasets.MNIST(MNIST_DIR, train=False)
    assert ds.data.shape == (10000, 28, 28) and ds.targets[:3].tolist() == [7, 2, 1]
    assert np.bincount(ds.targets).tolist()[:2] == [980, 1135]
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(os.path.join(MNIST_DIR, name), raw / name)
    images, labels = datasets.mnist_arrays(tmp_path, train=False)
    np.testing.assert_array_equal(images, ds.data)


@needs_mnist
def test_mnist_loader_is_vectorised_and_fast():
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(MNIST_DIR, train=False, transform=tf)
    assert isinstance(ds.__getitems__([3, 1]), StackedSamples)
    loader = DataLoader(ds, batch_size=128, shuffle=True, generator=ember.Generator().manual_seed(0))
    start = time.perf_counter()
    n = 0
    for _, y in loader:
        n += len(y)
    assert n == 10000 and time.perf_counter() - start < 3.0
    x, y = next(iter(loader))
    assert tuple(x.shape[1:]) == (1, 28, 28) and x.dtype == ember.float32 and y.dtype == ember.int64
    idx = [9, 0, 4]
    batch_x, batch_y = next(iter(DataLoader(ds, batch_size=3, sampler=idx)))
    per_sample = np.stack([ds[i][0].numpy() for i in idx])
    np.testing.assert_allclose(batch_x.numpy(), per_sample, rtol=1e-6, atol=1e-6)
    assert batch_y.tolist() == [ds[i][1] for i in idx]
    augmented = datasets.MNIST(MNIST_DIR, train=False, transform=T.RandomCrop(28, padding=2))
    assert isinstance(augmented.__getitems__([0, 1]), list)  # per-sample path for random transforms
    with_workers = DataLoader(ds, batch_size=500, num_workers=2, timeout=30)
    assert sum(len(y) for _, y in with_workers) == 10000


# ------------------------------------------------------------------------------------------ CIFAR-10


def cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1)
    return raw.tobytes(), labels, planes


def fake_cifar(root):
    folder = os.path.join(root, "cifar-10-batches-bin")
    os.makedirs(folder, exist_ok=True)
    planes = {}
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        raw, labels, planes[name] = cifar_records(2 if name != "test_batch.bin" else 3, i)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(raw)
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("\n".join(datasets.CIFAR10.classes) + "\n\n")
    return planes


def test_cifar10_binary_layout(tmp_path):
    planes = fake_cifar(tmp_path)
    test = datasets.CIFAR10(tmp_path, train=False)
    assert test.data.shape == (3, 32, 32, 3) and test.data.dtype == np.uint8
    p = planes["test_batch.bin"]
    assert test.data[1, 5, 7].tolist() == [p[1, 0, 5, 7], p[1, 1, 5, 7], p[1, 2, 5, 7]]  # R, G, B planes
    train = datasets.CIFAR10(tmp_path, train=True)
    assert len(train) == 10 and train.classes[-1] == "truck"
    np.testing.assert_array_equal(train.data[8], planes["data_batch_5.bin"][0].transpose(1, 2, 0))
    x = T.ToTensor()(train[0][0])
    assert tuple(x.shape) == (3, 32, 32)
    images, labels = datasets.cifar10_arrays(tmp_path, train=False)
    assert labels.dtype == np.int64 and labels.tolist() == test.targets  # a list of ints, as in torchvision


def test_cifar10_missing_and_download(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="(?s)cifar-10-batches-bin.*test_batch.bin.*download=True"):
        datasets.CIFAR10(tmp_path / "empty", train=False)
    src = tmp_path / "src"
    fake_cifar(src)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = mirror / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    monkeypatch.setattr(datasets.CIFAR10, "mirrors", [f"file://{mirror}/"])
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", md5(archive))
    ds = datasets.CIFAR10(tmp_path / "root", train=False, download=True)
    assert len(ds) == 3
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", "f" * 32)
    with pytest.raises(dl.DownloadError, match="MD5 mismatch"):
        datasets.CIFAR10(tmp_path / "root2", train=True, download=True)
    (tmp_path / "bad" / "cifar-10-batches-bin").mkdir(parents=True)
    (tmp_path / "bad" / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="3073-byte records"):
        datasets.CIFAR10(tmp_path / "bad", train=False)


# ------------------------------------------------------------------------------------------ transforms


def test_to_tensor_and_normalize():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    x = T.ToTensor()(gray)
    assert tuple(x.shape) == (1, 3, 4) and x.dtype == ember.float32
    np.testing.assert_allclose(x.numpy()[0], gray / 255.0, rtol=1e-6)
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    np.testing.assert_allclose(T.ToTensor()(rgb).numpy(), rgb.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    floats = np.full((2, 2), 3.0, np.float32)
    assert T.ToTensor()(floats).numpy().max() == 3.0  # only uint8 is rescaled, as in torchvision
    norm = T.Normalize((0.5, 0.25, 0.0), (0.5, 2.0, 1.0))(T.ToTensor()(rgb))
    ref = (rgb.transpose(2, 0, 1) / 255.0 - np.array([0.5, 0.25, 0.0])[:, None, None]) / np.array(
        [0.5, 2.0, 1.0])[:, None, None]
    np.testing.assert_allclose(norm.numpy(), ref, rtol=1e-5, atol=1e-6)
    batch = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))]).batch(np.stack([gray, gray]))
    assert tuple(batch.shape) == (2, 1, 3, 4)


def test_transform_errors():
    with pytest.raises(TypeError, match="already a tensor"):
        T.ToTensor()(ember.ones(1, 2, 2))
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(ember.ones(1, 2, 2, dtype=ember.uint8))
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0.5,), (0.0,))(ember.ones(1, 2, 2))
    with pytest.raises(ValueError, match="larger than the input image"):
        T.RandomCrop(10)(np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="interpolation"):
        T.Resize(4, interpolation="cubic")


@pytest.mark.parametrize("size", [(8, 11), (30, 40), (17, 9)])
@pytest.mark.parametrize("antialias", [False, True])
def test_resize_bilinear_matches_torch(size, antialias):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).random((3, 17, 23)).astype(np.float32)
    ours = T.Resize(size, antialias=antialias)(ember.from_numpy(x)).numpy()
    ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size, mode="bilinear",
                                          align_corners=False, antialias=antialias)[0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    near = T.Resize(size, interpolation="nearest")(ember.from_numpy(x)).numpy()
    np.testing.assert_array_equal(near, torch.nn.functional.interpolate(
        torch.from_numpy(x)[None], size=size, mode="nearest")[0].numpy())


def test_resize_shapes_on_arrays():
    img = np.random.default_rng(2).integers(0, 256, (20, 40, 3), dtype=np.uint8)
    out = T.Resize(10)(img)  # the smaller edge becomes 10
    assert out.shape == (10, 20, 3) and out.dtype == np.uint8
    chw = T.Resize(10)(ember.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))))
    assert tuple(chw.shape) == (3, 10, 20)
    np.testing.assert_allclose(chw.numpy().transpose(1, 2, 0).astype(int), out.astype(int), atol=1)


def test_crops_and_flips():
    img = np.arange(36).reshape(6, 6)
    assert T.CenterCrop(2)(img).tolist() == [[14, 15], [20, 21]]
    assert T.CenterCrop((8, 2))(img).shape == (8, 2)  # zero-padded when the crop is larger
    assert T.RandomHorizontalFlip(p=1.0)(img).tolist()[0] == [5, 4, 3, 2, 1, 0]
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    t = ember.from_numpy(img.astype(np.float32)[None])
    assert T.RandomHorizontalFlip(p=1.0)(t).numpy()[0, 0].tolist() == [5, 4, 3, 2, 1, 0]
    crop = T.RandomCrop(6, padding=2)
    ember.manual_seed(3)
    a = crop(img)
    ember.manual_seed(3)
    b = crop(img)
    np.testing.assert_array_equal(a, b)
    padded = np.pad(img, 2)
    windows = [padded[i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
    assert any(np.array_equal(a, w) for w in windows)
    seen = {T.RandomCrop(4)(img)[0, 0] for _ in range(60)}
    assert len(seen) > 3  # the window moves
    edge = T.RandomCrop(8, padding=1, padding_mode="edge")(img)
    assert edge.shape == (8, 8) and edge[0, 0] == 0 and edge[-1, -1] == 35


def test_compose_and_lambda():
    tf = T.Compose([T.Lambda(lambda a: a * 2), T.CenterCrop(1)])
    assert tf(np.ones((3, 3))).tolist() == [[2.0]]
    assert not tf.supports_batch and T.Compose([T.ToTensor()]).supports_batch
    assert "CenterCrop" in repr(tf)
