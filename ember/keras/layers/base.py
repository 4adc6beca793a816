"""The Keras ``Layer``: lazy ``build(input_shape)``, ``call``, ``add_weight``; weights are Ember leaf tensors.

A layer runs eagerly on Ember tensors (or NumPy arrays), and symbolically on ``KerasTensor``s (from
``keras.Input``) to wire functional models. It also speaks ``nn.Module``'s vocabulary (``parameters()``,
``named_parameters()``, ``state_dict()``, ``train()``/``eval()``), so a PyTorch-style
loop can train it.

>>> from ember import keras
>>> class Scale(keras.layers.Layer):
...     def build(self, input_shape):
...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
...     def call(self, x):
...         return x * self.w
>>> layer = Scale()
>>> tuple(layer(keras.ops.ones((2, 3))).shape), len(layer.weights), len(list(layer.parameters()))
((2, 3), 1, 1)
"""

from __future__ import annotations

import inspect
import re
import threading

import numpy as np

import ember
from ember.tensor import Tensor

from .. import backend as K
from .. import initializers
from .symbolic import KerasTensor, Node, any_symbolic, map_structure, symbolic_call

_NAMES: dict[str, int] = {}
_CTX = threading.local()


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


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


class Variable(Tensor):
    """A Keras weight: an Ember leaf tensor (``requires_grad`` when trainable) with ``name``, ``path``,
    ``assign`` and ``numpy()``.

    >>> v = Variable(np.zeros(2, "float32"), name="b")
    >>> v.assign([1.0, 2.0]).numpy().tolist()
    [1.0, 2.0]
    """

    def __init__(self, value, name="variable", trainable=True, dtype=None):
        arr = np.array(K.to_numpy(value), dtype=dtype or None, copy=True)
        if arr.dtype.kind == "f" and dtype is None and arr.dtype != np.dtype(K.floatx()):
            arr = arr.astype(K.floatx())
        self._init(arr)
        self.name = name
        self.path = name
        self._keras_trainable = bool(trainable)
        self.requires_grad = bool(trainable) and arr.dtype.kind == "f"
        self.regularizer = self.constraint = None

    @property
    def trainable(self):
        return self._keras_trainable

    @trainable.setter
    def trainable(self, value):
        self._keras_trainable = bool(value)
        self.requires_grad = bool(value) and self._data.dtype.kind == "f"

    @property
    def value(self):
        return self

    def numpy(self, *, force=False):
        return K.to_numpy(Tensor._wrap(self._data)).copy()

    def assign(self, value):
        assign_weight(self, value)
        return self

    def assign_add(self, value):
        self._data += K.to_array(value).astype(self._data.dtype, copy=False)
        return self

    def assign_sub(self, value):
        self._data -= K.to_array(value).astype(self._data.dtype, copy=False)
        return self

    def __repr__(self):
        return f"<Variable path={self.path}, shape={tuple(self._data.shape)}, dtype={self._data.dtype}>"


def weight_value(w):
    """A NumPy copy of a weight (a Variable or any Ember tensor, e.g. a wrapped module's Parameter)."""
    return K.to_numpy(Tensor._wrap(w._data)).copy()


def assign_weight(w, value):
    """Overwrite a weight's values in place (shape checked)."""
    arr = K.to_array(value)
    if tuple(arr.shape) != tuple(w._data.shape):
        raise ValueError(
            f"weight {getattr(w, 'path', '?')!r}: cannot assign a value of shape {tuple(arr.shape)} "
            f"to a weight of shape {tuple(w._data.shape)}"
        )
    w._data[...] = ember.backend.xp_of(w._data).asarray(arr, dtype=w._data.dtype)


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


class Layer:
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
        **kwargs,
    ):
        kwargs.pop("autocast", None)
        kwargs.pop("input_length", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}")
        object.__setattr__(self, "_layers", {})
        self._own_weights = []
        self._trainable = trainable
        self.name = name or unique_name(_snake(type(self).__name__))
        self.dtype = (dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype) or K.floatx()
        self.built = False
        self._losses = []
        self._inbound_nodes = []
        self.training_mode = True  # nn.Module's flag (train()/eval())
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._input_shape_arg = None if input_shape is None else K.standardize_shape(input_shape)
        self.input_spec = None

    # -- tracking --------------------------------------------------------------------------------------
    def __setattr__(self, name, value):
        layers = self.__dict__.get("_layers")
        if layers is not None and not name.startswith("_"):
            if isinstance(value, Layer):
                layers[name] = value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value):
                for i, v in enumerate(value):
                    layers[f"{name}.{i}"] = v
            elif _is_module(value):
                from .wrappers import TorchModuleWrapper

                layers[name] = TorchModuleWrapper(value, name=name)
        object.__setattr__(self, name, value)

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
        """All weights (trainable first, like Keras), unique, depth first."""
        return self.trainable_weights + self.non_trainable_weights

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
        """Create, track and return a weight (a :class:`Variable`, i.e. an Ember leaf tensor)."""
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
        var.path = f"{self.name}/{var.name}"
        var.regularizer = _regularizer(regularizer)
        var.constraint = constraint
        self._own_weights.append(var)
        return var

    add_variable = add_weight

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
        self._losses.append(loss)

    # -- build and call ----------------------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"layer {type(self).__name__} must implement call()")

    def _maybe_build(self, args):
        if self.built:
            return
        first = args[0] if args else None
        self.build(map_structure(_shape_of, first))
        self.built = True

    def __call__(self, *args, **kwargs):
        if any_symbolic(args, kwargs):
            return symbolic_call(self, args, kwargs)
        if not self.built:
            args = tuple(map_structure(_to_tensor, a) for a in args)
            self._maybe_build(args)
        elif args and not isinstance(args[0], Tensor):
            args = (map_structure(_to_tensor, args[0]),) + args[1:]
        return self._call_with_context(args, kwargs)

    def _call_with_context(self, args, kwargs):
        outer = getattr(_CTX, "training", None)
        training = kwargs.get("training")
        if training is None:
            training = outer
        if self._call_has_training:
            kwargs["training"] = training
        else:
            kwargs.pop("training", None)
        if not self._call_has_mask:
            kwargs.pop("mask", None)
        _CTX.training = training
        try:
            return self.call(*args, **kwargs)
        finally:
            _CTX.training = outer

    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape`` (batch dim may be None), found by running on zeros."""
        spec = map_structure(lambda s: KerasTensor(s), input_shape, is_leaf=_is_shape)
        out = symbolic_call(self, (spec,), {}, record=False)
        return map_structure(lambda t: t.shape, out)

    # -- config ---------------------------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
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

    # -- nn.Module vocabulary ----------------------------------------------------------------------------
    def parameters(self, recurse=True):
        return iter([w for w in self.weights if w.requires_grad])

    def named_parameters(self, prefix="", recurse=True):
        for w in self.weights:
            if w.requires_grad:
                yield (prefix + w.path.replace("/", ".")), w

    def state_dict(self):
        return {w.path.replace("/", "."): w.detach() for w in self.weights}

    def load_state_dict(self, state, strict=True):
        mine = {w.path.replace("/", "."): w for w in self.weights}
        missing = [k for k in mine if k not in state]
        if strict and (missing or set(state) - set(mine)):
            raise KeyError(
                f"{self.name}: state dict mismatch; missing {missing}, unexpected "
                f"{sorted(set(state) - set(mine))}"
            )
        for k, w in mine.items():
            if k in state:
                assign_weight(w, state[k])

    def train(self, mode=True):
        for layer in self._flatten_layers():
            layer.training_mode = mode
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for w in self.weights:
            w.grad = None

    def forward(self, *args, **kwargs):
        kwargs.setdefault("training", self.training_mode)
        return self(*args, **kwargs)

    def to(self, *args, **kwargs):
        for w in self.weights:
            w._data = w.to(*args, **kwargs)._data
        return self

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


def _is_shape(x):
    return isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)


def _to_tensor(x):
    if isinstance(x, Tensor) or x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, (np.ndarray, list, float, int, np.generic)):
        return K.convert(x)
    return x


def _is_module(value):
    try:
        from ember.nn import Module
    except ImportError:
        return False
    return isinstance(value, Module) and not isinstance(value, Layer)


def _regularizer(reg):
    if reg is None or callable(reg):
        return reg
    from ..regularizers import get

    return get(reg)


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
