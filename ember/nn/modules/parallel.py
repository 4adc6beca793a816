"""DataParallel: PyTorch's multi-GPU wrapper as a thin single-device wrapper (Ember runs one device per
process). Programs that wrap their model keep working, and state_dict keys carry the same ``module.`` prefix
as PyTorch's, so checkpoints move between the two."""
from __future__ import annotations

from ...errors import mark, with_user_line
from .module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Runs ``module`` on its own device; ``device_ids`` beyond one are accepted and not used.

    >>> import ember
    >>> from ember import nn
    >>> net = nn.DataParallel(nn.Linear(3, 2))
    >>> sorted(net.state_dict())
    ['module.bias', 'module.weight']
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise mark(with_user_line(TypeError(
                f"DataParallel: expected an nn.Module to wrap, got {type(module).__name__}"), 2))
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device, self.dim = output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
