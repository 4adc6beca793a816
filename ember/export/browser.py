"""``ember.export.web`` (this module: ``ember.export.browser``): a model as a static web folder that runs it in
the browser (TensorFlow.js's role).

``web(model, out_dir, example_inputs)`` writes:

- ``model.onnx``: the model (through Ember's ONNX exporter; dim 0 of every input and output is the batch);
- ``model.json``: input/output names, shapes and dtypes (and an optional ``normalize`` for image models);
- ``ort/``: onnxruntime-web's JavaScript and WASM files (copied from ``node_modules/onnxruntime-web/dist``, or
  from ``ort_dir``) — nothing is fetched from the internet, so the folder works offline;
- ``ember-web.js``: a small ES module (``loadModel``, ``runModel``, a drawing canvas and MNIST-style
  preprocessing) and ``index.html``, a page that loads the model and runs it (a drawing pad for image inputs).

Serve the folder with any static file server (``python -m http.server -d out_dir``) and open ``index.html``:
inference happens in the page; no server-side code runs.

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()
    >>> out = ember.export.web(model, tempfile.mkdtemp(), (ember.randn(1, 1, 28, 28),), verbose=False)
    >>> sorted(os.listdir(out))
    ['ember-web.js', 'index.html', 'model.json', 'model.onnx', 'ort']
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil

from ..errors import mark
from .program import ExportError

ASSETS = pathlib.Path(__file__).with_name("web_assets")
# the onnxruntime-web files the WASM backend needs (ES module + its WASM glue and binary)
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def web(model, out_dir, example_inputs, *, input_names=None, output_names=None, normalize=None, ort_dir=None,
        title=None, verbose=True) -> str:
    """Write ``model`` (a Module or a Keras model, in eval mode) as a static web folder; returns ``out_dir``.

    ``example_inputs``: a tuple of example tensors (their dim 0 is the batch and stays dynamic).
    ``normalize``: ``(mean, std)`` the page applies to drawn images before running the model.
    ``ort_dir``: the folder holding onnxruntime-web's ``dist`` files (default: ``node_modules`` found above the
    current directory or Ember's install, or ``$EMBER_ORT_WEB_DIR``).
    """
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    ort_source = find_ort_dist(ort_dir)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_in = len(example_inputs)
    input_names = list(input_names or (["input"] if n_in == 1 else [f"input_{i}" for i in range(n_in)]))
    if verbose:
        print(f"ember: exporting {type(model).__name__} to ONNX for the browser in {out}")
    data = onnx_model_bytes(model, tuple(example_inputs), input_names, output_names)
    _atomic_write(out / "model.onnx", data)
    info = describe_onnx(data, normalize=normalize, title=title or type(model).__name__)
    _atomic_write(out / "model.json", json.dumps(info, indent=1).encode())
    copy_ort_files(ort_source, out / "ort")
    for name in ("ember-web.js", "index.html"):
        shutil.copyfile(ASSETS / name, out / name)
    if verbose:
        print(f"ember: wrote {out} (model.onnx {len(data) / 1e3:.0f} kB + onnxruntime-web); serve it with "
              f"`python -m http.server -d {out}` and open index.html")
    return str(out)


# ------------------------------------------------------------------------------------------ ONNX adapter
# The only two places Ember's ONNX exporter is called from the web/serving code: adapt here when its API moves.
def onnx_model_bytes(model, example_inputs: tuple, input_names, output_names=None) -> bytes:
    """ONNX bytes of ``model(*example_inputs)`` with a dynamic batch dim and the given input/output names."""
    from .onnx import export

    names = list(input_names)
    proto = export(model, tuple(example_inputs), input_names=names,
                   output_names=list(output_names) if output_names else None,
                   dynamic_axes={n: {0: "batch"} for n in names})  # layer-level: Conv, LSTM... as ONNX ops
    return proto.SerializeToString()


def program_onnx_bytes(program) -> bytes:
    """ONNX bytes of a loaded ``ExportedProgram`` (its graph, weights as initializers)."""
    from .onnx import UnsupportedOperatorError, program_to_onnx

    try:
        proto = program_to_onnx(program)
    except (NotImplementedError, UnsupportedOperatorError) as exc:
        raise mark(ExportError(f"the model cannot be written as ONNX yet: {exc}")) from None
    return _rename(proto, [s.name for s in program.input_specs], [s.name for s in program.output_specs])


def _rename(proto, input_names, output_names) -> bytes:
    """Give the graph's inputs/outputs these names (every reference to them follows)."""
    mapping = {}
    for value, name in zip(proto.graph.input, input_names or []):
        mapping[value.name] = name
    n_out = len(proto.graph.output)
    default_out = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    for value, name in zip(proto.graph.output, output_names or default_out):
        mapping[value.name] = name
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.name = mapping.get(value.name, value.name)
    for node in proto.graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    buf = io.BytesIO()
    buf.write(proto.SerializeToString())
    return buf.getvalue()


def describe_onnx(data: bytes, normalize=None, title="model") -> dict:
    """``model.json``'s content: the ONNX model's inputs and outputs (``null`` for a dynamic dim)."""
    import onnx

    proto = onnx.load_from_string(data)

    def spec(v):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        return {"name": v.name, "shape": dims, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name}

    init = {i.name for i in proto.graph.initializer}
    return {"title": title, "inputs": [spec(v) for v in proto.graph.input if v.name not in init],
            "outputs": [spec(v) for v in proto.graph.output],
            "normalize": list(normalize) if normalize is not None else None}


# ------------------------------------------------------------------------------------------ runtime files
def find_ort_dist(explicit=None) -> pathlib.Path:
    """The onnxruntime-web ``dist`` folder: ``explicit``, ``$EMBER_ORT_WEB_DIR``, or ``node_modules`` above the
    current directory or Ember's install. An error says how to get it when none is found."""
    candidates = [explicit, os.environ.get("EMBER_ORT_WEB_DIR")]
    for start in (pathlib.Path.cwd(), pathlib.Path(__file__).resolve()):
        candidates += [p / "node_modules" / "onnxruntime-web" / "dist" for p in [start, *start.parents]]
    for c in candidates:
        if c and all((pathlib.Path(c) / f).is_file() for f in ORT_FILES):
            return pathlib.Path(c)
    raise mark(ExportError("onnxruntime-web's files were not found: run `npm ci` in Ember's repository (its "
                           "package.json pins onnxruntime-web), or pass ort_dir= / set EMBER_ORT_WEB_DIR to a "
                           f"folder holding {', '.join(ORT_FILES)}"))


def copy_ort_files(source: pathlib.Path, dest: pathlib.Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ORT_FILES:
        shutil.copyfile(source / name, dest / name)


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
