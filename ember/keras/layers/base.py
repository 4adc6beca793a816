"""The Keras ``Layer``: lazy ``build(input_shape)``, ``call``, ``add_weight`` -- and an ``ember.nn.Module``.

A layer runs eagerly on Ember tensors (or NumPy arrays), and symbolically on ``KerasTensor``s (from
``keras.Input``) to wire functional models. Because ``Layer`` subclasses ``nn.Module``, a Keras layer or model
can be used wherever a module can: ``parameters()``, ``named_parameters()``, ``state_dict()`` /
``load_state_dict()``, ``train()`` / ``eval()``, ``to()``, forward hooks, or as a submodule of an
``nn.Module``.

How the two trackings meet:

- ``add_weight`` registers the weight under its name: trainable weights as parameters, weights created with
  ``trainable=False`` (BatchNormalization's moving statistics) as buffers, like PyTorch's running stats.
  Assigning it to an attribute afterwards (``self.kernel = self.add_weight(name="kernel")``) does not
  register it twice. Keras's own order (``weights``, ``get_weights``) is the creation order, unchanged.
- Sublayers assigned as attributes, and lists / dicts of layers, become child modules, so state-dict keys
  read ``dense.kernel`` or ``blocks.0.kernel``. ``Sequential`` and functional models register their layers
  under the layer names. A plain ``nn.Module`` assigned to an attribute is wrapped in ``TorchModuleWrapper``
  (the attribute then holds the wrapper; ``wrapper.module`` is the module), as Keras 3 does.
- ``training``: a Keras layer starts with ``training=None`` (Keras's default: inference unless
  ``training=True`` is passed or an outer call passes it). ``train()`` / ``eval()`` set it as PyTorch does;
  ``fit``, ``evaluate``
  and ``predict`` always pass ``training`` explicitly.

>>> from ember import keras, nn
>>> class Scale(keras.layers.Layer):
...     def build(self, input_shape):
...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
...     def call(self, x):
...         return x * self.w
>>> layer = Scale()
>>> tuple(layer(keras.ops.ones((2, 3))).shape), len(layer.weights), isinstance(layer, nn.Module)
((2, 3), 1, True)
>>> net = nn.Sequential(nn.Linear(3, 3), layer)
>>> [name for name, _ in net.named_parameters()]
['0.weight', '0.bias', '1.w']
"""

from __future__ import annotations

import inspect
import re
import threading
from collections import OrderedDict

import numpy as np

from ember.nn.modules.module import Module
from ember.tensor import Tensor

from .. import backend as K
from .. import initializers, mixed_precision, scopes
from .symbolic import KerasTensor, Node, any_symbolic, map_structure, symbolic_call
from .variable import Variable, assign_weight, weight_value  # noqa: F401  (re-exported)

_NAMES: dict[str, int] = {}
_CTX = threading.local()
_MASKS_MADE = False  # whether any layer ever produced a mask (until then calls skip the mask look-up)
_LOSSES_ADDED = False  # whether any layer ever called add_loss (the outermost call then clears old terms)


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()  # Keras 3: "Conv2D" -> "conv2d"


def unique_name(base: str) -> str:
    n = _NAMES.get(base, 0)
    _NAMES[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Reset automatic layer names (``dense``, ``dense_1`` ...)."""
    _NAMES.clear()


def current_training():
    """The ``training`` flag of the outermost layer call in progress (None outside any call)."""
    return getattr(_CTX, "training", None)


def _accepts(fn, name) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _shape_of(x):
    if isinstance(x, (Tensor, np.ndarray, KerasTensor)):
        return tuple(x.shape)
    return tuple(np.shape(x))


def module_key(name) -> str:
    """A state-dict key for a Keras name (module keys cannot contain '.'; '/' would read like a path)."""
    return str(name).replace(".", "_").replace("/", "_") or "_"


class LayerCollection(Module):
    """A live view of a list / tuple / dict of layers held by a layer attribute: its children are the items
    (keys ``0``, ``1`` ... or the dict keys), so ``self.blocks = [Dense(4), Dense(4)]`` gives state-dict keys
    ``blocks.0.kernel``; layers appended to the list later are seen too."""

    def __init__(self, items):
        super().__init__()
        self.__dict__["_items"] = items

    @property
    def _modules(self):
        items = self.__dict__["_items"]
        pairs = items.items() if isinstance(items, dict) else enumerate(items)
        return OrderedDict((module_key(k), v) for k, v in pairs if isinstance(v, Module))

    def __repr__(self):
        return f"<LayerCollection of {len(self._modules)} layer(s)>"


def _is_layer_collection(value):
    if isinstance(value, dict):
        return bool(value) and all(isinstance(k, str) and isinstance(v, Layer) for k, v in value.items())
    return isinstance(value, (list, tuple)) and all(isinstance(v, Layer) for v in value)


class Layer(Module):
    """Base class of every Keras layer (see the module docstring for an example)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._call_has_training = _accepts(cls.call, "training")
        cls._call_has_mask = _accepts(cls.call, "mask")
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_records_args", False):
            cls.__init__ = _recording_init(init)

    def __init__(
        self,
        trainable=True,
        name=None,
        dtype=None,
        input_shape=None,
        input_dim=None,
        batch_input_shape=None,
        activity_regularizer=None,
        **kwargs,
    ):
        kwargs.pop("autocast", None)
        kwargs.pop("input_length", None)
        if kwargs.pop("quantization_config", None) is not None:  # Keras 3.12+ writes None in every config
            raise NotImplementedError(f"{type(self).__name__}: quantized Keras layers (quantization_config) are not "
                                      "supported in Ember; quantize an exported model with ember.quantization")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}")
        if "_parameters" not in self.__dict__:
            Module.__init__(self)
        d = self.__dict__
        d["training"] = None  # Keras's default; train()/eval() set it (see the module docstring)
        d["_own_weights"] = []
        d["_output_shape_seen"] = None
        self._trainable = trainable
        self.name = name or unique_name(_snake(type(self).__name__))
        self._dtype_policy = mixed_precision.policy_of(dtype)  # a mixed policy: float32 variables, low compute
        self.dtype = self._dtype_policy.variable_dtype
        self.built = False
        self._losses = []
        self._inbound_nodes = []
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._input_shape_arg = None if input_shape is None else K.standardize_shape(input_shape)
        self.input_spec = None
        self.activity_regularizer = _regularizer(activity_regularizer)  # a loss on the outputs, per call

    # -- tracking (nn.Module registration + Keras's rules) ------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_modules" not in d:  # before Layer.__init__: plain attributes only, like nn.Module
            Module.__setattr__(self, name, value)
            return
        if isinstance(value, Variable) and any(value is w for w in d["_own_weights"]):
            object.__setattr__(self, name, value)  # already registered under its weight name by add_weight
            return
        if isinstance(value, Variable) and not name.startswith("_"):
            self._track_variable(value)  # ``self.v = keras.Variable(...)``: a weight, saved and restored
            object.__setattr__(self, name, value)
            return
        if not isinstance(value, Module) and name in d["_modules"]:
            del d["_modules"][name]  # Keras lets attributes be reassigned freely
        if isinstance(value, Module) and not isinstance(value, Layer):
            from .wrappers import TorchModuleWrapper

            Module.__setattr__(self, name, TorchModuleWrapper(value, name=name))  # as Keras 3 does
        elif not name.startswith("_") and _is_layer_collection(value):
            d["_modules"][name] = LayerCollection(value)
            object.__setattr__(self, name, value)
        else:
            Module.__setattr__(self, name, value)

    def _track_variable(self, var):
        if not getattr(var, "_path_owner", None):  # a weight another layer made (a wrapper's alias) keeps its path
            var.path = f"{scopes.current_path()}{self.name}/{var.name}"
            var._path_owner = self.name
        self._own_weights.append(var)
        key = module_key(var.name)
        while key in self._parameters or key in self._buffers or key in self._modules:
            key += "_"
        (self._parameters if var._keras_trainable else self._buffers)[key] = var

    def _track_layer(self, key, layer):
        """Register ``layer`` as a child module under ``key`` (Sequential / functional models use names)."""
        self._modules[module_key(key)] = layer

    def _untrack_layer(self, layer):
        for key, m in list(self._modules.items()):
            if m is layer:
                del self._modules[key]

    @property
    def _layers(self):
        """The direct sublayers ``{key: layer}`` in registration order (collections expanded)."""
        out = {}
        for key, m in self._modules.items():
            if isinstance(m, Layer):
                out[key] = m
            elif isinstance(m, LayerCollection):
                out.update((f"{key}.{k}", v) for k, v in m._modules.items() if isinstance(v, Layer))
        return out

    def _flatten_layers(self, include_self=True, recursive=True):
        seen = set()
        stack = [self] if include_self else list(self._layers.values())
        out = []
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            if recursive:
                stack = list(layer._layers.values()) + stack
        return out

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        for layer in self._flatten_layers():
            layer._trainable = bool(value)
            for w in layer._own_weights:
                w.requires_grad = bool(value) and w._keras_trainable and w._data.dtype.kind == "f"

    @property
    def weights(self):
        """All weights, unique, depth first; each layer's own trainable weights before its non-trainable ones
        (Keras 3's order, so ``get_weights()`` / ``set_weights()`` lists carry over between Keras and Ember)."""
        out, current, frozen = [], None, []
        for layer, w in self._all_weights():
            if layer is not current:
                out += frozen
                current, frozen = layer, []
            if w._keras_trainable and layer._trainable:
                out.append(w)
            else:
                frozen.append(w)
        return out + frozen

    @property
    def variables(self):
        return self.weights

    def _all_weights(self):
        out, seen = [], set()
        for layer in self._flatten_layers():
            for w in layer._own_weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((layer, w))
        return out

    @property
    def trainable_weights(self):
        return [w for layer, w in self._all_weights() if w._keras_trainable and layer._trainable]

    @property
    def non_trainable_weights(self):
        return [w for layer, w in self._all_weights() if not (w._keras_trainable and layer._trainable)]

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    def stateless_call(self, trainable_variables, non_trainable_variables, *args, return_losses=False, **kwargs):
        """Keras 3's ``stateless_call``: see ``ember.keras.layers.stateless``."""
        from .stateless import stateless_call

        return stateless_call(self, trainable_variables, non_trainable_variables, args, kwargs, return_losses)

    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        regularizer=None,
        constraint=None,
        name=None,
        **kwargs,
    ):
        """Create, track and return a weight (a :class:`Variable`, i.e. an ``nn.Parameter``)."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = dtype or (self.dtype if isinstance(self.dtype, str) else K.floatx())
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype=dtype) if callable(init) else init
        var = Variable(
            K.to_numpy(value).astype(dtype, copy=False),
            trainable=trainable and self._trainable,
            name=name or f"variable_{len(self._own_weights)}",
            dtype=dtype,
        )
        var._keras_trainable = bool(trainable)
        var.regularizer = _regularizer(regularizer)
        var.constraint = _constraint(constraint)
        self._track_variable(var)
        return var

    add_variable = add_weight

    def _add_kernel_and_bias(self, kernel_shape, bias_size):
        """``self.kernel`` and ``self.bias`` (None without ``use_bias``) from the layer's initializers and
        regularizers: the weights of Dense and the convolutions."""
        self.kernel = self.add_weight(kernel_shape, self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=getattr(self, "kernel_constraint", None), name="kernel")
        self.bias = self.add_weight((bias_size,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=getattr(self, "bias_constraint", None),
                                    name="bias") if self.use_bias else None

    def get_weights(self):
        return [weight_value(w) for w in self.weights]

    def set_weights(self, weights):
        params = self.weights
        if len(params) != len(weights):
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects {len(params)} weight arrays, "
                f"got {len(weights)}"
            )
        for p, w in zip(params, weights):
            if tuple(np.shape(w)) != tuple(p.shape):
                raise ValueError(
                    f"layer {self.name!r}: weight {p.path!r} has shape {tuple(p.shape)}, "
                    f"the value given has shape {tuple(np.shape(w))}"
                )
            assign_weight(p, w)

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"layer {self.name!r} is not built yet; call it on data or call build(input_shape) "
                "before count_params()"
            )
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    @property
    def losses(self):
        out = []
        for layer in self._flatten_layers():
            out.extend(layer._losses)
            for w in layer._own_weights:
                if getattr(w, "regularizer", None) is not None and w.requires_grad:
                    out.append(w.regularizer(w))
        return out

    def add_loss(self, loss):
        """Add a loss term for the current call; the outermost layer call clears the terms of the previous
        one, as in Keras (so ``layer.losses`` holds the last call's terms, not an accumulation)."""
        global _LOSSES_ADDED
        _LOSSES_ADDED = True
        self._losses.append(loss)

    def _clear_losses(self):
        for layer in self._flatten_layers():
            if layer._losses:
                layer._losses = []

    # -- build and call ----------------------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"layer {type(self).__name__} must implement call()")

    def _maybe_build(self, args):
        if self.built:
            return
        first = args[0] if args else None
        shapes = map_structure(_shape_of, first)
        self.__dict__["_build_shapes"] = map_structure(lambda s: (None,) + tuple(s[1:]) if s else s, shapes,
                                                       is_leaf=_is_shape)  # saved as Keras's build_config
        self.build(shapes)
        self.built = True

    def __call__(self, *args, **kwargs):
        if any_symbolic(args, kwargs):
            return symbolic_call(self, args, kwargs)
        if _LOSSES_ADDED and not getattr(_CTX, "depth", 0):  # an outermost call: a fresh set of add_loss terms
            self._clear_losses()
        _CTX.depth = getattr(_CTX, "depth", 0) + 1
        try:
            return self._eager_call(args, kwargs)
        finally:
            _CTX.depth -= 1

    def _eager_call(self, args, kwargs):
        if not self.built:
            args = tuple(map_structure(_to_tensor, a) for a in args)
            self._maybe_build(args)
        elif args and not isinstance(args[0], Tensor):
            args = (map_structure(_to_tensor, args[0]),) + args[1:]
        if self.input_spec is not None and args:
            from .input_spec import check_input_spec

            check_input_spec(self, args[0])
        if self._float_inputs and args:
            args = (map_structure(self._as_compute_float, args[0]),) + args[1:]
        if self._hooked:  # nn.Module hooks: they run around forward(), which is this Keras call
            out = self._call_with_hooks(args, kwargs)
        else:
            out = self._call_with_context(args, kwargs)
        if self.activity_regularizer is not None:  # Keras 3: one loss term per output tensor, not batch-averaged
            for o in _tensors_in(out):  # Keras 3: per output, divided by the batch size
                loss = self.activity_regularizer(o)
                self.add_loss(loss / o.shape[0] if o.ndim > 0 and o.shape[0] else loss)
        if self._output_shape_seen is None:
            self.__dict__["_output_shape_seen"] = map_structure(_batchless_shape, out)
        return out

    def forward(self, *args, **kwargs):
        """nn.Module's entry point: the Keras call (with ``training`` resolved as in ``__call__``)."""
        return self._call_with_context(args, kwargs)

    def _call_with_context(self, args, kwargs):
        outer = getattr(_CTX, "training", None)
        training = kwargs.get("training")
        if training is None:
            training = outer if outer is not None else self.__dict__.get("training")
        if self._call_has_training:
            kwargs["training"] = training
        else:
            kwargs.pop("training", None)
        in_mask = _input_mask(args) if _MASKS_MADE else None
        if self._call_has_mask:
            if kwargs.get("mask") is None and in_mask is not None:
                kwargs["mask"] = in_mask
        else:
            kwargs.pop("mask", None)
        _CTX.training = training
        policy = self.__dict__.get("_dtype_policy")
        try:
            if policy is None or not policy.is_mixed or hasattr(self, "fit"):  # a Model: its layers decide
                out = self.call(*args, **kwargs)
            else:
                args = mixed_precision.cast_inputs(policy, args)
                with mixed_precision.compute_scope(policy, args):
                    out = mixed_precision.cast_outputs(policy, self.call(*args, **kwargs))
        finally:
            _CTX.training = outer
        if in_mask is not None or type(self).compute_mask is not Layer.compute_mask:
            self._attach_mask(args, out, kwargs.get("mask", in_mask))
        return out

    # Dense and the RNNs take bool/integer inputs as floats of their compute dtype, as Keras's matmul promotes
    # them (one-hot bool arrays fed to fit/predict); Keras refuses them on Conv, so Ember keeps its dtype error
    # there, and layers that index with their input (Embedding) keep False.
    _float_inputs = False

    def _as_compute_float(self, x):
        if isinstance(x, Tensor) and not (x.is_floating_point() or x.is_complex()):
            return x.to(self.compute_dtype)
        return x

    # -- masks (Keras's ``_keras_mask``: Embedding(mask_zero=True) / Masking make one, RNNs consume it) --------
    supports_masking = False

    def compute_mask(self, inputs, previous_mask=None):
        """The mask of this layer's output: the input mask, passed on by layers that support masking."""
        return previous_mask if self.supports_masking else None

    def _attach_mask(self, args, out, in_mask):
        if self._call_has_mask and type(self).compute_mask is Layer.compute_mask and not self.supports_masking:
            return  # a mask-consuming layer (an RNN without return_sequences, attention) ends the mask
        mask = self.compute_mask(args[0] if args else None, in_mask)
        if mask is None:
            return
        global _MASKS_MADE
        _MASKS_MADE = True
        if isinstance(out, Tensor):
            out._keras_mask = mask
        elif isinstance(out, (list, tuple)) and isinstance(mask, (list, tuple)) and len(out) == len(mask):
            for o, m in zip(out, mask):  # a layer with several outputs gives one mask each (as Keras)
                if isinstance(o, Tensor) and m is not None:
                    o._keras_mask = m

    # -- dtype policy (keras.mixed_precision) ------------------------------------------------------------------
    @property
    def dtype_policy(self):
        return self.__dict__.get("_dtype_policy") or mixed_precision.policy_of(self.dtype)

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._dtype_policy = mixed_precision.policy_of(value)
        self.dtype = self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self):
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self.dtype_policy.variable_dtype

    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape`` (batch dim may be None), found by running on zeros."""
        spec = map_structure(lambda s: KerasTensor(s), input_shape, is_leaf=_is_shape)
        out = symbolic_call(self, (spec,), {}, record=False)
        return map_structure(lambda t: t.shape, out)

    # -- config ---------------------------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_policy.name}
        if self.activity_regularizer is not None:
            from ..saving import serialize_keras_object

            config["activity_regularizer"] = serialize_keras_object(self.activity_regularizer)
        recorded = getattr(self, "_init_args", None)
        if (
            recorded is not None
            and type(self).get_config is Layer.get_config
            and type(self).__module__.split(".")[:2] != ["ember", "keras"]
        ):
            config.update(recorded)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- functional-API accessors ----------------------------------------------------------------------------
    @property
    def input(self):
        return self._node(0).call_args[0]

    @property
    def output(self):
        return self._node(0).outputs_structure

    def _node(self, i):
        if not self._inbound_nodes:
            raise AttributeError(
                f"layer {self.name!r} has never been called on a symbolic input, so it has no input/output"
            )
        return self._inbound_nodes[i]

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _input_mask(args):
    first = args[0] if args else None
    if isinstance(first, (list, tuple)):
        masks = [getattr(x, "_keras_mask", None) for x in first]
        return None if all(m is None for m in masks) else masks
    return getattr(first, "_keras_mask", None)


def _batchless_shape(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    shape = tuple(shape)
    return (None,) + shape[1:] if shape else shape


def _is_shape(x):
    return isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)


def _to_tensor(x):
    if isinstance(x, Tensor) or x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, (np.ndarray, list, float, int, np.generic)):
        return K.convert(x)
    return x


def _tensors_in(out):
    if isinstance(out, Tensor):
        return [out]
    items = out.values() if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else []
    return [t for o in items for t in _tensors_in(o)]


def _regularizer(reg):
    if reg is None or callable(reg):
        return reg
    from ..regularizers import get

    return get(reg)


def constraint_configs(layer, names=("kernel_constraint", "bias_constraint")):
    """The set constraints of a layer as config entries (serialized as Keras writes them)."""
    from ..saving import serialize_keras_object

    return {n: serialize_keras_object(getattr(layer, n)) for n in names if getattr(layer, n, None) is not None}


def _constraint(constraint):
    if constraint is None or callable(constraint):
        return constraint
    from ..constraints import get

    return get(constraint)


def _recording_init(init):
    """Wrap a subclass ``__init__`` to remember its (JSON-able) arguments for the default get_config."""

    sig = inspect.signature(init)

    def __init__(self, *args, **kwargs):
        if "_init_args" not in self.__dict__:
            try:
                bound = sig.bind(self, *args, **kwargs)
                rec = {k: v for k, v in bound.arguments.items() if k != "self"}
                extra = rec.pop("kwargs", None) or {}
                rec.update(extra)
                object.__setattr__(self, "_init_args", {k: v for k, v in rec.items() if _jsonable(v)})
            except TypeError:
                object.__setattr__(self, "_init_args", {})
        init(self, *args, **kwargs)

    __init__._records_args = True
    __init__.__wrapped__ = init
    __init__.__doc__ = init.__doc__
    return __init__


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_jsonable(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _jsonable(x) for k, x in v.items())
    return False


__all__ = ["Layer", "Variable", "KerasTensor", "Node", "clear_session", "current_training"]
