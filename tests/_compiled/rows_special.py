"""Differential rows for the special functions (ember/ops/special.py): each primitive and composite inside a
training step, compiled equal to eager (values and gradients, grads of the vjps' own special functions too)."""
from __future__ import annotations

import ember
from ember import special

from .harness import Row
from .rows_more import _op_program, _unit


def _pos(h):  # values in (0.5, ~4): away from the poles of lgamma, digamma and polygamma
    return ember.nn.functional.softplus(h) + 0.5


OPS = [
    ("lgamma-digamma-polygamma", lambda h: (ember.lgamma(_pos(h)), ember.digamma(_pos(h)) + ember.polygamma(2, _pos(h)),
                                            _pos(h).mvlgamma(2)), 4, 5),
    ("erfc-erfinv-erfcx-ndtri", lambda h: (ember.erfc(h), ember.erfinv(_unit(h)), special.erfcx(h),
                                           special.ndtri(h.sigmoid() * 0.9 + 0.05)), 4, 5),
    ("i0-i0e-i1-i1e", lambda h: (ember.i0(_unit(h) * 3), special.i0e(h * 3), special.i1(_unit(h) * 3),
                                 special.i1e(h * 3)), 4, 5),
    ("ndtr-log_ndtr-xlog1py-entr", lambda h: (special.ndtr(h * 3), special.log_ndtr(h * 3 - 2),
                                              special.xlog1py(h, _pos(h)), special.entr(_pos(h))), 4, 5),
    # differentiable in x only: the shape a is a constant (a tensor without grad), as in PyTorch
    ("igamma-igammac", lambda h: (ember.igamma(ember.full_like(h, 1.5).detach(), _pos(h)),
                                  ember.igammac(ember.full_like(h, 2.5).detach(), _pos(h))), 4, 5),
]
ROWS = [Row(f"special-{name}", (lambda f=f, n=n, b=b: _op_program(f, n, b))) for name, f, n, b in OPS]
# on the fused kernels (numba on CPU), where lgamma and erfc have kernel forms (the others run as their own call)
ROWS += [Row("special-lgamma-erfc-jit", lambda: _op_program(
    lambda h: (ember.lgamma(_pos(h)), ember.erfc(h), _pos(h).mvlgamma(2), special.ndtr(h)), 4, 5), jit=None)]
