"""Fused elementwise kernels: a ``fused`` node's body turned into one compiled loop.

CPU: the body becomes a scalar Python function that numba compiles into a NumPy ufunc (``numba.vectorize``),
so broadcasting and ``out=`` work as for any ufunc; large arrays use numba's parallel target (2 threads pay
only above ``PARALLEL_MIN`` elements). numba is the optional ``jit`` extra: without it, fused nodes are not
made (``jit_available()`` is False) and the executor runs plain NumPy.
GPU: the body becomes a CUDA C expression list for ``cupy.ElementwiseKernel`` (through ``backend``).

A trailing reduction runs after the elementwise kernel, through ``xp.sum/max/min/prod`` with ``out=``.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from .._jit_math import erf32_scalar
from .._jit_math import exp32_scalar as _exp32_scalar
from . import opinfo

PARALLEL_MIN = int(os.environ.get("EMBER_JIT_PARALLEL_MIN", 1 << 62))  # off: see module doc
_CACHE: dict = {}
LOOP_BLOCK = 1024  # elements per stack block of CpuKernel.block_loop (4-8 KiB: stays in L1)

# Each op's kernel form is on its definition (``ember/ops``): ``op.lowering("numba")`` (a scalar Python
# expression numba compiles) and ``op.lowering("cuda")`` (a CUDA C expression), a format string over the
# operands or a callable ``form(kctx, node, args)`` when it depends on a dtype.
_TARGET = {"cpu": "numba", "cuda": "cuda"}


def kernel_form(op: str, device: str = "cpu"):
    from ..ops import REGISTRY

    prim = REGISTRY.get(op)
    return None if prim is None else prim.lowering(_TARGET["cpu" if device == "cpu" else "cuda"])


class _KernelCtx:
    """What a callable kernel form may ask: the SIMD variant, C type names."""

    def __init__(self, simd=False):
        self.simd = simd

    @staticmethod
    def c_type(dtype: str) -> str:
        return _C_TYPES[dtype]


_CU_TYPES = {
    "float16": "float16",
    "float32": "float32",
    "float64": "float64",
    "bool": "bool",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
}


def jit_available(device: str = "cpu") -> bool:
    """Whether fused kernels can be compiled for ``device`` (numba on CPU, CuPy on CUDA)."""
    if device != "cpu":
        from .. import backend

        return backend.cuda_available()
    if os.environ.get("EMBER_NO_JIT"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def supported(body, device: str = "cpu") -> bool:
    """Whether every node of a fused body has a kernel form (the trailing reduction runs separately)."""
    nodes = split_reduction(body)[0]
    # bfloat16 has no numba type and only experimental CuPy kernel support: those bodies run unfused
    if any(v.dtype in _UNFUSED_DTYPES for n in body.nodes for v in (*n.inputs, *n.outputs)):
        return False
    if device != "cpu" and _half_inside_only(body, nodes):
        return False
    return all(kernel_form(n.op, device) is not None for n in nodes)


def _half_inside_only(body, nodes) -> bool:
    """A float16 value inside a CUDA body whose parameters are all other types: CuPy adds its float16 header
    only for float16 parameters, so such a body would not compile; it runs unfused."""
    inside = any(v.dtype == "float16" for n in nodes for v in (*n.inputs, *n.outputs))
    out = nodes[-1].outputs[0].dtype if nodes else body.inputs[0].dtype
    return inside and out != "float16" and all(v.dtype != "float16" for v in body.inputs)


_UNFUSED_DTYPES = ("bfloat16",)


def split_reduction(body):
    """(elementwise nodes, trailing reduction node or None)."""
    nodes = list(body.nodes)
    if nodes and nodes[-1].op in opinfo.REDUCTIONS:
        return nodes[:-1], nodes[-1]
    return nodes, None


def _body_lines(body, device, simd=False):
    """Statements computing the elementwise part; returns (lines, name of the result, constants)."""
    names, consts = {}, {}
    for i, v in enumerate(body.inputs):
        names[v] = f"a{i}"
    for i, (v, arr) in enumerate(body.constants.items()):
        names[v] = f"c{i}"
        consts[f"c{i}"] = np.asarray(arr).reshape(())[()] if device_neutral(arr) else arr
    nodes, _ = split_reduction(body)
    lines, kctx = [], _KernelCtx(simd)
    for j, node in enumerate(nodes):
        out = f"t{j}"
        args = [names[v] for v in node.inputs]
        form = kernel_form(node.op, device)
        expr = form(kctx, node, args) if callable(form) else form.format(*args)
        lines.append((out, expr, node.outputs[0].dtype))
        names[node.outputs[0]] = out
    result = names[nodes[-1].outputs[0]] if nodes else names[body.inputs[0]]
    return lines, result, consts, names


def device_neutral(arr) -> bool:
    return isinstance(arr, (np.ndarray, np.generic))


_NB_TYPES = {"bool": "boolean"}
_C_TYPES = {
    "float16": "float16",
    "float32": "float",
    "float64": "double",
    "bool": "bool",
    "int8": "signed char",
    "int16": "short",
    "int32": "int",
    "int64": "long long",
    "uint8": "unsigned char",
}


class CpuKernel:
    """A fused body compiled by numba; ``ufunc(size)`` is the ufunc to call for an output of ``size``."""

    def __init__(self, body):
        self.source, self._ns = self._make(body, simd=False)
        # a second form for unbroadcast (contiguous) operands, whose ufunc loop LLVM vectorizes: float32 exp
        # as a branch-free polynomial (~3x faster there; ~2x slower than libm's expf in a strided loop)
        simd_src, simd_ns = self._make(body, simd=True)
        self._simd = (simd_src, simd_ns) if simd_src != self.source else None
        elementwise, _ = split_reduction(body)
        out_dt = elementwise[-1].outputs[0].dtype if elementwise else body.inputs[0].dtype
        ins = ", ".join(_NB_TYPES.get(v.dtype, v.dtype) for v in body.inputs)
        self.signature = f"{_NB_TYPES.get(out_dt, out_dt)}({ins})"
        self.out_dtype = out_dt
        self._ufuncs: dict = {}
        self._loops: dict = {}

    @staticmethod
    def _make(body, simd):
        lines, result, consts, _ = _body_lines(body, "cpu", simd=simd)
        args = ", ".join(f"a{i}" for i in range(len(body.inputs)))
        src = [f"def kernel({args}):"] + [f"    {o} = {e}" for o, e, _ in lines] + [f"    return {result}"]
        source = "\n".join(src)
        ns = {"np": np, "math": math, "_sigmoid": _sigmoid_scalar(), "_erf32": erf32_scalar(), **consts}
        if simd:
            ns["_exp32"] = _exp32_scalar()
        exec(source, ns)  # generated from the IR above, no user text
        return source, ns

    def block_loop(self, scalars):
        """An njit loop ``run(out, *operands)`` over 1-D contiguous arrays, operand ``i`` a plain scalar when
        ``scalars[i]``: for bodies with 0-d operands, which a ufunc runs through its strided (scalar) loop.

        Results go through a small stack block, so writing into an operand (an in-place optimizer update)
        keeps the vectorized loop: LLVM falls back to scalar code when ``out`` may alias an operand. NumPy's
        error model: a division by zero gives inf/nan instead of a branch that blocks vectorizing.
        """
        key = tuple(scalars)
        if key not in self._loops:
            import numba

            ns = dict(self._simd[1] if self._simd is not None else self._ns)
            ns["kernel"] = numba.njit(inline="always", error_model="numpy")(ns["kernel"])
            refs = ", ".join(f"a{i}" if sc else f"b{i}[i]" for i, sc in enumerate(scalars))
            args = ", ".join(f"a{i}" for i in range(len(scalars)))
            # per-block slices indexed by the loop counter: no negative-index checks, so LLVM vectorizes
            views = "".join(f"        b{i} = a{i}[s:s + m]\n" for i, sc in enumerate(scalars) if not sc)
            src = (
                f"def run(out, {args}):\n"
                f"    block = np.empty({LOOP_BLOCK}, out.dtype)\n"
                f"    for s in range(0, out.size, {LOOP_BLOCK}):\n"
                f"        m = min({LOOP_BLOCK}, out.size - s)\n"
                f"        dst = out[s:s + m]\n{views}"
                f"        for i in range(m):\n"
                f"            block[i] = kernel({refs})\n"
                f"        for i in range(m):\n"
                f"            dst[i] = block[i]\n"
            )
            exec(src, ns)  # generated from the body's arity, no user text
            # nogil: the executor runs chunks of one call on several threads (``cores``)
            self._loops[key] = numba.njit(error_model="numpy", nogil=True)(ns["run"])
        return self._loops[key]

    def ufunc(self, size=None, contiguous=False):
        """The ufunc; ``contiguous``: every operand has the output's shape (no broadcasting)."""
        target = "parallel" if size is not None and size >= PARALLEL_MIN else "cpu"
        simd = bool(contiguous and self._simd is not None)
        key = (target, simd)
        if key not in self._ufuncs:
            import numba

            ns = self._simd[1] if simd else self._ns
            fn = numba.vectorize([self.signature], target=target)(ns["kernel"])
            self._ufuncs[key] = getattr(fn, "ufunc", fn)
        return self._ufuncs[key]


def _sigmoid_scalar():
    fn = _CACHE.get("_sigmoid")
    if fn is None:
        import numba

        @numba.njit(inline="always")
        def sigmoid(x):  # the same split-by-sign form as the eager primitive
            e = np.exp(-abs(x))
            return 1 / (1 + e) if x >= 0 else e / (1 + e)

        fn = _CACHE["_sigmoid"] = sigmoid
    return fn


def _c_literal(value) -> str:
    """A typed C literal; non-finite floats spelled through their bit patterns (``inf`` is not C)."""
    arr = np.asarray(value.get() if hasattr(value, "get") else value)  # a CuPy constant: its host copy
    ctype = _C_TYPES[opinfo.dtype_name(arr.dtype)]
    if arr.dtype.kind == "f" and not np.isfinite(arr):
        bits = ("__int_as_float(0x7fc00000)" if np.isnan(arr) else
                f"{'-' if arr < 0 else ''}__int_as_float(0x7f800000)")
        return f"(({ctype})({bits}))"
    return f"(({ctype}){arr.item()!r})".replace("True", "1").replace("False", "0")


_CU_COMPUTE = {"float16": "float"}  # half values are computed in float (CUDA's math has no half overloads)


class CudaKernel:
    """A fused body as a ``cupy.ElementwiseKernel`` (built through ``ember.backend``)."""

    def __init__(self, body):
        from .. import backend

        cp = backend.require_cupy("a fused CUDA kernel")
        ins, outs, op, self.out_dtype = self.generate(body)
        self.source = op
        self.kernel = cp.ElementwiseKernel(ins, outs, op, "ember_fused")

    @staticmethod
    def generate(body):
        """(in_params, out_params, operation, out_dtype): the ElementwiseKernel's source, made without a GPU
        (tests compile it with NVRTC where CuPy's headers and NVRTC are installed)."""
        lines, result, consts, _ = _body_lines(body, "cuda")
        elementwise, _ = split_reduction(body)
        out_dtype = elementwise[-1].outputs[0].dtype if elementwise else body.inputs[0].dtype
        # float16 operands are read into float temporaries; casts to float16 still round (float16)(x)
        half = [i for i, v in enumerate(body.inputs) if v.dtype in _CU_COMPUTE]

        def widen(expr):
            for i in half:
                expr = re.sub(rf"\ba{i}\b", f"h{i}", expr)
            return expr

        decl = [f"const float h{i} = (float)a{i};" for i in half]
        decl += [f"const {_CU_COMPUTE.get(dt, _C_TYPES[dt])} {o} = {widen(e)};" for o, e, dt in lines]
        op = "\n".join(decl + [f"out = {widen(result)};"])
        for name, val in consts.items():  # float16 constants join float arithmetic as floats (exact)
            op = re.sub(rf"\b{name}\b", _c_literal(val).replace("((float16)", "((float)"), op)
        ins = ", ".join(f"{_CU_TYPES[v.dtype]} a{i}" for i, v in enumerate(body.inputs))
        return ins, f"{_CU_TYPES[out_dtype]} out", op, out_dtype

    def ufunc(self, size=None):
        return self.kernel


def kernel_key(body, device: str = "cpu"):
    """What a fused body's kernel depends on: its statements (ops, dtypes, constants' values) and operand
    dtypes, not its shapes. A ufunc broadcasts any shapes, so one swish or Adam-update kernel serves every
    layer (EfficientNetB0's train step: 1459 fused nodes, 513 distinct printed bodies, 40 kernels)."""
    if not all(device_neutral(a) for a in body.constants.values()):
        return (device, str(body))  # device arrays as constants: keep them apart
    lines, result, consts, _ = _body_lines(body, device)
    simd = tuple(_body_lines(body, device, simd=True)[0]) if device == "cpu" else None
    values = tuple((name, v.dtype.str, v.tobytes()) for name, v in ((n, np.asarray(c)) for n, c in consts.items()))
    return (device, tuple(lines), result, simd, values, tuple(v.dtype for v in body.inputs))


def get_kernel(body, device: str = "cpu"):
    """The compiled kernel for a fused body, cached by ``kernel_key`` (compiled once per distinct body)."""
    key = kernel_key(body, device)
    k = _CACHE.get(key)
    if k is None:
        k = _CACHE[key] = CpuKernel(body) if device == "cpu" else CudaKernel(body)
    return k
