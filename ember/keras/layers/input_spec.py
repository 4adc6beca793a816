"""``InputSpec`` (what a layer accepts: rank, shape, dtype) and ``Wrapper`` (the base of layer wrappers),
with Keras 3's names; ``keras.layers.serialize`` / ``deserialize``.

A layer whose ``input_spec`` is set checks every call's input against it and raises naming the layer, the
constraint and the shape it got.

>>> from ember import keras
>>> class Sequence(keras.layers.Layer):
...     def __init__(self):
...         super().__init__()
...         self.input_spec = keras.layers.InputSpec(ndim=3)
...     def call(self, x):
...         return x
>>> Sequence()(keras.ops.ones((2, 3))).shape  # doctest: +ELLIPSIS
Traceback (most recent call last):
ValueError: Input 0 of layer 'sequence' is incompatible with the layer: expected ndim=3, found ndim=2. ...
"""
from __future__ import annotations

import numpy as np

from .base import Layer


class InputSpec:
    """Constraints on a layer input: ``dtype``, ``shape`` (None: any size), ``ndim`` / ``max_ndim`` /
    ``min_ndim``, ``axes`` ({axis: size}); ``optional`` inputs may be None."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else str(np.dtype(dtype))
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim, self.min_ndim, self.name, self.optional = max_ndim, min_ndim, name, optional
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        self.allow_last_axis_squeeze = allow_last_axis_squeeze

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
                                            ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim),
                                            ("axes", self.axes or None)) if v is not None]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_input_spec(layer, inputs) -> None:
    """Raise ValueError when ``inputs`` break ``layer.input_spec`` (one spec or a list, one per input)."""
    specs = layer.input_spec if isinstance(layer.input_spec, (list, tuple)) else [layer.input_spec]
    values = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    for i, (spec, x) in enumerate(zip(specs, values)):
        if spec is None or (x is None and spec.optional) or not hasattr(x, "shape"):
            continue
        shape, ndim = tuple(x.shape), len(x.shape)
        problem = None
        if spec.ndim is not None and ndim != spec.ndim and not (
                spec.allow_last_axis_squeeze and ndim == spec.ndim + 1 and shape[-1] == 1):
            problem = f"expected ndim={spec.ndim}, found ndim={ndim}"
        elif spec.max_ndim is not None and ndim > spec.max_ndim:
            problem = f"expected max_ndim={spec.max_ndim}, found ndim={ndim}"
        elif spec.min_ndim is not None and ndim < spec.min_ndim:
            problem = f"expected min_ndim={spec.min_ndim}, found ndim={ndim}"
        elif spec.dtype is not None and str(getattr(x.dtype, "name", x.dtype)) != spec.dtype:
            problem = f"expected dtype={spec.dtype}, found dtype={getattr(x.dtype, 'name', x.dtype)}"
        else:
            for axis, size in spec.axes.items():
                if size is not None and -ndim <= axis < ndim and shape[axis] not in (size, None):
                    problem = f"expected axis {axis} of input shape to have value {size}"
                    break
            if problem is None and spec.shape is not None:
                if any(w is not None and g is not None and w != g for w, g in zip(spec.shape, shape)):
                    problem = f"expected shape={spec.shape}"
        if problem:
            raise ValueError(f"Input {i} of layer {layer.name!r} is incompatible with the layer: {problem}. Full "
                             f"shape received: {shape}")


class Wrapper(Layer):
    """The base of layers that wrap another layer (``TimeDistributed``, ``Bidirectional``, your own): holds
    ``self.layer``, builds it with the input shape, and serializes it in its config."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"{type(self).__name__}: the wrapped object must be a keras Layer, got {layer!r}")
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
        self.built = True

    def get_config(self):
        from ..saving import serialize_keras_object

        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_keras_object

        config = dict(config)
        return cls(deserialize_keras_object(config.pop("layer"), custom_objects=custom_objects), **config)


def serialize(layer) -> dict:
    """A layer's Keras config dict (``{"module", "class_name", "config", ...}``)."""
    from ..saving import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """The layer of a config written by ``serialize`` (or by Keras)."""
    from ..saving import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects=custom_objects)
