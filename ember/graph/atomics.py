"""Atomic operations on an int64 array for numba-compiled loops (``infer_pool``'s hand-off between threads), as
numba intrinsics over LLVM's atomic instructions: no C extension, no OpenMP.

- ``load(a, i)`` / ``store(a, i, v)``: sequentially consistent load and store of ``a[i]`` (the compiler may
  not hoist them out of a spin loop, nor move other memory accesses across them);
- ``add(a, i, v)``: ``a[i] += v`` as one atomic step, returns the old value;
- ``cas(a, i, expected, new)``: ``a[i] = new`` if ``a[i] == expected``, as one atomic step; returns the old value
  (the swap happened when it equals ``expected``);
- ``relax()``: a spin-wait hint (x86 ``pause``; nothing elsewhere); ``ticks()``: the CPU's time-stamp counter
  on x86-64 (0 elsewhere: callers then count iterations); ``yield_cpu()``: ``sched_yield`` (POSIX); ``cpu_now()``: this
  thread's CPU (Linux; -1 elsewhere);
  ``f32_at(addr)`` / ``f64_at(addr)`` / ``i64_at(addr)``: an address as a typed pointer (for ``numba.carray``);
  ``at_like(arr, addr)``: the same, typed as a pointer to ``arr``'s dtype.

>>> import numpy as np, numba
>>> from ember.graph import atomics
>>> @numba.njit
... def bump(a):
...     old = atomics.add(a, 0, 5)
...     return old, atomics.cas(a, 0, 5, 7), atomics.load(a, 0)
>>> bump(np.zeros(1, np.int64))
(0, 5, 7)
"""
from __future__ import annotations

import os
import platform
import sys

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

X86 = platform.machine().lower() in ("x86_64", "amd64")
POSIX = os.name == "posix"
LINUX = sys.platform.startswith("linux")
_ORDER = "seq_cst"


def _slot(context, builder, sig, args):
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])


def _check(arr):
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        raise TypeError("atomics work on 1-d int64 arrays")


@intrinsic
def load(typingctx, arr, idx):
    _check(arr)

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_slot(context, builder, sig, args), _ORDER, 8)

    return types.int64(arr, types.intp), codegen


@intrinsic
def store(typingctx, arr, idx, val):
    _check(arr)

    def codegen(context, builder, sig, args):
        value = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(value, _slot(context, builder, sig, args), _ORDER, 8)
        return context.get_dummy_value()

    return types.none(arr, types.intp, types.int64), codegen


@intrinsic
def add(typingctx, arr, idx, val):
    _check(arr)

    def codegen(context, builder, sig, args):
        value = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", _slot(context, builder, sig, args), value, _ORDER)

    return types.int64(arr, types.intp, types.int64), codegen


@intrinsic
def cas(typingctx, arr, idx, expected, new):
    _check(arr)

    def codegen(context, builder, sig, args):
        old = context.cast(builder, args[2], sig.args[2], types.int64)
        value = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(_slot(context, builder, sig, args), old, value, _ORDER, _ORDER)
        return builder.extract_value(pair, 0)

    return types.int64(arr, types.intp, types.int64, types.int64), codegen


@intrinsic
def relax(typingctx):
    def codegen(context, builder, sig, args):
        if X86:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def ticks(typingctx):
    def codegen(context, builder, sig, args):
        if not X86:
            return ir.Constant(ir.IntType(64), 0)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(64), []),
                                            "llvm.readcyclecounter")
        return builder.call(fn, [])

    return types.int64(), codegen


@intrinsic
def yield_cpu(typingctx):
    """``sched_yield()`` on POSIX (another runnable thread on this core goes first); nothing elsewhere."""

    def codegen(context, builder, sig, args):
        if POSIX:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def cpu_now(typingctx):
    """The CPU this thread runs on now (``sched_getcpu``, Linux), -1 elsewhere."""

    def codegen(context, builder, sig, args):
        if not LINUX:
            return ir.Constant(ir.IntType(64), -1)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), "sched_getcpu")
        return builder.sext(builder.call(fn, []), ir.IntType(64))

    return types.int64(), codegen


def _pointer(typingctx, addr, dtype):
    """An intrinsic body: the int64 address ``addr`` as a pointer to ``dtype`` (for ``numba.carray``)."""

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return types.CPointer(dtype)(types.int64), codegen


@intrinsic
def f32_at(typingctx, addr):
    return _pointer(typingctx, addr, types.float32)


@intrinsic
def f64_at(typingctx, addr):
    return _pointer(typingctx, addr, types.float64)


@intrinsic
def i64_at(typingctx, addr):
    return _pointer(typingctx, addr, types.int64)


@intrinsic
def at_like(typingctx, arr, addr):
    if not isinstance(arr, types.Array):
        raise TypeError("at_like takes an array (for its dtype) and an address")
    sig, body = _pointer(typingctx, addr, arr.dtype)

    def codegen(context, builder, sig_, args):
        return body(context, builder, sig, args[1:])

    return types.CPointer(arr.dtype)(arr, types.int64), codegen
