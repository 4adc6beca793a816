"""Scalar float32 math for numba loops, shared by the compiled executor's fused kernels (``graph/kernels.py``)
and eager primitives (``backend.erf``); backend layer: it imports no ember module, and numba only when called.

>>> import numpy as np
>>> from ember._jit_math import erf32_ufunc
>>> f = erf32_ufunc()
>>> f is None or abs(float(f(np.float32(1.0))) - 0.8427007) < 1e-6
True
"""
from __future__ import annotations

import math
import os

import numpy as np

_JIT: dict = {}


def erf32_scalar():
    """float32 erf without libm calls or data-dependent branches (LLVM turns the ufunc loop into SIMD code).

    |x| >= 0.5: Abramowitz & Stegun 7.1.28, 1 - (1 + a1 z + ... + a6 z^6)^-16, evaluated in float64
    (|error| <= 3.5e-7, relative <= 7e-7 there); |x| < 0.5: the Maclaurin series of ``backend._erf_fast32``.
    NaN propagates; +-inf give +-1. The fast-math flags exclude no-NaN/no-inf assumptions."""
    fn = _JIT.get("_erf32")
    if fn is None:
        import numba

        f32 = np.float32

        @numba.njit(inline="always", fastmath={"contract", "arcp", "reassoc", "afn"})
        def erf32(x):
            z = abs(x)
            z2 = z * z
            zd = np.float64(z)
            p = 1.0 + zd * (0.0705230784 + zd * (0.0422820123 + zd * (0.0092705272 + zd * (
                0.0001520143 + zd * (0.0002765672 + zd * 0.0000430638)))))
            q = 1.0 / p
            q = q * q
            q = q * q
            q = q * q
            q = q * q
            r = f32(1.0 - q)
            zs = min(z2, f32(0.25))
            s = f32(-1.4925650248187594e-05)
            s = s * zs + f32(0.00012055332626914605)
            s = s * zs + f32(-0.0008548327023163438)
            s = s * zs + f32(0.005223977845162153)
            s = s * zs + f32(-0.02686617150902748)
            s = s * zs + f32(0.11283791810274124)
            s = s * zs + f32(-0.37612637877464294)
            s = s * zs + f32(1.128379225730896)
            r = s * z if z2 < f32(0.25) else r
            return math.copysign(r, x)

        fn = _JIT["_erf32"] = erf32
    return fn


def exp32_scalar():
    """float32 exp as plain float32 arithmetic, so a contiguous ufunc loop vectorizes (8 or 16 lanes):
    exp(x) = 2^k exp(r), k = round(x / ln 2) (the 1.5 * 2^23 rounding trick), r = x - k ln 2 with ln 2 split
    in two parts (Cody and Waite) so r is exact to float32, exp(r) by its degree-7 Taylor polynomial
    (|r| <= ln(2)/2: within 1.2 ulp of the true value, NumPy's expf 0.5), 2^k as two exponent-bit factors so
    results reach the subnormal range and overflow to inf. x is clamped to [-104, 89] first; NaN passes
    through. 1.8x faster than the float64 form it replaced (1M values: 432 vs 761 us)."""
    fn = _JIT.get("_exp32")
    if fn is None:
        import numba
        from llvmlite import ir
        from numba import types
        from numba.extending import intrinsic

        @intrinsic
        def bits_to_f32(typingctx, x):
            def codegen(context, builder, sig, args):
                return builder.bitcast(args[0], ir.FloatType())

            return types.float32(types.int32), codegen

        @intrinsic
        def f32_bits(typingctx, x):
            def codegen(context, builder, sig, args):
                return builder.bitcast(args[0], ir.IntType(32))

            return types.int32(types.float32), codegen

        f32 = np.float32
        magic = f32(12582912.0)  # 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits
        log2e = f32(1.4426950408889634)
        ln2_hi, ln2_lo = f32(0.693145751953125), f32(1.428606765330187e-06)  # ln2_hi has 8 zero low bits
        low, high = f32(-104.0), f32(89.0)
        c = [f32(1.0 / math.factorial(i)) for i in range(8)]
        c2, c3, c4, c5, c6, c7 = c[2:]
        one = f32(1.0)

        # no "reassoc": it lets LLVM fold (v * log2e + magic) - magic into v * log2e, losing the rounding
        @numba.njit(inline="always", fastmath={"contract", "arcp", "afn"})
        def exp32(x):
            v = min(max(x, low), high)
            kf = v * log2e + magic
            k = kf - magic
            r = (v - k * ln2_hi) - k * ln2_lo
            p = ((((((c7 * r + c6) * r + c5) * r + c4) * r + c3) * r + c2) * r + one) * r + one
            n = f32_bits(kf) - f32_bits(magic)  # k as an integer, in [-150, 129]
            half = n >> 1
            y = p * bits_to_f32((half + 127) << 23) * bits_to_f32((n - half + 127) << 23)
            return y if x == x else x

        fn = _JIT["_exp32"] = exp32
    return fn


def numba_or_none():
    """The numba module, or None when it is not installed or ``EMBER_NO_JIT`` is set (every numba loop of the
    eager primitives asks here, so one variable turns them all off)."""
    if "numba" not in _JIT:
        mod = None
        if not os.environ.get("EMBER_NO_JIT"):
            try:
                import numba as mod
            except ImportError:
                mod = None
        _JIT["numba"] = mod
    return _JIT["numba"]


def loop_jit(fn, reassoc=False, inline=False, contract=False, numpy_errors=False):
    """``fn`` compiled with numba for the eager primitives' loops (``nogil``, no bounds checks, cached on disk
    where the install is writable: a cached build saves the compile per process), or None without numba.
    ``reassoc``: LLVM may reorder the float sums (so a reduction vectorizes: 4-8x faster; the order, and so
    the bits, are fixed by the compiled code, not by the data). ``contract``: a multiply and an add may fuse
    into one FMA (one rounding instead of two; the GEMM loop's throughput). ``inline``: a helper inlined into
    the loops that call it (a called helper measured 1.5x slower in the max-pool loop). ``numpy_errors``: a
    float division by zero gives inf/nan as in NumPy instead of raising (the check's branch keeps a loop with a
    division from vectorizing: the LSTM cell's tanh 83 -> 8.5 us for 32K values)."""
    numba = numba_or_none()
    if numba is None:
        return None
    math = ({"reassoc"} if reassoc else set()) | ({"contract"} if contract else set())
    flags = ({"fastmath": math} if math else {}) | ({"inline": "always"} if inline else {})
    flags |= {"error_model": "numpy"} if numpy_errors else {}
    try:
        return numba.njit(cache=True, nogil=True, boundscheck=False, **flags)(fn)
    except RuntimeError:  # a read-only install cannot cache
        return numba.njit(nogil=True, boundscheck=False, **flags)(fn)


def erf32_ufunc():
    """``erf32_scalar`` as a float32 ufunc (a SIMD loop, ~8x faster than SciPy's float32 erf, which computes
    in float64), or None without numba or with ``EMBER_NO_JIT`` set."""
    if "erf32_ufunc" not in _JIT:
        numba, fn = numba_or_none(), None
        if numba is not None:
            scalar = erf32_scalar()

            def erf(x):
                return scalar(x)

            fn = numba.vectorize(["float32(float32)"])(erf)
        _JIT["erf32_ufunc"] = fn
    return _JIT["erf32_ufunc"]


def gelu32_loops():
    """``(gelu, gelu_vjp)`` float32 loops over flat contiguous arrays: ``gelu(x, out)``, ``out = x * Phi(x)``
    (Phi the normal CDF through ``erf32_scalar``), and ``gelu_vjp(g, x, y, out)``, ``out = g * (Phi(x) + x *
    phi(x))`` given ``y = gelu(x)``: Phi is read back as y / x (0.5 + x / sqrt(2 pi) for |x| < 1e-3), so the
    gradient needs exp (``exp32_scalar``) but no second erf (1.6 -> 0.65 ms for 1M values). One SIMD pass
    each where the composite made five and ten; or None without numba or with ``EMBER_NO_JIT``. Loops, not
    ufuncs: numba's two-operand ufunc of erf and exp together fell back to scalar code (14.9 ms for 1M)."""
    if "gelu32" not in _JIT:
        numba, pair = numba_or_none(), None
        if numba is not None:
            erf, exp = erf32_scalar(), exp32_scalar()
            f32 = np.float32
            half, one, root_half, small = f32(0.5), f32(1.0), f32(1 / math.sqrt(2.0)), f32(1e-3)
            inv_root_2pi = f32(1 / math.sqrt(2 * math.pi))

            def gelu(x, out):
                for i in range(out.size):
                    v = x[i]
                    out[i] = v * (half * (one + erf(v * root_half)))

            def gelu_vjp(g, x, y, out):
                for i in range(out.size):
                    v = x[i]
                    cdf = y[i] / v if abs(v) >= small else half + v * inv_root_2pi
                    out[i] = g[i] * (cdf + v * (exp(-half * v * v) * inv_root_2pi))

            pair = (loop_jit(gelu, numpy_errors=True), loop_jit(gelu_vjp, numpy_errors=True))
        _JIT["gelu32"] = pair
    return _JIT["gelu32"]
