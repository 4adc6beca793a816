"""``torch.cpu``: the CPU device's namespace (``ember.cpu.amp.autocast``, ``is_available``, ``synchronize``)."""
from . import amp


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """CPU work is synchronous in Ember: nothing to wait for."""


__all__ = ["amp", "is_available", "device_count", "current_device", "synchronize"]
