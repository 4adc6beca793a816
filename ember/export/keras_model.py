"""Keras's ``model.export(filepath, format=...)`` for Ember Keras models: "ember" (the ``model.ember``
artifact), "onnx" (``ember.onnx.export``), "tflite" (``ember.export.tflite``; int8 with
``quantization="static", calibration_data=[batches]`` or ``quantization="dynamic"``, as
``ember.quantization.quantize``), "web" (``ember.export.web``).

The example inputs come from ``input_signature`` (shapes, ``keras.InputSpec``/``KerasTensor``-like objects
with ``.shape``/``.dtype``) or from the model's own inputs; a ``None`` dim 0 becomes the dynamic ``batch``
dim, other ``None`` dims dynamic dims named ``<input>_<axis>``.

Example:
    >>> import ember, os, tempfile
    >>> from ember import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.ember")
    >>> model.export(path, format="ember", verbose=False)
    >>> ember.export.load(path).input_specs[0].shape
    (None, 4)
"""

from __future__ import annotations

import importlib

import numpy as np

from ..errors import mark
from .program import ExportError
from .tracing import Dim

FORMATS = ("ember", "onnx", "tflite", "web")
EXAMPLE_SIZE = {0: 2}  # the size a None dim takes in the example inputs (axis 0: batch), else 3


def _signature(model, input_signature):
    """[(name, shape with None, dtype name)] for the model's inputs."""
    if input_signature is not None:
        items = list(input_signature) if isinstance(input_signature, (list, tuple)) and not _is_shape(
            input_signature) else [input_signature]
        out = []
        for i, item in enumerate(items):
            shape = item if _is_shape(item) else getattr(item, "shape", None)
            if shape is None:
                raise mark(ExportError(f"input_signature[{i}] has no shape: {item!r}"))
            dtype = getattr(item, "dtype", None) or "float32"
            out.append((getattr(item, "name", None) or f"input_{i}", tuple(shape), _dtype_name(dtype)))
        return out
    inputs = list(getattr(model, "inputs", None) or [])
    if not inputs:
        raise mark(ExportError(
            f"model {getattr(model, 'name', type(model).__name__)!r} has no known inputs yet: call it on data "
            "once, start it with keras.Input(shape), or pass input_signature=[keras.InputSpec(shape=...)]"))
    names = list(getattr(model, "input_names", None) or [])
    return [(names[i] if i < len(names) else (getattr(t, "name", None) or f"input_{i}"), tuple(t.shape),
             _dtype_name(getattr(t, "dtype", None) or "float32")) for i, t in enumerate(inputs)]


def _is_shape(x) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) for d in x)


def _dtype_name(dtype) -> str:
    from ..graph import opinfo

    return opinfo.dtype_name(getattr(dtype, "name", dtype))


def _examples(signature):
    """Example tensors (zeros) and the dynamic_shapes for the None dims."""
    import ember

    tensors, dynamic = [], []
    for name, shape, dtype in signature:
        dims = {a: Dim("batch" if a == 0 else _ident(f"{name}_{a}")) for a, d in enumerate(shape) if d is None}
        size = [EXAMPLE_SIZE.get(a, 3) if d is None else d for a, d in enumerate(shape)]
        tensors.append(ember.from_numpy(np.zeros(size, dtype=dtype)))
        dynamic.append(dims)
    return tensors, dynamic


def _ident(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out.isidentifier() else f"d_{out}"


def export_keras(model, filepath, format="ember", verbose=True, input_signature=None, **kwargs):  # noqa: A002
    """What ``keras.Model.export`` calls (see the module docstring)."""
    if format not in FORMATS:
        raise mark(ValueError(f"model.export: unknown format {format!r}; Ember writes {', '.join(FORMATS)}"))
    signature = _signature(model, input_signature)
    tensors, dynamic = _examples(signature)
    names = [n for n, _, _ in signature]
    args = (tensors,) if len(tensors) > 1 else (tensors[0],)
    dyn = ([dict(enumerate(dynamic))] if len(tensors) > 1 else [dynamic[0]])
    if not getattr(model, "built", True):  # create the weights eagerly: initialisers are not part of the graph
        import ember

        with ember.no_grad():
            model(*args)
    out_names = list(getattr(model, "output_names", None) or []) or None
    if verbose:
        print(f"ember: exporting {getattr(model, 'name', type(model).__name__)} as {format} to {filepath}")
    if format == "ember":
        from . import export, save

        prog = export(model, args, dynamic_shapes=dyn, input_names=names, output_names=out_names,
                      metadata=kwargs.pop("metadata", None))
        save(prog, filepath)
        return None
    if format == "tflite":
        mode = kwargs.pop("quantization", None)
        if mode is not None:  # int8 TFLite: ember.quantization.quantize's "static" (calibrated) or "dynamic"
            from .quantize import quantize

            calibration = kwargs.pop("calibration_data", None)
            if calibration is None and mode == "static":
                raise mark(ExportError("model.export(format='tflite', quantization='static') needs "
                                       "calibration_data=[a few input batches] to calibrate the int8 activations"))
            quantize(model, calibration if calibration is not None else [t.numpy() for t in tensors], filepath,
                     format="tflite", mode=mode, input_names=names, output_names=out_names,
                     int8_io=kwargs.pop("int8_io", False))
            return None
        from . import tflite

        return tflite(model, args, filepath, dynamic_shapes=dyn, input_names=names, output_names=out_names)
    if format == "web":
        return _web()(model, filepath, args, **kwargs)
    axes = {n: {a: d.name for a, d in dims.items()} for n, dims in zip(names, dynamic)}
    return _onnx().export(model, args, filepath, input_names=names, output_names=out_names, dynamic_axes=axes,
                          **kwargs)


def _onnx():
    try:
        return importlib.import_module("ember.onnx")
    except ImportError as exc:
        raise mark(ExportError(f"model.export(format='onnx') needs ember.onnx, which this Ember does not have "
                               f"({exc}); export with format='ember' or 'tflite'")) from None


def _web():
    from .. import export as package

    web = getattr(package, "web", None)
    if web is None:
        try:
            web = importlib.import_module("ember.export.web")
        except ImportError:
            web = None
    web = getattr(web, "web", web)
    if not callable(web):
        raise mark(ExportError("model.export(format='web') needs ember.export.web, which this Ember does not "
                               "have yet; export with format='ember', 'onnx' or 'tflite'"))
    return web
