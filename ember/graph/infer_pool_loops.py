"""The compiled loops of ``infer_pool`` (imported only with numba): the helper's polling loop, the caller's
entry point (one layer, or a chain of layers in one call), the wake-up compare-and-swap. Module-level
functions, so numba's disk cache holds them."""
from __future__ import annotations

import numba
import numpy as np

from . import atomics as at
from .infer_loops import cached_njit, loop
from .infer_pool_layout import (
    A_B,
    A_K,
    A_KIND,
    A_N,
    A_OUT,
    A_RELU,
    A_ROWS,
    A_STEP,
    A_W,
    A_X,
    CHAIN_WORDS,
    CLAIM,
    CPU,
    DONE,
    KIND_F32,
    KIND_WINO,
    NAP,
    RUN,
    SLEEP,
    STATE,
    STOP,
    TAKEN,
    WAKE,
)
from .winograd_split_loops import wino_alone, wino_block

rows_loop = loop("linear_rows")
_njit = cached_njit


@_njit
def run_block(ctl, i):
    if ctl[A_KIND] == KIND_WINO:  # a Winograd convolution's stage: A_X its words, A_ROWS the stage
        wino_block(ctl[A_X], ctl[A_ROWS], ctl[A_STEP], i)
        return
    kind, rows, k, n, step = ctl[A_KIND], ctl[A_ROWS], ctl[A_K], ctl[A_N], ctl[A_STEP]
    lo, hi, relu = i * step, min((i + 1) * step, n), ctl[A_RELU] != 0
    if kind == KIND_F32:
        rows_loop(numba.carray(at.f32_at(ctl[A_X]), (rows, k)), numba.carray(at.f32_at(ctl[A_W]), (n, k)),
                  numba.carray(at.f32_at(ctl[A_B]), (n,)), numba.carray(at.f32_at(ctl[A_OUT]), (rows, n)),
                  lo, hi, relu, np.float32(0))
    else:
        rows_loop(numba.carray(at.f64_at(ctl[A_X]), (rows, k)), numba.carray(at.f64_at(ctl[A_W]), (n, k)),
                  numba.carray(at.f64_at(ctl[A_B]), (n,)), numba.carray(at.f64_at(ctl[A_OUT]), (rows, n)),
                  lo, hi, relu, np.float64(0))


@_njit
def take(ctl):
    """Claim the next unstarted block of the current job: its index, or -1 when none is left."""
    while True:
        c = at.load(ctl, CLAIM)
        nxt, count = c & 1023, (c >> 10) & 1023
        if nxt >= count:
            return -1
        if at.cas(ctl, CLAIM, c, c + 1) == c:
            return nxt


@_njit
def to_sleep(ctl, state):
    """Mark a helper asleep from whatever state it is in (RUN, or a caller's NAP); STOP stays STOP."""
    while True:
        now = at.load(ctl, state)
        if now == STOP:
            return STOP
        if at.cas(ctl, state, now, SLEEP) == now:
            return SLEEP


@_njit
def serve(ctl, me, spin_ticks, spin_iters):
    """A helper's loop: run blocks as they come; returns SLEEP after ``spin_ticks`` (TSC) or ``spin_iters``
    idle polls, STOP when told to stop."""
    state, cpu = STATE + 16 * me, CPU + 16 * me
    at.store(ctl, cpu, at.cpu_now())
    at.store(ctl, state, RUN)
    start, polls = at.ticks(), 0
    while True:
        now = at.load(ctl, state)
        if now == STOP:
            return STOP
        if now == NAP:  # a caller found us on its own core: sleep (a wake-up is placed on an idle core)
            return to_sleep(ctl, state)
        i = take(ctl)
        if i >= 0:
            run_block(ctl, i)
            at.add(ctl, TAKEN, 1)
            at.add(ctl, DONE, 1)
            start, polls = at.ticks(), 0
            continue
        polls += 1
        at.relax()
        if polls & 63 == 0:
            at.yield_cpu()
            at.store(ctl, cpu, at.cpu_now())
            idle = at.ticks() - start
            if (spin_ticks > 0 and idle > spin_ticks) or (spin_ticks <= 0 and polls > spin_iters):
                if to_sleep(ctl, state) == STOP:
                    return STOP
                c = at.load(ctl, CLAIM)
                if (c & 1023) < ((c >> 10) & 1023) and at.cas(ctl, state, SLEEP, RUN) == SLEEP:
                    continue  # a job came in meanwhile, and nobody is waking us: stay
                return SLEEP  # asleep, or a caller is waking us: block on the semaphore either way


@_njit
def caller(ctl, helpers, nap, kind, x, w, b, out, relu, blocks, step):
    """Post a linear job of ``blocks`` blocks of ``step`` output rows, run block 0 and every block nobody
    has started, wait for the others; returns how many blocks this thread ran. Without a helper awake on
    another core (asleep, or time-sharing this core: that one is told to sleep), all blocks run here."""
    if _awake(ctl, helpers, nap) == 0:
        rows_loop(x, w, b, out, 0, w.shape[0], relu, x.dtype.type(0))
        return blocks
    ctl[A_X], ctl[A_W], ctl[A_B], ctl[A_OUT] = x.ctypes.data, w.ctypes.data, b.ctypes.data, out.ctypes.data
    ctl[A_K], ctl[A_N], ctl[A_RELU], ctl[A_STEP] = x.shape[1], w.shape[0], relu, step
    _post(ctl, kind, x.shape[0], blocks)
    zero = x.dtype.type(0)
    n = w.shape[0]
    rows_loop(x, w, b, out, 0, min(step, n), relu, zero)
    mine = 1
    while True:
        i = take(ctl)
        if i < 0:
            break
        rows_loop(x, w, b, out, i * step, min((i + 1) * step, n), relu, zero)
        mine += 1
    return _finish(ctl, blocks, mine)


@_njit
def _post(ctl, kind, rows, blocks):
    """Make the job whose arguments are written current: ``blocks`` blocks, block 0 already the caller's."""
    ctl[A_KIND], ctl[A_ROWS] = kind, rows
    at.store(ctl, DONE, 0)
    seq = (at.load(ctl, CLAIM) >> 20) + 1
    at.store(ctl, CLAIM, (seq << 20) | (blocks << 10) | 1)


@_njit
def _finish(ctl, blocks, mine):
    """Count the caller's ``mine`` blocks done, wait for the blocks a helper is running (they finish within a
    block's time); returns ``mine``."""
    at.add(ctl, DONE, mine)
    polls = 0
    while at.load(ctl, DONE) < blocks:
        at.relax()
        polls += 1
        if polls & 255 == 0:
            at.yield_cpu()
    return mine


@_njit
def _awake(ctl, helpers, nap):
    """Helpers running on another core (a running one found on this thread's core is told to sleep)."""
    here, awake = at.cpu_now() if nap else -1, 0
    for h in range(helpers):
        if at.load(ctl, STATE + 16 * h) == RUN:
            if here >= 0 and at.load(ctl, CPU + 16 * h) == here:
                at.cas(ctl, STATE + 16 * h, RUN, NAP)
            else:
                awake += 1
    return awake


@_njit
def chain(ctl, helpers, nap, kind, split, x, meta, out):
    """A chain of linear layers in one call. ``meta``: per layer ``CHAIN_WORDS`` words (``infer_pool``'s
    ``chain_meta``: the addresses of the weight, bias and output, 0 for ``out``; n, k, relu, blocks, step);
    layer ``i`` reads the input ``x``, then layer ``i - 1``'s output. Layer ``i`` is split over the helpers
    (``caller``: they stay awake between layers, no return to Python) when ``split`` and it has more than one
    block, else it runs here. Returns the blocks the helpers ran (0: the call ran alone)."""
    helped, src, zero, rows = 0, x, x.dtype.type(0), x.shape[0]
    for i in range(0, len(meta), CHAIN_WORDS):
        n, k, relu, blocks, step = meta[i + 3], meta[i + 4], meta[i + 5] != 0, meta[i + 6], meta[i + 7]
        w = numba.carray(at.at_like(x, meta[i]), (n, k))
        b = numba.carray(at.at_like(x, meta[i + 1]), (n,))
        dst = out if meta[i + 2] == 0 else numba.carray(at.at_like(x, meta[i + 2]), (rows, n))
        if split and blocks > 1:
            helped += blocks - caller(ctl, helpers, nap, kind, src, w, b, dst, relu, blocks, step)
        else:
            rows_loop(src, w, b, dst, 0, n, relu, zero)
        src = dst
    return helped


@_njit
def wino_caller(ctl, helpers, nap, addr, blocks):
    """The three stages of the Winograd convolution at ``addr`` (``winograd_split_loops``' words), ``blocks``
    blocks each, over this thread and the helpers awake on other cores: each stage is one job (this thread
    runs block 0 and every block nobody has started, then waits for the ones a helper runs; helpers stay
    awake between stages). Returns the blocks the helpers ran (0: it ran alone)."""
    if _awake(ctl, helpers, nap) == 0:
        wino_alone(addr)
        return 0
    helped = 0
    for stage in range(3):
        ctl[A_X], ctl[A_STEP] = addr, blocks
        _post(ctl, KIND_WINO, stage, blocks)
        wino_block(addr, stage, blocks, 0)
        mine = 1
        while True:
            i = take(ctl)
            if i < 0:
                break
            wino_block(addr, stage, blocks, i)
            mine += 1
        _finish(ctl, blocks, mine)
        helped += blocks - mine
    return helped


@_njit
def wake(ctl, me):
    return at.cas(ctl, STATE + 16 * me, SLEEP, WAKE) == SLEEP


@_njit
def tick_count():
    return at.ticks()
