"""``keras.utils.plot_model`` / ``model_to_dot``: a Keras model as a Graphviz picture, one box per layer with
its name, class and (``show_shapes``) input/output shapes, drawn by Graphviz's ``dot`` program.

Example:
    >>> from ember import keras
    >>> model = keras.Sequential([keras.layers.Dense(4, input_shape=(3,), name="hidden"),
    ...                           keras.layers.Dense(2, name="out")])
    >>> dot = keras.utils.model_to_dot(model, show_shapes=True)
    >>> "hidden" in dot.source and "Output shape: <b>(None, 2)</b>" in dot.source
    True
"""

from __future__ import annotations

import html
import os
import shutil


def _shape_text(structure) -> str:
    if structure is None:
        return "?"
    if isinstance(structure, (list, tuple)) and structure and not all(
            d is None or isinstance(d, int) for d in structure):
        return ", ".join(_shape_text(s) for s in structure)
    if isinstance(structure, dict):
        return ", ".join(f"{k}: {_shape_text(v)}" for k, v in structure.items())
    shape = getattr(structure, "shape", structure)
    return str(tuple(shape))


def _shapes(layer):
    """(input shape text, output shape text) from the layer's first symbolic call, else from its first eager
    call (output only), else "?"."""
    from .layers.core import InputLayer

    if isinstance(layer, InputLayer):
        return None, str(layer.batch_shape)
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        node = nodes[0]
        ins = node.call_args[0] if len(node.call_args) == 1 else node.call_args
        return _shape_text(ins), _shape_text(node.outputs_structure)
    seen = layer.__dict__.get("_output_shape_seen")
    if isinstance(seen, tuple) and all(d is None or isinstance(d, int) for d in seen):
        return "?", str((None, *seen))
    return "?", "?"


def _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable) -> str:
    title = (f"<b>{html.escape(layer.name)}</b> ({type(layer).__name__})" if show_layer_names
             else f"<b>{type(layer).__name__}</b>")
    rows = [f'<tr><td colspan="3" bgcolor="black"><font color="white" point-size="14">{title}</font></td></tr>']
    act = getattr(layer, "activation", None)
    if show_layer_activations and act is not None:
        name = getattr(act, "__name__", type(act).__name__)
        rows.append(f'<tr><td colspan="3">Activation: <b>{html.escape(name)}</b></td></tr>')
    cells = []
    if show_shapes:
        ins, outs = _shapes(layer)
        if ins is not None:
            cells.append(f"Input shape: <b>{html.escape(ins)}</b>")
        cells.append(f"Output shape: <b>{html.escape(outs)}</b>")
    if show_dtype:
        cells.append(f"Output dtype: <b>{html.escape(str(getattr(layer, 'dtype', '?')))}</b>")
    if show_trainable and layer.weights:
        cells.append("<b>Trainable</b>" if layer.trainable else "<b>Non-trainable</b>")
    if cells:
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return '<<table border="0" cellborder="1" cellspacing="0" cellpadding="8">' + "".join(rows) + "</table>>"


def _layers_and_edges(model):
    from .models.model import Functional
    from .models.sequential import Sequential

    if isinstance(model, Sequential):
        layers = list(model.layers)
        return layers, list(zip(layers, layers[1:]))
    if isinstance(model, Functional):
        edges = []
        for node in model._nodes:
            for t in node.inputs:
                src = t._history[0].layer if t._history is not None else getattr(t, "_input_layer", None)
                if src is not None:
                    edges.append((src, node.layer))
        return list(model.layers), edges
    return [model], []  # a subclassed model: one box, as Keras draws it


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False,
                 show_trainable=False, splines="ortho", **kwargs):
    """The Graphviz text of ``model`` (an ``ember.viz.Dot``; ``.source`` is the text)."""
    from ember.viz import Dot

    if kwargs:
        raise ValueError(f"model_to_dot: unrecognized keyword arguments {sorted(kwargs)}")
    if not model.built:
        raise ValueError(f"model_to_dot: model {model.name!r} has not been built yet. Build it first by calling "
                         "`build()` or by calling the model on a batch of data.")
    layers, edges = _layers_and_edges(model)
    lines = [f'digraph "{model.name}" {{',
             f'  graph [rankdir={rankdir}, dpi={int(dpi)}, splines={splines}, concentrate=true];',
             '  node [shape=plaintext, fontname="Helvetica", fontsize=12];']
    opts = (show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
    for layer in layers:
        lines.append(f"  n{id(layer)} [label={_label(layer, *opts)}];")
    seen = set()
    for a, b in edges:
        if (id(a), id(b)) not in seen:
            seen.add((id(a), id(b)))
            lines.append(f"  n{id(a)} -> n{id(b)};")
    lines.append("}")
    return Dot("\n".join(lines))


MISSING_DOT = ("plot_model needs Graphviz: its `dot` program was not found on PATH. Install Graphviz "
               "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda install graphviz), "
               "or use keras.utils.model_to_dot(model).source with any Graphviz viewer.")


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               splines="ortho", **kwargs):
    """Draw ``model`` to ``to_file`` (the extension picks the format: png, svg, pdf...). In a notebook the
    picture is returned for display."""
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                       splines=splines, **kwargs)
    if shutil.which("dot") is None:
        raise ImportError(MISSING_DOT)
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1][1:] or "png"
    dot.render(to_file, format=ext)
    try:
        from IPython import display
    except ImportError:
        return None
    if ext == "svg":
        return display.SVG(filename=to_file)
    return display.Image(filename=to_file) if ext in ("png", "jpg", "jpeg", "gif") else None
