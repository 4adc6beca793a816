"""``torch.cpu.amp``: ``autocast`` defaulting to the CPU and bfloat16, and ``GradScaler`` on the CPU."""
from __future__ import annotations

from .. import amp as _amp


class autocast(_amp.autocast):  # noqa: N801
    """``torch.cpu.amp.autocast(enabled=True, dtype=bfloat16, cache_enabled=True)``.

    >>> import ember
    >>> with ember.cpu.amp.autocast():
    ...     y = ember.ones(2, 2) @ ember.ones(2, 2)
    >>> y.dtype
    ember.bfloat16
    """

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True):
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
