"""The compiled side of ``winograd_split``: one Winograd F(2x2, 3x3) convolution's three stages cut into blocks
that ``infer_pool``'s caller and helpers take (imported only with numba).

A convolution is described by ``META_WORDS`` int64 words (``winograd_split.Split`` writes them): the addresses
of the padded input, the transform planes ``v`` and ``m``, the filter planes ``u``, the bias and the output,
the sizes, the flags, and the address and int width of the ``cblas_sgemm`` that NumPy's OpenBLAS exports
(``blas_calls``). Stage 0 transforms a block of input channels, stage 1 runs a block of the 16 GEMMs
``m_k = u_k @ v_k`` (one ``cblas_sgemm`` each, on the core that took the block: OpenBLAS is held at one
thread meanwhile), stage 2 transforms a block of output channels back (bias, relu, pooling). A stage's blocks
only start once every block of the stage before is done (``infer_pool_loops.wino_caller`` posts one job
per stage).
"""
from __future__ import annotations

import numba

from . import atomics as at
from . import blas_calls
from .infer_loops import cached_njit, loop

X, V, U, M, B, OUT, N, C, HP, WP, CO, TH, TW, HAS_B, RELU, POOL, SGEMM, WIDTH = range(18)
META_WORDS = 18
GEMMS = 16  # transform-domain planes of F(2x2, 3x3)

_njit = cached_njit


input_tf = loop("winograd_input")
output_tf = loop("winograd_output")
output_pool2 = loop("winograd_output_pool2")


@_njit
def span(total, blocks, i):
    """Block ``i`` of ``blocks`` near-equal blocks of ``total`` items: (start, end)."""
    return (total * i) // blocks, (total * (i + 1)) // blocks


@_njit
def wino_block(addr, stage, blocks, i):
    """Run block ``i`` (of ``blocks``) of ``stage`` of the convolution described at ``addr``."""
    d = numba.carray(at.i64_at(addr), (META_WORDS,))
    n, c, co, th, tw = d[N], d[C], d[CO], d[TH], d[TW]
    tiles = n * th * tw
    v = numba.carray(at.f32_at(d[V]), (GEMMS, c, tiles))
    m = numba.carray(at.f32_at(d[M]), (GEMMS, co, tiles))
    if stage == 0:
        lo, hi = span(c, blocks, i)
        input_tf(numba.carray(at.f32_at(d[X]), (n, c, d[HP], d[WP])), v, th, tw, lo, hi)
    elif stage == 1:
        lo, hi = span(GEMMS, blocks, i)
        for k in range(lo, hi):  # m_k (co, tiles) = u_k (co, c) @ v_k (c, tiles), row-major
            blas_calls.sgemm(d[SGEMM], d[WIDTH], co, tiles, c, d[U] + 4 * k * co * c, c, d[V] + 4 * k * c * tiles,
                             tiles, d[M] + 4 * k * co * tiles, tiles)
    else:
        lo, hi = span(co, blocks, i)
        bias = numba.carray(at.f32_at(d[B]), (co if d[HAS_B] else 0,))
        zero, relu, has_b = numba.float32(0), d[RELU] != 0, d[HAS_B] != 0
        if d[POOL]:
            output_pool2(m, bias, numba.carray(at.f32_at(d[OUT]), (n, co, th, tw)), th, tw, has_b, relu, zero, lo,
                         hi)
        else:
            output_tf(m, bias, numba.carray(at.f32_at(d[OUT]), (n, co, 2 * th, 2 * tw)), th, tw, has_b, relu, zero,
                      lo, hi)


@_njit
def wino_alone(addr):
    """Every stage on this thread (no helper awake)."""
    for stage in range(3):
        wino_block(addr, stage, 1, 0)
