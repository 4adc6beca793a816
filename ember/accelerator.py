"""``torch.accelerator``: the device-neutral names modern examples start with.

Ember's one accelerator is CUDA (through CuPy). As in PyTorch, ``current_accelerator()`` names it when Ember
*could* use it (CuPy is installed, PyTorch's "built with CUDA") even if no GPU is present, unless
``check_available=True``; on a machine without CuPy it is None. The usual first line works everywhere:

>>> import ember
>>> device = ember.accelerator.current_accelerator() if ember.accelerator.is_available() else ember.device("cpu")
>>> ember.zeros(2, device=device).device.type in ("cpu", "cuda")
True
"""
from __future__ import annotations

from . import backend, cuda

__all__ = ["current_accelerator", "is_available", "device_count", "current_device_index", "current_device_idx",
           "set_device_index", "set_device_idx", "device_index", "synchronize", "empty_cache",
           "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats", "memory_reserved",
           "current_stream"]


def _cupy_installed() -> bool:
    backend.cuda_available()
    return backend.cuda_available() or not backend.cuda_problem().startswith("CuPy is not installed")


def current_accelerator(check_available: bool = False):
    """``ember.device('cuda')`` when CuPy is installed (and, with ``check_available``, a GPU usable), else None."""
    if _cupy_installed() and (not check_available or is_available()):
        return backend.device("cuda")
    return None


def is_available() -> bool:
    return backend.cuda_available()


def device_count() -> int:
    return backend.cuda_device_count()


def _require(what):
    if not backend.cuda_available():
        raise RuntimeError(f"ember.accelerator.{what}: cannot access accelerator device when none is available "
                           f"({backend.cuda_problem()}).")


def current_device_index() -> int:
    _require("current_device_index()")
    return cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device) -> None:
    _require("set_device_index()")
    cuda.set_device(device)


set_device_idx = set_device_index


class device_index:  # noqa: N801  (a context manager, as torch.accelerator.device_index)
    """Switch the current accelerator index for a block; ``None`` switches nothing."""

    def __init__(self, device, /):
        self.idx, self.prev = device, None

    def __enter__(self):
        if self.idx is not None:
            self.prev = current_device_index()
            set_device_index(self.idx)

    def __exit__(self, *exc):
        if self.idx is not None:
            set_device_index(self.prev)
        return False


def synchronize(device=None) -> None:
    _require("synchronize()")
    cuda.synchronize(device)


def current_stream(device=None):
    _require("current_stream()")
    return cuda.current_stream(device)


empty_cache = cuda.empty_cache
memory_allocated = cuda.memory_allocated
max_memory_allocated = cuda.max_memory_allocated
reset_peak_memory_stats = cuda.reset_peak_memory_stats
memory_reserved = cuda.memory_reserved
