"""``keras.mixed_precision``: dtype policies and ``LossScaleOptimizer`` (Keras 3's names and rules).

A policy names a layer's variable dtype and compute dtype: ``"mixed_bfloat16"`` keeps float32 variables and
computes in bfloat16 (``"mixed_float16"`` likewise in float16; a plain dtype name uses it for both). A layer
with a mixed policy casts its floating-point inputs to the compute dtype and runs its call under Ember's
autocast, so its matrix products and convolutions run in the compute dtype while its float32 variables are
cast per use (their gradients stay float32). Losses compute in float32.

>>> from ember import keras
>>> keras.mixed_precision.set_global_policy("mixed_bfloat16")
>>> layer = keras.layers.Dense(3)
>>> y = layer(keras.ops.ones((2, 4)))
>>> layer.compute_dtype, layer.variable_dtype, str(y.dtype), str(layer.kernel.dtype)
('bfloat16', 'float32', 'ember.bfloat16', 'ember.float32')
>>> keras.mixed_precision.set_global_policy("float32")
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import autocast
from .. import dtypes as _dtypes
from ..autograd import no_grad
from . import backend as K

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
_FLOATS = ("float16", "bfloat16", "float32", "float64")


class DTypePolicy:
    """A dtype policy: ``name``, ``compute_dtype``, ``variable_dtype`` (Keras 3's ``DTypePolicy``)."""

    def __init__(self, name=None):
        name = name or K.floatx()
        if not isinstance(name, str):
            raise TypeError(f"DTypePolicy: name must be a string such as 'mixed_bfloat16', got {name!r}")
        if name in _MIXED:
            compute, variable = _MIXED[name], "float32"
        else:
            try:
                compute = variable = _dtypes.as_dtype(name).name
            except TypeError:
                raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid policies "
                                 "include 'mixed_float16', 'mixed_bfloat16', and the name of any float dtype "
                                 "such as 'float32'.") from None
        self._name, self._compute, self._variable = name, compute, variable

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute

    @property
    def variable_dtype(self) -> str:
        return self._variable

    @property
    def is_mixed(self) -> bool:
        return self._compute != self._variable

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy
_GLOBAL: list = [None]


def set_global_policy(policy) -> None:
    """Make ``policy`` (a name or a DTypePolicy) the default of layers made from now on."""
    policy = policy if isinstance(policy, DTypePolicy) else DTypePolicy(policy)
    if policy.compute_dtype not in _FLOATS:
        raise ValueError(f"set_global_policy: the policy's compute dtype must be floating, got {policy}")
    _GLOBAL[0] = policy


def global_policy() -> DTypePolicy:
    """The global policy (``DTypePolicy(floatx())`` until one is set)."""
    return _GLOBAL[0] or DTypePolicy(K.floatx())


set_dtype_policy, dtype_policy = set_global_policy, global_policy


def policy_of(dtype) -> DTypePolicy:
    """A layer's policy from its ``dtype=`` argument: None (the global one), a name, a config or a policy."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):  # a serialized policy {"class_name": "DTypePolicy", "config": {"name": ...}}
        return DTypePolicy(dtype.get("config", {}).get("name"))
    if not isinstance(dtype, str):
        dtype = _dtypes.as_dtype(dtype).name
    return DTypePolicy(dtype)


def cast_inputs(policy: DTypePolicy, args: tuple) -> tuple:
    """Floating-point tensors among ``args`` (one level of lists too) cast to the compute dtype."""
    if not policy.is_mixed:
        return args

    def cast(x):
        if isinstance(x, (list, tuple)):
            return type(x)(cast(v) for v in x)
        if hasattr(x, "_data") and x.is_floating_point() and x.dtype.name != policy.compute_dtype \
                and x.dtype.name != "float64":
            return x.to(policy.compute_dtype)
        return x

    return tuple(cast(a) for a in args)


def cast_outputs(policy: DTypePolicy, out):
    """A mixed layer's floating outputs in its compute dtype (Keras computes with variables read in that dtype;
    here float32 variables may promote a result, e.g. a bias add, which is rounded back)."""
    if isinstance(out, (list, tuple)):
        return type(out)(cast_outputs(policy, v) for v in out)
    if isinstance(out, dict):
        return {k: cast_outputs(policy, v) for k, v in out.items()}
    if hasattr(out, "_data") and out.is_floating_point() and out.dtype.name == policy.variable_dtype:
        return out.to(policy.compute_dtype)
    return out


def compute_scope(policy: DTypePolicy, args: tuple):
    """The context a layer's call runs in: autocast to the compute dtype when the policy is mixed."""
    if not policy.is_mixed:
        return contextlib.nullcontext()
    device = next((a.device.type for a in args if hasattr(a, "_data")), "cpu")
    return autocast(device, dtype=_dtypes.from_name(policy.compute_dtype))


class LossScaleOptimizer:
    """Dynamic loss scaling around any Keras optimizer (used only through its public ``apply``/
    ``apply_gradients``), with Keras 3's rules: ``scale_loss(loss)`` multiplies by ``dynamic_scale``;
    ``apply(grads)`` skips the step and halves the scale when a gradient is inf/NaN, else divides the gradients
    by the scale, applies them, and doubles the scale after ``dynamic_growth_steps`` finite steps in a row.

    >>> from ember import keras
    >>> v = keras.Variable([1.0, 2.0])
    >>> opt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=8.0)
    >>> opt.apply([keras.ops.convert_to_tensor([8.0, 8.0])], [v])
    >>> [round(x, 3) for x in v.numpy().tolist()], opt.dynamic_scale
    ([0.9, 1.9], 8.0)
    """

    dynamic_loss_scale = True  # tells the Keras train step to scale the loss before backward, eagerly

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000, name=None,
                 **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                             "`loss_scale_factor` directly on the `inner_optimizer`.")
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.name = name or "loss_scale_optimizer"
        self._scale = float(np.float32(initial_scale))
        self.step_counter = 0
        self.built = False

    @property
    def dynamic_scale(self) -> float:
        return self._scale

    def scale_loss(self, loss):
        return loss * self._scale

    def build(self, variables) -> None:
        if hasattr(self.inner_optimizer, "build"):
            self.inner_optimizer.build(variables)
        self.built = True

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if not self.built:
            self.built = True
        if self._finite(grads):
            with no_grad():
                unscaled = [None if g is None else g / self._scale for g in grads]
            self.inner_optimizer.apply(unscaled, trainable_variables)
            if self.step_counter == self.dynamic_growth_steps - 1:
                self.step_counter = 0
                self._scale = float(np.float32(self._scale * 2.0))
            else:
                self.step_counter += 1
        else:
            self.step_counter = 0
            self._scale = float(np.float32(self._scale * 0.5))

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars) if grads_and_vars else ((), ())
        return self.apply(list(grads), list(variables))

    @staticmethod
    def _finite(grads) -> bool:
        with no_grad():
            return all(bool(g.isfinite().all()) for g in grads if g is not None)

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def variables(self):
        return list(self.inner_optimizer.variables)

    def get_config(self) -> dict:
        inner = self.inner_optimizer
        return {"name": self.name, "inner_optimizer": {"class_name": type(inner).__name__,
                                                         "config": inner.get_config()},
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import optimizers

        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = getattr(optimizers, inner["class_name"]).from_config(inner["config"])
        return cls(inner, **config)

    def __getattr__(self, name):  # everything else is the wrapped optimizer's (its public attributes)
        if name.startswith("__") or name == "inner_optimizer":
            raise AttributeError(name)
        return getattr(self.inner_optimizer, name)


__all__ = ["DTypePolicy", "Policy", "LossScaleOptimizer", "set_global_policy", "global_policy",
           "set_dtype_policy", "dtype_policy"]
