"""Keras 3 optimizers that are ``ember.optim`` optimizers.

A Keras optimizer here subclasses ``ember.optim.Optimizer`` (one parameter group; per-parameter state in
``optimizer.state[param]`` under Keras's slot names; ``step()``, ``zero_grad()``, ``state_dict()``, hooks) and
keeps Keras's API and numbers: ``apply(grads, variables)`` / ``apply_gradients``, ``build``,
``update_step``, ``iterations`` and ``learning_rate`` as variables, ``variables``, configs, and Keras's defaults
(``epsilon=1e-7``, ``rho=0.9``...). The update formulas are ``ember.optim``'s kernels run on Ember tensors with
in-place writes, with the options that give Keras's math where it differs from PyTorch's: Adam's epsilon
before the bias correction, RMSprop's and Adagrad's epsilon inside the square root, RMSprop's learning rate
inside its momentum; SGD needs none (see ``SGD``). Gradient clipping, weight decay (``w -= w * wd * lr``)
and a ``LearningRateSchedule`` (evaluated on the ``iterations`` tensor) follow Keras too. Everything is
tensor ops, so ``model.fit``'s compiled train step holds the whole update in its one graph.

>>> import ember
>>> from ember.keras import optimizers
>>> w = ember.tensor([1.0, 2.0], requires_grad=True)
>>> opt = optimizers.SGD(learning_rate=0.5)
>>> opt.apply([ember.tensor([1.0, 1.0])], [w])
>>> w.detach().numpy().tolist(), int(opt.iterations), isinstance(opt, ember.optim.Optimizer)
([0.5, 1.5], 1, True)
"""

from __future__ import annotations

import re
import warnings

import numpy as np

import ember
from ember import functional as F
from ember import optim
from ember.autograd import no_grad
from ember.errors import did_you_mean
from ember.optim.adam import adam_kernel
from ember.optim.rmsprop import adagrad_kernel, rmsprop_kernel
from ember.optim.sgd import sgd_kernel

from .. import backend as K
from .. import distribution as distribution_lib
from ..layers.base import _snake
from ..layers.variable import Variable
from . import schedules
from .schedules import CosineDecay, ExponentialDecay, LearningRateSchedule  # noqa: F401  (Keras's names)


class _TensorMath:
    """The array namespace ``ember.optim``'s update kernels are written against, on Ember tensors."""

    sqrt = staticmethod(F.sqrt)
    maximum = staticmethod(F.maximum)

    @staticmethod
    def copy(x):
        return x.clone()

    @staticmethod
    def lerp(start, end, weight):  # PyTorch's formula, as the kernels' other namespaces use
        return start + weight * (end - start) if weight < 0.5 else end - (end - start) * (1 - weight)


MATH = _TensorMath()


class Optimizer(optim.Optimizer):
    """Base of the Keras optimizers: Keras's ``apply`` pipeline on an ``ember.optim.Optimizer``.

    Subclasses list their per-variable slots in ``_slots`` (``(name, initial value)``) and implement
    ``update_step(gradient, variable, learning_rate)``; custom Keras-style optimizers may instead override
    ``build`` (calling ``super().build(variables)``) and create slots with ``add_variable_from_reference``.
    """

    _slots: tuple = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected argument(s) {sorted(kwargs)}")
        if gradient_accumulation_steps:
            raise NotImplementedError(
                f"{type(self).__name__}: gradient_accumulation_steps is not supported by ember.keras; use a larger "
                "batch_size, or sum the gradients of several batches in a custom train_step")
        if use_ema and not 0 <= float(ema_momentum) <= 1:
            raise ValueError(f"{type(self).__name__}: ema_momentum must be in [0, 1], got {ema_momentum!r}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        super().__init__([{"params": []}], {})  # one group; the variables arrive with build()
        self.name = name or _snake(type(self).__name__)
        self.weight_decay, self.clipnorm, self.clipvalue = weight_decay, clipnorm, clipvalue
        self.global_clipnorm, self.loss_scale_factor = global_clipnorm, loss_scale_factor
        self.use_ema, self.ema_momentum = bool(use_ema), float(ema_momentum)
        self.ema_overwrite_frequency = int(ema_overwrite_frequency) if use_ema and ema_overwrite_frequency else None
        self._model_variables_moving_average: list = []
        self.gradient_accumulation_steps = None
        self.built = False
        self._variables: list = []
        self._trainable_variables: list = []
        self._index: dict = {}
        self._exclude_ids: set = set()
        self._exclude_pattern = None
        self._iterations = self.add_variable((), "zeros", "int64", name="iteration")
        self._learning_rate = self._make_learning_rate(learning_rate)

    # -- variables ----------------------------------------------------------------------------------------
    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none", name=None, like=None):
        """A non-trainable optimizer variable, tracked in ``variables``; ``like`` puts it on that tensor's
        device."""
        from .. import initializers

        if isinstance(initializer, (int, float)):
            value = np.full(tuple(shape), initializer, dtype or K.floatx())
        else:
            value = initializers.get(initializer)(tuple(shape), dtype=dtype or K.floatx())
        var = Variable(value, name=name or f"variable_{len(self._variables)}", trainable=False,
                       dtype=dtype or K.floatx(), like=like)
        var.path = f"{self.name}/{var.name}"
        self._variables.append(var)
        return var

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A variable shaped like ``reference_variable`` named ``<its path>_<name>`` (Keras's naming)."""
        ref_name = str(getattr(reference_variable, "path", None) or getattr(reference_variable, "name", "var"))
        return self.add_variable(tuple(reference_variable.shape), initializer, reference_variable.dtype.name,
                                 name=f"{ref_name.replace('/', '_')}_{name or 'var'}", like=reference_variable)

    @property
    def variables(self):
        """Keras's order: ``iteration``, ``learning_rate`` (unless a schedule), then the slots."""
        return list(self._variables)

    @property
    def iterations(self):
        return self._iterations

    def build(self, variables):
        """Register the trainable variables (the parameter group) and create their slots."""
        if self.built:
            return
        variables = list(variables)
        self.param_groups[0]["params"] = variables
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        if self.use_ema:  # Keras creates the averages before the optimizer's own slots
            self._model_variables_moving_average = [self.add_variable_from_reference(v, "average")
                                                    for v in variables]
        for v in variables:
            for slot, init in self._slots_for(v):
                self.state[v][slot] = self.add_variable_from_reference(v, slot, init)
        self.built = True

    def _slots_for(self, variable):
        return self._slots

    def _slot(self, variable, name):
        return self.state[variable][name]

    # -- learning rate ------------------------------------------------------------------------------------
    def _make_learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or callable(value):
            return value
        return self.add_variable((), float(K.to_numpy(value)), K.floatx(), name="learning_rate")

    @property
    def learning_rate(self):
        """The current rate: the ``learning_rate`` variable, or the schedule at ``iterations``."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return lr(self._iterations)
        return lr() if callable(lr) and not isinstance(lr, Variable) else lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or callable(value):
            if isinstance(self._learning_rate, Variable):
                self._variables.remove(self._learning_rate)
            self._learning_rate = value
            return
        if not isinstance(self._learning_rate, Variable):
            raise TypeError(f"{type(self).__name__} was created with a learning rate schedule, so its learning "
                            "rate cannot be set to a number; create the optimizer with a float learning_rate")
        self._learning_rate.assign(value)

    lr = learning_rate

    def _current_learning_rate(self):
        lr = self.learning_rate
        return lr if isinstance(lr, ember.Tensor) else K.convert(float(lr))

    # -- applying -----------------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """One Keras step: clip, weight decay, ``update_step`` per variable, constraints, ``iterations += 1``."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("apply(grads) without variables needs a built optimizer; call "
                                 "optimizer.build(trainable_variables) first or pass the variables")
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
            self._check_known(variables)
        with no_grad():
            pairs = self._nonempty(grads, variables)
            grads = [self._as_gradient(g, v) for g, v in pairs]
            variables = [v for _, v in pairs]
            dist = distribution_lib.distribution()
            if dist is not None:  # data parallel: average over the ranks first (eager steps only, see trainer)
                reduced = dist.reduce_gradients([K.to_array(g) for g in grads], variables)
                grads = [ember.Tensor._wrap(g) for g in reduced]
            if self.loss_scale_factor is not None:
                grads = [g / self.loss_scale_factor for g in grads]
            grads = self._clip_gradients(grads)
            lr = self._current_learning_rate()
            self._apply_weight_decay(variables, lr)
            for g, v in zip(grads, variables):
                self.update_step(g, v, lr)
            for v in variables:
                if getattr(v, "constraint", None) is not None:
                    self.assign(v, v.constraint(v))
            if self.use_ema:
                self._update_moving_averages()
            self._iterations.add_(1)

    def _update_moving_averages(self):
        """Keras's EMA of every trainable variable (the first step copies it), and with
        ``ema_overwrite_frequency`` the variables take their averages every that many steps. Tensor tests,
        not Python branches, so a compiled train step does the same."""
        first = (self._iterations == 0)
        pairs = list(zip(self._trainable_variables, self._model_variables_moving_average))
        for v, average in pairs:
            momentum = (~first).to(v.dtype) * self.ema_momentum
            self.assign(average, momentum * average + (1 - momentum) * v)
        if self.ema_overwrite_frequency:
            due = ((self._iterations + 1) % self.ema_overwrite_frequency) == 0
            for v, average in pairs:
                self.assign(v, ember.where(due, average, v))

    def finalize_variable_values(self, var_list):
        """At the end of ``fit``: with ``use_ema`` the variables take their moving averages (Keras's rule)."""
        if not self.use_ema:
            return
        var_list = list(var_list)
        if len(var_list) != len(self._model_variables_moving_average):
            raise ValueError(f"{type(self).__name__}: {len(var_list)} variables to finalize, but the optimizer "
                             f"keeps {len(self._model_variables_moving_average)} moving averages (was it "
                             "built for this model?)")
        for v, average in zip(var_list, self._model_variables_moving_average):
            self.assign(v, average)

    def _check_known(self, variables):
        for v in variables:
            if id(v) not in self._index:
                raise ValueError(f"{type(self).__name__}: unknown variable {getattr(v, 'path', tuple(v.shape))}; "
                                 "this optimizer was built for other variables (create a new optimizer for a "
                                 "new set of variables)")

    @staticmethod
    def _nonempty(grads, variables):
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        missing = [getattr(v, "path", "?") for g, v in zip(grads, variables) if g is None]
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss.",
                          stacklevel=4)
        return pairs

    @staticmethod
    def _as_gradient(g, v):
        g = g if isinstance(g, ember.Tensor) else K.convert(g)
        g = g.detach()
        return g if g.dtype == v.dtype else g.to(v.dtype)

    def _clip_gradients(self, grads):
        """Keras's clipping: per-tensor norm, global norm or value (the first one set, > 0)."""
        if self.clipnorm and self.clipnorm > 0:
            c = float(self.clipnorm)
            return [(g * c) / F.maximum(F.sqrt((g * g).sum()), g._scalar(c)) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            c = float(self.global_clipnorm)
            norm = F.sqrt(ember.stack([(g * g).sum() for g in grads]).sum())
            scale = c * F.minimum(1.0 / norm, norm._scalar(1.0 / c))
            scale = scale + (norm - norm)  # NaN when the norm is not finite, as Keras does
            return [g * scale for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [F.clamp(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Skip weight decay for these variables, or for variables whose name matches one of ``var_names``."""
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, v):
        if id(v) in self._exclude_ids:
            return False
        return self._exclude_pattern is None or self._exclude_pattern.search(getattr(v, "name", "")) is None

    def _apply_weight_decay(self, variables, lr):
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                self.assign(v, v - v * float(self.weight_decay) * lr)

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(f"{type(self).__name__} must implement update_step")

    def _local_step(self, variable):
        """``iterations + 1`` in the variable's dtype (Keras's bias-correction step)."""
        return (self._iterations + 1).to(variable.dtype)

    # Keras's in-place helpers: Ember's public in-place ops (they bump versions and are seen by a trace)
    def assign(self, variable, value):
        with no_grad():
            variable.copy_(value)

    def assign_add(self, variable, value):
        with no_grad():
            variable.add_(value)

    def assign_sub(self, variable, value):
        with no_grad():
            variable.sub_(value)

    # -- ember.optim's interface -------------------------------------------------------------------------
    def _apply_gradients(self):
        """``ember.optim``'s ``step`` (closure and hooks there): apply the ``.grad`` of the built variables
        (see ``build``)."""
        params = self._trainable_variables
        if any(p.grad is not None for p in params):
            self.apply([p.grad for p in params], params)

    def state_dict(self):
        out = super().state_dict()
        out["iterations"] = int(self._iterations)
        if isinstance(self._learning_rate, Variable):
            out["learning_rate"] = float(self._learning_rate)
        return out

    def load_state_dict(self, state_dict):
        """Copy saved slots, ``iterations`` and the learning rate into this optimizer's variables."""
        params = self._trainable_variables
        for key, slots in state_dict["state"].items():
            p = params[int(key)]
            for name, value in slots.items():
                self.assign(self.state[p][name], value)
        if "iterations" in state_dict:
            self.assign(self._iterations, int(state_dict["iterations"]))
        if "learning_rate" in state_dict and isinstance(self._learning_rate, Variable):
            self.assign(self._learning_rate, float(state_dict["learning_rate"]))

    # -- saving (ember.keras's weights file: optimizer/iterations, optimizer/<weight index>/<slot>) ------
    def save_items(self):
        """``[(name, array)]``: ``iterations``, ``learning_rate`` and ``<variable index>/<slot>``."""
        out = [("iterations", K.to_numpy(self._iterations))]
        if isinstance(self._learning_rate, Variable):
            out.append(("learning_rate", K.to_numpy(self._learning_rate)))
        for i, v in enumerate(self._trainable_variables):
            out.extend((f"{i}/{name}", K.to_numpy(t)) for name, t in self.state[v].items())
        return out

    def load_items(self, items: dict):
        """Assign the arrays of ``save_items`` names found in ``items``."""
        if "iterations" in items:
            self.assign(self._iterations, K.convert(np.asarray(items["iterations"], "int64")))
        if "learning_rate" in items and isinstance(self._learning_rate, Variable):
            self.assign(self._learning_rate, K.convert(np.asarray(items["learning_rate"], "float32")))
        for i, v in enumerate(self._trainable_variables):
            for name, t in self.state[v].items():
                if f"{i}/{name}" in items:
                    self.assign(t, K.convert(np.asarray(items[f"{i}/{name}"]), t.dtype.name))

    # -- config ------------------------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            from ..saving import serialize_keras_object

            lr = serialize_keras_object(lr)
        elif isinstance(lr, Variable):
            lr = float(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            from ..saving import deserialize_keras_object

            config["learning_rate"] = deserialize_keras_object(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class SGD(Optimizer):
    """Keras's SGD: ``m = momentum * m - lr * g; w += m`` (Nesterov: ``w += momentum * m - lr * g``); without
    momentum ``w -= lr * g``.

    ``ember.optim``'s SGD kernel keeps ``lr`` outside its buffer (``b = momentum * b + g; w -= lr * b``). The
    kernel is linear in the gradient, so feeding it ``-lr * g`` with a learning rate of -1 gives exactly
    Keras's buffer and step, also when the learning rate changes between steps: no option is needed.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = momentum, nesterov
        self._slots = (("momentum", 0.0),) if momentum else ()

    def update_step(self, gradient, variable, learning_rate):
        lr = learning_rate.to(variable.dtype)
        hyper = dict(step=None, dampening=0.0, weight_decay=0.0, nesterov=self.nesterov, maximize=False)
        if not self.momentum:
            new, _ = sgd_kernel(MATH, variable, gradient, None, lr=lr, momentum=0.0, **hyper)
        else:
            m = self._slot(variable, "momentum")
            new, new_m = sgd_kernel(MATH, variable, gradient * (-lr), m, lr=-1.0, momentum=self.momentum, **hyper)
            self.assign(m, new_m)
        self.assign(variable, new)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Keras's Adam: ``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)``, epsilon=1e-7:
    ``ember.optim``'s Adam kernel with ``eps_before_bias_correction`` (the paper's "epsilon hat")."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad
        self._slots = (("momentum", 0.0), ("velocity", 0.0)) + ((("velocity_hat", 0.0),) if amsgrad else ())

    def update_step(self, gradient, variable, learning_rate):
        slots = self.state[variable]
        m, v, v_hat = slots["momentum"], slots["velocity"], slots.get("velocity_hat")
        new, m2, v2, v_hat2 = adam_kernel(
            MATH, variable, gradient, m, v, v_hat, step=self._local_step(variable),
            lr=learning_rate.to(variable.dtype), betas=(self.beta_1, self.beta_2), eps=self.epsilon,
            weight_decay=0.0, amsgrad=self.amsgrad, maximize=False, decoupled_weight_decay=False,
            eps_before_bias_correction=True)
        self.assign(m, m2)
        self.assign(v, v2)
        if self.amsgrad:
            self.assign(v_hat, v_hat2)
        self.assign(variable, new)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay ``w -= w * weight_decay * lr`` (default 0.004) before each step."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay cannot be None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """Keras's RMSprop: ``v = rho*v + (1-rho)*g^2; w -= lr * g / sqrt(v + epsilon)`` (rho=0.9), momentum
    accumulating ``lr * g / sqrt(...)``: ``ember.optim``'s RMSprop kernel with ``eps_inside_sqrt`` and
    ``lr_inside_momentum``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        self._slots = (("velocity", 0.0),) + ((("momentum", 0.0),) if momentum > 0 else ()) + (
            (("average_gradient", 0.0),) if centered else ())

    def update_step(self, gradient, variable, learning_rate):
        slots = self.state[variable]
        v, avg, mom = slots["velocity"], slots.get("average_gradient"), slots.get("momentum")
        new, v2, avg2, mom2 = rmsprop_kernel(
            MATH, variable, gradient, v, avg, mom, step=None, lr=learning_rate.to(variable.dtype), alpha=self.rho,
            eps=self.epsilon, weight_decay=0.0, momentum=self.momentum, centered=self.centered, maximize=False,
            eps_inside_sqrt=True, lr_inside_momentum=True)
        for slot, value in ((v, v2), (avg, avg2), (mom, mom2)):
            if slot is not None:
                self.assign(slot, value)
        self.assign(variable, new)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Keras's Adagrad: ``acc += g^2; w -= lr * g / sqrt(acc + epsilon)`` (accumulators start at 0.1):
    ``ember.optim``'s Adagrad kernel with ``eps_inside_sqrt``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon
        self._slots = (("accumulator", float(initial_accumulator_value)),)

    def update_step(self, gradient, variable, learning_rate):
        acc = self._slot(variable, "accumulator")
        new, acc2 = adagrad_kernel(MATH, variable, gradient, acc, step=None, lr=learning_rate.to(variable.dtype),
                                   lr_decay=0.0, weight_decay=0.0, eps=self.epsilon, maximize=False,
                                   eps_inside_sqrt=True)
        self.assign(acc, acc2)
        self.assign(variable, new)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class TorchOptimizer:
    """An ``ember.optim`` optimizer passed to ``compile``: ``apply`` sets ``.grad`` and calls ``step()``.

    It forwards ``param_groups`` / ``state`` / ``step``, so a compiled train step sees it as the optimizer
    it is (its learning rates are part of the compiled signature, as for any ``ember.optim`` optimizer)."""

    def __init__(self, optimizer):
        self.inner = optimizer
        self.name = type(optimizer).__name__.lower()
        self._iterations = Variable(np.int64(0), name="iteration", trainable=False, dtype="int64")
        self.built = True

    param_groups = property(lambda self: self.inner.param_groups)
    state = property(lambda self: self.inner.state)

    def step(self, closure=None):
        return self.inner.step(closure)

    def build(self, variables):
        pass

    def apply(self, grads, trainable_variables=None):
        for g, v in zip(grads, trainable_variables):
            v.grad = None if g is None else (g if isinstance(g, ember.Tensor) else K.convert(g))
        self.inner.step()
        with no_grad():
            self._iterations.add_(1)

    @property
    def iterations(self):
        return self._iterations

    @property
    def variables(self):
        return [self._iterations]

    @property
    def learning_rate(self):
        return self.inner.param_groups[0]["lr"]

    @learning_rate.setter
    def learning_rate(self, value):
        for group in self.inner.param_groups:
            group["lr"] = float(value)

    def save_items(self):
        return [("iterations", K.to_numpy(self._iterations))]

    def load_items(self, items):
        if "iterations" in items:
            with no_grad():
                self._iterations.copy_(K.convert(np.asarray(items["iterations"], "int64")))


ALL = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad)}
ALL.update(schedules.ALL)
_ALIASES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a name (``'adam'``), a config dict, an instance or an ``ember.optim`` optimizer.

    >>> get("adam").epsilon
    1e-07
    """
    if isinstance(identifier, (Optimizer, TorchOptimizer)):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}{did_you_mean(identifier, _ALIASES)}; "
                             f"known: {', '.join(sorted(_ALIASES))}")
        return cls()
    if isinstance(identifier, dict):
        from ..saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if isinstance(identifier, optim.Optimizer):
        return TorchOptimizer(identifier)
    raise ValueError(f"could not interpret optimizer {identifier!r}")


# the rest of Keras's optimizers (optimizers_extra imports the base above)
from ..mixed_precision import LossScaleOptimizer  # noqa: E402,F401  (Keras exports it here too)
from ..optimizers_extra import Adadelta, Adafactor, Adamax, Ftrl, Lamb, Lion, Nadam  # noqa: E402

ALL.update({c.__name__: c for c in (Adadelta, Adafactor, Adamax, Ftrl, Lamb, Lion, Nadam)})
_ALIASES.update(adadelta=Adadelta, adafactor=Adafactor, adamax=Adamax, ftrl=Ftrl, lamb=Lamb, lion=Lion,
                nadam=Nadam)


def serialize(optimizer):
    """Keras's serialized form of an optimizer (its learning-rate schedule serialized inside)."""
    from ..saving import serialize_keras_object

    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None):
    """The optimizer described by ``config`` (from ``serialize``) or named by a string (``"adam"``)."""
    from ..saving import deserialize_keras_object

    if isinstance(config, str):
        return get(config)
    return deserialize_keras_object(config, {**ALL, **(custom_objects or {})})
