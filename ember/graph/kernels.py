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

from . import opinfo

PARALLEL_MIN = int(os.environ.get("EMBER_JIT_PARALLEL_MIN", 1 << 62))  # off: see module doc
_CACHE: dict = {}

_PY = {
    "neg": "-{0}",
    "exp": "np.exp({0})",
    "log": "np.log({0})",
    "sin": "np.sin({0})",
    "cos": "np.cos({0})",
    "tanh": "np.tanh({0})",
    "sqrt": "np.sqrt({0})",
    "abs": "abs({0})",
    "sign": "np.sign({0})",
    "floor": "np.floor({0})",
    "ceil": "np.ceil({0})",
    "round": "np.rint({0})",
    "trunc": "np.trunc({0})",
    "erf": "math.erf({0})",
    "logical_not": "not {0}",
    "sigmoid": "_sigmoid({0})",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "pow": "{0} ** {1}",
    "maximum": "np.maximum({0}, {1})",
    "minimum": "np.minimum({0}, {1})",
    "floordiv": "np.floor_divide({0}, {1})",
    "remainder": "np.remainder({0}, {1})",
    "eq": "{0} == {1}",
    "ne": "{0} != {1}",
    "lt": "{0} < {1}",
    "le": "{0} <= {1}",
    "gt": "{0} > {1}",
    "ge": "{0} >= {1}",
    "logical_and": "bool({0}) and bool({1})",
    "logical_or": "bool({0}) or bool({1})",
    "logical_xor": "bool({0}) != bool({1})",
    "where": "{1} if {0} else {2}",
}

_CU = {
    "neg": "-{0}",
    "exp": "exp({0})",
    "log": "log({0})",
    "sin": "sin({0})",
    "cos": "cos({0})",
    "tanh": "tanh({0})",
    "sqrt": "sqrt({0})",
    "abs": "abs({0})",
    "erf": "erf({0})",
    "sign": "(({0} > 0) - ({0} < 0))",
    "floor": "floor({0})",
    "ceil": "ceil({0})",
    "round": "rint({0})",
    "trunc": "trunc({0})",
    "logical_not": "!{0}",
    "sigmoid": "({0} >= 0 ? 1 / (1 + exp(-{0})) : exp({0}) / (1 + exp({0})))",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "pow": "pow({0}, {1})",
    "maximum": "({0} != {0} || {0} > {1} ? {0} : {1})",
    "minimum": "({0} != {0} || {0} < {1} ? {0} : {1})",
    "eq": "{0} == {1}",
    "ne": "{0} != {1}",
    "lt": "{0} < {1}",
    "le": "{0} <= {1}",
    "gt": "{0} > {1}",
    "ge": "{0} >= {1}",
    "logical_and": "{0} && {1}",
    "logical_or": "{0} || {1}",
    "logical_xor": "(!{0}) != (!{1})",
    "where": "({0} ? {1} : {2})",
}

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
    table = _PY if device == "cpu" else _CU
    nodes = split_reduction(body)[0]
    return all(n.op in table or n.op == "cast" for n in nodes)


def split_reduction(body):
    """(elementwise nodes, trailing reduction node or None)."""
    nodes = list(body.nodes)
    if nodes and nodes[-1].op in opinfo.REDUCTIONS:
        return nodes[:-1], nodes[-1]
    return nodes, None


def _body_lines(body, table, cast_fmt):
    """Statements computing the elementwise part; returns (lines, name of the result, constants)."""
    names, consts = {}, {}
    for i, v in enumerate(body.inputs):
        names[v] = f"a{i}"
    for i, (v, arr) in enumerate(body.constants.items()):
        names[v] = f"c{i}"
        consts[f"c{i}"] = np.asarray(arr).reshape(())[()] if device_neutral(arr) else arr
    nodes, _ = split_reduction(body)
    lines = []
    for j, node in enumerate(nodes):
        out = f"t{j}"
        args = [names[v] for v in node.inputs]
        if node.op == "cast":
            expr = cast_fmt(node.attrs["dtype"], args[0])
        else:
            expr = table[node.op].format(*args)
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


def _py_cast(dtype, a):
    return f"({a} != 0)" if dtype == "bool" else f"np.{dtype}({a})"


class CpuKernel:
    """A fused body compiled by numba; ``ufunc(size)`` is the ufunc to call for an output of ``size``."""

    def __init__(self, body):
        lines, result, consts, _ = _body_lines(body, _PY, _py_cast)
        args = ", ".join(f"a{i}" for i in range(len(body.inputs)))
        src = [f"def kernel({args}):"] + [f"    {o} = {e}" for o, e, _ in lines] + [f"    return {result}"]
        self.source = "\n".join(src)
        self._ns = {"np": np, "math": math, "_sigmoid": _sigmoid_scalar(), **consts}
        exec(self.source, self._ns)  # generated from the IR above, no user text
        elementwise, _ = split_reduction(body)
        out_dt = elementwise[-1].outputs[0].dtype if elementwise else body.inputs[0].dtype
        ins = ", ".join(_NB_TYPES.get(v.dtype, v.dtype) for v in body.inputs)
        self.signature = f"{_NB_TYPES.get(out_dt, out_dt)}({ins})"
        self.out_dtype = out_dt
        self._ufuncs: dict = {}

    def ufunc(self, size=None):
        target = "parallel" if size is not None and size >= PARALLEL_MIN else "cpu"
        if target not in self._ufuncs:
            import numba

            fn = numba.vectorize([self.signature], target=target)(self._ns["kernel"])
            self._ufuncs[target] = getattr(fn, "ufunc", fn)
        return self._ufuncs[target]


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
    arr = np.asarray(value)
    return f"(({_C_TYPES[opinfo.dtype_name(arr.dtype)]}){arr.item()!r})".replace("True", "1").replace(
        "False", "0"
    )


class CudaKernel:
    """A fused body as a ``cupy.ElementwiseKernel`` (built through ``ember.backend``)."""

    def __init__(self, body):
        from .. import backend

        cp = backend.require_cupy("a fused CUDA kernel")
        lines, result, consts, _ = _body_lines(body, _CU, lambda dt, a: f"(({_C_TYPES[dt]})({a}))")
        elementwise, _ = split_reduction(body)
        self.out_dtype = elementwise[-1].outputs[0].dtype if elementwise else body.inputs[0].dtype
        decl = [f"const {_C_TYPES[dt]} {o} = {e};" for o, e, dt in lines]
        op = "\n".join(decl + [f"out = {result};"])
        for name, val in consts.items():
            op = re.sub(rf"\b{name}\b", _c_literal(val), op)
        ins = ", ".join(f"{_CU_TYPES[v.dtype]} a{i}" for i, v in enumerate(body.inputs))
        self.source = op
        self.kernel = cp.ElementwiseKernel(ins, f"{_CU_TYPES[self.out_dtype]} out", op, "ember_fused")

    def ufunc(self, size=None):
        return self.kernel


def get_kernel(body, device: str = "cpu"):
    """The compiled kernel for a fused body, cached by its printed form."""
    key = (device, str(body))
    k = _CACHE.get(key)
    if k is None:
        k = _CACHE[key] = CpuKernel(body) if device == "cpu" else CudaKernel(body)
    return k
