"""Symbolic tensors for the functional API: ``KerasTensor`` (shape + dtype, no data) and the call ``Node``s
that connect layers. Output shapes are found by running the layer once on a small zero batch.

>>> from ember import keras
>>> x = keras.Input(shape=(4,))
>>> y = keras.layers.Dense(3)(x)
>>> y.shape
(None, 3)
"""

from __future__ import annotations

import numpy as np

import ember
from ember.tensor import Tensor

_DUMMY_BATCH = 2


class KerasTensor:
    """A placeholder with a shape (``None`` for unknown sizes, e.g. the batch) and a dtype."""

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(shape)
        self.dtype = str(np.dtype(dtype))
        self.name = name
        self._history = history  # (Node, output index) or None for an Input

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self):
        raise TypeError(
            "a KerasTensor is symbolic and has no truth value; wrap data-dependent logic in a "
            "custom Layer's call()"
        )

    def _unsupported(self, *args, **kwargs):
        raise TypeError(
            "operators on symbolic KerasTensors are not supported; use keras.layers.Add/Multiply/"
            "Concatenate or keras.layers.Lambda(lambda t: ...) to combine them"
        )

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __getitem__ = _unsupported
    __hash__ = object.__hash__


class Node:
    """One call of ``layer`` on symbolic inputs: ``call_args``/``call_kwargs`` hold KerasTensors."""

    def __init__(self, layer, call_args, call_kwargs, outputs_structure):
        self.layer, self.call_args, self.call_kwargs = layer, call_args, call_kwargs
        self.outputs_structure = outputs_structure
        self.inputs = [t for t in flatten((call_args, call_kwargs)) if isinstance(t, KerasTensor)]
        self.outputs = [t for t in flatten(outputs_structure) if isinstance(t, KerasTensor)]

    @property
    def parents(self):
        return [t._history[0] for t in self.inputs if t._history is not None]


def flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for s in structure for leaf in flatten(s)]
    if isinstance(structure, dict):
        return [leaf for k in structure for leaf in flatten(structure[k])]
    return [structure]


def map_structure(fn, structure, is_leaf=None):
    if is_leaf is not None and is_leaf(structure):
        return fn(structure)
    if isinstance(structure, list):
        return [map_structure(fn, s, is_leaf) for s in structure]
    if isinstance(structure, tuple) and not hasattr(structure, "_fields"):
        return tuple(map_structure(fn, s, is_leaf) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v, is_leaf) for k, v in structure.items()}
    return fn(structure)


def any_symbolic(args, kwargs) -> bool:
    for a in args:
        if isinstance(a, KerasTensor) or (
            isinstance(a, (list, tuple, dict)) and any(isinstance(t, KerasTensor) for t in flatten(a))
        ):
            return True
    return any(isinstance(v, KerasTensor) for v in kwargs.values())


def _dummy(t: KerasTensor, fill: int):
    shape = tuple(
        _DUMMY_BATCH if (d is None and i == 0) else (fill if d is None else d) for i, d in enumerate(t.shape)
    )
    out = Tensor._wrap(np.zeros(shape, dtype=t.dtype))
    mask = getattr(t, "_keras_mask", None)
    if isinstance(mask, KerasTensor):  # the stand-in carries an all-True mask, so mask-aware layers see one
        out._keras_mask = Tensor._wrap(np.ones(shape[:mask.ndim], dtype=bool))
    return out


_TRACING = [0]  # > 0 while a layer runs on stand-in data to infer shapes (stateful layers keep their state)


def in_shape_inference():
    """Whether the current call runs on stand-in data for shape inference (not on the user's data)."""
    return _TRACING[0] > 0


def _run(layer, args, kwargs, fill):
    real = lambda s: _dummy(s, fill) if isinstance(s, KerasTensor) else s  # noqa: E731
    a = map_structure(real, args)
    kw = map_structure(real, kwargs)
    kw["training"] = False
    _TRACING[0] += 1
    try:
        with ember.no_grad():
            return layer._call_with_context(a, kw)
    finally:
        _TRACING[0] -= 1


def _shape_structure(args):
    first = args[0] if args else None
    return map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else tuple(np.shape(t)), first)


def symbolic_call(layer, args, kwargs, record=True):
    """Call ``layer`` on KerasTensors: build it from their shapes, infer output shapes, record a Node."""
    if not layer.built:
        layer.build(_shape_structure(args))
        layer.built = True
    try:
        out = _run(layer, args, dict(kwargs), 3)
        needs_second = any(
            d is None for t in flatten((args, kwargs)) if isinstance(t, KerasTensor) for d in t.shape[1:]
        )
        out2 = _run(layer, args, dict(kwargs), 4) if needs_second else out
    except Exception as exc:
        shapes = [t.shape for t in flatten(args) if isinstance(t, KerasTensor)]
        raise type(exc)(
            f"layer {layer.name!r} ({type(layer).__name__}) failed on symbolic inputs of shape "
            f"{', '.join(map(str, shapes))}: {exc}"
        ) from exc
    batch_unknown = any(t.shape[:1] == (None,) for t in flatten(args) if isinstance(t, KerasTensor))

    def to_symbolic(pair):
        a, b = pair
        if not isinstance(a, Tensor):
            return a
        shape = tuple(
            None if (i == 0 and batch_unknown) or da != db else da
            for i, (da, db) in enumerate(zip(a.shape, b.shape))
        )
        out = KerasTensor(shape, str(a.dtype.np), name=layer.name)
        mask = getattr(a, "_keras_mask", None)
        if isinstance(mask, Tensor):  # as Keras: the symbolic output carries its mask (`x._keras_mask`)
            out._keras_mask = KerasTensor(shape[:mask.ndim], "bool", name=layer.name)
        return out

    structure = map_structure(to_symbolic, _zip(out, out2), is_leaf=lambda p: isinstance(p, _Pair))
    if record:
        node = Node(layer, args, kwargs, structure)
        for i, t in enumerate(node.outputs):
            t._history = (node, i)
        layer._inbound_nodes.append(node)
    return structure


class _Pair(tuple):
    pass


def _zip(a, b):
    if isinstance(a, (list, tuple)):
        return type(a)(_zip(x, y) for x, y in zip(a, b)) if not isinstance(a, Tensor) else _Pair((a, b))
    if isinstance(a, dict):
        return {k: _zip(a[k], b[k]) for k in a}
    return _Pair((a, b))
