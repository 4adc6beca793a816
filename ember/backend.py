"""The array backend: NumPy on CPU, CuPy on CUDA. The only module that imports cupy.

Array code elsewhere is written once against ``xp = xp_of(array)`` (Chainer's ``get_array_module``).
"""
from __future__ import annotations

import numpy

_cupy = None
_cupy_checked = False


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


def _erf_fast32(x):
    # Chebyshev fit of erfc (Numerical Recipes' erfcc): |relative error| < 1.2e-7, enough for float32
    z = numpy.abs(x).astype(numpy.float64)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    return (numpy.sign(x) * (1.0 - t * numpy.exp(poly))).astype(x.dtype)


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
