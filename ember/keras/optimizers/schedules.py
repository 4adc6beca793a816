"""``keras.optimizers.schedules``: learning rates as a function of the optimizer's step, computed with Ember
ops on the step tensor (Keras's formulas), so a compiled train step evaluates the schedule inside its graph
and a changing rate never retraces.

>>> from ember.keras.optimizers import schedules
>>> lr = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> round(float(lr(10)), 6), round(float(lr(5)), 6)
(0.05, 0.070711)
"""

from __future__ import annotations

import math

import ember
from ember import functional as F

from .. import backend as K


def _float_step(step):
    """The step as a float32 0-d tensor (Keras casts it to the dtype of the initial rate)."""
    return K.convert(step).to(ember.float32) if isinstance(step, ember.Tensor) else K.convert(float(step))


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate`` (a 0-d tensor)."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _StaircaseDecay(LearningRateSchedule):
    """ExponentialDecay's and InverseTimeDecay's common part: their arguments, config and the step ratio
    ``step / decay_steps`` (floored with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _positive_steps(type(self).__name__, "decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def _ratio(self, step):
        p = _float_step(step) / float(self.decay_steps)
        return F.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StaircaseDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored with
    ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return float(self.initial_learning_rate) * (float(self.decay_rate) ** self._ratio(step))


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial_learning_rate`` over ``decay_steps``,
    after an optional linear warmup to ``warmup_target`` over ``warmup_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step, decay_from):
        cosine = 0.5 * (1.0 + F.cos(math.pi * (step / float(self.decay_steps))))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _float_step(step)
        lr0 = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(F.clamp(step, max=float(self.decay_steps)), lr0)
        warm, target = float(self.warmup_steps), float(self.warmup_target)
        step = F.clamp(step, max=float(self.decay_steps) + warm)
        warming = (target - lr0) * (step / max(warm, 1.0)) + lr0
        return F.where(step < warm, warming, self._decay(step - warm, target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


def _positive_steps(cls_name, name, value):
    if value <= 0:
        raise ValueError(f"{cls_name}: {name} must be > 0, got {name}={value}")


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to and including ``boundaries[0]``, ``values[i]`` on ``(boundaries[i-1],
    boundaries[i]]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"PiecewiseConstantDecay: boundaries must have one element less than values, got "
                             f"boundaries={boundaries} ({len(boundaries)}) and values={values} ({len(values)})")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step):
        step = _float_step(step)
        out = float(self.values[-1]) + step * 0.0
        for bound, value in zip(reversed(self.boundaries), reversed(self.values[:-1])):
            out = F.where(step <= float(bound), out * 0.0 + float(value), out)
        return out

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, the step capped at ``decay_steps``
    (with ``cycle``, ``decay_steps`` grows to the next multiple above the step instead)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _positive_steps("PolynomialDecay", "decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps, self.end_learning_rate = (
            initial_learning_rate, decay_steps, end_learning_rate)
        self.power, self.cycle, self.name = power, cycle, name

    def __call__(self, step):
        step = _float_step(step)
        steps = float(self.decay_steps)
        if self.cycle:
            steps = steps * F.where(step == 0, step * 0.0 + 1.0, F.ceil(step / steps))
        else:
            step = F.clamp(step, max=steps)
        lr0, end = float(self.initial_learning_rate), float(self.end_learning_rate)
        return (lr0 - end) * F.pow(1.0 - step / steps, float(self.power)) + end

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(_StaircaseDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio floored with
    ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return float(self.initial_learning_rate) / (1.0 + float(self.decay_rate) * self._ratio(step))


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter): period ``i`` lasts ``first_decay_steps *
    t_mul ** i`` steps and starts from ``initial_learning_rate * m_mul ** i``; ``alpha`` is the floor."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        _positive_steps("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        self.initial_learning_rate, self.first_decay_steps = initial_learning_rate, first_decay_steps
        self._t_mul, self._m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step):
        frac = _float_step(step) / float(self.first_decay_steps)
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            restarts = F.floor(frac)
            frac = frac - restarts
        else:
            restarts = F.floor(F.log(1.0 - frac * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - F.pow(frac * 0.0 + t_mul, restarts)) / (1.0 - t_mul)
            frac = (frac - done) / F.pow(frac * 0.0 + t_mul, restarts)
        m_fac = F.pow(frac * 0.0 + float(self._m_mul), restarts)
        cosine = 0.5 * m_fac * (1.0 + F.cos(math.pi * frac))
        return float(self.initial_learning_rate) * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


ALL = {c.__name__: c for c in (LearningRateSchedule, ExponentialDecay, CosineDecay, PiecewiseConstantDecay,
                               PolynomialDecay, InverseTimeDecay, CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    """Keras's serialized form of a schedule (``{"module", "class_name", "config", "registered_name"}``)."""
    from ..saving import serialize_keras_object

    return serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """The schedule described by ``config`` (from ``serialize``)."""
    from ..saving import deserialize_keras_object

    return deserialize_keras_object(config, {**ALL, **(custom_objects or {})})
