"""Keras 3 optimizers with Keras's update formulas and defaults (e.g. Adam's ``epsilon=1e-7``), applied
in place to the arrays of Ember tensors (no autograd recording, no temporaries beyond a few per weight).

>>> import numpy as np, ember
>>> from ember.keras import optimizers
>>> w = ember.tensor([1.0, 2.0], requires_grad=True)
>>> opt = optimizers.SGD(learning_rate=0.5)
>>> opt.apply([ember.tensor([1.0, 1.0])], [w])
>>> w.detach().numpy().tolist(), int(opt.iterations)
([0.5, 1.5], 1)
"""

from __future__ import annotations

import math

import numpy as np

import ember
from ember.optim.adam import adam_kernel
from ember.optim.optimizer import array_kernels
from ember.optim.sgd import sgd_kernel

from . import backend as K
from . import distribution as distribution_lib


class LearningRateSchedule:
    """A learning rate as a function of the step: ``schedule(step) -> float``."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)

    def get_config(self):
        return dict(vars(self))


class CosineDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0):
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha

    def __call__(self, step):
        p = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1 + math.cos(math.pi * p))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return dict(vars(self))


class Optimizer:
    """Base optimizer: gradient clipping, weight decay, ``iterations``, a settable ``learning_rate``.

    Subclasses implement ``_slots(var) -> list of arrays`` and ``_update(var_array, grad, slots, lr, t)``.
    """

    _slot_names: tuple = ()

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        kwargs.pop("use_ema", None)
        kwargs.pop("ema_momentum", None)
        kwargs.pop("loss_scale_factor", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected argument(s) {sorted(kwargs)}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        self._learning_rate = learning_rate
        self.weight_decay, self.clipnorm, self.clipvalue, self.global_clipnorm = (
            weight_decay,
            clipnorm,
            clipvalue,
            global_clipnorm,
        )
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._state: dict[int, list] = {}
        self._vars: list = []
        self._exclude: set = set()

    # -- learning rate ------------------------------------------------------------------------------------
    @property
    def learning_rate(self):
        lr = self._learning_rate
        return lr(self.iterations) if isinstance(lr, LearningRateSchedule) else lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = (
            float(K.to_numpy(value)) if not isinstance(value, LearningRateSchedule) else value
        )

    lr = learning_rate

    # -- state --------------------------------------------------------------------------------------------
    def build(self, variables):
        for v in variables:
            if id(v) not in self._state:
                xp = ember.backend.xp_of(v._data)
                self._state[id(v)] = [
                    xp.zeros_like(v._data) if init is None else xp.full_like(v._data, init)
                    for init in self._slot_inits()
                ]
                self._vars.append(v)

    def _slot_inits(self):
        return [None] * len(self._slot_names)

    @property
    def variables(self):
        """Slot arrays in a stable order (for saving): ``[(name, array)]``."""
        out = [("iterations", np.asarray(self.iterations, dtype=np.int64))]
        for i, v in enumerate(self._vars):
            for name, arr in zip(self._slot_names, self._state[id(v)]):
                out.append((f"{i}/{name}", arr))
        return out

    def load_variables(self, items: dict):
        if "iterations" in items:
            self.iterations = int(np.asarray(items["iterations"]))
        for i, v in enumerate(self._vars):
            for j, name in enumerate(self._slot_names):
                key = f"{i}/{name}"
                if key in items:
                    self._state[id(v)][j][...] = K.to_numpy(items[key])

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        self._exclude.update(id(v) for v in var_list or ())
        self._exclude_names = tuple(var_names or ())

    # -- applying ------------------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, trainable_variables=None):
        """One step: ``var -= update(grad)`` for every (grad, var) with a gradient."""
        variables = list(trainable_variables)
        garrs = [None if g is None else K.to_array(g) for g in grads]
        if distribution_lib.distribution() is not None:  # data parallel: average over the ranks first
            garrs = distribution_lib.distribution().reduce_gradients(garrs, variables)
        garrs = self._clip(garrs)
        self.build(variables)
        lr = float(self.learning_rate)
        t = self.iterations + 1
        wd = self.weight_decay
        for v, g in zip(variables, garrs):
            if g is None:
                continue
            data = v._data
            if g.dtype != data.dtype:
                g = g.astype(data.dtype)
            if wd and self._use_weight_decay(v):
                data -= data * (wd * lr)
            self._update(data, g, self._state[id(v)], lr, t)
            if getattr(v, "constraint", None) is not None:
                data[...] = K.to_array(v.constraint(v.detach()))
        self.iterations = t

    def _use_weight_decay(self, v):
        if id(v) in self._exclude:
            return False
        names = getattr(self, "_exclude_names", ())
        return not any(n in getattr(v, "path", "") for n in names)

    def _clip(self, garrs):
        if self.clipvalue is not None:
            garrs = [None if g is None else np.clip(g, -self.clipvalue, self.clipvalue) for g in garrs]
        if self.clipnorm is not None:
            garrs = [None if g is None else _scale_to_norm(g, self.clipnorm, _norm(g)) for g in garrs]
        if self.global_clipnorm is not None:
            total = math.sqrt(sum(float(_norm(g)) ** 2 for g in garrs if g is not None))
            garrs = [None if g is None else _scale_to_norm(g, self.global_clipnorm, total) for g in garrs]
        return garrs

    def _update(self, var, grad, slots, lr, t):
        raise NotImplementedError

    # -- config -----------------------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            from .saving import serialize_keras_object

            lr = serialize_keras_object(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            from .saving import deserialize_keras_object

            config["learning_rate"] = deserialize_keras_object(config["learning_rate"])
        return cls(**config)


def _norm(g):
    return float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))


def _scale_to_norm(g, max_norm, norm):
    return g * (max_norm / norm) if norm > max_norm else g


class SGD(Optimizer):
    """Keras's SGD: ``m = momentum*m - lr*g; w += m`` (Nesterov: ``w += momentum*m - lr*g``); plain
    ``w -= lr*g``.

    The update runs ``ember.optim``'s SGD kernel. Keras keeps ``lr`` inside its momentum buffer, PyTorch
    outside; the kernel is linear in the gradient, so feeding it the gradient ``-lr*g`` with ``lr=-1`` gives
    exactly Keras's buffer and step (also when the learning rate changes between steps).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = momentum, nesterov
        self._slot_names = ("momentum",) if momentum else ()

    def _update(self, var, g, slots, lr, t):
        hyper = dict(step=t, dampening=0.0, weight_decay=0.0, nesterov=self.nesterov, maximize=False)
        if not self.momentum:
            new_var, _ = sgd_kernel(array_kernels(var), var, g, None, lr=lr, momentum=0.0, **hyper)
        else:
            new_var, new_m = sgd_kernel(
                array_kernels(var), var, g * (-lr), slots[0], lr=-1.0, momentum=self.momentum, **hyper
            )
            slots[0][...] = new_m
        var[...] = new_var

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Keras's Adam: ``alpha = lr*sqrt(1-b2^t)/(1-b1^t)``, ``w -= alpha*m/(sqrt(v)+epsilon)``,
    epsilon=1e-7, computed by ``ember.optim``'s Adam kernel (see ``_update``)."""

    _slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad
        if amsgrad:
            self._slot_names = ("momentum", "velocity", "velocity_hat")

    def _update(self, var, g, slots, lr, t):
        # ember.optim's Adam kernel divides by sqrt(v)/sqrt(1-b2^t) + eps; Keras by sqrt(v) + eps after
        # folding sqrt(1-b2^t) into the step size. They agree exactly when the kernel's eps is
        # eps/sqrt(1-b2^t).
        new_var, m, v, v_hat = adam_kernel(
            array_kernels(var),
            var,
            g,
            slots[0],
            slots[1],
            slots[2] if self.amsgrad else None,
            step=t,
            lr=lr,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon / math.sqrt(1 - self.beta_2**t),
            weight_decay=0.0,
            amsgrad=self.amsgrad,
            maximize=False,
            decoupled_weight_decay=False,
        )
        slots[0][...], slots[1][...] = m, v
        if self.amsgrad:
            slots[2][...] = v_hat
        var[...] = new_var

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay ``w -= w * weight_decay * lr`` (default 0.004) before the step."""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay cannot be None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """``v = rho*v + (1-rho)*g^2; w -= lr*g/sqrt(v + epsilon)``: Keras's own math (epsilon inside the square
    root, ``lr`` inside the momentum buffer, rho=0.9), which ``torch.optim.RMSprop``'s does not match, so it
    is
    not shared with ``ember.optim``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        self._slot_names = (
            ("velocity",)
            + (("momentum",) if momentum > 0 else ())
            + (("average_gradient",) if centered else ())
        )

    def _update(self, var, g, slots, lr, t):
        v = slots[0]
        v *= self.rho
        v += (1 - self.rho) * g * g
        if self.centered:
            avg = slots[-1]
            avg *= self.rho
            avg += (1 - self.rho) * g
            denom = v - avg * avg + self.epsilon
        else:
            denom = v + self.epsilon
        inc = lr * g / np.sqrt(denom)
        if self.momentum > 0:
            mom = slots[1]
            mom *= self.momentum
            mom += inc
            var -= mom
        else:
            var -= inc

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _slot_inits(self):
        return [self.initial_accumulator_value]

    def _update(self, var, g, slots, lr, t):
        acc = slots[0]
        acc += g * g
        var -= lr * g / np.sqrt(acc + self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


ALL = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, ExponentialDecay, CosineDecay)}
_ALIASES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
schedules = type(
    "schedules",
    (),
    {
        "ExponentialDecay": ExponentialDecay,
        "CosineDecay": CosineDecay,
        "LearningRateSchedule": LearningRateSchedule,
    },
)


def get(identifier):
    """An optimizer from a name (``'adam'``), a config dict or an instance.

    >>> get("adam").epsilon
    1e-07
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; known: {', '.join(sorted(_ALIASES))}")
        return cls()
    if isinstance(identifier, dict):
        from .saving import deserialize_keras_object

        return deserialize_keras_object(identifier)
    if hasattr(identifier, "step") and hasattr(identifier, "zero_grad"):
        return TorchOptimizer(identifier)
    raise ValueError(f"could not interpret optimizer {identifier!r}")


class TorchOptimizer(Optimizer):
    """Wrap an ``ember.optim`` optimizer (PyTorch-style ``step()``) so ``compile`` can use it."""

    def __init__(self, optimizer):
        super().__init__(0.0)
        self.inner = optimizer

    def apply(self, grads, trainable_variables=None):
        for g, v in zip(grads, trainable_variables):
            v.grad = None if g is None else (g if isinstance(g, ember.Tensor) else ember.Tensor._wrap(g))
        self.inner.step()
        self.iterations += 1

    @property
    def learning_rate(self):
        return self.inner.param_groups[0]["lr"]

    @learning_rate.setter
    def learning_rate(self, value):
        for group in self.inner.param_groups:
            group["lr"] = float(value)
