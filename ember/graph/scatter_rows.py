"""An embedding's backward in the compiled executor: rows of values summed into a zero (V, D) matrix by an
index tensor (``index_put`` with ``accumulate`` on a zero constant), as one GEMM of a one-hot matrix or, with
numba, one compiled pass over the rows (``np.add.at`` is an unbuffered loop, several times slower).

>>> import numpy as np
>>> from ember.graph.scatter_rows import scatter_rows
>>> scatter_rows(np, 3)(np.ones((4, 2)), np.array([0, 2, 2, -1])).tolist()
[[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]]
"""
from __future__ import annotations

import numpy as np

from ..ops.row_loops import rows_add

ONEHOT_MAX = 1 << 22  # elements of the one-hot matrix of scatter_rows


def rows_scatter(graph, node) -> bool:
    """An embedding's backward: rows of values summed into a zero (V, D) float matrix by an index tensor."""
    if node.attrs.get("index") != (("tensor", 0),) or not node.attrs.get("accumulate"):
        return False
    base, values, idx = node.inputs
    arr = graph.constants.get(base)
    return (
        arr is not None
        and base.ndim == 2
        and base.dtype in ("float32", "float64")
        and values.dtype == base.dtype
        and idx.dtype in ("int32", "int64")
        and None not in idx.shape
        and values.shape == idx.shape + base.shape[1:]
        and base.shape[0] * max(idx.size, 1) <= ONEHOT_MAX
        and not bool(arr.any())  # a zero base (on the host or the device)
    )


def scatter_rows(xp, rows, jit=False):
    """``zeros(rows, D)`` with ``values`` rows added at ``idx`` (``np.add.at``) as one GEMM: one-hot(idx).T @
    values. ``np.add.at`` is an unbuffered loop, several times slower for embedding-sized updates. With numba
    (``jit``), a compiled row loop instead."""

    def scatter(values, idx):
        flat = idx.reshape(-1)
        flat = xp.where(flat < 0, flat + rows, flat)
        onehot = (xp.arange(rows)[:, None] == flat[None, :]).astype(values.dtype)
        return onehot @ values.reshape(flat.size, -1)

    loop = rows_add() if jit and xp is np else None
    if loop is not None:

        def scatter_jit(values, idx):  # one pass over the rows: ~10-40x faster than the one-hot GEMM here
            flat = idx.reshape(-1)
            vals = np.ascontiguousarray(values).reshape(flat.size, -1)
            out = np.zeros((rows, vals.shape[1]), vals.dtype)
            loop(out, vals, flat)
            return out

        return scatter_jit
    return scatter
