"""``torch.cuda``'s names over CuPy (through ``ember.backend``, the only module that imports cupy).

On a machine without a usable GPU, ``is_available()`` is False (never an exception, even when CuPy is installed
but no driver is), ``device_count()`` is 0, seeding and ``empty_cache()`` do nothing and the memory counters
read 0, as in PyTorch; calls that need a device (``current_device``, ``synchronize``, ``Event``, ``Stream``, ...)
raise an error that names what is missing.

>>> import ember
>>> device = "cuda" if ember.cuda.is_available() else "cpu"
>>> ember.cuda.memory_allocated() >= 0
True
"""
from __future__ import annotations

import contextlib

from .. import backend
from . import amp

__all__ = ["amp", "is_available", "device_count", "current_device", "set_device", "device", "synchronize",
           "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed", "memory_allocated",
           "max_memory_allocated", "reset_peak_memory_stats", "memory_reserved", "max_memory_reserved",
           "empty_cache", "mem_get_info", "get_device_name", "get_device_properties", "get_device_capability",
           "is_bf16_supported", "is_initialized", "Event", "Stream", "current_stream", "default_stream",
           "stream"]


def is_available() -> bool:
    """Whether CUDA tensors can be made here: CuPy imports and its runtime sees a GPU."""
    return backend.cuda_available()


def device_count() -> int:
    return backend.cuda_device_count()


def is_initialized() -> bool:
    return backend.cuda_available()


def _cp(what: str):
    return backend.require_cupy(f"ember.cuda.{what}")


def _index(dev, what: str) -> int:
    """A CUDA device index from None (the current one), an int, a string or an ember.device."""
    cp = _cp(what)
    if dev is None:
        return cp.cuda.runtime.getDevice()
    d = backend.device(dev)
    if d.type != "cuda":
        raise ValueError(f"ember.cuda.{what}: expected a cuda device, but got: {d}")
    backend._check_index(cp, d)
    return d.index


def current_device() -> int:
    return _cp("current_device()").cuda.runtime.getDevice()


def set_device(device) -> None:
    """Make ``device`` (an index, 'cuda:N' or an ember.device) the current GPU."""
    _cp("set_device()").cuda.runtime.setDevice(_index(device, "set_device()"))


class device:  # noqa: N801  (torch.cuda.device: a context manager that switches the current GPU)
    def __init__(self, device):
        self.idx = None if device is None else _index(device, "device()")
        self.prev = -1

    def __enter__(self):
        if self.idx is not None:
            self.prev = current_device()
            set_device(self.idx)

    def __exit__(self, *exc):
        if self.idx is not None:
            set_device(self.prev)
        return False


def synchronize(device=None) -> None:
    """Wait for every kernel queued on ``device`` (default: the current GPU)."""
    cp = _cp("synchronize()")
    with cp.cuda.Device(_index(device, "synchronize()")):
        cp.cuda.runtime.deviceSynchronize()


# -- random numbers: Ember draws CUDA random numbers from its one global generator, then copies them over ----
def manual_seed(seed: int) -> None:
    """Seed the generator CUDA tensors draw from (a no-op without a GPU, like PyTorch's lazy seeding).

    Ember draws random numbers for every device from its one global generator (then copies them to the
    GPU), so on a GPU machine this reseeds that generator as ``ember.manual_seed`` does."""
    if backend.cuda_available():
        from ..random import manual_seed as _seed

        _seed(seed)


manual_seed_all = manual_seed


def seed() -> None:
    if backend.cuda_available():
        from ..random import seed as _seed

        _seed()


seed_all = seed


def initial_seed() -> int:
    _cp("initial_seed()")
    from ..random import initial_seed as _initial

    return _initial()


# -- memory ------------------------------------------------------------------------------------------------
def memory_allocated(device=None) -> int:
    """Bytes held by live CUDA tensors (0 without a GPU)."""
    return backend.cuda_memory_allocated()


def max_memory_allocated(device=None) -> int:
    """The most bytes held by CUDA tensors at once since start or ``reset_peak_memory_stats()``."""
    backend.cuda_memory_allocated()  # fold the current figure into the peak
    return backend.PEAK_BYTES[0]


def reset_peak_memory_stats(device=None) -> None:
    backend.cuda_reset_peak()


reset_max_memory_allocated = reset_peak_memory_stats


def memory_reserved(device=None) -> int:
    """Bytes held by Ember's device memory pool (live tensors plus cached free blocks)."""
    if not backend.cuda_available():
        return 0
    return backend.require_cupy().get_default_memory_pool().total_bytes()


max_memory_reserved = memory_reserved


def empty_cache() -> None:
    """Give the pool's cached free blocks back to the driver (a no-op without a GPU)."""
    if backend.cuda_available():
        cp = backend.require_cupy()
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()


def mem_get_info(device=None) -> tuple:
    """(free bytes, total bytes) on the device, from the driver."""
    cp = _cp("mem_get_info()")
    with cp.cuda.Device(_index(device, "mem_get_info()")):
        return tuple(cp.cuda.runtime.memGetInfo())


# -- device properties -------------------------------------------------------------------------------------
class _Properties:
    def __init__(self, props: dict):
        name = props.get("name", b"")
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.total_memory = int(props.get("totalGlobalMem", 0))
        self.major, self.minor = int(props.get("major", 0)), int(props.get("minor", 0))
        self.multi_processor_count = int(props.get("multiProcessorCount", 0))

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2 ** 20}MB, multi_processor_count="
                f"{self.multi_processor_count})")


def get_device_properties(device=None) -> _Properties:
    cp = _cp("get_device_properties()")
    return _Properties(cp.cuda.runtime.getDeviceProperties(_index(device, "get_device_properties()")))


def get_device_name(device=None) -> str:
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple:
    p = get_device_properties(device)
    return p.major, p.minor


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the GPU computes in bfloat16 natively (compute capability 8.0+); False without a GPU."""
    return backend.cuda_available() and get_device_capability()[0] >= 8


# -- events and streams --------------------------------------------------------------------------------------
class Event:
    """A CUDA event (``torch.cuda.Event``): ``record()``, ``synchronize()``, ``query()``,
    ``elapsed_time(end)`` in milliseconds when made with ``enable_timing=True``."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        cp = _cp("Event()")
        self._event = cp.cuda.Event(block=blocking, disable_timing=not enable_timing, interprocess=interprocess)

    def record(self, stream=None) -> None:
        self._event.record(None if stream is None else stream._stream)

    def synchronize(self) -> None:
        self._event.synchronize()

    def query(self) -> bool:
        return bool(self._event.done)

    def wait(self, stream=None) -> None:
        (stream or current_stream())._stream.wait_event(self._event)

    def elapsed_time(self, end_event) -> float:
        """Milliseconds between this event and ``end_event`` (both recorded and complete)."""
        cp = backend.require_cupy()
        return float(cp.cuda.get_elapsed_time(self._event, end_event._event))


class Stream:
    """A CUDA stream (``torch.cuda.Stream``); use it with ``with ember.cuda.stream(s):``."""

    def __init__(self, device=None, priority: int = 0, _wrap=None):
        cp = _cp("Stream()")
        self._stream = _wrap if _wrap is not None else cp.cuda.Stream(non_blocking=True, priority=priority)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def query(self) -> bool:
        return bool(self._stream.done)

    def wait_event(self, event) -> None:
        self._stream.wait_event(event._event)

    def wait_stream(self, stream) -> None:
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def __enter__(self):
        self._stream.__enter__()
        return self

    def __exit__(self, *exc):
        self._stream.__exit__(*exc)
        return False

    def __eq__(self, other):
        return isinstance(other, Stream) and self._stream.ptr == other._stream.ptr

    def __hash__(self):
        return hash(self._stream.ptr)


def current_stream(device=None) -> Stream:
    return Stream(_wrap=_cp("current_stream()").cuda.get_current_stream())


def default_stream(device=None) -> Stream:
    cp = _cp("default_stream()")
    return Stream(_wrap=cp.cuda.Stream.null)


@contextlib.contextmanager
def stream(s):
    """Queue the ops of a block on stream ``s`` (``None``: no change)."""
    if s is None:
        yield
        return
    with s:
        yield
