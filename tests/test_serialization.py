"""ember.save / ember.load: safetensors checkpoints with a JSON structure, interop with safetensors and
PyTorch, aliasing, atomic writes, and refusal of pickle-based files (without running them)."""
import io
import json
import math
import os
import pickle
import struct

import numpy as np
import pytest

import ember
from ember import serialization as S

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def header_of(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), 8 + n


def checkpoint():
    w = ember.randn(4, 3)
    return {
        "model": {"fc.weight": w, "fc.bias": ember.zeros(4), "bn.num_batches_tracked": ember.tensor(5)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": ember.ones(4, 3)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "name": None}]},
        "scheduler": {"last_epoch": 7, "_last_lr": [0.001]},
        "epoch": 12,
        "rng": ember.get_rng_state(),
        "numpy_rng": np.random.default_rng(0).bit_generator.state,
        "specials": [float("inf"), -math.inf, 2 ** 70, "", b"\x00\xff", np.float32(1.5), np.int64(-2)],
        "arrays": {"ids": np.arange(5, dtype=np.int32), "mask": np.array([True, False])},
        "meta": {"$weird": 1, 3: "int key", (1, 2): "tuple key"},
        "dtype": ember.float16,
        "device": ember.device("cpu"),
    }


def assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, ember.Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_checkpoint_round_trip(tmp_path):
    ckpt = checkpoint()
    ckpt["specials"].append(float("nan"))
    path = tmp_path / "ckpt.safetensors"
    ember.serialization.save(ckpt, path)
    loaded = S.load(path)
    assert_same(ckpt, loaded)
    assert loaded["dtype"] is ember.float16 and isinstance(loaded["specials"][5], np.float32)
    gen = ember.Generator()
    gen.set_state(loaded["rng"])
    ember.set_rng_state(ckpt["rng"])
    assert ember.rand(3, generator=gen).tolist() == ember.rand(3).tolist()


def test_state_dict_keys_are_pytorch_keys(tmp_path):
    sd = {"layer.0.weight": ember.randn(2, 3), "layer.0.bias": ember.randn(2),
          "head.weight": ember.ones(1, 2)}
    path = tmp_path / "model.safetensors"
    S.save(sd, path)
    plain = safetensors_numpy.load_file(str(path))
    assert sorted(plain) == sorted(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(plain[k], v.numpy())
    loaded = S.load(path)
    assert list(loaded) == list(sd)  # the structure keeps the order
    nested, _ = header_of(path)
    assert nested["__metadata__"]["format"] == "ember"
    ckpt_path = tmp_path / "ckpt.safetensors"
    S.save({"model": sd, "epoch": 1}, ckpt_path)
    assert sorted(safetensors_numpy.load_file(str(ckpt_path))) == sorted(f"model.{k}" for k in sd)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8", "int8",
                                   "bool"])
def test_torch_interop_both_ways(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    values = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    theirs = {"w": torch.from_numpy(values.copy()), "b": torch.from_numpy(values[0].copy())}
    safetensors_torch.save_file(theirs, str(tmp_path / "torch.safetensors"))
    ours = S.load(tmp_path / "torch.safetensors")
    assert sorted(ours) == ["b", "w"] and ours["w"].dtype.name == dtype
    np.testing.assert_array_equal(ours["w"].numpy(), values)
    S.save({"w": ember.from_numpy(values.copy())}, tmp_path / "ember.safetensors")
    back = safetensors_torch.load_file(str(tmp_path / "ember.safetensors"))
    assert str(back["w"].dtype) == f"torch.{dtype}"
    np.testing.assert_array_equal(back["w"].numpy(), values)


def test_torch_model_state_dict_loads_as_ember_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    safetensors_torch.save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    loaded = ember.serialization.load(tmp_path / "m.safetensors")
    assert set(loaded) == set(model.state_dict())
    assert all(isinstance(v, ember.Tensor) for v in loaded.values())
    assert loaded["1.num_batches_tracked"].dtype == ember.int64
    np.testing.assert_array_equal(loaded["0.weight"].numpy(), model.state_dict()["0.weight"].numpy())


def test_aliases_and_requires_grad(tmp_path):
    w = ember.randn(3, 3, requires_grad=True)
    path = tmp_path / "tied.safetensors"
    S.save({"enc.weight": w, "dec.weight": w, "other": ember.ones(2)}, path)
    assert sorted(safetensors_numpy.load_file(str(path))) == ["dec.weight", "enc.weight", "other"]
    loaded = S.load(path)
    assert loaded["enc.weight"] is loaded["dec.weight"] and loaded["enc.weight"].requires_grad
    assert not loaded["other"].requires_grad


def test_alignment_and_file_objects(tmp_path):
    buf = io.BytesIO()
    S.save({"a": ember.ones(3, dtype=ember.uint8), "b": ember.ones(5, dtype=ember.float64),
            "c": ember.ones(1, dtype=ember.float16)}, buf)
    path = tmp_path / "x.safetensors"
    path.write_bytes(buf.getvalue())
    header, start = header_of(path)
    assert start % 8 == 0
    for key, info in header.items():
        if key != "__metadata__":
            itemsize = {"F64": 8, "F16": 2, "U8": 1}[info["dtype"]]
            assert info["data_offsets"][0] % itemsize == 0
    buf.seek(0)
    assert S.load(buf)["b"].dtype == ember.float64


def test_save_is_atomic(tmp_path):
    path = tmp_path / "keep.safetensors"
    S.save({"x": ember.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot save object at 'bad.1'"):
        S.save({"x": ember.zeros(2), "bad": [1, object()]}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.safetensors"]  # no temp files left behind


class Boom:
    """Unpickling this would create a marker file (proof that code ran)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_refuses_pickle_and_torch_zip_without_running_them(tmp_path):
    marker = tmp_path / "PWNED"
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"x": Boom(str(marker))}))
    with pytest.raises(ValueError, match="(?s)refused.*Python pickle.*never unpickles"):
        S.load(tmp_path / "evil.pt")
    assert not marker.exists()
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="(?s)refused.*zip archive.*safetensors"):
        S.load(tmp_path / "model.pt")
    np.save(tmp_path / "a.npy", np.ones(2))
    with pytest.raises(ValueError, match="NumPy .npy"):
        S.load(tmp_path / "a.npy")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="not a safetensors file"):
        S.load(tmp_path / "empty")


def test_corrupt_files_are_reported(tmp_path):
    path = tmp_path / "t.safetensors"
    S.save({"x": ember.ones(100)}, path)
    raw = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="corrupt.*'x'"):
        S.load(tmp_path / "cut.safetensors")
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 10 ** 12) + b"{}")
    with pytest.raises(ValueError, match="header length"):
        S.load(tmp_path / "huge.safetensors")


def test_map_location_and_cuda_tensors_on_cpu_machines(tmp_path):
    path = tmp_path / "c.safetensors"
    S.save({"w": ember.ones(2)}, path)
    seen = []
    out = S.load(path, map_location=lambda dev: seen.append(dev) or "cpu")
    assert seen == ["cpu"] and out["w"].device == ember.device("cpu")
    assert S.load(path, map_location={"cpu": "cpu"})["w"].tolist() == [1.0, 1.0]
    # a file saved on a GPU: same bytes, the structure says cuda:0
    arrays = {"w": np.ones(2, np.float32)}
    structure = json.dumps({"w": {"$tensor": "w", "device": "cuda:0"}})
    S._write_file(str(tmp_path / "gpu.safetensors"), arrays,
                  {"format": "ember", "ember_structure": structure})
    assert S.load(tmp_path / "gpu.safetensors", map_location="cpu")["w"].device.type == "cpu"
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location='cpu'"):
            S.load(tmp_path / "gpu.safetensors")


def test_flat_safetensors_helpers(tmp_path):
    path = tmp_path / "flat.safetensors"
    S.save_safetensors({"a": ember.arange(4), "b": np.zeros((2, 2), np.float16)}, path, metadata={"k": "v"})
    loaded = S.load_safetensors(path)
    assert loaded["a"].tolist() == [0, 1, 2, 3] and loaded["b"].dtype == ember.float16
    header, _ = header_of(path)
    assert header["__metadata__"] == {"k": "v"}
    with pytest.raises(TypeError, match="not a tensor"):
        S.save_safetensors({"a": [1, 2]}, path)
    with pytest.raises(TypeError, match="keys must be strings"):
        S.save_safetensors({1: ember.ones(1)}, path)


def test_ember_module_state_dict_round_trip_has_pytorch_keys(tmp_path):
    nn = pytest.importorskip("ember.nn")
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    path = tmp_path / "model.safetensors"
    S.save(model.state_dict(), path)
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).state_dict()
    assert sorted(safetensors_numpy.load_file(str(path))) == sorted(reference)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    result = fresh.load_state_dict(S.load(path))
    assert not result.missing_keys and not result.unexpected_keys
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


@pytest.mark.parametrize("header_len", [640, 896, 1152, 1408])
def test_headers_whose_length_starts_like_pickle_load(tmp_path, header_len):
    # a header of 640..1408 bytes starts the file with 80 02..05: pickle's magic; the layout decides, not the sniff
    key = "w"
    base = {key: {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}
    pad = header_len - len(json.dumps(base | {"__metadata__": {"p": ""}}, separators=(",", ":")))
    header = json.dumps(base | {"__metadata__": {"p": "x" * pad}}, separators=(",", ":")).encode()
    assert len(header) == header_len
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", header_len) + header + np.arange(3, dtype="<f4").tobytes())
    assert path.read_bytes()[:2] == bytes([0x80, header_len // 256])
    assert safetensors_numpy.load_file(str(path))[key].tolist() == [0.0, 1.0, 2.0]  # the library agrees
    assert S.load(path)[key].tolist() == [0.0, 1.0, 2.0]
