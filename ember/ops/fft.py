"""The FFT primitives under ``ember.fft`` (PyTorch's ``_fft_c2c``, ``_fft_r2c``, ``_fft_c2r``).

Each transforms whole axes ``dim`` (a tuple of non-negative ints): the public functions trim or zero-pad the
input to the signal sizes first (shape ops), so a primitive never resizes. ``norm`` is the scaling applied:
``"none"``, ``"sqrtn"`` (1/sqrt(n)) or ``"n"`` (1/n), n the product of the transformed signal sizes.
The array code is ``xp.fft`` (NumPy's pocketfft or CuPy's cuFFT) through ``backend.fft_of``.

The transforms are linear, so each vjp is another transform (PyTorch's formulas, autograd's conjugate
convention): c2c's is c2c the other way with the same scaling; r2c's (one-sided) zero-fills the missing half,
runs the inverse c2c and keeps the real part; c2r's is r2c of the gradient with the bins that stand for two
(1 .. n - n//2 - 1 on the last axis) doubled.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..dtypes import COMPLEX_SEEN, to_complex, to_real
from . import _tflite
from ._core import Aval, apply, register, unsupported
from ._rules import check_axes
from .complex import GRAPHS

# (forward exponent?, scaling) -> NumPy/CuPy's norm name for fftn (forward) or ifftn (inverse)
_XP_NORM = {(True, "none"): "backward", (True, "n"): "forward", (True, "sqrtn"): "ortho",
            (False, "none"): "forward", (False, "n"): "backward", (False, "sqrtn"): "ortho"}
NORMS = ("none", "sqrtn", "n")


def _check(op, x, dim, norm, want_complex):
    if norm not in NORMS:
        raise ValueError(f"{op}: norm must be one of {NORMS}, got {norm!r}")
    if want_complex and not x.dtype.is_complex:
        raise TypeError(f"{op}: expected a complex input, got {x.dtype.name}")
    if not want_complex and x.dtype.name not in ("float32", "float64"):
        raise TypeError(f"{op}: expected a float32 or float64 input, got {x.dtype.name}")
    axes = check_axes(op, x, dim)
    if tuple(axes) != tuple(dim) or len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim must be distinct non-negative dims, got {dim}")
    return axes


def _c2c_rule(x, dim, norm, forward):
    _check("fft_c2c", x, dim, norm, True)
    return Aval(x.shape, x.dtype, x.device)


def _r2c_rule(x, dim, norm):
    _check("fft_r2c", x, dim, norm, False)
    if not dim:
        raise ValueError("fft_r2c: must transform at least one axis")
    shape = list(x.shape)
    shape[dim[-1]] = None if shape[dim[-1]] is None else shape[dim[-1]] // 2 + 1
    return Aval(shape, to_complex(x.dtype), x.device)


def _c2r_rule(x, dim, norm, last_dim_size):
    _check("fft_c2r", x, dim, norm, True)
    if not dim:
        raise ValueError("fft_c2r: must transform at least one axis")
    n = x.shape[dim[-1]]
    if n is not None and n != last_dim_size // 2 + 1:
        raise ValueError(f"fft_c2r: the last transformed dim has {n} bins; an output of {last_dim_size} points "
                         f"needs {last_dim_size // 2 + 1}")
    shape = list(x.shape)
    shape[dim[-1]] = last_dim_size
    return Aval(shape, to_real(x.dtype), x.device)


def _c2c_fwd(xp, x, dim, norm, forward):
    if not dim:
        return x.copy()
    fft = backend.fft_of(xp)
    out = (fft.fftn if forward else fft.ifftn)(x, axes=dim, norm=_XP_NORM[forward, norm])
    return out.astype(x.dtype, copy=False)


def _r2c_fwd(xp, x, dim, norm):
    COMPLEX_SEEN[0] = True
    out = backend.fft_of(xp).rfftn(x, axes=dim, norm=_XP_NORM[True, norm])
    return out.astype(np.result_type(x.dtype, np.complex64), copy=False)


def _c2r_fwd(xp, x, dim, norm, last_dim_size):
    sizes = [x.shape[d] for d in dim[:-1]] + [last_dim_size]
    out = backend.fft_of(xp).irfftn(x, s=sizes, axes=dim, norm=_XP_NORM[False, norm])
    return out.astype(x.real.dtype, copy=False)


def _c2c_vjp(g, out, x, dim, norm, forward):
    return (apply("fft_c2c", g, dim=dim, norm=norm, forward=not forward),)


def _r2c_vjp(g, out, x, dim, norm):
    last, n = dim[-1], x.shape[dim[-1]]
    if g.shape[last] < n:  # the bins r2c left out (the conjugate half) had no part in the loss: zeros
        pads = tuple((0, n - g.shape[last]) if d == last else (0, 0) for d in range(g.ndim))
        g = apply("pad", g, pads=pads, value=0.0)
    return (apply("real", apply("fft_c2c", g, dim=dim, norm=norm, forward=False)),)


def _c2r_vjp(g, out, x, dim, norm, last_dim_size):
    gx = apply("fft_r2c", g, dim=dim, norm=norm)
    last, bins = dim[-1], x.shape[dim[-1]]
    doubled = last_dim_size - bins  # bins 1 .. doubled stand for themselves and their mirror image
    if doubled > 0:
        w = np.ones(bins, dtype=g._data.dtype)
        w[1:1 + doubled] = 2
        shape = tuple(bins if d == last else 1 for d in range(gx.ndim))
        xp = backend.xp_of(g._data)
        gx = gx * g.__class__._wrap(xp.asarray(w.reshape(shape)))
    return (gx,)


register("fft_c2c", _c2c_fwd, vjp=_c2c_vjp, infer=_c2c_rule, kind="complex", complex_ok=True)
register("fft_r2c", _r2c_fwd, vjp=_r2c_vjp, infer=_r2c_rule, kind="complex", complex_ok=True)
register("fft_c2r", _c2r_fwd, vjp=_c2r_vjp, infer=_c2r_rule, kind="complex", complex_ok=True)

NAMES = ("fft_c2c", "fft_r2c", "fft_c2r")
for _name in NAMES:
    unsupported(_name, "onnx", GRAPHS)
_tflite.mark(NAMES, GRAPHS)
