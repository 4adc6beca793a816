"""TensorFlow Lite export: the exported program's IR written as a ``.tflite`` flatbuffer (optional extra
``tflite``: ai-edge-litert's schema classes and flatbuffers; no TensorFlow needed).

Each node goes through its op's TFLite lowering (``register_lowering(op, "tflite", fn)`` beside the op); a layer
node (conv, pools, norms, LSTM...) without one is written as its decomposition's primitives; an op without either
raises an error naming it, its layer and its line, with the reason the op gives. Dynamic dims (``dynamic_batch`` /
``dynamic_shapes``) are ``-1`` in the tensors' ``shape_signature``: resize the inputs in the interpreter. The file
has one signature, ``serving_default``, with the program's input and output names.

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    >>> path = os.path.join(tempfile.mkdtemp(), "model.tflite")
    >>> data = ember.export.tflite(model, (ember.randn(1, 4),), path, dynamic_batch=True)
    >>> data[4:8]
    b'TFL3'
"""

from __future__ import annotations

import os

from ..._atomic import write_atomic
from ...errors import mark
from ..program import ExportedProgram, ExportError
from .builder import TFLiteContext
from .lowerings import LOWERINGS, UNSUPPORTED

__all__ = ["export_tflite", "program_to_tflite", "LOWERINGS", "UNSUPPORTED"]


def program_to_tflite(prog: ExportedProgram) -> bytes:
    """The flatbuffer bytes of an ``ExportedProgram`` (from ``ember.export.export`` or ``load``)."""
    graph = prog.graph
    ctx = TFLiteContext(graph)
    for v in list(graph.values()):
        if v.dtype == "float64":
            raise mark(ExportError(
                "ember.export.tflite: the model computes in float64, which TFLite kernels do not run; "
                "convert it with model.float() and float32 inputs"))
    for v in graph.inputs:
        ctx.index[v] = ctx.new_tensor(v.shape, v.dtype, v.hint)
    for node in graph.nodes:
        ctx.lower(node)
    ctx.node = None
    from ... import __version__

    return ctx.finish([s.name for s in prog.input_specs], [s.name for s in prog.output_specs],
                      description=f"ember {__version__}")


def export_tflite(model, args, path=None, *, dynamic_batch=False, dynamic_shapes=None, kwargs=None,
                  input_names=None, output_names=None) -> bytes:
    """Trace ``model(*args)`` (or take an ``ExportedProgram``) and write it as TFLite to ``path`` (atomically);
    returns the bytes."""
    if isinstance(model, ExportedProgram):
        prog = model
    else:
        from ..tracing import export

        if not isinstance(args, tuple):
            args = tuple(args) if isinstance(args, list) else (args,)
        prog = export(model, args, kwargs, dynamic_shapes, dynamic_batch=dynamic_batch, input_names=input_names,
                      output_names=output_names, keep_layers=True)
    data = program_to_tflite(prog)
    if path is not None:
        _write_atomic(os.fspath(path), data)
    return data


def _write_atomic(path, data: bytes) -> None:
    write_atomic(path, data, ".tflite")
