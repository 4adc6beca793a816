"""``keras.Sequential``: a stack of layers, each feeding the next.

>>> from ember import keras
>>> model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10)])
>>> model.count_params(), model.output_shape
(7850, (None, 10))
"""

from __future__ import annotations

from ..layers.base import Layer
from ..layers.core import InputLayer
from ..layers.symbolic import KerasTensor
from .model import Model


def _spec_dtype(x):
    from .. import backend as K

    dt = K.to_array(x).dtype
    return K.floatx() if dt.kind == "f" else str(dt)


class Sequential(Model):
    def __init__(self, layers=None, name=None, trainable=True):
        Layer.__init__(self, name=name, trainable=trainable)
        self.history = None
        self._stack = []
        self._input_tensor = None
        self._output_shape = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build_symbolic()

    @property
    def layers(self):
        return list(self._stack)

    def add(self, layer, rebuild=True):
        """Append a layer (or a ``keras.Input``, which fixes the input shape)."""
        if isinstance(layer, KerasTensor):
            if not hasattr(layer, "_input_layer"):
                raise ValueError(
                    "Sequential.add() takes layers or a keras.Input(), got an intermediate tensor"
                )
            self._input_tensor = layer
        elif isinstance(layer, InputLayer):
            self._input_tensor = layer.output_tensor
        elif isinstance(layer, Layer):
            if not self._stack and self._input_tensor is None and layer._input_shape_arg is not None:
                self._input_tensor = KerasTensor((None,) + layer._input_shape_arg, name=f"input_{layer.name}")
            if any(layer.name == other.name for other in self._stack):
                raise ValueError(
                    f"Sequential {self.name!r}: all layers must have unique names; {layer.name!r} "
                    "is already in the model"
                )
            self._stack.append(layer)
            self._track_layer(layer.name, layer)
        else:
            raise TypeError(f"Sequential.add() takes a Layer, got {type(layer).__name__}")
        if rebuild:
            self._maybe_build_symbolic()

    def pop(self):
        if not self._stack:
            raise IndexError(f"Sequential {self.name!r} has no layers to pop")
        layer = self._stack.pop()
        self._untrack_layer(layer)
        self.built = False
        self._maybe_build_symbolic()
        return layer

    def _maybe_build_symbolic(self):
        if self._input_tensor is None or not self._stack:
            return
        t = self._input_tensor
        for layer in self._stack:
            t = layer(t)
        self._output_shape = t.shape
        self.built = True

    def build(self, input_shape=None):
        if input_shape is not None and self._input_tensor is None:
            self._input_tensor = KerasTensor(tuple(input_shape))
        self._maybe_build_symbolic()
        self.built = True

    @property
    def input_shape(self):
        return None if self._input_tensor is None else self._input_tensor.shape

    @property
    def output_shape(self):
        return self._output_shape

    @property
    def inputs(self):
        return [] if self._input_tensor is None else [self._input_tensor]

    def call(self, inputs, training=None):
        x = inputs
        if self._input_tensor is not None and hasattr(x, "ndim"):
            from .model import _adjust_rank

            x = _adjust_rank(x, self._input_tensor.shape)  # Keras's trailing size-1 axis rule
        for layer in self._stack:
            x = layer(x, training=training) if layer._call_has_training else layer(x)
        return x

    def __call__(self, *args, **kwargs):
        if not self.built and args and not isinstance(args[0], KerasTensor):
            first = args[0]
            shape = (None,) + tuple(first.shape[1:]) if hasattr(first, "shape") else None
            if shape is not None:
                self._input_tensor = KerasTensor(shape, _spec_dtype(first))
                try:
                    self._maybe_build_symbolic()
                except (TypeError, ValueError):
                    self._input_tensor = None
        return super().__call__(*args, **kwargs)

    @property
    def output_names(self):
        return [self._stack[-1].name] if self._stack else ["output"]

    def get_config(self):
        from ..saving import serialize_keras_object

        layers = []
        if self._input_tensor is not None:
            layers.append(
                {
                    "class_name": "InputLayer",
                    "config": {
                        "batch_shape": list(self._input_tensor.shape),
                        "dtype": self._input_tensor.dtype,
                    },
                }
            )
        layers += [serialize_keras_object(layer) for layer in self._stack]
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_keras_object

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for spec in config["layers"]:
            if spec.get("class_name") == "InputLayer":
                model.add(
                    InputLayer(
                        batch_shape=tuple(spec["config"]["batch_shape"]), dtype=spec["config"].get("dtype")
                    ),
                    rebuild=False,
                )
            else:
                model.add(deserialize_keras_object(spec, custom_objects), rebuild=False)
        model._maybe_build_symbolic()
        return model
