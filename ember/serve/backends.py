"""What runs a model version: Ember artifacts through the compiled executor, ONNX files through onnxruntime.

A version folder (``BASE/<number>/``) holds one model file: ``model.ember`` (written by ``ember.export.save``)
or ``model.onnx``; any single ``*.ember`` / ``*.onnx`` file is accepted too. Nothing in the folder is executed:
the artifact is JSON + safetensors, the ONNX file a protobuf run by onnxruntime.

Both backends have the same face: ``input_specs`` / ``output_specs`` (``ember.export.TensorSpec``, ``None`` for
a dynamic dim), ``run(list of arrays) -> list of arrays``, ``platform`` and ``path``.

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> folder = tempfile.mkdtemp()
    >>> prog = ember.export.export(nn.Linear(3, 2).eval(), (ember.ones(2, 3),), dynamic_batch=True)
    >>> ember.export.save(prog, os.path.join(folder, "model.ember"))
    >>> backend = load_version(folder)
    >>> backend.platform, [a.shape for a in backend.run([ember.ones(4, 3).numpy()])]
    ('ember', [(4, 2)])
"""

from __future__ import annotations

import os

import numpy as np

from ..export import TensorSpec

MODEL_SUFFIXES = (".ember", ".onnx")

# onnxruntime's type strings -> NumPy dtype names
_ORT_TYPES = {
    "tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
    "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int16)": "int16", "tensor(int8)": "int8",
    "tensor(uint8)": "uint8", "tensor(bool)": "bool",
}


class ModelLoadError(ValueError):
    """A version folder whose model cannot be loaded (the message names the file and the reason)."""


def find_model_file(folder: str) -> str | None:
    """The one model file of a version folder (``model.ember``/``model.onnx`` first), or None if none yet."""
    for name in ("model.ember", "model.onnx"):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    found = sorted(f for f in os.listdir(folder) if f.endswith(MODEL_SUFFIXES))
    if len(found) > 1:
        raise ModelLoadError(f"{folder}: several model files {found}; a version folder holds one model")
    return os.path.join(folder, found[0]) if found else None


class EmberBackend:
    """An ``ember.export`` artifact run by the compiled executor."""

    platform = "ember"

    def __init__(self, path: str):
        from .. import export

        self.path = path
        self.program = export.load(path)
        self.input_specs = list(self.program.input_specs)
        self.output_specs = list(self.program.output_specs)
        self.metadata = dict(self.program.metadata)
        self.program.warmup()  # compile the kernels now, not on the first request

    def run(self, arrays: list) -> list:
        return self.program.run(list(arrays))


class OnnxBackend:
    """An ONNX file run by onnxruntime (CPU)."""

    platform = "onnxruntime"

    def __init__(self, path: str, threads: int = 0):
        try:
            import onnxruntime
        except ImportError as exc:
            raise ModelLoadError(f"{path}: serving ONNX files needs onnxruntime (pip install 'ember[onnx]')") from exc
        opts = onnxruntime.SessionOptions()
        opts.log_severity_level = 3  # errors only: ORT's per-call warnings would flood the server log
        if threads:
            opts.intra_op_num_threads = threads
        self.path = path
        self.session = onnxruntime.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self.input_specs = [_ort_spec(a, path) for a in self.session.get_inputs()]
        self.output_specs = [_ort_spec(a, path) for a in self.session.get_outputs()]
        meta = self.session.get_modelmeta()
        self.metadata = {"producer": meta.producer_name, "user": dict(meta.custom_metadata_map)}
        self._names = [s.name for s in self.input_specs]

    def run(self, arrays: list) -> list:
        return self.session.run(None, dict(zip(self._names, arrays)))


def _ort_spec(arg, path) -> TensorSpec:
    if arg.type not in _ORT_TYPES:
        raise ModelLoadError(f"{path}: input/output {arg.name!r} has type {arg.type}, which the server does not "
                             f"speak (numeric tensors only)")
    dims = [d if isinstance(d, int) and d >= 0 else None for d in arg.shape]
    names = tuple(d if isinstance(d, str) else None for d in arg.shape)
    return TensorSpec(arg.name, tuple(dims), _ORT_TYPES[arg.type], names)


def load_version(folder: str, onnx_threads: int = 0):
    """Load the model of one version folder; ``ModelLoadError`` naming the file and the reason otherwise."""
    path = find_model_file(folder)
    if path is None:
        raise ModelLoadError(f"{folder}: no model file (expected model.ember or model.onnx)")
    try:
        if path.endswith(".ember"):
            return EmberBackend(path)
        return OnnxBackend(path, onnx_threads)
    except ModelLoadError:
        raise
    except Exception as exc:  # any reader failure is this version's problem, never the server's
        raise ModelLoadError(f"{path}: {type(exc).__name__}: {exc}") from None


def zeros_for(specs) -> list:
    """One batch-1 zero input per spec (dynamic dims as 1): warms a backend up."""
    return [np.zeros([d if d is not None else 1 for d in s.shape], s.dtype) for s in specs]
