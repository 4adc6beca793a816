"""``model.summary()``: the table of layers, output shapes and parameter counts, like Keras 3.

>>> from ember import keras
>>> keras.Sequential([keras.layers.Dense(2, input_shape=(3,))]).summary()  # doctest: +ELLIPSIS
Model: "sequential..."
...
 Total params: 8 (32.00 B)
...
"""

from __future__ import annotations

import numpy as np


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024.0


def _count(weights):
    count = int(sum(int(np.prod(w.shape)) for w in weights))
    size = sum(int(np.prod(w.shape)) * w._data.dtype.itemsize for w in weights)
    return count, size


def _output_shape(layer):
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:  # a subclassed model's sublayer: the shape recorded at its first eager call
        seen = layer.__dict__.get("_output_shape_seen")
        if seen is None:
            return "?"
        shapes = _shapes(seen)
        return ", ".join(str(s) for s in shapes) if shapes else "?"
    outs = nodes[-1].outputs
    if len(outs) == 1:
        return str(outs[0].shape)
    return ", ".join(str(t.shape) for t in outs)


def _shapes(structure):
    """The shapes (tuples of ints / None) in a nested structure of recorded output shapes."""
    if isinstance(structure, tuple) and all(d is None or isinstance(d, int) for d in structure):
        return [structure]
    if isinstance(structure, dict):
        structure = list(structure.values())
    if isinstance(structure, (list, tuple)):
        return [s for item in structure for s in _shapes(item)]
    return []


def _connected(layer, model):
    nodes = getattr(layer, "_inbound_nodes", [])
    names = []
    for node in nodes[-1:]:
        for t in node.inputs:
            src = t._history[0].layer.name if t._history else (t.name or "input")
            names.append(f"{src}[0][0]")
    return ", ".join(names) or "-"


def _row(cells, widths):
    return (
        "│"
        + "│".join(
            f" {c:<{w - 2}} " if i == 0 else f" {c:>{w - 2}} " if i == 2 else f" {c:<{w - 2}} "
            for i, (c, w) in enumerate(zip(cells, widths))
        )
        + "│"
    )


def print_summary(model, print_fn=None):
    """Print (or pass to ``print_fn``, line by line) the model's layer table and parameter totals."""
    from .model import Functional

    emit = print_fn or print
    functional = isinstance(model, Functional)
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    rows = []
    for layer in model.layers:
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [f"{layer.name} ({type(layer).__name__})", _output_shape(layer), params]
        if functional:
            row.append(_connected(layer, model))
        rows.append(row)
    widths = [
        max(len(headers[i]), *(len(r[i]) for r in rows)) + 2 if rows else len(headers[i]) + 2
        for i in range(len(headers))
    ]
    emit(f'Model: "{model.name}"')
    emit("┏" + "┳".join("━" * w for w in widths) + "┓")
    emit("┃" + "┃".join(f" {h:<{w - 2}} " for h, w in zip(headers, widths)) + "┃")
    emit("┡" + "╇".join("━" * w for w in widths) + "┩")
    for i, r in enumerate(rows):
        emit(_row(r, widths))
        if i < len(rows) - 1:
            emit("├" + "┼".join("─" * w for w in widths) + "┤")
    emit("└" + "┴".join("─" * w for w in widths) + "┘")
    total = _count(model.weights)
    trainable = _count(model.trainable_weights)
    frozen = _count(model.non_trainable_weights)
    emit(f" Total params: {total[0]:,} ({_bytes(total[1])})")
    emit(f" Trainable params: {trainable[0]:,} ({_bytes(trainable[1])})")
    emit(f" Non-trainable params: {frozen[0]:,} ({_bytes(frozen[1])})")
