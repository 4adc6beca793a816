"""``torch.nn.parallel``: ``DistributedDataParallel`` (data-parallel training over ``ember.distributed``),
``DataParallel`` (a thin single-device wrapper) and ``data_parallel``."""
from ..modules.parallel import DataParallel
from .distributed import DistributedDataParallel, consume_prefix_in_state_dict_if_present

__all__ = ["DistributedDataParallel", "consume_prefix_in_state_dict_if_present", "DataParallel", "data_parallel"]


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``module(*inputs)`` (the functional form of DataParallel; one device)."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))
