"""``keras.Model``: subclassed (``call``) or functional (``Model(inputs, outputs)``), with training from
:mod:`ember.keras.trainer`, ``summary()``, weights I/O and saving.

>>> from ember import keras
>>> a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
>>> h = keras.layers.Concatenate()([a, b])
>>> model = keras.Model([a, b], [keras.layers.Dense(2, name="o1")(h), keras.layers.Dense(1, name="o2")(b)])
>>> model.output_names, model.count_params()
(['o1', 'o2'], 20)
"""

from __future__ import annotations

from ..layers.base import Layer
from ..layers.symbolic import KerasTensor, flatten, map_structure
from ..trainer import Trainer


class Model(Trainer, Layer):
    """A Layer with training. ``Model(inputs, outputs)`` builds a functional model; subclasses define
    ``call``."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (len(args) >= 2 or "inputs" in kwargs or "outputs" in kwargs):
            return object.__new__(Functional)  # Functional checks them (a clear error for non-KerasTensors)
        functional = _functional_arguments(args, kwargs)
        if functional and not issubclass(cls, Functional):
            # ``CustomModel(inputs, outputs)`` (a subclass overriding train_step, say): Keras makes the
            # subclass functional; here an instance of ``CustomModel`` that is also a Functional
            return object.__new__(_functional_subclass(cls))
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        kwargs.pop("inputs", None)
        kwargs.pop("outputs", None)
        Layer.__init__(self, **kwargs)
        self.history = None

    @property
    def layers(self):
        return [layer for layer in self._layers.values()]

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"no layer named {name!r} in model {self.name!r}; layers: {[layer.name for layer in self.layers]}"
        )

    def summary(self, line_length=None, print_fn=None, **kwargs):
        from .summary import print_summary

        print_summary(self, print_fn=print_fn)

    # -- weights files and saving --------------------------------------------------------------------------
    def save(self, filepath, overwrite=True, **kwargs):
        from ..saving import save_model

        save_model(self, filepath, overwrite=overwrite)

    def export(self, filepath, format="ember", verbose=True, input_signature=None, **kwargs):  # noqa: A002
        """Write the model for inference outside Python: format "ember" (``model.ember``), "onnx", "tflite"
        or "web". See ``ember.export.keras_model``."""
        from ...export.keras_model import export_keras  # export sits above keras: imported on use

        return export_keras(self, filepath, format, verbose, input_signature, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        from ..saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath, skip_mismatch=False):
        from ..saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def get_config(self):
        config = Layer.get_config(self)
        return config

    def reset_states(self):
        """Zero the carried state of every ``stateful=True`` layer (Keras 2's model method; Keras 3 programs
        call ``layer.reset_state()`` on each layer, which works too)."""
        for layer in self._flatten_layers():
            if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
                layer.reset_state()

    def to_json(self, **kwargs):
        """The model's architecture as JSON in Keras 3's own config format (``json.dumps`` kwargs accepted);
        ``keras.models.model_from_json`` (Ember's or Keras 3's) rebuilds it."""
        from ..keras_json import to_json

        return to_json(self, **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config and "output_layers" in config:
            return Functional.from_config(config, custom_objects)
        return cls(**config)

    def build(self, input_shape):
        self.built = True  # sublayers build themselves on the first real call

    def call(self, *args, **kwargs):
        raise NotImplementedError(
            f"model {type(self).__name__} must define call() (or be built with Model(inputs, outputs))"
        )


def _functional_arguments(args, kwargs) -> bool:
    """Whether a constructor call is ``Model(inputs, outputs)``: Keras's argument shapes (two positional, or
    ``outputs=``/``inputs=`` keywords), with KerasTensor outputs, so a subclass's own arguments
    (``VAE(784, 64, 32)``) never make it functional."""
    if len(args) >= 2:
        outputs = args[1]
    elif "outputs" in kwargs and (len(args) == 1 or "inputs" in kwargs):
        outputs = kwargs["outputs"]
    else:
        return False
    return any(isinstance(t, KerasTensor) for t in flatten(outputs))


def _functional_subclass(cls):
    """Make ``cls`` functional as Keras does: ``Model`` among its bases becomes ``Functional`` (so
    ``type(model) is cls``, with ``cls``'s own methods first and the functional graph's behind them)."""
    if cls is Model:
        return Functional
    if issubclass(cls, Model) and not issubclass(cls, Functional):
        cls.__bases__ = tuple(_functional_subclass(b) if isinstance(b, type) else b for b in cls.__bases__)
    return cls


def _adjust_rank(x, declared):
    """Keras's rule for one input: a trailing axis of size 1 is added or dropped to meet the declared
    rank (a (16, 28, 28) batch feeds an input declared (28, 28, 1)); any other rank mismatch is an error."""
    if x.ndim == len(declared) + 1 and x.shape[-1] == 1:
        return x.squeeze(-1)
    if x.ndim == len(declared) - 1 and declared[-1] == 1:
        return x.unsqueeze(-1)
    return x


def _as_tensor(x):
    from ..layers.base import _to_tensor

    return _to_tensor(x)


def _collect_nodes(outputs):
    """The Nodes leading to ``outputs``, in execution (topological) order."""
    order, seen = [], set()

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.parents:
            visit(parent)
        order.append(node)

    for t in flatten(outputs):
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"functional model outputs must be KerasTensors (layer outputs), got {type(t).__name__}"
            )
        if t._history is not None:
            visit(t._history[0])
    return order


class Functional(Model):
    """A model defined by connecting layers on ``keras.Input`` tensors."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable)
        self.history = None
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        self._nodes = _collect_nodes(outputs)
        reachable = {id(t) for node in self._nodes for t in node.inputs if t._history is None}
        for t in self.inputs:
            if not isinstance(t, KerasTensor) or t._history is not None:
                raise ValueError(f"Model inputs must come from keras.Input(), got {t!r}")
        missing = reachable - {id(t) for t in self.inputs}
        if missing:
            raise ValueError("the outputs depend on a keras.Input that is not listed in the model's inputs")
        for node in self._nodes:
            if node.layer is not self and all(node.layer is not m for m in self._modules.values()):
                self._track_layer(node.layer.name, node.layer)
        self.built = True

    @property
    def input(self):  # as Keras: the inputs as given (one KerasTensor, or their list/dict)
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self):
        return [getattr(t, "name", None) or f"input_{i}" for i, t in enumerate(self.inputs)]

    @property
    def output_names(self):
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        names = []
        for t in self.outputs:
            name = t._history[0].layer.name if t._history else t.name
            names.append(name if name not in names else f"{name}_{len(names)}")
        return names

    @property
    def layers(self):
        from ..layers.core import InputLayer

        inputs = [t._input_layer for t in self.inputs if hasattr(t, "_input_layer")]
        return [layer for layer in inputs if isinstance(layer, InputLayer)] + list(self._layers.values())

    def _bind_inputs(self, inputs):
        if isinstance(inputs, dict):
            names = self.input_names
            if isinstance(self._inputs_struct, dict):
                return {id(self._inputs_struct[k]): v for k, v in inputs.items() if k in self._inputs_struct}
            missing = [n for n in names if n not in inputs]
            if missing:
                unknown = [k for k in inputs if k not in names]
                extra = f"; it has keys {unknown} that are not input names" if unknown else ""
                raise ValueError(f"model {self.name!r}: input dict is missing {missing}{extra} (the model's "
                                 f"inputs are {names}: key the dict by those names)")
            return {id(t): inputs[n] for t, n in zip(self.inputs, names)}
        flat = flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(
                f"model {self.name!r} expects {len(self.inputs)} input(s) "
                f"{[t.shape for t in self.inputs]}, got {len(flat)}"
            )
        return {id(t): x for t, x in zip(self.inputs, flat)}

    def call(self, inputs, training=None):
        env = self._bind_inputs(inputs)
        for t in self.inputs:
            x = env[id(t)] = _adjust_rank(_as_tensor(env[id(t)]), t.shape)
            if x.ndim != len(t.shape) or any(
                d is not None and d != e for d, e in zip(t.shape[1:], x.shape[1:])
            ):
                raise ValueError(
                    f"model {self.name!r}: input {t.name!r} expects shape {t.shape}, got {tuple(x.shape)}"
                )
        for node in self._nodes:
            real = lambda v: env[id(v)] if isinstance(v, KerasTensor) else v  # noqa: E731
            args = map_structure(real, node.call_args)
            kwargs = map_structure(real, node.call_kwargs)
            if training is not None and node.layer._call_has_training:
                kwargs["training"] = training
            out = node.layer(*args, **kwargs)
            for t, value in zip(node.outputs, flatten(out)):
                env[id(t)] = value
        return map_structure(lambda t: env[id(t)], self._outputs_struct)

    # -- config ----------------------------------------------------------------------------------------
    def get_config(self):
        from ..saving import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import functional_from_config

        return functional_from_config(config, custom_objects)
