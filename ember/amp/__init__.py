"""Automatic mixed precision (``torch.amp``): ``autocast`` and ``GradScaler``.

>>> import ember
>>> with ember.amp.autocast("cpu"):
...     y = ember.ones(2, 3) @ ember.ones(3, 4)
>>> y.dtype
ember.bfloat16
"""
from .autocast_mode import (
                            autocast,
                            custom_bwd,
                            custom_fwd,
                            get_autocast_dtype,
                            is_autocast_available,
                            is_autocast_enabled,
)
from .grad_scaler import GradScaler, OptState

__all__ = ["autocast", "GradScaler", "OptState", "custom_fwd", "custom_bwd", "is_autocast_enabled",
           "get_autocast_dtype", "is_autocast_available"]
