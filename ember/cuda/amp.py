"""``torch.cuda.amp``: ``autocast`` defaulting to CUDA and float16, and ``GradScaler`` on CUDA."""
from __future__ import annotations

from .. import amp as _amp


class autocast(_amp.autocast):  # noqa: N801
    """``torch.cuda.amp.autocast(enabled=True, dtype=float16, cache_enabled=True)``; without a GPU it warns
    and does nothing, as PyTorch's does."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
