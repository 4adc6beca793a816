"""``ember.amp.GradScaler``: dynamic loss scaling with PyTorch's semantics, step by step.

The loss is multiplied by ``scale`` before backward so small float16 gradients do not flush to zero;
``unscale_`` divides the gradients back (and records whether any is inf/NaN); ``step`` skips the optimizer
step when one was; ``update`` halves the scale after such a step (``backoff_factor``) and doubles it after
``growth_interval`` clean steps in a row (``growth_factor``). Like PyTorch, the scale is kept in float32.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from enum import Enum

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..errors import mark, with_user_line


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_state():
    return {"stage": OptState.READY, "found_inf": None}


def _f32(x) -> float:
    return float(np.float32(x))


class GradScaler:
    """Scale the loss, unscale and check the gradients, skip steps with inf/NaN, adapt the scale.

    Example:
        >>> import ember
        >>> model = ember.nn.Linear(3, 1)
        >>> opt = ember.optim.SGD(model.parameters(), lr=0.1)
        >>> scaler = ember.amp.GradScaler("cpu", init_scale=1024.0)
        >>> loss = model(ember.ones(2, 3)).sum()
        >>> scaler.scale(loss).backward()
        >>> scaler.unscale_(opt)            # gradients are true gradients again (clip them here)
        >>> _ = scaler.step(opt)            # skipped if a gradient was inf/NaN
        >>> scaler.update()
        >>> scaler.get_scale()
        1024.0
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        self._device = str(device).split(":")[0]
        self._enabled = bool(enabled)
        if self._enabled and self._device == "cuda" and not backend.cuda_available():
            warnings.warn("ember.amp.GradScaler is enabled, but CUDA is not available "
                          f"({backend.cuda_problem()}). Disabling.", stacklevel=2)
            self._enabled = False
        if growth_factor <= 1.0:
            raise mark(with_user_line(ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}"), 2))
        if not 0.0 < backoff_factor < 1.0:
            raise mark(with_user_line(ValueError(
                f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}"), 2))
        if not isinstance(growth_interval, int) or growth_interval <= 0:
            raise mark(with_user_line(ValueError(
                f"GradScaler: growth_interval must be a positive int, got {growth_interval!r}"), 2))
        self._init_scale, self._growth_factor = float(init_scale), float(growth_factor)
        self._backoff_factor, self._growth_interval = float(backoff_factor), growth_interval
        self._scale = None  # created on the first scale(), as PyTorch does
        self._growth_tracker = 0
        self._per_optimizer_states = defaultdict(_fresh_state)

    # -- scaling -----------------------------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs * scale`` (a tensor, or lists/tuples/dicts of them)."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = _f32(self._init_scale)
        if hasattr(outputs, "_data"):
            return outputs * self._scale_like(outputs)
        if isinstance(outputs, dict):
            return {k: self.scale(v) for k, v in outputs.items()}
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(v) for v in outputs)
        raise mark(with_user_line(ValueError(
            f"GradScaler.scale: outputs must be a tensor or an iterable of tensors, got {type(outputs).__name__}"),
            2))

    def _scale_like(self, t):
        from ..creation import tensor

        return tensor(self._scale, dtype="float32", device=t.device)

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale in place and record whether any is inf/NaN.

        Call it before clipping gradients; ``step`` calls it when you did not."""
        if not self._enabled:
            return
        self._check_scale("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise mark(with_user_line(RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."), 2))
        if state["stage"] is OptState.STEPPED:
            raise mark(with_user_line(RuntimeError("unscale_() is being called after step()."), 2))
        inv_scale = _f32(1.0 / np.float64(self._scale))  # PyTorch: scale.double().reciprocal().float()
        state["found_inf"] = self._unscale_grads(optimizer, inv_scale)
        state["stage"] = OptState.UNSCALED

    @staticmethod
    def _unscale_grads(optimizer, inv_scale):
        found = None
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    if g.dtype.name == "float16":
                        raise mark(with_user_line(ValueError(
                            "Attempting to unscale FP16 gradients: keep the parameters in float32 (autocast "
                            "casts them per op) and let GradScaler unscale float32 gradients."), 4))
                    bad = not bool(g.isfinite().all())
                    found = bool(found) or bad
                    g.mul_(inv_scale)
        return found

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if not done) and run ``optimizer.step()`` unless a gradient was inf/NaN; returns its result."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise mark(with_user_line(RuntimeError(
                "Closure use is not currently supported if GradScaler is enabled."), 2))
        self._check_scale("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise mark(with_user_line(RuntimeError("step() has already been called since the last update()."),
                                      2))
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise mark(with_user_line(AssertionError(
                "No inf checks were recorded for this optimizer: none of its parameters has a gradient. Call "
                "scaler.scale(loss).backward() before scaler.step(optimizer)."), 2))
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return result

    def update(self, new_scale=None) -> None:
        """Adapt the scale after this iteration's steps (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        self._check_scale("update")
        if new_scale is not None:
            value = new_scale.item() if hasattr(new_scale, "item") else new_scale
            if not isinstance(value, float):
                raise mark(with_user_line(ValueError(
                    "new_scale should be a float or a 1-element float tensor with requires_grad=False."), 2))
            self._scale = _f32(value)
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not found:
                raise mark(with_user_line(AssertionError("No inf checks were recorded prior to update()."), 2))
            self._update_scale(any(found))
        self._per_optimizer_states = defaultdict(_fresh_state)

    def _update_scale(self, found_inf: bool) -> None:
        # PyTorch's _amp_update_scale_: back off at once; grow after growth_interval clean steps (if finite)
        if found_inf:
            self._scale = _f32(np.float32(self._scale) * np.float32(self._backoff_factor))
            self._growth_tracker = 0
            return
        successful = self._growth_tracker + 1
        if successful == self._growth_interval:
            grown = np.float32(self._scale) * np.float32(self._growth_factor)
            if np.isfinite(grown):
                self._scale = float(grown)
            successful = 0
        self._growth_tracker = successful

    def _check_scale(self, fn):
        if self._scale is None:
            raise mark(with_user_line(AssertionError(
                f"GradScaler.{fn}: attempted {fn} but the scale is not initialized: call scaler.scale(loss) "
                "(and backward) first."), 3))

    # -- accessors and state -------------------------------------------------------------------------------
    def get_scale(self) -> float:
        if not self._enabled:
            return 1.0
        return _f32(self._init_scale) if self._scale is None else self._scale

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self) -> int:
        return self._growth_tracker if self._enabled else 0

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval``, ``_growth_tracker`` ({} when
        disabled), as PyTorch's."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise mark(with_user_line(RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled instance of "
                "GradScaler."), 2))
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = _f32(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
