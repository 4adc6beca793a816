"""Complex-number primitives: the parts of a complex tensor and the ways between complex and real layouts.

``real``/``imag`` (views of the parts, as PyTorch's), ``complex(re, im)``, ``conj``, ``view_as_real`` (the
``(..., 2)`` float view) and ``view_as_complex``. Each is linear over the reals, so each vjp is another of
them. Gradients follow PyTorch's convention: for a real loss L of z = x + iy, the gradient is dL/dx + i dL/dy
(the conjugate Wirtinger derivative times two), so a real-valued parameter's gradient is the real part.

Which other ops take complex inputs is a fact on each op (``Op.complex_ok``); ``ops.apply`` refuses complex
inputs to the rest, naming the op. Complex tensors never enter compiled graphs or exports (a graph break).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..dtypes import COMPLEX_SEEN, to_complex, to_real
from . import _tflite
from ._core import Aval, apply, register, unsupported
from ._rules import broadcast_shapes
from .elementwise import unbroadcast

GRAPHS = "complex tensors stay eager: compiled graphs and exported models hold real dtypes only"


def _complex_input(op, x):
    if not x.dtype.is_complex:
        raise TypeError(f"{op}: expected a complex tensor, got {x.dtype.name}")
    return x


def _float_pair(op, *xs):
    for x in xs:
        if x.dtype.name not in ("float32", "float64"):
            raise TypeError(f"{op}: expected float32 or float64 tensors (Ember has complex64 and complex128 only), "
                            f"got {x.dtype.name}")
    if len({x.dtype.name for x in xs}) > 1:
        raise TypeError(f"{op}: expected both parts of one dtype, got {' and '.join(x.dtype.name for x in xs)}")
    return xs[0]


def _part_rule(op):
    def rule(x):
        _complex_input(op, x)
        return Aval(x.shape, to_real(x.dtype), x.device)

    return rule


def _complex_rule(re, im):
    _float_pair("complex", re, im)
    return Aval(broadcast_shapes("complex", re.shape, im.shape), to_complex(re.dtype), re.device)


def _view_as_real_rule(x):
    _complex_input("view_as_real", x)
    return Aval(tuple(x.shape) + (2,), to_real(x.dtype), x.device)


def _view_as_complex_rule(x):
    _float_pair("view_as_complex", x)
    if x.ndim == 0 or (x.shape[-1] is not None and x.shape[-1] != 2):
        raise ValueError(f"view_as_complex: the tensor must have a last dimension of size 2, got shape {x.shape}")
    return Aval(tuple(x.shape[:-1]), to_complex(x.dtype), x.device)


# -- forwards ----------------------------------------------------------------------------------------------
def _complex_fwd(xp, re, im):
    COMPLEX_SEEN[0] = True
    out = xp.empty(np.broadcast_shapes(re.shape, im.shape), dtype=np.result_type(re.dtype, np.complex64))
    out.real[...] = re
    out.imag[...] = im
    return out


def _view_as_real_fwd(xp, x):
    re = x.real  # a view with x's strides; the imaginary part lies half an element further on
    return backend.as_strided(re, tuple(x.shape) + (2,), tuple(x.strides) + (re.itemsize,))


def _view_as_complex_fwd(xp, x):
    COMPLEX_SEEN[0] = True
    item = x.itemsize
    if x.strides[-1] != item or any(s % (2 * item) for s in x.strides[:-1]) or (
            xp is not np and not x.flags.c_contiguous):
        x = xp.ascontiguousarray(x)  # not expressible as a complex view: a copy (PyTorch would refuse)
    return x.view(np.result_type(x.dtype, np.complex64))[..., 0]


# -- vjps ----------------------------------------------------------------------------------------------------
def _real_vjp(g, out, x):
    return (apply("cast", g, dtype=x.dtype.name),)


def _imag_vjp(g, out, x):
    return (apply("complex", g._scalar(0.0), g),)


def _complex_vjp(g, out, re, im):
    if not g.dtype.is_complex:
        g = apply("cast", g, dtype=to_complex(re.dtype).name)
    return (unbroadcast(apply("real", g), re.shape, re.dtype) if re.requires_grad else None,
            unbroadcast(apply("imag", g), im.shape, im.dtype) if im.requires_grad else None)


def _conj_vjp(g, out, x):
    return (apply("conj", g) if g.dtype.is_complex else g,)


def _view_as_real_vjp(g, out, x):
    parts = [apply("getitem", g, index=(("ellipsis",), ("int", k))) for k in (0, 1)]
    return (apply("complex", *parts),)


def _view_as_complex_vjp(g, out, x):
    return (apply("view_as_real", g),)


# kind "complex": eager only (a graph tracer breaks at them), so the graph layer's tables never meet them
_FACTS = {"kind": "complex", "complex_ok": True}
register("real", lambda xp, x: x.real, vjp=_real_vjp, infer=_part_rule("real"), view=True, **_FACTS)
register("imag", lambda xp, x: x.imag, vjp=_imag_vjp, infer=_part_rule("imag"), view=True, **_FACTS)
register("complex", _complex_fwd, vjp=_complex_vjp, infer=_complex_rule, **_FACTS)
register("conj", lambda xp, x: xp.conj(x), vjp=_conj_vjp, **_FACTS,
         infer=lambda x: Aval(_complex_input("conj", x).shape, x.dtype, x.device))
register("view_as_real", _view_as_real_fwd, vjp=_view_as_real_vjp, infer=_view_as_real_rule, view=True, **_FACTS)
register("view_as_complex", _view_as_complex_fwd, vjp=_view_as_complex_vjp, infer=_view_as_complex_rule, view=True,
         **_FACTS)

NAMES = ("real", "imag", "complex", "conj", "view_as_real", "view_as_complex")
for _name in NAMES:
    unsupported(_name, "onnx", GRAPHS)
_tflite.mark(NAMES, GRAPHS)
