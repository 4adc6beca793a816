"""The ``model.ember`` artifact: one zip file (stored members) holding the program as JSON and the weights.

Members:

- ``program.json``: ``{"format": "ember.program", "format_version": 2, "metadata": {...},
  "signature": {"inputs": [spec...], "outputs": [spec...], "call": ..., "result": ..., "dims": {...}},
  "graph": <ember.graph.serialize JSON>}``; a spec is ``{"name", "shape" (ints, dim names, null), "dtype"}``.
  The graph is the layer-level IR (conv, pools, norms, LSTM/GRU, attention... one node each, with their attrs
  and their decomposition as ``"body"``), so a loaded program exports to ONNX/TFLite with layer ops; the
  executor inlines the decompositions when it is built. Version 1 files (a decomposed graph) still load;
- ``weights.safetensors``: every constant of the graph by its tensor name (parameters keep their module
  names, ``fc1.weight``).

Loading reads JSON and safetensors only (no pickle, nothing executed from the file); op names are looked up
in the registry. Every inconsistency (truncated file, newer format, unknown op, weights that do not match the
graph) is an ``ArtifactError`` naming the file and what is wrong. Saving is atomic: a temp file in the same
directory, fsync, ``os.replace``.

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> prog = ember.export.export(nn.Linear(3, 2), (ember.ones(1, 3),))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.ember")
    >>> ember.export.save(prog, path)
    >>> ember.export.load(path).output_specs
    [TensorSpec(name='output', shape=(1, 2), dtype='float32')]
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from .._atomic import atomic_open
from ..errors import mark
from ..graph.serialize import SerializeError, graph_from_json, graph_to_json
from .program import ExportedProgram, TensorSpec

FORMAT = "ember.program"
FORMAT_VERSION = 2  # 2: layer nodes with their decompositions (1: primitives only; still read)
PROGRAM = "program.json"
WEIGHTS = "weights.safetensors"
DEFAULT_NAME = "model.ember"


class ArtifactError(ValueError):
    """An artifact that cannot be read: the message names the file and what is wrong with it."""


# ------------------------------------------------------------------------------------------------- save
def to_json(prog: ExportedProgram) -> tuple[dict, dict]:
    """``(program.json data, {tensor name: array})`` of a program."""
    graph_data, arrays = graph_to_json(prog.graph, dim_names=prog.dim_names)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": prog.metadata,
        "signature": {
            "inputs": [s.to_json() for s in prog.input_specs],
            "outputs": [s.to_json() for s in prog.output_specs],
            "call": prog.in_spec,
            "result": prog.out_spec,
            "dims": {name: {"min": lo, "max": hi} for name, (lo, hi) in prog.dim_ranges.items()},
        },
        "graph": graph_data,
    }
    return doc, arrays


def _weights_bytes(arrays: dict) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(a) if a.ndim else np.array(a) for k, a in arrays.items()})


def _write_zip(f, doc: dict, arrays: dict) -> None:
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(PROGRAM, text)
        z.writestr(WEIGHTS, _weights_bytes(arrays))


def save(program, path) -> None:
    """Write ``program`` (an ``ExportedProgram``) to ``path`` (a file path or a binary file object).

    Writes to a path are atomic: a temp file in the same directory, flushed to disk, then ``os.replace``;
    a failure part-way leaves any previous file at ``path`` as it was.
    """
    if not isinstance(program, ExportedProgram):
        raise mark(TypeError(f"ember.export.save takes an ExportedProgram (from ember.export.export), got "
                             f"{type(program).__name__}"))
    doc, arrays = to_json(program)
    if hasattr(path, "write"):
        _write_zip(path, doc, arrays)
        return
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, DEFAULT_NAME)
    with atomic_open(path, ".ember") as f:
        _write_zip(f, doc, arrays)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def _fsync_dir(folder) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------- load
def _fail(name, msg) -> ArtifactError:
    return mark(ArtifactError(f"{name}: {msg}"))


def _sniff(head: bytes) -> str:
    if head[:8] and head[8:9] == b"{":
        return "a safetensors file (weights only; load it with ember.load)"
    if head[:1] == b"\x08":
        return "probably an ONNX model (load it with onnxruntime)"
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite model (run it with the LiteRT interpreter)"
    if head[:1] == b"\x80":
        return "a Python pickle, which Ember never loads"
    return "not a zip archive"


def _read_members(f, name) -> tuple[bytes, bytes]:
    try:
        with zipfile.ZipFile(f) as z:
            members = set(z.namelist())
            missing = [m for m in (PROGRAM, WEIGHTS) if m not in members]
            if missing:
                raise _fail(name, f"not a complete Ember artifact: member(s) {missing} are missing "
                                  f"(it holds {sorted(members)})")
            return z.read(PROGRAM), z.read(WEIGHTS)
    except zipfile.BadZipFile as exc:
        if hasattr(f, "seek"):
            f.seek(0)
            head = f.read(16)
        else:
            with open(f, "rb") as fh:
                head = fh.read(16)
        what = "truncated or corrupt" if head[:4] == b"PK\x03\x04" else _sniff(head)
        raise _fail(name, f"not a readable Ember artifact ({what}: {exc}); re-export the model with "
                          "ember.export.save") from None


def _parse_doc(raw: bytes, name) -> dict:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(name, f"{PROGRAM} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise _fail(name, f"{PROGRAM} is not an Ember program (format {got!r}, expected {FORMAT!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(name, f"{PROGRAM} has a bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(name, f"written in format_version {version} by a newer Ember "
                          f"({doc.get('metadata', {}).get('ember_version', '?')}); this Ember reads format_version "
                          f"<= {FORMAT_VERSION}. Upgrade Ember to load it.")
    for key in ("signature", "graph"):
        if not isinstance(doc.get(key), dict):
            raise _fail(name, f"{PROGRAM} has no {key!r} section")
    return doc


def _parse_weights(raw: bytes, name) -> dict:
    from safetensors.numpy import load

    try:
        return load(raw)
    except Exception as exc:  # safetensors raises its own error types for bad headers/lengths
        raise _fail(name, f"{WEIGHTS} is not a valid safetensors file ({type(exc).__name__}: {exc})") from None


def _check_weights(graph, arrays, used, name) -> None:
    extra = sorted(set(arrays) - used)
    if extra:
        raise _fail(name, f"{WEIGHTS} holds tensor(s) the graph does not use: {extra[:8]}"
                          + (" ..." if len(extra) > 8 else "") + "; the weights do not belong to this graph")
    for v, arr in graph.constants.items():
        want = (tuple(v.shape), v.dtype)
        got = (tuple(arr.shape), str(arr.dtype) if arr.dtype != np.bool_ else "bool")
        if want != got:
            raise _fail(name, f"weight {v.hint or '?'!r} in {WEIGHTS} is {got[1]}{list(got[0])} but the graph "
                              f"expects {want[1]}{list(want[0])}")


def _check_signature(graph, ins, outs, name) -> None:
    for kind, specs, values in (("input", ins, graph.inputs), ("output", outs, graph.outputs)):
        if len(specs) != len(values):
            raise _fail(name, f"the signature lists {len(specs)} {kind}(s) but the graph has {len(values)}")
        for s, v in zip(specs, values):
            if len(s.shape) != len(v.shape) or s.dtype != v.dtype or any(
                a is not None and b is not None and a != b for a, b in zip(s.shape, v.shape)
            ):
                raise _fail(name, f"{kind} {s.describe()} of the signature does not match the graph's "
                                  f"{v.type_str()}")


def _check_shapes(graph, dim_names, name) -> None:
    """Every node's stored output against its shape rule (dynamic dims at probe sizes)."""
    from .tracing import infer_avals, probe_sizes

    inputs = {v: dim_names[v] for v in graph.inputs if v in dim_names}
    names = {n for dims in inputs.values() for n in dims if n}
    sizes = probe_sizes(names)
    errors: list = []
    avals = infer_avals(graph, inputs, sizes, errors)
    if errors:
        k, node, exc = errors[0]
        raise _fail(name, f"{PROGRAM}: the graph is inconsistent: node {k} ({node.op}, "
                          f"{node.meta.get('source', '?')}) is rejected by the op's rule: {exc}")
    names_of = {size: n for n, size in sizes.items()}
    for k, node in enumerate(graph.nodes):
        out = node.outputs[0] if node.outputs else None
        if out is None or out not in avals:
            continue
        shape, dtype = avals[out]
        stored = tuple(sizes[dim_names[out][i]] if d is None and out in dim_names and dim_names[out][i] in sizes
                       else d for i, d in enumerate(out.shape))
        if len(shape) != len(stored) or dtype != out.dtype or any(
            a is not None and b is not None and a != b for a, b in zip(stored, shape)
        ):
            raise _fail(name, f"{PROGRAM}: the graph is inconsistent: node {k} ({node.op}, "
                              f"{node.meta.get('source', '?')}) is stored as {out.type_str()} but its inputs give "
                              f"{dtype}{[names_of.get(d, d) for d in shape]}")


def _verify_all(graph, verify) -> None:
    """Every layer node's decomposition has the node's inputs and outputs (recursively); then ``verify``
    (which checks the decompositions' wiring too)."""
    from ..graph import GraphError

    def bodies(g, where=""):
        for k, node in enumerate(g.nodes):
            body = node.meta.get("body")
            if body is None:
                continue
            here = f"{where}node {k} ({node.op}) decomposition"
            if [(len(v.shape), v.dtype) for v in body.inputs] != [(len(v.shape), v.dtype) for v in node.inputs] \
                    or len(body.outputs) != len(node.outputs):
                raise GraphError(f"{here}: its inputs/outputs do not match the node's")
            bodies(body, here + ": ")

    bodies(graph)
    verify(graph)


def from_json(doc: dict, arrays: dict, name="<memory>", device="cpu") -> ExportedProgram:
    """An ``ExportedProgram`` from ``program.json`` data and its weight arrays (checked)."""
    from ..graph import GraphError, verify

    try:
        graph, dim_names, used = graph_from_json(doc["graph"], arrays)
        sig = doc["signature"]
        ins = [TensorSpec.from_json(s) for s in sig.get("inputs", [])]
        outs = [TensorSpec.from_json(s) for s in sig.get("outputs", [])]
    except (SerializeError, KeyError, TypeError) as exc:
        raise _fail(name, f"{PROGRAM}: {exc}") from None
    _check_weights(graph, arrays, used, name)
    try:
        _verify_all(graph, verify)
    except GraphError as exc:
        raise _fail(name, f"{PROGRAM}: the graph is inconsistent: {exc}") from None
    _check_signature(graph, ins, outs, name)
    _check_shapes(graph, dim_names, name)
    for v, s in zip(graph.inputs, ins):
        v.hint = s.name
    dims = sig.get("dims") or {}
    ranges = {k: (d.get("min"), d.get("max")) for k, d in dims.items() if isinstance(d, dict)}
    prog = ExportedProgram(graph, ins, outs, sig.get("call"), sig.get("result"), doc.get("metadata") or {},
                           dim_names, ranges, source=name, device=device)
    return prog


def load(path, device: str = "cpu") -> ExportedProgram:
    """Read a ``model.ember`` artifact (a path, a folder holding ``model.ember``, or a binary file object)
    into an ``ExportedProgram`` that runs on ``device`` ("cpu" or "cuda")."""
    if hasattr(path, "read"):
        name = getattr(path, "name", "<file object>")
        f = path if hasattr(path, "seek") else io.BytesIO(path.read())
    else:
        name = os.fspath(path)
        if os.path.isdir(name):
            name = os.path.join(name, DEFAULT_NAME)
        if not os.path.exists(name):
            raise mark(FileNotFoundError(f"{name}: no such artifact (write one with ember.export.save)"))
        f = name
    raw_doc, raw_weights = _read_members(f, name)
    doc = _parse_doc(raw_doc, name)
    arrays = _parse_weights(raw_weights, name)
    return from_json(doc, arrays, name, device)
