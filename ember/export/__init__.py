"""Models leave Python: ``export`` (a traced program), ``save``/``load`` (the ``model.ember`` artifact),
``tflite`` (a TensorFlow Lite flatbuffer),
``web`` (a static folder running the model in a browser) and ``ember.export.onnx`` (optional ``onnx`` extra).

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.Tanh()).eval()
    >>> prog = ember.export.export(model, (ember.randn(2, 4),), dynamic_batch=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.ember")
    >>> ember.export.save(prog, path)
    >>> loaded = ember.export.load(path)
    >>> tuple(loaded(ember.randn(5, 4)).shape)
    (5, 3)
"""

from .artifact import FORMAT_VERSION, ArtifactError, load, save
from .program import ExportedProgram, ExportError, TensorSpec
from .tracing import Dim, export

__all__ = ["export", "save", "load", "tflite", "web", "Dim", "ExportedProgram", "TensorSpec", "ExportError",
           "ArtifactError", "FORMAT_VERSION"]


def tflite(model, args, path=None, *, dynamic_batch=False, dynamic_shapes=None, kwargs=None, **options):
    """Write ``model(*args)`` as a TensorFlow Lite flatbuffer to ``path``; returns its bytes (needs the
    ``tflite`` extra). See ``ember.export.tfl``."""
    from .tfl import export_tflite

    return export_tflite(model, args, path, dynamic_batch=dynamic_batch, dynamic_shapes=dynamic_shapes,
                         kwargs=kwargs, **options)


def web(model, out_dir, example_inputs, **options):
    """Write ``model`` as a static web folder (ONNX + onnxruntime-web + a page) that runs it in the browser;
    returns the folder. See ``ember.export.browser`` (needs the ``onnx`` extra and ``npm ci``)."""
    from .browser import web as write_web

    return write_web(model, out_dir, example_inputs, **options)
