"""How ``ember.multiprocessing`` hands a function and its arguments to a new process, without pickle.

The payload is one JSON document followed by one safetensors blob:

- the function travels by name (``module:qualified.name``); the child imports it (a function of the main
  script is found by running that script as ``__mp_main__``, as Python's spawn does);
- JSON values travel as JSON; lists, tuples, sets and dicts as tagged JSON; the same object twice (tied
  weights) stays one object;
- a tensor in shared memory (``share_memory_()``) travels as the name of its shared-memory block, which the
  child maps: both processes then read and write the same memory; other tensors and NumPy arrays are copied
  into the safetensors blob;
- an ``nn.Module`` travels as its class name plus its attributes, encoded by these same rules; other
  functions and classes by name (module-level ones only).

Anything else is a ``TypeError`` naming where in the arguments it was. The child only imports classes that are
``nn.Module`` subclasses and names the parent resolved to the same object before sending: nothing in the
payload is executed as code.
"""
from __future__ import annotations

import importlib
import json
import sys
import types

import numpy as np

from ..dtypes import DType, from_name
from ..nn.modules.module import Module, Parameter
from ..tensor import Tensor


def qualified_name(obj, where: str) -> str:
    """``module:qualname`` of a module-level function or class, checked to resolve back to ``obj``."""
    module, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if module is None or "<" in qual:
        raise TypeError(f"{where}: {obj!r} cannot be sent to a new process: only module-level functions and "
                        "classes travel (by name; Ember never pickles); define it at the top level of a module")
    try:
        found = resolve(f"{module}:{qual}")
    except (ImportError, AttributeError):
        found = None
    if found is not obj:
        raise TypeError(f"{where}: {obj!r} cannot be sent to a new process: {module}:{qual} does not name it "
                        "(only module-level functions and classes travel, by name)")
    return f"{module}:{qual}"


def resolve(name: str):
    module, qual = name.split(":", 1)
    if module == "__main__" and "__mp_main__" in sys.modules:
        obj = sys.modules["__mp_main__"]
    else:
        obj = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


class Encoder:
    """Turns arguments into (JSON-able tree, {key: array} for the safetensors blob)."""

    def __init__(self):
        self.arrays: dict = {}
        self.memo: dict = {}  # id(obj) -> index: objects met twice are sent once
        self.keep: list = []  # keeps memoized objects alive while encoding (ids stay unique)

    def encode(self, obj, where: str):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, (list, tuple, set, frozenset)):
            tag = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}.get(type(obj), "list")
            return {"$": tag, "v": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            items = list(obj.items())
            return {"$": "dict", "k": [self.encode(k, f"{where} key") for k, _ in items],
                    "v": [self.encode(v, f"{where}[{k!r}]") for k, v in items]}
        if isinstance(obj, DType):
            return {"$": "dtype", "v": obj.name}
        if isinstance(obj, np.ndarray):
            key = f"a{len(self.arrays)}"
            self.arrays[key] = np.ascontiguousarray(obj)
            return {"$": "ndarray", "key": key}
        if id(obj) in self.memo:
            return {"$": "ref", "n": self.memo[id(obj)]}
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, Module):
            n = self._remember(obj)
            state = {k: v for k, v in vars(obj).items()}
            return {"$": "module", "n": n, "cls": qualified_name(type(obj), where),
                    "dict": self.encode(state, f"{where}.{type(obj).__name__}")}
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)):
            return {"$": "name", "v": qualified_name(obj, where)}
        raise TypeError(f"{where}: a {type(obj).__module__}.{type(obj).__qualname__} cannot be sent to a new "
                        "process: Ember sends JSON values, tensors, arrays, nn.Modules and module-level "
                        "functions (never pickle). Pass the data it holds instead")

    def _remember(self, obj) -> int:
        n = len(self.memo)
        self.memo[id(obj)] = n
        self.keep.append(obj)
        return n

    def _tensor(self, t):
        n = self._remember(t)
        out = {"$": "tensor", "n": n, "param": isinstance(t, Parameter), "rg": bool(t.requires_grad)}
        shm = t.__dict__.get("_shm")
        if shm is not None:
            out.update(shm=shm.name, shape=list(t._data.shape), dtype=t._data.dtype.str)
        else:
            key = f"t{n}"
            self.arrays[key] = np.ascontiguousarray(np.asarray(t._data))
            out["key"] = key
        return out


class Decoder:
    def __init__(self, arrays):
        self.arrays, self.memo = arrays, {}

    def decode(self, v):
        if not isinstance(v, dict):
            return v
        tag = v["$"]
        if tag in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(x) for x in v["v"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "dict":
            return {self.decode(k): self.decode(x) for k, x in zip(v["k"], v["v"])}
        if tag == "dtype":
            return from_name(v["v"])
        if tag == "ndarray":
            return self.arrays[v["key"]]
        if tag == "ref":
            return self.memo[v["n"]]
        if tag == "tensor":
            return self._tensor(v)
        if tag == "module":
            cls = resolve(v["cls"])
            if not (isinstance(cls, type) and issubclass(cls, Module)):
                raise TypeError(f"ember.multiprocessing: {v['cls']} is not an nn.Module subclass")
            obj = cls.__new__(cls)
            self.memo[v["n"]] = obj
            obj.__dict__.update(self.decode(v["dict"]))
            return obj
        if tag == "name":
            return resolve(v["v"])
        raise ValueError(f"ember.multiprocessing: unknown payload tag {tag!r}")

    def _tensor(self, v):
        shm = None
        if "shm" in v:
            shm = attach_shared(v["shm"])
            arr = np.ndarray(tuple(v["shape"]), np.dtype(v["dtype"]), buffer=shm.buf)
        else:
            arr = self.arrays[v["key"]]
        t = Tensor._wrap(arr)
        if v["param"]:
            t = Parameter(t, requires_grad=v["rg"])
        elif v["rg"]:
            t.requires_grad_(True)
        if shm is not None:
            t.__dict__["_shm"] = shm  # keeps the mapping open; is_shared() is True here too
        self.memo[v["n"]] = t
        return t


def attach_shared(name: str):
    """Map the parent's shared-memory block ``name`` without taking ownership (the parent unlinks it)."""
    from multiprocessing import resource_tracker, shared_memory

    try:
        return shared_memory.SharedMemory(name=name, track=False)  # Python >= 3.13
    except TypeError:
        shm = shared_memory.SharedMemory(name=name)
        # before 3.13 attaching registers the block with this process's tracker, which would unlink it
        # (under the parent's feet) when this process exits
        resource_tracker.unregister(shm._name, "shared_memory")  # noqa: SLF001
        return shm


def dumps(fn, args, main_path) -> bytes:
    """The payload for ``fn(i, *args)``: a JSON header line, then the safetensors blob."""
    from safetensors.numpy import save

    enc = Encoder()
    header = {"fn": qualified_name(fn, "spawn(fn)"), "args": enc.encode(tuple(args), "args"),
              "sys_path": [p for p in sys.path if isinstance(p, str)], "main": main_path}
    blob = save(enc.arrays) if enc.arrays else b""
    return json.dumps(header).encode() + b"\n" + blob


def loads(raw: bytes):
    """(header, decoded args) from ``dumps``'s payload; imports the function's module first."""
    from safetensors.numpy import load

    line, _, blob = raw.partition(b"\n")
    header = json.loads(line.decode())
    arrays = {k: np.array(a) for k, a in load(blob).items()} if blob else {}
    return header, Decoder(arrays)
