"""The array backend: NumPy on CPU, CuPy on CUDA. The only module that imports cupy.

Array code elsewhere is written once against ``xp = xp_of(array)`` (Chainer's ``get_array_module``).
"""
from __future__ import annotations

import math

import numpy

_cupy = None
_cupy_checked = False


def _keep_freed_memory_in_heap() -> bool:
    """Stop glibc from returning every large freed block to the OS.

    NumPy allocates a fresh buffer for each large temporary. By default glibc serves blocks over ~128 KiB-32 MiB
    with mmap and unmaps them on free, so every op on a large tensor page-faults its output in again; on the
    bench workloads that was over half of the step time (mlp 12.7 -> 5.6 ms, transformer 446 -> 123 ms on the
    dev machine). Raising the mmap and trim thresholds keeps freed blocks for reuse, as PyTorch's caching
    allocators do. Set EMBER_MALLOC_TUNING=0 to leave the process's allocator alone.
    """
    import os
    import sys

    if os.environ.get("EMBER_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, (1 << 31) - 1))
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False


MALLOC_TUNED = _keep_freed_memory_in_heap()


def _load_cupy():
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception:  # no cupy, or no driver / GPU
            _cupy = None
    return _cupy


def cuda_available() -> bool:
    return _load_cupy() is not None


def cuda_device_count() -> int:
    cp = _load_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def require_cupy(what: str = "this operation"):
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError(
            f"{what} needs CUDA, but CuPy or a GPU is not available. Install the GPU extra with "
            "`pip install 'ember[cuda]'` (CuPy for CUDA 12) on a machine with an NVIDIA GPU and driver, "
            "or keep the tensor on device='cpu'."
        )
    return cp


def xp_of(array):
    """The array module (numpy or cupy) that owns ``array``."""
    if type(array) is numpy.ndarray or _cupy is None:
        return numpy
    return _cupy if isinstance(array, _cupy.ndarray) else numpy


def is_array(obj) -> bool:
    return isinstance(obj, numpy.ndarray) or (_cupy is not None and isinstance(obj, _cupy.ndarray))


class device:
    """Where a tensor lives: ``device('cpu')``, ``device('cuda')``, ``device('cuda', 1)`` or ``device('cuda:1')``.

    >>> str(device('cuda:1')), device('cpu').type
    ('cuda:1', 'cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int):
            type, index = "cuda", type
        elif ":" in type:
            type, _, idx = type.partition(":")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            from .errors import mark, with_user_line

            raise mark(with_user_line(ValueError(f"Expected a device of type 'cpu' or 'cuda', got {type!r}"), 2))
        if type == "cuda" and index is None:
            index = 0
        self.type, self.index = type, (None if type == "cpu" else index)

    def __str__(self):
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


def device_of(array) -> device:
    if type(array) is numpy.ndarray:
        return CPU
    return device("cuda", array.device.id)


def to_device(array, dev: device):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    if dev.type == "cpu":
        return array if isinstance(array, numpy.ndarray) else array.get()
    cp = require_cupy(f"moving a tensor to {dev}")
    with cp.cuda.Device(dev.index):
        return cp.asarray(array)


def xp_for(dev: device):
    return numpy if dev.type == "cpu" else require_cupy(f"creating a tensor on {dev}")


def erf(x):
    """Vectorised error function (NumPy has none): SciPy/CuPy's when present, else our own."""
    xp = xp_of(x)
    if xp is not numpy:
        from cupyx.scipy import special

        return special.erf(x)
    try:
        from scipy import special
    except ImportError:
        return _erf_numpy(x)
    return special.erf(x)


def _erf_numpy(x):
    if x.dtype.kind == "f" and x.dtype.itemsize <= 4:
        return _erf_fast32(x)
    return _erf_exact(x)


_ERFC_COEFFS = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
                0.37409196, 1.00002368, -1.26551223)


# erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)), highest power first for Horner in x^2
_ERF_SERIES = tuple(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(8))[::-1]


def _erf_fast32(x):
    # Chebyshev fit of erfc (Numerical Recipes' erfcc): |relative error| < 1.2e-7, enough for float32.
    # Evaluated in float32 with in-place Horner steps: no float64 temporaries, few allocations.
    shape, x = x.shape, x.reshape(-1)  # 1-D, so 0-d inputs don't decay to NumPy scalars
    z = numpy.abs(x, dtype=numpy.float32)
    t = z * numpy.float32(0.5)
    t += 1
    numpy.reciprocal(t, out=t)
    acc = numpy.full_like(t, _ERFC_COEFFS[0])
    for c in _ERFC_COEFFS[1:]:
        acc *= t
        acc += numpy.float32(c)
    z *= z
    acc -= z
    numpy.exp(acc, out=acc)
    acc *= t
    numpy.subtract(1, acc, out=acc)
    # |x| < 0.5 (z holds x^2 here): 1 - erfc cancels, so take the Maclaurin series there
    small = z < 0.25
    numpy.minimum(z, 0.25, out=z)
    series = numpy.full_like(z, _ERF_SERIES[0])
    for c in _ERF_SERIES[1:]:
        series *= z
        series += numpy.float32(c)
    series *= numpy.abs(x, dtype=numpy.float32)
    numpy.copyto(acc, series, where=small)
    numpy.copysign(acc, x, out=acc)
    return acc.astype(x.dtype, copy=False).reshape(shape)


def _erf_exact(x):
    # |x| < 2: Maclaurin series (alternating, ~1e-15 relative here); |x| >= 2: erfc by a continued fraction
    # evaluated bottom-up, exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))).
    import math

    z = numpy.abs(numpy.asarray(x, dtype=numpy.float64))
    small = z < 2.0
    zs = numpy.where(small, z, 0.0)
    z2 = zs * zs
    term = zs.copy()
    total = zs.copy()
    for n in range(1, 60):
        term *= -z2 / n
        total += term / (2 * n + 1)
        if n > 8 and not numpy.any(numpy.abs(term) > 1e-17 * numpy.abs(total)):
            break
    series = total * (2.0 / math.sqrt(math.pi))
    zl = numpy.where(small, 2.0, z)
    k = zl.copy()
    for n in range(80, 0, -1):
        k = zl + (n / 2.0) / k
    cf = 1.0 - numpy.exp(-zl * zl) / math.sqrt(math.pi) / k
    out = numpy.sign(x) * numpy.where(small, series, cf)
    return out.astype(x.dtype if x.dtype.kind == "f" else numpy.float64, copy=False)
