"""A small-batch Winograd convolution (``ember/ops/layers/conv_winograd_infer.py``) over the cores: its input
transform, its 16 GEMMs and its output transform each cut into blocks that the calling thread and
``infer_pool``'s helpers take (``winograd_split_loops``, ``infer_pool_loops.wino_caller``), OpenBLAS held at
one thread meanwhile so that each block's ``cblas_sgemm`` runs on the core that took it (``blas_calls``).

``planner()`` is what the CPU executor hands the kernel as its ``"winograd_split"`` helper (None where the
split cannot run: no numba, or NumPy's BLAS is not an OpenBLAS whose ``cblas_sgemm`` is found).
"""
from __future__ import annotations

import numpy as np

from .._threads import cached_num_threads

BLOCKS = 4  # per stage: a late helper costs at most a quarter of a stage (the caller takes unstarted blocks)


def planner():
    """The executor's ``"winograd_split"`` helper: ``plan(v, u, m, x_shape, pool2, relu) -> run(xpad, bias, out)``
    (``run`` returns False at one thread: the kernel then runs on its own), or None where the split cannot run
    (see the module's docstring)."""
    from . import blas_calls

    found = blas_calls.find()
    if found is None:
        return None

    def plan(v, u, m, x_shape, pool2, relu):
        return SplitPlan(v, u, m, x_shape, pool2, relu, found[0], found[1])

    return plan


class SplitPlan:
    """One convolution's words (``winograd_split_loops``' layout) for a kernel's scratch arrays (kept alive
    here while the words point at them); the input, bias and output addresses are written per call."""

    def __init__(self, v, u, m, x_shape, pool2, relu, sgemm, width):
        from . import winograd_split_loops as layout

        self.keep, self.L = (v, u, m), layout
        n, c, hp, wp = x_shape
        w = self.words = np.zeros(layout.META_WORDS, np.int64)
        w[layout.V], w[layout.U], w[layout.M] = v.ctypes.data, u.ctypes.data, m.ctypes.data
        w[layout.N], w[layout.C], w[layout.HP], w[layout.WP], w[layout.CO] = n, c, hp, wp, u.shape[1]
        w[layout.TH], w[layout.TW] = (hp - 2) // 2, (wp - 2) // 2
        w[layout.POOL], w[layout.RELU], w[layout.SGEMM], w[layout.WIDTH] = pool2, relu, sgemm, width

    def __call__(self, xpad, bias, out) -> bool:
        threads = cached_num_threads()
        if threads < 2:
            return False
        from . import blas_calls, infer_pool

        L, w = self.L, self.words
        w[L.X], w[L.OUT] = xpad.ctypes.data, out.ctypes.data
        w[L.B], w[L.HAS_B] = (0, 0) if bias is None else (bias.ctypes.data, 1)
        held = blas_calls.hold()
        try:
            infer_pool.winograd(w, BLOCKS, threads)
        finally:
            blas_calls.unhold(held)
        return True
