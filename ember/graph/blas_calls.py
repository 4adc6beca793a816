"""BLAS called from compiled loops: ``cblas_sgemm`` of the BLAS NumPy loaded, by address, from numba code that
runs without the GIL (``infer_pool``'s helpers run a small-batch Winograd convolution's GEMMs this way:
``winograd_split``), and holding that OpenBLAS at one thread (``hold``/``Held``: a call whose parallel work is
Ember's own pool's).

Why: a batch-1 convolution split over the cores needs a GEMM in each core's part, and ``infer_pool``'s helpers
are compiled loops (no Python, no GIL: a ~1 us hand-off). The address is found at run time (threadpoolctl
names the library file NumPy loaded; ``ctypes`` finds the symbol) and passed in as an int64, so the loops stay
in numba's disk cache (a ctypes function object as a global would make them uncacheable). A split job runs
inside ``hold()`` / ``unhold()``: OpenBLAS at one thread (its process-wide count; this build's
``openblas_set_num_threads_local`` measured process-wide too), so the parts' GEMMs run on the cores that took
them and OpenBLAS's own workers are not woken.

``find()`` gives ``(sgemm address, int width in bits, set-threads address, get-threads address)`` or None
where this is not available (no threadpoolctl, not OpenBLAS, symbols not found): callers then keep BLAS's own
threading.

>>> import numpy as np, numba
>>> from ember.graph import blas_calls
>>> found = blas_calls.find()
>>> @numba.njit
... def mm(a, b, c, fn, width):
...     blas_calls.sgemm(fn, width, a.shape[0], b.shape[1], a.shape[1], a.ctypes.data, a.shape[1],
...                      b.ctypes.data, b.shape[1], c.ctypes.data, c.shape[1])
>>> a, c = np.ones((2, 3), np.float32), np.empty((2, 2), np.float32)
>>> held = blas_calls.hold()
>>> found is None or (mm(a, np.ones((3, 2), np.float32), c, *found[:2]), c.tolist())[1] == [[3.0, 3.0], [3.0, 3.0]]
True
>>> blas_calls.unhold(held)
"""
from __future__ import annotations

import ctypes
import os
import threading

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._threads import QUIET, cached_num_threads

_FOUND: dict = {}
_HOLD = {"depth": 0, "old": 0}  # nested holds (any thread) and the count the first one took
_HOLD_LOCK = threading.Lock()
_SGEMM = (("scipy_cblas_sgemm64_", 64), ("cblas_sgemm64_", 64), ("scipy_cblas_sgemm", 32), ("cblas_sgemm", 32))
_THREADS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
            ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
            ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
            ("openblas_set_num_threads", "openblas_get_num_threads"))


def find():
    """``(sgemm address, 64 or 32, set-threads address, get-threads address)`` of the OpenBLAS NumPy uses, or
    None."""
    if "found" not in _FOUND:
        _FOUND["found"] = _search()
    return _FOUND["found"]


def _search():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    paths = [lib["filepath"] for lib in threadpool_info() if lib.get("internal_api") == "openblas"]
    for path in _numpys(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        threads = [(getattr(lib, a, None), getattr(lib, b, None)) for a, b in _THREADS]
        threads = [(a, b) for a, b in threads if a is not None and b is not None]
        for name, width in _SGEMM:
            fn = getattr(lib, name, None)
            if fn is not None and threads:
                return (_address(fn), width, _address(threads[0][0]), _address(threads[0][1]))
    return None


def _numpys(paths) -> list:
    """The library files of ``paths`` that NumPy's own wheel ships (``numpy.libs/``, ``numpy/...``). SciPy
    loads an OpenBLAS of its own, and threadpoolctl may list it first: holding that one at one thread left
    NumPy's at two (a worker spinning on the helpers' core in about half the processes, measured)."""
    import numpy

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__))), "numpy")
    return [p for p in paths if os.path.abspath(p).startswith(root)]


def hold() -> bool:
    """From Python: NumPy's OpenBLAS at one thread until the matching ``unhold`` (a call whose parallel work is
    Ember's own pool's: a small-batch inference call, a training step with Winograd convolutions). Holds nest
    and may come from several threads: the first takes the count, the last gives it back. Returns whether
    anything is held (False without OpenBLAS found)."""
    controls = _FOUND.get("py")
    if controls is None:
        controls = _FOUND["py"] = _python_controls()
    if not controls:
        return False
    cached_num_threads()  # found before the hold: asked inside it, BLAS would answer 1 for the whole process
    with _HOLD_LOCK:
        if _HOLD["depth"] == 0:
            _HOLD["old"] = controls[1]()
            if _HOLD["old"] > 1:
                controls[0](1)
        _HOLD["depth"] += 1
        QUIET["holds"] += 1  # (eager-style passes inside the step may then spread over the pool)
    return True


def unhold(held: bool) -> None:
    """End a ``hold`` (``held``: what it returned)."""
    if held:
        with _HOLD_LOCK:
            _HOLD["depth"] -= 1
            QUIET["holds"] -= 1
            if _HOLD["depth"] == 0 and _HOLD["old"] > 1:
                _FOUND["py"][0](_HOLD["old"])


class Held:
    """``with Held():`` a ``hold`` for the block."""

    __slots__ = ("held",)

    def __enter__(self):
        self.held = hold()
        return self

    def __exit__(self, *exc):
        unhold(self.held)


def _forget_after_fork():
    """A child forked during a hold has nobody to end it: its OpenBLAS gets the count back now."""
    global _HOLD_LOCK
    _HOLD_LOCK = threading.Lock()
    if _HOLD["depth"] and _FOUND.get("py") and _HOLD["old"] > 1:
        _FOUND["py"][0](_HOLD["old"])
    QUIET["holds"] -= _HOLD["depth"]
    _HOLD["depth"] = 0


def _python_controls():
    got = find()
    if got is None:
        return ()
    setter = ctypes.CFUNCTYPE(None, ctypes.c_int)(got[2])
    getter = ctypes.CFUNCTYPE(ctypes.c_int)(got[3])
    return setter, getter


def _address(fn) -> int:
    return ctypes.cast(fn, ctypes.c_void_p).value


def _call(builder, addr, ret, arg_types, args):
    fnty = ir.FunctionType(ret, arg_types)
    return builder.call(builder.inttoptr(addr, fnty.as_pointer()), args)


@intrinsic
def _sgemm(typingctx, addr, width, m, n, k, a, lda, b, ldb, c, ldc):
    """Row-major, no transposes: C (m, n) = A (m, k) @ B (k, n); int arguments as ``width``-bit ints."""
    sig = types.void(*([types.int64] * 11))

    def codegen(context, builder, sig, args):
        i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
        ptr = ir.IntType(8).as_pointer()
        fn, wide, dims, (pa, la, pb, lb, pc, lc) = args[0], args[1], args[2:5], args[5:]
        one, zero = ir.Constant(f32, 1.0), ir.Constant(f32, 0.0)
        enums = [ir.Constant(i32, 101), ir.Constant(i32, 111), ir.Constant(i32, 111)]  # RowMajor, NoTrans x2
        is64 = builder.icmp_signed("==", wide, ir.Constant(i64, 64))
        with builder.if_else(is64) as (then, otherwise):
            with then:
                _call(builder, fn, ir.VoidType(), [i32] * 3 + [i64] * 3 + [f32, ptr, i64, ptr, i64, f32, ptr, i64],
                      enums + list(dims) + [one, builder.inttoptr(pa, ptr), la, builder.inttoptr(pb, ptr), lb, zero,
                                            builder.inttoptr(pc, ptr), lc])
            with otherwise:
                small = [builder.trunc(v, i32) for v in (*dims, la, lb, lc)]
                _call(builder, fn, ir.VoidType(), [i32] * 6 + [f32, ptr, i32, ptr, i32, f32, ptr, i32],
                      enums + small[:3] + [one, builder.inttoptr(pa, ptr), small[3], builder.inttoptr(pb, ptr),
                                           small[4], zero, builder.inttoptr(pc, ptr), small[5]])
        return context.get_dummy_value()

    return sig, codegen


def sgemm(fn, width, m, n, k, a, lda, b, ldb, c, ldc):
    """(compiled only) C (m, n) = A (m, k) @ B (k, n), row-major, through the sgemm at ``fn``."""
    raise NotImplementedError("blas_calls.sgemm runs only inside numba-compiled code")


def _install():
    from numba.extending import overload

    @overload(sgemm, jit_options=dict(nogil=True))
    def _sgemm_impl(fn, width, m, n, k, a, lda, b, ldb, c, ldc):
        def impl(fn, width, m, n, k, a, lda, b, ldb, c, ldc):
            _sgemm(fn, width, m, n, k, a, lda, b, ldb, c, ldc)
        return impl


_install()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
