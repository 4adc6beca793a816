"""``Layer.stateless_call`` (Keras 3): call a layer or model with given values in place of its variables.

``outputs, non_trainable = layer.stateless_call(trainable_values, non_trainable_values, *args, **kwargs)``
runs the layer's call with ``trainable_values`` (in ``layer.trainable_variables`` order) and
``non_trainable_values`` (in ``layer.non_trainable_variables`` order) in place of its variables, leaving the
layer's own variables untouched: state updates during the call (a BatchNormalization's moving statistics) land
on copies of the given non-trainable values, returned as the second result. Gradients flow to the trainable
values passed in (the JAX-style training step that Keras's guides write).

>>> import numpy as np
>>> from ember import keras
>>> dense = keras.layers.Dense(2)
>>> _ = dense(np.ones((1, 3), "float32"))
>>> zeros = [keras.ops.zeros_like(v) for v in dense.trainable_variables]
>>> out, state = dense.stateless_call(zeros, [], np.ones((1, 3), "float32"))
>>> keras.ops.convert_to_numpy(out).tolist(), state
([[0.0, 0.0]], [])
"""
from __future__ import annotations

import ember
from ember.func import functional_call
from ember.tensor import Tensor


def _values(kind, layer, variables, given):
    given = list(given)
    if len(given) != len(variables):
        raise ValueError(
            f"{type(layer).__name__}.stateless_call: expected {len(variables)} {kind} values (one per "
            f"layer.{kind}, in that order), got {len(given)}")
    out = []
    for var, value in zip(variables, given):
        value = value if isinstance(value, Tensor) else ember.tensor(value, dtype=var.dtype)
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(f"{type(layer).__name__}.stateless_call: the value for {var.path!r} has shape "
                             f"{tuple(value.shape)}, the variable {tuple(var.shape)}")
        out.append(value)
    return out


def stateless_call(layer, trainable_variables, non_trainable_variables, args, kwargs, return_losses=False):
    if not layer.built:
        raise ValueError(f"{type(layer).__name__}.stateless_call: the layer is not built; call it once (or "
                         "build it) so that its variables exist")
    trainable = _values("trainable_variables", layer, layer.trainable_variables, trainable_variables)
    frozen_vars = layer.non_trainable_variables
    # copies: a state update inside the call must not write into the caller's arrays
    frozen = [v.detach().clone() for v in _values("non_trainable_variables", layer, frozen_vars,
                                                   non_trainable_variables)]
    names = {id(v): n for n, v in list(layer.named_parameters()) + list(layer.named_buffers())}
    swap = {names[id(v)]: value for v, value in zip(layer.trainable_variables + frozen_vars, trainable + frozen)}
    outputs = functional_call(layer, swap, tuple(args), kwargs)
    result = (outputs, frozen)
    return result + (list(layer.losses),) if return_losses else result
