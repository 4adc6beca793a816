"""``SyncBatchNorm``: batch normalization whose statistics are computed over the whole global batch, i.e.
over every rank of a process group, so N ranks on N slices of a batch train like one process on all of it.

Mean and variance are two all-reduces (the sum and count, then the squared deviations from the global mean:
the same two-pass arithmetic as ``BatchNorm``) through the differentiable ``all_reduce`` primitive, so
backward sums the statistics' gradients over the ranks too. Outside a process group (or of world size 1,
or in eval mode) it is a plain ``BatchNorm``.
"""
from __future__ import annotations

import math
import sys

from ... import creation
from ..._state import STATE
from ...autograd import no_grad
from ...errors import mark, with_user_line
from ..functional import normalization as FN
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _active_group(process_group):
    """The process group to synchronise over, or None (not initialised / one rank). ``ember.distributed``
    sits above ``nn``, so it is looked up, not imported: without it there is nothing to synchronise."""
    dist = sys.modules.get("ember.distributed")
    if dist is None or not dist.is_initialized():
        return None
    from ember.distributed._group import resolve

    group = resolve(process_group, "SyncBatchNorm")
    return group if group.size() > 1 and group.comm is not None else None


class SyncBatchNorm(_BatchNorm):
    """``torch.nn.SyncBatchNorm``: BatchNorm over (N, C, ...) inputs with statistics of the global batch.

    >>> from ember import nn
    >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    >>> type(model[1]).__name__
    'SyncBatchNorm'
    """

    _dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input):
        group = _active_group(self.process_group) if self.training else None
        if group is None:
            return super().forward(input)
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        return self._sync_forward(input, group, factor)

    def _sync_forward(self, x, group, factor):
        from ember.distributed._prim import all_reduce

        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        local_n = math.prod(x.shape) // c
        count = creation.full((1,), float(local_n), dtype=x.dtype, device=x.device)
        from ...functional import cat

        totals = all_reduce(cat([x.sum(axes), count]), group.gid, "sum")
        n = totals[c:]
        mean = totals[:c] / n
        d = x - mean.reshape(shape)
        var = all_reduce((d * d).sum(axes), group.gid, "sum") / n
        n_global = float(n.detach()._data[0]) if STATE.tracer is None else None
        if n_global is not None and n_global <= 1:
            raise mark(with_user_line(ValueError(
                f"SyncBatchNorm: expected more than 1 value per channel across the ranks when training, got "
                f"{n_global:g}"), 3))
        if self.track_running_stats and self.running_mean is not None:
            total_n = n_global if n_global is not None else local_n * group.size()  # traced: equal shares
            FN._update_running(self.running_mean, self.running_var, mean, var, total_n, factor)
        y = d / (var.reshape(shape) + self.eps).sqrt()
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every BatchNorm*d in ``module`` by a SyncBatchNorm sharing its parameters and buffers."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                if name in module._parameters:
                    out._parameters[name] = module._parameters[name]
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                if name in module._buffers:
                    out._buffers[name] = module._buffers[name]
            out.train(module.training)
            return out
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return module
