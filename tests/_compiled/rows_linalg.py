"""Differential rows for the LU and matrix-exponential primitives (ember/ops/decomp_lu.py): inside a training
step, compiled equal to eager (values and gradients; matrix_exp's vjp is itself a matrix_exp)."""
from __future__ import annotations

import ember

from .harness import Row
from .rows_more import _op_program, _square


def _lu(h):
    LU, piv = ember.linalg.lu_factor(_square(h))
    return LU, ember.linalg.lu_solve(LU, piv, h.reshape(-1, 3, 3)[..., :2] + 1.0)


def _tall_lu(h):  # (batch, 6) -> (batch, 3, 2): the tall formula of the vjp
    P, L, U = ember.linalg.lu(h.reshape(-1, 3, 2) + ember.eye(3, 2))
    return L, U


OPS = [
    ("lu_factor-lu_solve", _lu, 9, 4),
    ("lu-tall", _tall_lu, 6, 4),
    ("matrix_exp", lambda h: ember.linalg.matrix_exp(h.reshape(-1, 3, 3) * 0.5), 9, 4),
]
ROWS = [Row(f"linalg-{name}", (lambda f=f, n=n, b=b: _op_program(f, n, b))) for name, f, n, b in OPS]
