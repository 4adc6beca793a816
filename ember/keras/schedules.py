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

from . import backend as K


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


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored with
    ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = _float_step(step) / float(self.decay_steps)
        if self.staircase:
            p = F.floor(p)
        return float(self.initial_learning_rate) * (float(self.decay_rate) ** p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


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


ALL = {c.__name__: c for c in (LearningRateSchedule, ExponentialDecay, CosineDecay)}
