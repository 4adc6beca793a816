"""A stand-in for CuPy made of NumPy, for running Ember's CUDA code paths on a machine without a GPU.

It checks Ember's device plumbing, not CuPy: arrays are a NumPy subclass (``FakeArray``) that, like CuPy's,
refuses to mix with plain NumPy arrays in ufuncs (``TypeError``), reports ``.device.id`` and converts back
with ``.get()``; ``np.asarray``/``np.array`` of a device array from Ember's code raise, and its ``flags`` lack
``writeable``, as CuPy's. What it cannot show: CuPy's own kernels, dtype support and memory behaviour. Fused
CUDA kernels are not built on it (``ElementwiseKernel`` raises), so compiled graphs run with ``jit=False``.
"""
from __future__ import annotations

import os
import sys
import types

import numpy as np

import ember

_EMBER_DIR = os.path.dirname(os.path.abspath(ember.__file__)) + os.sep  # Ember's own code (not tests, not NumPy)

class _Device:
    id = 0

    def __init__(self, index=0):
        self.id = index

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


class FakeArray(np.ndarray):
    """A "device" array: NumPy underneath; mixing with host arrays raises as CuPy does."""

    @property
    def device(self):
        return _Device(0)

    def get(self):
        return np.array(self.view(np.ndarray))

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        for x in inputs + (out or ()):
            if type(x) is np.ndarray:
                raise TypeError(f"Unsupported type {type(x)} (a host array given to {ufunc.__name__} with "
                                "device arrays)")
        host = [x.view(np.ndarray) if isinstance(x, FakeArray) else x for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(o.view(np.ndarray) for o in out)
        result = getattr(ufunc, method)(*host, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return arr.view(FakeArray)  # reductions give 0-d arrays, never NumPy scalars (as CuPy)

    def __float__(self):
        return float(self.view(np.ndarray))

    @property
    def flags(self):  # to Ember, CuPy's flags: the three below, no ``writeable`` (NumPy's own code gets its own)
        f = np.ndarray.flags.__get__(self)
        if not sys._getframe(1).f_code.co_filename.startswith(_EMBER_DIR):
            return f
        return types.SimpleNamespace(c_contiguous=f.c_contiguous, f_contiguous=f.f_contiguous, owndata=f.owndata)


def _wrap(x):
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, np.ndarray):
        return x.view(FakeArray)
    if isinstance(x, np.generic):
        return np.asarray(x).view(FakeArray)
    return x


class _Pool:
    def __init__(self):
        self.used = 0

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass

    def malloc(self, size):
        raise NotImplementedError


def _module():
    """A fresh fake ``cupy`` module."""
    cp = types.ModuleType("cupy")
    cp.__version__ = "fake"
    cp.ndarray = FakeArray

    def asarray(a, dtype=None, order=None, *, blocking=False):  # CuPy's signature: no copy=
        if isinstance(a, FakeArray) and dtype in (None, a.dtype):
            return a
        return np.array(a, dtype=dtype, order=order or "K").view(FakeArray)

    def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
        return np.array(obj, dtype=dtype, copy=copy, order=order, ndmin=ndmin).view(FakeArray)

    cp.asarray, cp.array = asarray, array

    def fallback(name):
        fn = getattr(np, name)
        if not callable(fn) or isinstance(fn, (type, np.ufunc)):  # ufuncs wrap through FakeArray themselves
            return fn

        def call(*args, **kwargs):
            return _wrap(fn(*args, **kwargs))

        return call

    cp.__getattr__ = fallback

    def host(x):
        return x.view(np.ndarray) if isinstance(x, FakeArray) else x

    # functions whose NumPy versions drop the subclass or mix in host temporaries: run on host views, rewrap
    cp.einsum = lambda *ops, **kw: _wrap(np.einsum(*[host(x) for x in ops], **kw))
    # cupy.fft's n-dimensional transforms (cuFFT there; NumPy's pocketfft here) on host views, rewrapped
    cp.fft = types.SimpleNamespace(**{name: (lambda fn: lambda a, *args, **kw: _wrap(fn(host(a), *args, **kw)))(
        getattr(np.fft, name)) for name in ("fftn", "ifftn", "rfftn", "irfftn")})
    cp.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
        as_strided=lambda x, shape=None, strides=None: np.lib.stride_tricks.as_strided(x, shape, strides,
                                                                                      subok=True)))
    pool, pinned = _Pool(), _Pool()
    cp.get_default_memory_pool = lambda: pool
    cp.get_default_pinned_memory_pool = lambda: pinned

    def no_kernels(*a, **k):
        raise NotImplementedError("fake CuPy compiles no CUDA kernels")

    cp.ElementwiseKernel = cp.RawKernel = no_kernels
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0, setDevice=lambda i: None,
                                    deviceSynchronize=lambda: None, memGetInfo=lambda: (1 << 30, 1 << 30),
                                    getDeviceProperties=lambda i: {"name": b"Fake GPU", "major": 9, "minor": 0,
                                                                   "totalGlobalMem": 1 << 30})
    memory = types.SimpleNamespace(OutOfMemoryError=type("OutOfMemoryError", (MemoryError,), {}))
    cp.cuda = types.SimpleNamespace(runtime=runtime, Device=_Device, memory=memory,
                                    set_allocator=lambda fn: None)
    return cp


def _refuse_host_copies(monkeypatch):
    """``np.asarray(x)``/``np.array(x)`` of a device array called from Ember's own code raise, as on CuPy
    ("Implicit conversion to a NumPy array is not allowed"); NumPy's internals and this fake are let through."""
    for name in ("asarray", "array", "ascontiguousarray", "asanyarray"):
        real = getattr(np, name)

        def strict(a, *args, _real=real, _name=name, **kwargs):
            if isinstance(a, FakeArray) and sys._getframe(1).f_code.co_filename.startswith(_EMBER_DIR):
                raise TypeError(f"np.{_name} of a device array: implicit conversion to a NumPy array is not "
                                "allowed on CuPy (use .get() or the array module xp)")
            return _real(a, *args, **kwargs)

        monkeypatch.setattr(np, name, strict)


def install(monkeypatch):
    """Make Ember see the fake as a working CuPy with one GPU (undone by ``monkeypatch``)."""
    from ember import backend
    from ember.graph import kernels

    cp = _module()
    _refuse_host_copies(monkeypatch)
    special = types.ModuleType("cupyx.scipy.special")
    special.erf = lambda x: _wrap(backend.erf(x.view(np.ndarray)))
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = types.SimpleNamespace(special=special)
    for name, mod in (("cupyx", cupyx), ("cupyx.scipy", cupyx.scipy), ("cupyx.scipy.special", special)):
        monkeypatch.setitem(sys.modules, name, mod)
    cpu_jit = kernels.jit_available
    monkeypatch.setattr(kernels, "jit_available", lambda device="cpu": cpu_jit(device) if device == "cpu" else False)
    monkeypatch.setattr(backend, "_cupy", cp)
    monkeypatch.setattr(backend, "_cupy_checked", True)
    monkeypatch.setattr(backend, "CUPY_PROBLEM", "")
    return cp
