"""``ember.save`` / ``ember.load``: checkpoints as a single safetensors file, never pickle.

The file's tensors are the tensors found in the saved object, keyed by their dotted path (a plain
state_dict keeps its own keys, so ``safetensors.numpy.load_file`` shows exactly PyTorch's keys). The
header's ``__metadata__`` holds ``format: "ember"`` and ``ember_structure``: a JSON description of the
object (dicts, lists, tuples, numbers, strings, bools, None, NumPy arrays and scalars, bytes, dtypes)
that points at tensors by key. Loading parses JSON and raw bytes only, so it can never run code.

>>> import ember, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
>>> ember.serialization.save({"w": ember.ones(2), "epoch": 3}, path)
>>> ember.serialization.load(path)["epoch"]
3
"""
from __future__ import annotations

import base64
import json
import math
import os
import struct
import types

import numpy as np

from ._atomic import atomic_open

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "safe_globals", "add_safe_globals",
           "get_safe_globals", "clear_safe_globals"]

_FORMAT = "ember"
_MAX_HEADER = 100 * 1024 * 1024
_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "I32": "int32",
           "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16", "F32": "float32",
           "F64": "float64", "BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
_CODES = {v: k for k, v in _DTYPES.items()}


def _ember():
    import ember

    return ember


# ----------------------------------------------------------------------------- raw safetensors I/O


def _c_order(arr: np.ndarray) -> np.ndarray:
    """``arr`` in C order, keeping 0-d arrays 0-d (``np.ascontiguousarray`` would make them 1-d)."""
    arr = np.asarray(arr)
    return arr if arr.flags.c_contiguous else np.array(arr, order="C")


def _np_dtype(code: str, key: str) -> np.dtype:
    name = _DTYPES.get(code)
    if name is None:
        raise ValueError(f"safetensors tensor {key!r} has dtype {code!r}, which Ember does not support")
    if name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        try:
            import ml_dtypes
        except ImportError:
            raise ValueError(f"safetensors tensor {key!r} has dtype {code}; install ml_dtypes to load it"
                             ) from None
        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name).newbyteorder("<")


def _encode_header(arrays: dict, metadata: dict | None) -> tuple[bytes, list]:
    # biggest items first, so every tensor starts at a multiple of its item size
    order = sorted(arrays, key=lambda k: -arrays[k].dtype.itemsize)
    header, offset = {}, 0
    for key in order:
        arr = arrays[key]
        code = _CODES.get(arr.dtype.name)
        if code is None:
            raise TypeError(f"cannot save tensor {key!r} of dtype {arr.dtype}: safetensors has no such dtype")
        header[key] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the data section starts 8-byte aligned
    return struct.pack("<Q", len(raw)) + raw, order


def _write_file(path, arrays: dict, metadata: dict | None) -> None:
    """Write a safetensors file atomically: a temp file in the same directory, then os.replace."""
    arrays = {k: _c_order(v) for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype.byteorder == ">":
            arrays[k] = v.astype(v.dtype.newbyteorder("<"))
    head, order = _encode_header(arrays, metadata)
    if hasattr(path, "write"):
        path.write(head)
        for key in order:
            path.write(arrays[key].tobytes())
        return
    path = os.fspath(path)
    with atomic_open(path, ".safetensors") as f:
        f.write(head)
        for key in order:
            f.write(memoryview(arrays[key]).cast("B"))


def _sniff(raw: bytes) -> str | None:
    """A description of what a non-safetensors file looks like, or None if it may be safetensors."""
    if raw[:4] == b"PK\x03\x04":
        return "a zip archive (PyTorch's torch.save format, which stores pickled Python objects)"
    # a safetensors header of 640 + 65536k bytes also starts 80 02: its JSON at byte 8 tells them apart
    if raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") and raw[8:9] != b"{":
        return "a Python pickle"
    if raw[:6] == b"\x93NUMPY":
        return "a NumPy .npy file"
    if raw[:4] == b"\x89HDF":
        return "an HDF5 file (Keras .h5)"
    return None


def _refuse(name, what: str) -> ValueError:
    return ValueError(
        f"ember.load refused {name!r}: it is {what}. Ember reads only safetensors files and never unpickles, "
        "because unpickling can run arbitrary code; nothing in the file was executed. To convert a PyTorch "
        "checkpoint, in PyTorch run: from safetensors.torch import save_file; "
        "save_file(model.state_dict(), 'model.safetensors'), then ember.load('model.safetensors').")


def _read_bytes(f) -> tuple[bytearray, str]:
    if hasattr(f, "read"):
        return bytearray(f.read()), getattr(f, "name", "<file object>")
    with open(f, "rb") as fh:
        return bytearray(fh.read()), os.fspath(f)


def _parse(buf: bytearray, name) -> tuple[dict, dict]:
    """``(arrays by key in file order, metadata)`` from the bytes of a safetensors file.

    The safetensors layout is validated first; only a file that fails it is sniffed for other formats, and
    then just to explain the failure (a valid header's length can begin with pickle's magic bytes)."""
    header, problem = _header(buf)
    if header is None:
        raise _refuse(name, _sniff(bytes(buf[:16])) or f"not a safetensors file ({problem})")
    n = struct.unpack("<Q", bytes(buf[:8]))[0]
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(buf)[8 + n:]
    arrays = {}
    for key, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        arrays[key] = _tensor_array(data, key, info, name)
    return arrays, metadata


def _header(buf: bytearray) -> tuple[dict | None, str]:
    """``(the JSON header, "")`` when ``buf`` has the safetensors layout, else ``(None, why not)``."""
    if len(buf) < 8:
        return None, f"{len(buf)} bytes, shorter than the 8-byte header length"
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    if n > _MAX_HEADER or 8 + n > len(buf):
        return None, f"header length {n} does not fit the file of {len(buf)} bytes"
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"bad JSON header: {e}"
    if not isinstance(header, dict):
        return None, f"the JSON header is a {type(header).__name__}, not an object"
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            return None, f"header entry {key!r} lacks dtype/shape/data_offsets"
    return header, ""


def _tensor_array(data: memoryview, key: str, info: dict, name) -> np.ndarray:
    dtype = _np_dtype(info["dtype"], key)
    shape = tuple(int(s) for s in info["shape"])
    begin, end = (int(x) for x in info["data_offsets"])
    if end - begin != math.prod(shape) * dtype.itemsize or end > len(data) or begin < 0:
        raise ValueError(f"{name!r} is corrupt: tensor {key!r} with shape {list(shape)} and dtype "
                         f"{info['dtype']} does not match its byte range [{begin}, {end})")
    arr = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
    if not arr.dtype.isnative:  # big-endian machines
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr if arr.flags.aligned else arr.copy()


# ----------------------------------------------------------------------------- tensors <-> arrays


def _tensor_to_numpy(t) -> np.ndarray:
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    return _c_order(t.numpy())


def _to_tensor(arr: np.ndarray, device):
    ember = _ember()
    t = ember.from_numpy(arr)
    if device is None or str(device) == "cpu":
        return t
    if ember.device(device).type == "cuda" and not ember.backend.cuda_available():
        raise RuntimeError(f"ember.load: a tensor was saved on {device}, but CUDA is not available here; "
                           "pass map_location='cpu' to load it on the CPU")
    return t.to(device)


def _device_for(saved, map_location):
    """Where a tensor saved on ``saved`` goes: PyTorch's map_location rules (None, str, device, dict,
    callable)."""
    if map_location is None:
        return saved
    if isinstance(map_location, dict):
        return map_location.get(saved, saved)
    if callable(map_location) and not isinstance(map_location, str):
        return map_location(saved)
    return str(map_location)


def save_safetensors(tensors: dict, path, metadata: dict | None = None) -> None:
    """Save a flat ``{name: tensor}`` dict as a standard safetensors file (atomically).

    >>> import ember, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_safetensors({"w": ember.zeros(2, 3)}, p)
    >>> tuple(load_safetensors(p)["w"].shape)
    (2, 3)
    """
    ember = _ember()
    arrays = {}
    for key, t in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"save_safetensors: keys must be strings, got {key!r}")
        if isinstance(t, ember.Tensor):
            arrays[key] = _tensor_to_numpy(t)
        elif isinstance(t, np.ndarray):
            arrays[key] = t
        else:
            raise TypeError(f"save_safetensors: value for {key!r} is {type(t).__name__}, not a tensor; "
                            "use ember.save for nested objects")
    _write_file(path, arrays, metadata)


def load_safetensors(path, device=None) -> dict:
    """Load every tensor of a safetensors file into a ``{name: ember tensor}`` dict (file order).

    >>> import ember, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_safetensors({"b": ember.ones(1)}, p)
    >>> list(load_safetensors(p))
    ['b']
    """
    buf, name = _read_bytes(path)
    arrays, _ = _parse(buf, name)
    return {k: _to_tensor(a, device) for k, a in arrays.items()}


# ----------------------------------------------------------------------------- object <-> JSON structure
# JSON values stand for themselves (a JSON object is a dict with string keys, none starting with "$");
# every other value is a one-key object tagged "$tuple", "$dict", "$float", "$tensor", "$ndarray",
# "$npscalar", "$bytes", "$dtype" or "$device".


class _Encoder:
    def __init__(self):
        self.arrays = {}
        self.by_id = {}  # id(tensor or array) -> key of its first occurrence
        self.keep = []  # keeps encoded objects alive so their ids stay unique

    def key_for(self, path: list) -> str:
        base = ".".join(str(p) for p in path) or "tensor"
        key, n = base, 1
        while key in self.arrays:
            n += 1
            key = f"{base}#{n}"
        return key

    def array_node(self, tag: str, obj, arr: np.ndarray, path: list, extra: dict) -> dict:
        if arr.dtype.kind in "OUSV" or arr.dtype.name not in _CODES:
            raise TypeError(f"ember.save: cannot save a NumPy array of dtype {arr.dtype} at "
                            f"{_where(path)}; safetensors holds numeric and bool arrays only")
        key = self.key_for(path)
        self.arrays[key] = arr
        node = {tag: key, **extra}
        first = self.by_id.get(id(obj))
        if first is not None:
            node["alias_of"] = first  # stored again under its own key; loaded as the same object
        else:
            self.by_id[id(obj)] = key
            self.keep.append(obj)
        return node

    def encode(self, obj, path: list):
        ember = _ember()
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if type(obj) is int:
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if isinstance(obj, ember.Tensor):
            extra = {"device": str(obj.device)}
            if obj.requires_grad:
                extra["requires_grad"] = True
            return self.array_node("$tensor", obj, _tensor_to_numpy(obj), path, extra)
        if isinstance(obj, np.ndarray):
            return self.array_node("$ndarray", obj, _c_order(obj), path, {})
        return self.encode_other(obj, path)

    def encode_other(self, obj, path: list):
        ember = _ember()
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, path + [i]) for i, v in enumerate(obj)]
            return items if isinstance(obj, list) else {"$tuple": items}
        if isinstance(obj, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in obj):
                return {k: self.encode(v, path + [k]) for k, v in obj.items()}
            return {"$dict": [[self.encode_key(k, path), self.encode(v, path + [k])] for k, v in obj.items()]}
        if isinstance(obj, np.generic) and obj.dtype.name in _CODES:
            return {"$npscalar": obj.dtype.name, "value": self.encode(obj.item(), path)}
        if isinstance(obj, (bytes, bytearray)):
            return {"$bytes": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, ember.dtypes.DType):
            return {"$dtype": obj.name}
        if isinstance(obj, ember.device):
            return {"$device": str(obj)}
        if isinstance(obj, (int, float)):  # int/float subclasses such as IntEnum members
            return self.encode(float(obj) if isinstance(obj, float) else int(obj), path)
        if isinstance(obj, ember.nn.Module):  # a whole model, as data (see _module_format)
            from ._module_format import encode_module

            return encode_module(self, obj, path)
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
            from ._module_format import encode_function

            return encode_function(obj, path)
        raise TypeError(f"ember.save: cannot save {type(obj).__name__} at {_where(path)}; supported are "
                        "tensors, NumPy arrays and scalars, numbers, strings, bools, None, bytes, dtypes, "
                        "devices, and dicts/lists/tuples of these. Convert it (e.g. to a dict) first.")

    def encode_key(self, key, path: list):
        if key is None or isinstance(key, (bool, int, float, str)) or isinstance(key, tuple):
            return self.encode(key, path + ["<key>"])
        raise TypeError(f"ember.save: dict key {key!r} at {_where(path)} has type {type(key).__name__}; "
                        "keys must be strings, numbers, bools, None or tuples of these")


def _where(path: list) -> str:
    return "the top level" if not path else "'" + ".".join(str(p) for p in path) + "'"


class _Decoder:
    _TAGS = ("$tuple", "$dict", "$float", "$tensor", "$ndarray", "$npscalar", "$bytes", "$dtype",
             "$device", "$module", "$function")

    def __init__(self, arrays: dict, make_tensor, name: str):
        self.arrays, self.make_tensor, self.name = arrays, make_tensor, name
        self.objects = {}  # key -> loaded tensor/array, for aliases

    def decode(self, node):
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        tag = next((k for k in node if k.startswith("$")), None)
        if tag is None:
            return {k: self.decode(v) for k, v in node.items()}
        if tag not in self._TAGS:
            raise ValueError(f"{self.name!r}: unknown tag {tag!r} in ember_structure; the file was written "
                             "by a newer Ember or is corrupt")
        return getattr(self, "decode_" + tag[1:])(node)

    def decode_tuple(self, node):
        return tuple(self.decode(v) for v in node["$tuple"])

    def decode_dict(self, node):
        return {_hashable(self.decode(k)): self.decode(v) for k, v in node["$dict"]}

    def decode_float(self, node):
        return float(node["$float"])

    def array(self, node, tag):
        key = node[tag]
        if key not in self.arrays:
            raise ValueError(f"{self.name!r} is corrupt: the structure refers to tensor {key!r}, "
                             "which is not in the file")
        return self.arrays[key]

    def decode_tensor(self, node):
        alias = node.get("alias_of")
        if alias in self.objects:
            return self.objects[alias]
        t = self.make_tensor(self.array(node, "$tensor"), node.get("device", "cpu"))
        if node.get("requires_grad"):
            t.requires_grad_(True)
        self.objects[node["$tensor"]] = t
        return t

    def decode_ndarray(self, node):
        alias = node.get("alias_of")
        if alias in self.objects:
            return self.objects[alias]
        arr = self.objects[node["$ndarray"]] = self.array(node, "$ndarray")
        return arr

    def decode_npscalar(self, node):
        return np.dtype(node["$npscalar"]).type(self.decode(node["value"]))

    def decode_bytes(self, node):
        return base64.b64decode(node["$bytes"])

    def decode_dtype(self, node):
        return _ember().dtypes.from_name(node["$dtype"])

    def decode_device(self, node):
        return _ember().device(node["$device"])

    def decode_module(self, node):
        from ._module_format import decode_module

        return decode_module(self, node)

    def decode_function(self, node):
        from ._module_format import decode_function

        return decode_function(self, node)


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


def save(obj, f) -> None:
    """Save ``obj`` (nested dicts/lists/tuples of tensors, numbers, strings, bools, None, NumPy arrays)
    to ``f`` (a path or a binary file object) as one safetensors file. Writes to paths are atomic.

    >>> import ember, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save({"fc.weight": ember.ones(2, 2)}, p)
    >>> import safetensors.numpy; list(safetensors.numpy.load_file(p))
    ['fc.weight']
    """
    encoder = _Encoder()
    structure = encoder.encode(obj, [])
    arrays = encoder.arrays
    metadata = {"format": _FORMAT, "ember_structure": json.dumps(structure, separators=(",", ":"))}
    _write_file(f, arrays, metadata)


def load(f, map_location=None, weights_only: bool = True):
    """Load what ``save`` wrote (or any safetensors file: then a flat ``{name: tensor}`` dict).

    ``map_location`` moves tensors: None (where they were saved), ``'cpu'``, ``'cuda:0'``, an
    ``ember.device``, a ``{saved: target}`` dict or a callable ``saved_device_str -> device``.
    ``weights_only`` is accepted for PyTorch compatibility; loading never runs code either way.
    Pickle files and ``torch.save`` zip archives are refused with an explanation.

    >>> import ember, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.safetensors")
    >>> save({"step": 7, "lr": [0.1, 0.01]}, p)
    >>> load(p, map_location="cpu")
    {'step': 7, 'lr': [0.1, 0.01]}
    """
    buf, name = _read_bytes(f)
    arrays, metadata = _parse(buf, name)
    structure = metadata.get("ember_structure")
    if structure is None:  # a plain safetensors file (e.g. safetensors.torch.save_file(state_dict))
        return {k: _to_tensor(a, _device_for("cpu", map_location)) for k, a in arrays.items()}
    try:
        tree = json.loads(structure)
    except json.JSONDecodeError as e:
        raise ValueError(f"{name!r} is corrupt: its ember_structure metadata is not JSON ({e})") from None
    decoder = _Decoder(arrays, lambda arr, dev: _to_tensor(arr, _device_for(dev, map_location)), str(name))
    return decoder.decode(tree)




# ----------------------------------------------------------------------------- PyTorch's unpickler allow-list
_SAFE_GLOBALS: list = []


def add_safe_globals(safe_globals) -> None:
    """Accepted for PyTorch compatibility (``torch.serialization.add_safe_globals``). Ember never unpickles, so
    there is nothing to allow: the list is kept only so ``get_safe_globals`` returns it."""
    _SAFE_GLOBALS.extend(safe_globals)


def get_safe_globals() -> list:
    return list(_SAFE_GLOBALS)


def clear_safe_globals() -> None:
    _SAFE_GLOBALS.clear()


class safe_globals:  # noqa: N801  (PyTorch's name: a context manager)
    """``with torch.serialization.safe_globals([...]):`` is accepted and changes nothing: ``ember.load`` reads
    safetensors and JSON only and never unpickles, with or without an allow-list.

    >>> import ember
    >>> with ember.serialization.safe_globals([dict]):
    ...     pass
    """

    def __init__(self, safe_globals):
        self._globals = list(safe_globals)

    def __enter__(self):
        self._before = list(_SAFE_GLOBALS)
        _SAFE_GLOBALS.extend(self._globals)
        return self

    def __exit__(self, *exc):
        _SAFE_GLOBALS[:] = self._before
        return False
