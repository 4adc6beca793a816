"""``torch.backends``: flags programs set (``cudnn.benchmark``, ``cudnn.deterministic``, ...) and availability
checks (``mps.is_available()``). Ember accepts and keeps the flags; what each changes is said per module.

>>> import ember
>>> ember.backends.cudnn.benchmark = True
>>> ember.backends.mps.is_available()
False
"""
from . import cpu, cuda, cudnn, mkldnn, mps

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps"]
