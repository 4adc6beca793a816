"""More of torch.optim.lr_scheduler: warm restarts, cyclical rates, polynomial decay and chaining, with
PyTorch's formulas (the same learning rates step by step; ``tests/test_lr_scheduler_more.py``).

>>> import ember
>>> from ember import nn, optim
>>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
>>> sched = optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
>>> lrs = []
>>> for _ in range(4):
...     opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 4))
>>> lrs
[0.5, 1.0, 0.5, 1.0]
"""
from __future__ import annotations

import math

from ..errors import mark
from .lr_scheduler import LRScheduler, _lrs, _per_group


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from base_lr to ``eta_min`` over ``T_0`` epochs, then a restart; each period is
    ``T_mult`` times the last. ``step(epoch)`` takes fractional epochs (``epoch + i / iters``) too.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=0.1)
    >>> sched.step(1.5); round(sched.get_last_lr()[0], 4)
    0.7222
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):  # noqa: N803 (PyTorch's names)
        if not isinstance(T_0, int) or T_0 <= 0:
            raise mark(ValueError(f"CosineAnnealingWarmRestarts: expected a positive integer T_0, got {T_0!r}"))
        if not isinstance(T_mult, int) or T_mult < 1:
            raise mark(ValueError(f"CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, got {T_mult!r}"))
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base in self.base_lrs]

    def step(self, epoch=None):
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        else:
            if epoch < 0:
                raise mark(ValueError(f"CosineAnnealingWarmRestarts: expected a non-negative epoch, got {epoch}"))
            self._place(epoch)
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def _place(self, epoch):
        """T_i and T_cur for an explicit (possibly fractional) epoch."""
        if epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult ** n


_CYCLIC_MODES = {  # mode -> (scale function of the cycle or iteration, what it reads)
    "triangular": (lambda gamma: lambda x: 1.0, "cycle"),
    "triangular2": (lambda gamma: lambda x: 1 / (2.0 ** (x - 1)), "cycle"),
    "exp_range": (lambda gamma: lambda x: gamma ** x, "iterations"),
}


class CyclicLR(LRScheduler):
    """The learning rate cycles between ``base_lr`` and ``max_lr`` (Smith, 2017), stepped once per batch; with
    ``cycle_momentum`` the momentum (or Adam's beta1) cycles the opposite way.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1, momentum=0.9)
    >>> sched = optim.lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2)
    >>> opt.step(); sched.step(); [round(v, 4) for v in sched.get_last_lr()]
    [0.55]
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size, self.step_ratio = up + down, up / (up + down)
        if scale_fn is None:
            if mode not in _CYCLIC_MODES:
                raise mark(ValueError(f"CyclicLR: mode must be one of {', '.join(_CYCLIC_MODES)} (or give "
                                      f"scale_fn), got {mode!r}"))
            make, scale_mode = _CYCLIC_MODES[mode]
            scale_fn = make(gamma)
        self.mode, self.gamma, self.scale_fn, self.scale_mode = mode, gamma, scale_fn, scale_mode
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._setup_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _setup_momentum(self, optimizer, base_momentum, max_momentum, last_epoch):
        defaults = optimizer.defaults
        if "momentum" not in defaults and "betas" not in defaults:
            raise mark(ValueError("CyclicLR: the optimizer has no momentum nor betas to cycle; pass "
                                  "cycle_momentum=False"))
        self.use_beta1 = "betas" in defaults
        self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
        self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
        if last_epoch == -1:
            for m, group in zip(self.max_momentums, optimizer.param_groups):
                self._set_momentum(group, m)

    def _set_momentum(self, group, m):
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * factor * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                self._set_momentum(group, high - (high - low) * factor * scale)
        return lrs

    def state_dict(self):
        state = super().state_dict()
        state.pop("scale_fn")  # a function is not data: rebuilt from mode and gamma on load
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        if self.mode in _CYCLIC_MODES:
            self.scale_fn = _CYCLIC_MODES[self.mode][0](self.gamma)


class PolynomialLR(LRScheduler):
    """lr decays as ``(1 - t / total_iters) ** power`` over ``total_iters`` steps, then stays.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
    >>> opt.step(); sched.step(); sched.get_last_lr()
    [0.5625]
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial or self.last_epoch == 0 or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        t, n = self.last_epoch, self.total_iters
        factor = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [g["lr"] * factor for g in self.optimizer.param_groups]

    def _closed_form(self):
        t = min(self.total_iters, self.last_epoch)
        return [base * (1.0 - t / self.total_iters) ** self.power for base in self.base_lrs]


class ChainedScheduler(LRScheduler):
    """Steps every scheduler in ``schedulers`` at once (their factors multiply), e.g. a warm-up with a decay.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> s = optim.lr_scheduler
    >>> sched = s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=2), s.ExponentialLR(opt, 0.9)])
    >>> opt.step(); sched.step(); [round(v, 4) for v in sched.get_last_lr()]
    [0.45]
    """

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise mark(ValueError("ChainedScheduler: expected at least one scheduler"))
        optimizer = optimizer or schedulers[0].optimizer
        if any(s.optimizer is not optimizer for s in schedulers):
            raise mark(ValueError("ChainedScheduler: every scheduler must drive the same optimizer"))
        self._schedulers, self.optimizer = schedulers, optimizer
        self._last_lr = _lrs(optimizer)

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self):
        return {"_last_lr": list(self._last_lr), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict):
        self._last_lr = list(state_dict["_last_lr"])
        for scheduler, state in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.load_state_dict(state)
