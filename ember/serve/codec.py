"""Requests and responses: TF Serving's REST ``:predict`` JSON (row and columnar) and the Open Inference
Protocol's (KServe V2) tensor JSON, to and from NumPy arrays checked against a model's input specs.

Every problem is a ``RequestError`` (HTTP 4xx) whose message names the input and what it expected, e.g.
``input 'input' (float32[batch, 1, 28, 28]): instance 0 has shape (28, 28), expected (1, 28, 28)``.

Binary values (``{"b64": "..."}``): TF Serving uses them for string tensors; Ember's models take numbers, so a
``b64`` value here is the raw little-endian bytes of the tensor in the input's dtype (one instance in the row
format, the whole tensor in the columnar format; at most one dim may be unknown and is inferred).

Example:
    >>> from ember.export import TensorSpec
    >>> specs = [TensorSpec("x", (None, 2), "float32")]
    >>> arrays, fmt = decode_predict({"instances": [[1, 2], [3, 4]]}, specs)
    >>> arrays[0].shape, arrays[0].dtype.name, fmt
    ((2, 2), 'float32', 'row')
"""

from __future__ import annotations

import base64
import binascii
import json
import math

import numpy as np

try:
    import orjson as _orjson
except ImportError:  # optional: the standard json module does the same, slower
    _orjson = None

# Open Inference Protocol datatypes <-> NumPy dtype names
V2_TYPES = {"BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
            "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16",
            "FP32": "float32", "FP64": "float64"}
NUMPY_TO_V2 = {v: k for k, v in V2_TYPES.items()}
# TF Serving's metadata dtype names
TF_TYPES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF", "int64": "DT_INT64",
            "int32": "DT_INT32", "int16": "DT_INT16", "int8": "DT_INT8", "uint8": "DT_UINT8", "bool": "DT_BOOL"}


class RequestError(ValueError):
    """A request the server refuses: ``status`` is the HTTP status (4xx), the message says why."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _reject_constant(name):
    raise RequestError(f"malformed JSON: {name} is not a JSON number (send finite numbers only)")


def parse_json(body: bytes):
    """Strict JSON (no NaN/Infinity); a ``RequestError`` saying where it broke otherwise."""
    if not body.strip():
        raise RequestError("empty request body: send a JSON object")
    if _orjson is not None:  # 4x faster on float arrays; strict JSON (no NaN) like the fallback below
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass  # re-parse with json for its clearer message
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise RequestError(f"request body is not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RequestError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise RequestError("malformed JSON: nested too deeply") from None


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------------------------------ value checks
def _shape_text(shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def to_array(value, spec, shape, what: str) -> np.ndarray:
    """``value`` (nested JSON lists or ``{"b64": ...}``) as an array of ``spec.dtype`` whose shape matches
    ``shape`` (``None``: any size). ``what`` says which part of the request it is, for messages."""
    where = f"input {spec.describe()}"
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise RequestError(f"{where}: {what} is an object with keys {sorted(value)}; expected numbers "
                               f"(nested lists) or {{\"b64\": ...}}")
        return _from_b64(value["b64"], spec, shape, what)
    try:
        arr = np.asarray(value)
    except (ValueError, OverflowError, TypeError):
        arr = np.asarray(value, dtype=object) if isinstance(value, list) else None
    if arr is None or arr.dtype.kind not in "biuf":
        raise RequestError(f"{where}: {what} {_what_is_wrong(value)}; expected {spec.dtype} numbers of shape "
                           f"{_shape_text(shape)}")
    if arr.ndim != len(shape) or any(d is not None and d != s for d, s in zip(shape, arr.shape)):
        raise RequestError(f"{where}: {what} has shape {tuple(arr.shape)}, expected {_shape_text(shape)}")
    return _cast(arr, spec, where, what)


def _cast(arr: np.ndarray, spec, where: str, what: str) -> np.ndarray:
    target = np.dtype(spec.dtype)
    if arr.dtype == target:
        return arr
    kind = target.kind
    if arr.dtype.kind == "b" and kind != "b":
        raise RequestError(f"{where}: {what} holds true/false, expected {spec.dtype} numbers")
    if kind in "iu":
        if arr.dtype.kind == "f":
            raise RequestError(f"{where}: {what} holds fractional numbers, expected integers ({spec.dtype})")
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise RequestError(f"{where}: {what} has values outside the range of {spec.dtype}")
    if kind == "b" and arr.dtype.kind != "b":
        raise RequestError(f"{where}: {what} holds numbers, expected true/false (bool)")
    with np.errstate(over="ignore"):  # too-large values are reported below
        out = arr.astype(target)
    if kind == "f" and arr.size and not np.isfinite(out).all():
        raise RequestError(f"{where}: {what} has values too large for {spec.dtype}")
    return out


def _what_is_wrong(value) -> str:
    """A short description of why a JSON value is not a numeric tensor."""
    def scan(v, depth):
        if isinstance(v, str):
            return f"holds the string {v[:20]!r} where a number belongs"
        if v is None:
            return "holds null where a number belongs"
        if isinstance(v, dict):
            return "holds an object where a number belongs"
        if isinstance(v, list):
            if depth > 64:
                return "is nested too deeply"
            for item in v:
                found = scan(item, depth + 1)
                if found:
                    return found
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2 ** 63:
            return "holds an integer too large for any dtype"
        return None

    return scan(value, 0) or "is ragged (lists of different lengths at one level)"


def _from_b64(text, spec, shape, what) -> np.ndarray:
    where = f"input {spec.describe()}"
    if not isinstance(text, str):
        raise RequestError(f"{where}: {what}: \"b64\" must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(f"{where}: {what}: \"b64\" is not valid base64 ({exc})") from None
    item = np.dtype(spec.dtype).itemsize
    unknown = [i for i, d in enumerate(shape) if d is None]
    known = math.prod(d for d in shape if d is not None)
    if len(unknown) > 1 or len(raw) % item or (known and (len(raw) // item) % known):
        raise RequestError(f"{where}: {what}: {len(raw)} bytes of b64 data do not make {spec.dtype} values of "
                           f"shape {_shape_text(shape)} ({item} bytes each)")
    dims = list(shape)
    if unknown:
        dims[unknown[0]] = (len(raw) // item) // known if known else 0
    if math.prod(dims) * item != len(raw):
        raise RequestError(f"{where}: {what}: {len(raw)} bytes of b64 data, expected {math.prod(dims) * item} "
                           f"({spec.dtype}, shape {_shape_text(shape)})")
    return np.frombuffer(raw, dtype=np.dtype(spec.dtype).newbyteorder("<")).astype(spec.dtype).reshape(dims)


# ------------------------------------------------------------------------------------------ TF Serving v1
def decode_predict(body, specs) -> tuple[list, str]:
    """A ``:predict`` body -> (one array per input spec, ``"row"`` or ``"columnar"``)."""
    if not isinstance(body, dict):
        raise RequestError(f"the request must be a JSON object with \"instances\" or \"inputs\", got "
                           f"{type(body).__name__}")
    has_rows, has_cols = "instances" in body, "inputs" in body
    if has_rows == has_cols:
        raise RequestError("the request must have exactly one of \"instances\" (row format) or \"inputs\" "
                           "(columnar format)")
    sig = body.get("signature_name", "serving_default")
    if sig not in ("serving_default", "", None):
        raise RequestError(f"unknown signature_name {sig!r}; this model has one signature, 'serving_default'")
    if has_rows:
        return _decode_rows(body["instances"], specs), "row"
    return _decode_columns(body["inputs"], specs), "columnar"


def _decode_rows(instances, specs) -> list:
    if not isinstance(instances, list) or not instances:
        raise RequestError(f"\"instances\" must be a non-empty list (one entry per example) for inputs "
                           f"{', '.join(s.describe() for s in specs)}")
    for s in specs:
        if not s.shape:
            raise RequestError(f"input {s.describe()} is a scalar: use the columnar format (\"inputs\")")
    named = all(isinstance(i, dict) and "b64" not in i for i in instances)
    if len(specs) == 1 and not named:
        fast = _fast_rows(instances, specs[0])
        if fast is not None:
            return [fast]
    if len(specs) > 1 and not named:
        raise RequestError(f"this model has {len(specs)} inputs: each instance must be an object "
                           f"{{{', '.join(repr(s.name) for s in specs)}: ...}}")
    columns = []
    for spec in specs:
        rows = []
        for k, inst in enumerate(instances):
            if named:
                _check_names(inst, specs, f"instance {k}")
                inst = inst[spec.name]
            rows.append(to_array(inst, spec, spec.shape[1:], f"instance {k}"))
        if spec.shape[0] is not None and spec.shape[0] != len(rows):
            raise RequestError(f"input {spec.describe()}: got {len(rows)} instance(s), the model takes exactly "
                               f"{spec.shape[0]}")
        columns.append(np.stack(rows))
    return columns


def _fast_rows(instances, spec):
    """The common case in one NumPy call: every instance a well-formed numeric list (None: check one by one)."""
    try:
        arr = np.asarray(instances)
    except (ValueError, OverflowError, TypeError):
        return None
    if arr.dtype.kind not in "iuf" or arr.ndim != len(spec.shape) or any(
            d is not None and d != s for d, s in zip(spec.shape[1:], arr.shape[1:])):
        return None
    if spec.shape[0] is not None and spec.shape[0] != arr.shape[0]:
        return None
    try:
        return _cast(arr, spec, "", "")
    except RequestError:
        return None


def _decode_columns(inputs, specs) -> list:
    if isinstance(inputs, dict) and "b64" not in inputs:
        _check_names(inputs, specs, "\"inputs\"")
        return [to_array(inputs[s.name], s, s.shape, f"\"inputs\"[{s.name!r}]") for s in specs]
    if len(specs) > 1:
        raise RequestError(f"this model has {len(specs)} inputs: \"inputs\" must be an object "
                           f"{{{', '.join(repr(s.name) for s in specs)}: ...}}")
    return [to_array(inputs, specs[0], specs[0].shape, "\"inputs\"")]


def _check_names(obj: dict, specs, what: str) -> None:
    names = [s.name for s in specs]
    missing = [n for n in names if n not in obj]
    extra = [k for k in obj if k not in names]
    if missing or extra:
        raise RequestError(f"{what}: the model's inputs are {', '.join(s.describe() for s in specs)}"
                           + (f"; missing {missing}" if missing else "") + (f"; unknown {extra}" if extra else ""))


def encode_predict(outputs: list, specs, fmt: str) -> dict:
    """Arrays -> ``{"predictions": ...}`` (row) or ``{"outputs": ...}`` (columnar), TF Serving's shapes."""
    if fmt == "row":
        if len(outputs) == 1:
            return {"predictions": outputs[0].tolist()}
        lists = [o.tolist() for o in outputs]
        return {"predictions": [{s.name: col[i] for s, col in zip(specs, lists)} for i in range(len(lists[0]))]}
    if len(outputs) == 1:
        return {"outputs": outputs[0].tolist()}
    return {"outputs": {s.name: o.tolist() for s, o in zip(specs, outputs)}}


# ------------------------------------------------------------------------------------------ Open Inference V2
def decode_infer(body, specs, binary: bytes = b"") -> tuple[list, list]:
    """A V2 ``/infer`` body -> (one array per input spec, the output names asked for)."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise RequestError("the request must be a JSON object with a non-empty \"inputs\" list of tensors "
                           "{\"name\", \"shape\", \"datatype\", \"data\"}")
    by_name, offset = {}, 0
    for k, tensor in enumerate(body["inputs"]):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise RequestError(f"inputs[{k}] must be an object with a \"name\"")
        by_name[tensor["name"]], offset = _decode_tensor(tensor, specs, binary, offset)
    _check_names(by_name, specs, "\"inputs\"")
    wanted = [s.name for s in specs]
    requested = body.get("outputs")
    if requested is None:
        return [by_name[n] for n in wanted], None
    if not isinstance(requested, list) or not all(isinstance(o, dict) and "name" in o for o in requested):
        raise RequestError("\"outputs\" must be a list of objects with a \"name\"")
    return [by_name[n] for n in wanted], [o["name"] for o in requested]


def _decode_tensor(tensor, specs, binary, offset):
    spec = next((s for s in specs if s.name == tensor["name"]), None)
    if spec is None:
        raise RequestError(f"unknown input {tensor['name']!r}; the model's inputs are "
                           f"{', '.join(s.describe() for s in specs)}")
    where = f"input {spec.describe()}"
    shape, dtype = tensor.get("shape"), tensor.get("datatype")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise RequestError(f"{where}: \"shape\" must be a list of non-negative integers, got {shape!r}")
    if V2_TYPES.get(dtype) != spec.dtype:
        raise RequestError(f"{where}: \"datatype\" is {dtype!r}, expected {NUMPY_TO_V2.get(spec.dtype)!r}")
    if len(shape) != len(spec.shape) or any(d is not None and d != s for d, s in zip(spec.shape, shape)):
        raise RequestError(f"{where}: \"shape\" is {shape}, expected {_shape_text(spec.shape)}")
    size = (tensor.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or offset + size > len(binary):
            raise RequestError(f"{where}: binary_data_size {size!r} runs past the binary data")
        flat = to_array({"b64": base64.b64encode(binary[offset:offset + size]).decode()}, spec,
                        (math.prod(shape),), "binary data")
        return flat.reshape(shape), offset + size
    if "data" not in tensor:
        raise RequestError(f"{where}: missing \"data\"")
    data = tensor["data"]
    arr = to_array(data if isinstance(data, list) else [data], spec,
                   (None,) * _depth(data), "\"data\"")
    if arr.size != math.prod(shape):
        raise RequestError(f"{where}: \"data\" has {arr.size} values, shape {shape} needs {math.prod(shape)}")
    return arr.reshape(shape), offset


def _depth(data) -> int:
    depth = 1
    while isinstance(data, list) and data and isinstance(data[0], list):
        data, depth = data[0], depth + 1
    return depth


def encode_infer(outputs: list, specs, names, model: str, version: str, request_id=None) -> dict:
    """Arrays -> a V2 inference response (flat row-major ``data``)."""
    chosen = list(zip(specs, outputs))
    if names is not None:
        known = {s.name for s in specs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise RequestError(f"unknown output(s) {unknown}; the model's outputs are {sorted(known)}")
        chosen = [(s, o) for s, o in chosen if s.name in names]
    doc = {"model_name": model, "model_version": version,
           "outputs": [{"name": s.name, "shape": list(o.shape), "datatype": NUMPY_TO_V2.get(o.dtype.name, "BYTES"),
                        "data": o.reshape(-1).tolist()} for s, o in chosen]}
    if request_id is not None:
        doc["id"] = request_id
    return doc


def v2_tensor_metadata(spec) -> dict:
    return {"name": spec.name, "datatype": NUMPY_TO_V2.get(spec.dtype, "BYTES"),
            "shape": [-1 if d is None else d for d in spec.shape]}


def tf_tensor_info(spec) -> dict:
    dims = [{"size": str(-1 if d is None else d), "name": ""} for d in spec.shape]
    return {"dtype": TF_TYPES.get(spec.dtype, "DT_INVALID"), "tensor_shape": {"dim": dims, "unknown_rank": False},
            "name": spec.name}
