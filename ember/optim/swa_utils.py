"""Weight averaging (``torch.optim.swa_utils``): stochastic weight averaging (SWA) and exponential moving
averages (EMA) of a model's parameters, the SWA learning-rate schedule and a BatchNorm statistics refresh.

>>> import ember
>>> from ember import nn, optim
>>> from ember.optim.swa_utils import AveragedModel, SWALR
>>> model = nn.Linear(2, 1)
>>> swa = AveragedModel(model)
>>> opt = optim.SGD(model.parameters(), lr=0.1)
>>> sched = SWALR(opt, swa_lr=0.05, anneal_epochs=2)
>>> for _ in range(3):
...     model(ember.randn(4, 2)).pow(2).mean().backward(); opt.step(); opt.zero_grad()
...     swa.update_parameters(model); sched.step()
>>> int(swa.n_averaged), sched.get_last_lr()
(3, [0.05])
"""
from __future__ import annotations

import copy
import itertools
import math

from .. import creation, dtypes
from ..autograd import no_grad
from ..errors import mark, with_user_line
from ..nn.modules.module import Module
from ..nn.modules.normalization import _BatchNorm, _InstanceNorm
from .lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if not 0.0 <= decay <= 1.0:
        raise mark(with_user_line(ValueError(
            f"Invalid decay value {decay} provided. Please provide a value in [0,1] range."), 3))


def _float32(x) -> float:
    """``x`` rounded to float32, as PyTorch rounds a scalar weight for a float32 kernel."""
    return creation.tensor(float(x), dtype=dtypes.float32).item()


def _lerp_(dst, end, weight):
    """``dst`` moved ``weight`` of the way to ``end`` in place, with PyTorch's two-sided formula (from the
    nearer end, so weight 1 gives ``end`` exactly)."""
    w = _float32(weight)
    if w < 0.5:
        dst.copy_(dst + (end - dst) * w)
    else:
        dst.copy_(end - (end - dst) * (1.0 - w))


def get_ema_multi_avg_fn(decay=0.999):
    """An in-place EMA update of lists of tensors: ``ema <- decay * ema + (1 - decay) * current``.

    >>> import ember
    >>> ema, cur = [ember.zeros(2)], [ember.ones(2)]
    >>> get_ema_multi_avg_fn(0.9)(ema, cur, 1); ema[0]
    tensor([0.1000, 0.1000])
    """
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_params, current_params, _num_averaged):
        for ema, cur in zip(ema_params, current_params):
            if ema.is_floating_point():
                _lerp_(ema, cur, 1 - decay)
            else:
                ema.copy_(ema * decay + cur * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """An in-place running-mean update of lists of tensors: ``avg <- avg + (current - avg) / (n + 1)``.

    >>> import ember
    >>> avg, cur = [ember.zeros(2)], [ember.ones(2)]
    >>> get_swa_multi_avg_fn()(avg, cur, 3); avg[0]
    tensor([0.2500, 0.2500])
    """

    @no_grad()
    def swa_update(averaged_params, current_params, num_averaged):
        n = float(num_averaged)
        for avg, cur in zip(averaged_params, current_params):
            if avg.is_floating_point():
                _lerp_(avg, cur, 1 / (n + 1))
            else:
                avg.copy_(avg + (cur - avg) / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """The EMA of one tensor, returned: ``decay * ema + (1 - decay) * current``.

    >>> import ember
    >>> get_ema_avg_fn(0.5)(ember.zeros(1), ember.ones(1), 1)
    tensor([0.5000])
    """
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """The running mean of one tensor, returned: ``avg + (current - avg) / (n + 1)``.

    >>> import ember
    >>> get_swa_avg_fn()(ember.zeros(1), ember.ones(1), 1)
    tensor([0.5000])
    """

    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) hold an average of the
    weights ``update_parameters`` has seen; calling it runs the copy.

    ``avg_fn(avg, current, n)`` returns the new average of one tensor; ``multi_avg_fn(avgs, currents, n)``
    updates lists in place; neither: the running mean (SWA). ``n_averaged`` counts the updates (a buffer, so it
    is saved with ``state_dict``). Without ``use_buffers`` the buffers are copied from ``model`` at each update
    (refresh BatchNorm statistics for the averaged weights with ``update_bn``).

    >>> import ember
    >>> from ember.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    >>> m = ember.nn.Linear(1, 1, bias=False)
    >>> ema = AveragedModel(m, multi_avg_fn=get_ema_multi_avg_fn(0.5))
    >>> with ember.no_grad():
    ...     _ = m.weight.fill_(0.0); ema.update_parameters(m); _ = m.weight.fill_(1.0); ema.update_parameters(m)
    >>> ema.module.weight
    Parameter containing:
    tensor([[0.5000]], requires_grad=True)
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise mark(with_user_line(AssertionError(
                "AveragedModel: only one of avg_fn and multi_avg_fn should be provided"), 2))
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", creation.tensor(0, dtype=dtypes.int64, device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _pairs(self, model):
        if self.use_buffers:
            mine = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            mine, theirs = self.parameters(), model.parameters()
        return [(a.detach(), b.detach().to(a.device)) for a, b in zip(mine, theirs)]

    @no_grad()
    def update_parameters(self, model):
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        pairs = self._pairs(model)
        n = int(self.n_averaged)
        if n == 0:
            for avg, cur in pairs:
                avg.copy_(cur)
        elif self.avg_fn is not None:
            for avg, cur in pairs:
                avg.copy_(self.avg_fn(avg, cur, self.n_averaged.to(avg.device)))
        else:
            for group in _by_device_and_dtype(pairs):
                avgs, curs = [a for a, _ in group], [c for _, c in group]
                n_dev = self.n_averaged.to(avgs[0].device)
                if self.multi_avg_fn is not None:
                    self.multi_avg_fn(avgs, curs, n_dev)
                else:  # PyTorch's CPU path: the per-tensor running mean
                    swa = get_swa_avg_fn()
                    for avg, cur in group:
                        avg.copy_(swa(avg, cur, n_dev))
        if not self.use_buffers:  # the buffers follow the model (BatchNorm statistics: see update_bn)
            for mine, theirs in zip(self.module.buffers(), model.buffers()):
                if mine is not None and theirs is not None:
                    mine.copy_(theirs.detach().to(mine.device))
        self.n_averaged.add_(1)


def _by_device_and_dtype(pairs):
    groups: dict = {}
    for avg, cur in pairs:
        groups.setdefault((str(avg.device), avg.dtype), []).append((avg, cur))
    return list(groups.values())


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute the BatchNorm running statistics of ``model`` with one pass over ``loader`` (a cumulative
    average over all batches; the first item of a (input, target) batch is the input). Modes are restored.

    >>> import ember
    >>> net = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4))
    >>> update_bn([ember.randn(8, 3) for _ in range(2)], net)
    >>> int(net[1].num_batches_tracked)
    2
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm):  # PyTorch's _BatchNorm
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None  # a cumulative average of the batches
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each param group's learning rate to ``swa_lr`` over ``anneal_epochs`` steps (``"cos"`` or
    ``"linear"``), then hold it there.

    >>> import ember
    >>> from ember import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = SWALR(opt, swa_lr=0.5, anneal_epochs=2, anneal_strategy="linear")
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     sched.step(); lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [1.0, 0.75, 0.5, 0.5]
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise mark(with_user_line(ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"), 2))
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise mark(with_user_line(ValueError(
                f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}"), 2))
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, strategy):
        self._anneal_strategy = strategy
        self.anneal_func = self._cosine_anneal if strategy == "cos" else self._linear_anneal

    def get_lr(self):
        # the lr before annealing is recovered from the current one, so other changes to lr carry through
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
