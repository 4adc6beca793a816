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


CUPY_PROBLEM = ""  # why CUDA is unusable ("" when it is usable or not yet checked)


def _load_cupy():
    """CuPy when it can run here, else None with the reason in ``CUPY_PROBLEM``. Never raises.

    CuPy imports fine on a machine with no NVIDIA driver or GPU and fails at the first allocation, so the
    check asks the runtime for devices (``cupy.is_available()`` does the same) and treats any error as "no".
    """
    global _cupy, _cupy_checked, CUPY_PROBLEM
    if not _cupy_checked:
        _cupy_checked = True
        _cupy, CUPY_PROBLEM = _probe_cupy()
    return _cupy


def _probe_cupy():
    try:
        import cupy
    except ImportError as exc:
        missing = getattr(exc, "name", None) in ("cupy", None) and "cupy" in str(exc)
        return None, ("CuPy is not installed" if missing else f"CuPy is installed but failed to import ({exc})")
    except Exception as exc:  # a broken install (e.g. CUDA libraries missing)
        return None, f"CuPy is installed but failed to import ({type(exc).__name__}: {exc})"
    version = getattr(cupy, "__dict__", {}).get("__version__", "?")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, a driver older than CuPy's CUDA, no device
        return None, (f"CuPy {version} is installed but the CUDA runtime reports "
                      f"{type(exc).__name__}: {exc} (no NVIDIA driver, a driver too old for this CuPy build, "
                      "or no GPU)")
    if count < 1:
        return None, f"CuPy {version} is installed but found no CUDA GPU"
    _track_peak_memory(cupy)
    return cupy, ""


PEAK_BYTES = [0]  # the most bytes tensors held on the GPU since start / the last reset (torch's max_memory_allocated)


def _track_peak_memory(cp) -> None:
    """Route CuPy's allocations through the default pool with a peak check (CuPy's pool keeps no peak).

    Costs one Python call per device allocation; EMBER_CUDA_PEAK_TRACKING=0 leaves CuPy's allocator alone (then
    max_memory_allocated() is only sampled when asked)."""
    import os

    if os.environ.get("EMBER_CUDA_PEAK_TRACKING", "1") == "0":
        return
    pool = cp.get_default_memory_pool()
    malloc, used_bytes = pool.malloc, pool.used_bytes

    def tracked_malloc(size):
        mem = malloc(size)
        used = used_bytes()
        if used > PEAK_BYTES[0]:
            PEAK_BYTES[0] = used
        return mem

    cp.cuda.set_allocator(tracked_malloc)


def cuda_memory_allocated() -> int:
    """Bytes held by live device arrays (0 without CUDA)."""
    if _load_cupy() is None:
        return 0
    used = _cupy.get_default_memory_pool().used_bytes()
    PEAK_BYTES[0] = max(PEAK_BYTES[0], used)
    return used


def cuda_reset_peak() -> None:
    PEAK_BYTES[0] = cuda_memory_allocated()


def reset_cuda_probe() -> None:
    """Forget the cached CuPy check (tests simulate machines with and without CuPy through this)."""
    global _cupy, _cupy_checked, CUPY_PROBLEM
    _cupy, _cupy_checked, CUPY_PROBLEM = None, False, ""


def cuda_available() -> bool:
    return _load_cupy() is not None


def cuda_device_count() -> int:
    cp = _load_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def cuda_problem() -> str:
    """Why CUDA cannot be used here ("" when it can)."""
    _load_cupy()
    return CUPY_PROBLEM


def require_cupy(what: str = "this operation"):
    cp = _load_cupy()
    if cp is None:
        problem = CUPY_PROBLEM or "CuPy or a GPU is not available"
        if problem.startswith("CuPy is not installed"):
            fix = ("Install the GPU extra with `pip install 'ember[cuda]'` (CuPy for CUDA 12) on a machine with an "
                   "NVIDIA GPU and driver")
        else:
            fix = "Check the GPU and its driver (`nvidia-smi`) and that the CuPy build matches the driver's CUDA"
        raise RuntimeError(f"{what} needs CUDA, which is not usable here: {problem}. {fix}, or keep the tensor "
                           "on device='cpu'.")
    return cp


def _quiet_float_errors():
    """(enter, exit) that silence NumPy's floating-point warnings on this thread for the ops between them:
    PyTorch computes log(0) = -inf, 0/0 = nan and exp(1000) = inf without a word, so code written for it
    (often run with warnings as errors) must not meet NumPy's RuntimeWarnings from Ember's internals. NumPy 2
    keeps the error state in a context variable (setting it costs ~0.15 us, an ``errstate`` block ~0.9 us)."""
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as state
    except ImportError:  # NumPy 1.x: the public context manager
        state = None
    if state is None or not hasattr(state, "set"):
        def enter():
            ctx = numpy.errstate(all="ignore")
            ctx.__enter__()
            return ctx

        return enter, lambda ctx: ctx.__exit__(None, None, None)
    with numpy.errstate(all="ignore"):
        quiet = state.get()
    return (lambda: state.set(quiet)), state.reset


float_errors_off, float_errors_restore = _quiet_float_errors()


def xp_of(array):
    """The array module (numpy or cupy) that owns ``array``."""
    if type(array) is numpy.ndarray or _cupy is None:
        return numpy
    return _cupy if isinstance(array, _cupy.ndarray) else numpy


def fft_of(xp):
    """The FFT module of array module ``xp``: ``numpy.fft`` or ``cupy.fft`` (cuFFT), which take the same
    ``fftn/ifftn/rfftn/irfftn(a, s, axes, norm)`` calls and norm names."""
    return xp.fft


def as_strided(array, shape, byte_strides):
    """A view of ``array``'s memory with ``shape`` and ``byte_strides`` (NumPy's or CuPy's stride tricks)."""
    if xp_of(array) is numpy:
        return numpy.lib.stride_tricks.as_strided(array, shape, byte_strides)
    return _cupy.lib.stride_tricks.as_strided(array, shape, byte_strides)


def data_address(array) -> int:
    """The address of ``array``'s first element (host memory for NumPy, device memory for CuPy)."""
    if xp_of(array) is numpy:
        return int(array.__array_interface__["data"][0])
    return int(array.data.ptr)


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

    def __enter__(self):
        """``with ember.device('cuda'):`` (torch's): factory functions and new layers' parameters go to this
        device inside the block (``set_default_device`` until the block ends)."""
        if self.type == "cuda" and not cuda_available():
            from .errors import mark, with_user_line

            raise mark(with_user_line(RuntimeError(
                f"with device({str(self)!r}): no CUDA device is available (CuPy with a GPU is needed: pip install "
                "'ember[cuda]'); use device('cpu') on this machine"), 2))
        _DEVICE_STACK.append(DEFAULT_DEVICE[0])
        DEFAULT_DEVICE[0] = self
        return self

    def __exit__(self, *exc):
        DEFAULT_DEVICE[0] = _DEVICE_STACK.pop()
        return False


CPU = device("cpu")
DEFAULT_DEVICE = [CPU]  # where tensors go when no device is given (set_default_device, `with device(...)`)
_DEVICE_STACK: list = []  # the defaults that `with device(...)` blocks replaced, innermost last


def device_of(array) -> device:
    if type(array) is numpy.ndarray:
        return CPU
    return device("cuda", array.device.id)


def to_device(array, dev: device):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    if dev.type == "cpu":
        return array if _cupy is None or not isinstance(array, _cupy.ndarray) else array.get()
    cp = require_cupy(f"moving a tensor to {dev}")
    _check_index(cp, dev)
    try:
        with cp.cuda.Device(dev.index):
            return cp.asarray(array)
    except cp.cuda.memory.OutOfMemoryError as exc:
        raise out_of_memory(f"moving a tensor of shape {tuple(array.shape)} ({array.dtype}) to {dev}", exc) \
            from None


def _check_index(cp, dev: device) -> None:
    count = cp.cuda.runtime.getDeviceCount()
    if not 0 <= dev.index < count:
        raise RuntimeError(f"{dev}: invalid CUDA device index {dev.index}; this machine has {count} GPU"
                           f"{'s' if count != 1 else ''} (cuda:0{f'..cuda:{count - 1}' if count > 1 else ''})")


def xp_for(dev: device):
    return numpy if dev.type == "cpu" else require_cupy(f"creating a tensor on {dev}")


def is_out_of_memory(exc) -> bool:
    """Whether ``exc`` is CuPy's device out-of-memory error."""
    return _cupy is not None and isinstance(exc, _cupy.cuda.memory.OutOfMemoryError)


def out_of_memory(what: str, exc) -> RuntimeError:
    """A RuntimeError for a failed device allocation that says what was being made and the memory in use."""
    used = reserved = 0
    if _cupy is not None:
        pool = _cupy.get_default_memory_pool()
        used, reserved = pool.used_bytes(), pool.total_bytes()
    err = RuntimeError(f"CUDA out of memory while {what}: {_fmt_bytes(used)} in use by tensors, "
                       f"{_fmt_bytes(reserved)} held by Ember's memory pool ({exc}). Use a smaller batch, free "
                       "tensors you no longer need (del x), or call ember.cuda.empty_cache().")
    err.__cause__ = None
    return err


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"


def erf(x):
    """Vectorised error function (NumPy has none): SciPy/CuPy's when present, else our own."""
    if x.dtype.kind in "fV" and x.dtype.itemsize == 2:  # float16/bfloat16: in float32, rounded back
        return erf(x.astype(numpy.float32)).astype(x.dtype)
    if xp_of(x) is not numpy:
        from cupyx.scipy import special

        return special.erf(x).astype(x.dtype, copy=False)
    if x.dtype == numpy.float32:  # the compiled kernels' float32 erf, so eager and compiled agree (~8x SciPy's)
        from ._jit_math import erf32_ufunc

        ufunc = erf32_ufunc()
        if ufunc is not None:
            with numpy.errstate(invalid="ignore"):  # (a NaN compared in the loop sets the flag; NaN propagates)
                return numpy.asarray(ufunc(x))
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
    out = numpy.copysign(numpy.where(small, series, cf), x)  # (erf is odd: erf(-0.0) is -0.0, as torch)
    return out.astype(x.dtype if x.dtype.kind == "f" else numpy.float64, copy=False)


# ufuncs whose unbuffered ``.at`` CuPy provides (atomics); others run in rounds of distinct positions
_DEVICE_AT = frozenset(("add", "maximum", "minimum"))


def ufunc_at(xp, name, out, key, values):
    """``out[key] = name(out[key], values)`` unbuffered, so a position named several times folds in every value
    (NumPy's ``ufunc.at``). On CuPy, whose ``at`` covers only ``add``/``maximum``/``minimum``, the other
    ufuncs (``multiply``) run in rounds: each round takes at most one value per position (``_at_by_rounds``)."""
    if xp is numpy or name in _DEVICE_AT:
        getattr(xp, name).at(out, key, values)
    else:
        _at_by_rounds(xp, getattr(xp, name), out, key, values)


def _at_by_rounds(xp, ufunc, out, key, values):
    """``ufunc.at`` from plain fancy indexing: sort the flat positions, number each value within its position
    (rank 0, 1, ...) and apply one rank per round; rounds = the most values any one position receives."""
    grids = xp.broadcast_arrays(*[xp.asarray(k) for k in key])
    flat = xp.ravel_multi_index(tuple(g.reshape(-1) for g in grids), out.shape)
    vals = xp.broadcast_to(values, grids[0].shape).reshape(-1)
    order = xp.argsort(flat, kind="stable")
    pos, vals = flat[order], vals[order]
    rank = xp.arange(pos.size) - xp.searchsorted(pos, pos, side="left")
    view = out.reshape(-1)  # out is a fresh contiguous copy in every caller: a view, written through
    for r in range(int(rank.max()) + 1 if rank.size else 0):
        sel = rank == r
        view[pos[sel]] = ufunc(view[pos[sel]], vals[sel])


# ----------------------------------------------------------------------------------------------------------
# DLPack: zero-copy exchange with other array libraries (NumPy, CuPy, PyTorch, JAX...)

DLPACK_CPU, DLPACK_CUDA = 1, 2  # DLDeviceType codes


def dlpack_export(array, **kwargs):
    """``array``'s DLPack capsule (NumPy's or CuPy's ``__dlpack__``; keyword arguments passed on)."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    return array.__dlpack__(**kwargs)


def dlpack_device(array) -> tuple:
    """(DLDeviceType, device index) of ``array``."""
    return tuple(array.__dlpack_device__())


class _Capsule:
    """A bare DLPack capsule (the legacy ``to_dlpack`` form) presented as an exporter of CPU memory."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (DLPACK_CPU, 0)


def dlpack_import(obj):
    """An array sharing memory with ``obj`` (an object with ``__dlpack__`` or a CPU capsule): a NumPy array
    for CPU memory, a CuPy array for CUDA memory."""
    if not hasattr(obj, "__dlpack__"):
        if type(obj).__name__ != "PyCapsule":
            raise TypeError(f"from_dlpack expects an object with __dlpack__ or a DLPack capsule, got "
                            f"{type(obj).__name__}")
        obj = _Capsule(obj)  # a capsule does not say its device: read as CPU memory (CuPy: pass the array)
    kind = dlpack_device(obj)[0]
    if kind == DLPACK_CPU:
        return numpy.from_dlpack(obj)
    if kind == DLPACK_CUDA:
        return require_cupy("from_dlpack of CUDA memory").from_dlpack(obj)
    raise BufferError(f"from_dlpack: DLPack device type {kind} is not supported (CPU = 1 and CUDA = 2 are)")
