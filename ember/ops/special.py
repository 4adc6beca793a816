"""Special-function primitives (``lgamma``, ``digamma``, ``polygamma``, ``erfc``, ``erfcx``, ``erfinv``,
``ndtri``, ``i0``/``i0e``/``i1``/``i1e``, ``zeta``, ``igamma``/``igammac``): one registered definition each,
their numerics in ``special_math.py`` and ``igamma_math.py``. Inputs are floats (the front doors in
``functional/special.py`` promote integers); each computes in float64 and rounds once to its input's dtype, so
float16/bfloat16/float32 results are the correctly rounded value of an accurate float64 one.
Vjps are Ember ops, so grads of grads work.

>>> import ember
>>> from ember.ops import apply
>>> apply("lgamma", ember.tensor([0.5, 3.0], dtype=ember.float64)).tolist()
[0.5723649429247001, 0.6931471805599453]
"""
from __future__ import annotations

import math

import numpy as _np

from . import _tflite, igamma_math
from . import special_math as sm
from ._core import apply, register, register_lowering, unsupported
from ._rules import elementwise
from .elementwise import _binary, _unary

_SQRT_PI = math.sqrt(math.pi)


def _rounded(fn):
    """A forward computing ``fn(xp, x64, ...)`` in float64 and rounding to the input's dtype once."""
    def forward(xp, x, *rest, **attrs):
        out = xp.asarray(fn(xp, x.astype("float64", copy=False), *rest, **attrs))
        with _np.errstate(over="ignore"):  # a float64 value beyond the dtype's range rounds to inf, silently
            return out.astype(x.dtype, copy=False)

    return forward


def _polygamma_vjp(g, out, x, n):
    return (g * apply("polygamma", x, n=n + 1),)


def _i1_vjp(g, out, x):
    # I1' = I0 - I1 / x, which tends to 1/2 at 0 (the safe divisor keeps the unused branch finite for grad-grad)
    at0 = apply("eq", x, x._scalar(0))
    xs = apply("where", at0, x._scalar(1), x)
    return (g * apply("where", at0, x._scalar(0.5), apply("i0", x) - out / xs),)


def _i1e_vjp(g, out, x):
    # (e^-|x| I1)' = i0e - i1e (sign(x) + 1 / x), 1/2 at 0
    at0 = apply("eq", x, x._scalar(0))
    xs = apply("where", at0, x._scalar(1), x)
    return (g * apply("where", at0, x._scalar(0.5), apply("i0e", x) - out * (apply("sign", x) + 1 / xs)),)


def _zeta_vjp(g, out, x, q):
    raise NotImplementedError("zeta: the derivative is not implemented (as in PyTorch); detach the inputs "
                              "or compute it by differences")


_unary("lgamma", _rounded(sm.lgamma), lambda g, out, x: (g * apply("digamma", x),))
_unary("digamma", _rounded(sm.digamma), lambda g, out, x: (g * apply("polygamma", x, n=1),))
register("polygamma", _rounded(lambda xp, x, n: sm.polygamma(xp, n, x)), vjp=_polygamma_vjp,
         infer=lambda x, n: elementwise("polygamma", x), saves=(0,), kind="elementwise")
_unary("erfc", _rounded(sm.erfc), lambda g, out, x: (g * (-2.0 / _SQRT_PI) * (-(x * x)).exp(),))
_unary("erfcx", _rounded(sm.erfcx), lambda g, out, x: (g * (2 * x * out - 2.0 / _SQRT_PI),), saves_out=True)
_unary("erfinv", _rounded(sm.erfinv), lambda g, out, x: (g * (_SQRT_PI / 2) * (out * out).exp(),), saves=(),
       saves_out=True)
_unary("ndtri", _rounded(sm.ndtri), lambda g, out, x: (g * math.sqrt(2 * math.pi) * (out * out * 0.5).exp(),),
       saves=(), saves_out=True)
_unary("i0", _rounded(lambda xp, x: sm.bessel_i(xp, x, 0, False)), lambda g, out, x: (g * apply("i1", x),))
_unary("i0e", _rounded(lambda xp, x: sm.bessel_i(xp, x, 0, True)),
       lambda g, out, x: (g * (apply("i1e", x) - apply("sign", x) * out),), saves_out=True)
_unary("i1", _rounded(lambda xp, x: sm.bessel_i(xp, x, 1, False)), _i1_vjp, saves_out=True)
_unary("i1e", _rounded(lambda xp, x: sm.bessel_i(xp, x, 1, True)), _i1e_vjp, saves_out=True)


def _zeta_forward(xp, x, q):
    return xp.asarray(sm.hurwitz_zeta(xp, x, q)).astype(xp.result_type(x, q), copy=False)


_binary("zeta", _zeta_forward, _zeta_vjp, saves=())


def _igamma_forward(upper):
    def forward(xp, a, x):
        return xp.asarray(igamma_math.gammainc(xp, a, x, upper=upper)).astype(xp.result_type(a, x), copy=False)

    return forward


def _igamma_vjp(sign):
    def vjp(g, out, a, x):
        # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a), the gamma density (0 where x <= 0); none in a, as in PyTorch
        if a.requires_grad:
            raise NotImplementedError("igamma/igammac: the derivative with respect to input (a) is not "
                                      "implemented (as in PyTorch); detach it, or use "
                                      "ember.distributions.Gamma(a, 1).cdf(x), which has it")
        pos = apply("gt", x, x._scalar(0))
        xs = apply("where", pos, x, x._scalar(1))
        dens = ((a - 1) * xs.log() - xs - apply("lgamma", a)).exp()
        return None, g * apply("where", pos, dens * sign, x._scalar(0))

    return vjp


_binary("igamma", _igamma_forward(False), _igamma_vjp(1.0))
_binary("igammac", _igamma_forward(True), _igamma_vjp(-1.0))

# -- lowerings -----------------------------------------------------------------------------------------------
_NAMES = ("lgamma", "digamma", "polygamma", "erfc", "erfcx", "erfinv", "ndtri", "i0", "i0e", "i1", "i1e", "zeta",
          "igamma", "igammac")
# fused-kernel forms where the target's math library has the function, in double as the eager forward computes
# (so a float32 kernel rounds the same value once); the rest run as their own xp call
_NUMBA = {"lgamma": "math.lgamma(np.float64({0}))", "erfc": "math.erfc(np.float64({0}))"}
_CUDA = {name: f"{fn}((double)({{0}}))" for name, fn in (
    ("lgamma", "lgamma"), ("erfc", "erfc"), ("erfcx", "erfcx"), ("erfinv", "erfinv"), ("ndtri", "normcdfinv"),
    ("i0", "cyl_bessel_i0"), ("i1", "cyl_bessel_i1"))}
for _name in _NAMES:
    if _name in _NUMBA:
        register_lowering(_name, "numba", _NUMBA[_name])
    else:
        unsupported(_name, "numba", "no scalar form in numba's math module: the node runs its vectorized xp "
                                    "forward (series and rational approximations) as its own call")
    if _name in _CUDA:
        register_lowering(_name, "cuda", _CUDA[_name])
    else:
        unsupported(_name, "cuda", "no CUDA math-library function: the node runs its CuPy forward as its own call")
    if _name != "erfc":
        unsupported(_name, "onnx", "ONNX has no operator for it (its special-function set is Erf only)")
_tflite.mark(_NAMES, "TFLite has no special-function builtins (not even ERF)")


@register_lowering("erfc", "onnx")
def _erfc_onnx(ctx, node):  # 1 - Erf(x): exact where erfc is not tiny (the far tail rounds to 0)
    x, dt = ctx.input(node, 0), node.outputs[0].dtype
    ctx.emit("Sub", [ctx.scalar(1, dt), ctx.emit("Erf", [x])], [ctx.output(node)])
