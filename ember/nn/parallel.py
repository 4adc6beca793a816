"""``torch.nn.parallel``: ``DataParallel`` (a thin single-device wrapper) and ``data_parallel``."""
from .modules.parallel import DataParallel

__all__ = ["DataParallel", "data_parallel"]


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``module(*inputs)`` (the functional form of DataParallel; one device)."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))
