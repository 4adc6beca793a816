"""One-pass eager kernels for the optimizer update primitives (``adam_step``, ``sgd_step``; issue 16).

NumPy's in-place form of an Adam update makes ~12 passes over the parameter's size (and SGD with momentum 4),
each reading and writing whole arrays, on one core. Here a numba loop reads each element of the parameter,
its gradient and its state once, computes the rule in registers and writes the results back: the same float
operations in the same order, each rounded to the array's dtype as NumPy rounds it, so the result equals the
NumPy form bit for bit (``tests/test_optim_loops.py`` checks it, NaN, inf and amsgrad included). Python
numbers are turned into the array's dtype first, as NumPy does with a weak scalar. Large parameters are cut
into chunks over Ember's pool (``_cores``): every element is computed by the same code whichever thread runs it.

Used for C-contiguous float32/float64 NumPy arrays of one dtype, when numba is installed and ``EMBER_NO_JIT``
is unset; anything else keeps the NumPy form.

>>> import numpy as np
>>> from ember.ops.optim_loops import sgd_update, usable
>>> p, buf, g = np.ones(4, np.float32), np.zeros(4, np.float32), np.ones(4, np.float32)
>>> if usable(p, buf, g):  # (numba there and EMBER_NO_JIT unset)
...     sgd_update(p, buf, g, 0.5, 0.9, 0.0, 0.0, False, False)
...     assert float(p[0]) == 0.5 and float(buf[0]) == 1.0
"""
from __future__ import annotations

import numpy as np

from .._cores import run_job
from .._jit_math import numba_or_none
from .._threads import cached_num_threads

SPLIT_MIN = 1 << 18  # elements from which an update is cut into chunks over the cores
CHUNK = 1 << 17  # elements per chunk (~30 us of work; smaller chunks measured slower: hand-offs)
_JIT: dict = {}


BLOCK = 256  # elements staged on the stack per block: see _adam_rows


def _make_adam_rows(njit, maximize, coupled, decoupled, lerp_small, amsgrad, eps_before):
    """The Adam loop for one combination of the rule's flags (numba takes them as constants: no branch in the
    loop, and a call passes 8 arguments; with 22 the call alone cost ~10 us). ``h`` holds the numbers."""

    def rows(p, m, v, vmax, g, lo, hi, h):
        wd, decay_scale, w, omw, c2, beta2, bc2s, eps, neg_step = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
        # each block is computed into scratch rows, then copied out: LLVM vectorizes a loop only when its
        # stores cannot alias what it reads (a loop storing into p, m, v directly ran scalar, slower than NumPy)
        out = np.empty((4, BLOCK), p.dtype)
        for s in range(lo, hi, BLOCK):
            n = min(BLOCK, hi - s)
            ps, ms, vs, xs, gs = p[s:s + n], m[s:s + n], v[s:s + n], vmax[s:s + n], g[s:s + n]
            for i in range(n):
                gi = -gs[i] if maximize else gs[i]
                pi = ps[i]
                if decoupled:
                    pi = pi * decay_scale
                elif coupled:
                    gi = gi + wd * pi
                mi = ms[i]
                d = gi - mi
                # PyTorch's lerp: start + w * (end - start), or end - (end - start) * (1 - w)
                mi = mi + d * w if lerp_small else gi - d * omw
                vi = vs[i] * beta2 + (gi * c2) * gi
                top = vi
                if amsgrad:
                    top = xs[i]
                    if not (top > vi or top != top):  # np.maximum: NaN wins
                        top = vi
                r = np.sqrt(top)
                den = (r + eps) / bc2s if eps_before else r / bc2s + eps
                out[0, i] = pi + (mi * neg_step) / den
                out[1, i] = mi
                out[2, i] = vi
                out[3, i] = top
            for i in range(n):
                ps[i] = out[0, i]
                ms[i] = out[1, i]
                vs[i] = out[2, i]
            if amsgrad:
                for i in range(n):
                    xs[i] = out[3, i]

    return njit(rows)


def _make_sgd_rows(njit, maximize, decay, has_buf, nesterov):
    """The SGD loop for one combination of the rule's flags (as ``_make_adam_rows``)."""

    def rows(p, buf, g, lo, hi, h):
        wd, momentum, damp, neg_lr = h[0], h[1], h[2], h[3]
        out = np.empty((2, BLOCK), p.dtype)  # staged as in the Adam loop
        for s in range(lo, hi, BLOCK):
            n = min(BLOCK, hi - s)
            ps, bs, gs = p[s:s + n], buf[s:s + n], g[s:s + n]
            for i in range(n):
                gi = -gs[i] if maximize else gs[i]
                pi = ps[i]
                if decay:
                    gi = gi + wd * pi
                b = bs[i] * momentum + gi * damp
                if has_buf:
                    gi = gi + momentum * b if nesterov else b
                out[0, i] = pi + gi * neg_lr
                out[1, i] = b
            for i in range(n):
                ps[i] = out[0, i]
            if has_buf:
                for i in range(n):
                    bs[i] = out[1, i]

    return njit(rows)


def _loop(kind, flags):
    """The compiled loop of ``kind`` ("adam", "sgd") for ``flags``, or None (no numba, ``EMBER_NO_JIT``)."""
    key = (kind, flags)
    fn = _JIT.get(key)
    if fn is None:
        numba = numba_or_none()
        if numba is None:
            return None
        njit = numba.njit(nogil=True, boundscheck=False, error_model="numpy")  # (closures: no disk cache)
        fn = _JIT[key] = (_make_adam_rows if kind == "adam" else _make_sgd_rows)(njit, *flags)
    return fn


def usable(*arrays) -> bool:
    """Whether the one-pass loops can take these arrays: NumPy, C-contiguous, one float dtype."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype.kind != "f" or first.dtype.itemsize < 4:
        return False
    return all(type(a) is np.ndarray and a.dtype == first.dtype and a.shape == first.shape
               and a.flags.c_contiguous for a in arrays) and numba_or_none() is not None


def _run(rows, flat, h):
    """``rows`` over the whole of the ``flat`` arrays: one call when small or on one thread (no closure made:
    the small parameters' path), else chunks over the pool."""
    size = flat[0].size
    n = cached_num_threads() if size >= SPLIT_MIN else 1
    if n < 2:
        rows(*flat, 0, size, h)
    else:
        run_job(lambda lo, hi: rows(*flat, lo, hi, h), size, CHUNK, n)


def adam_update(p, m, v, vmax, g, *, lr, beta1, beta2, eps, weight_decay, maximize, decoupled_weight_decay,
                eps_before_bias_correction, t):
    """Adam(W) in one pass over ``p``, its moments ``m``, ``v`` (and ``vmax`` for amsgrad, else None)."""
    w = 1 - beta1
    flags = (bool(maximize), weight_decay != 0 and not decoupled_weight_decay,
             weight_decay != 0 and bool(decoupled_weight_decay), w < 0.5, vmax is not None,
             bool(eps_before_bias_correction))
    rows = _loop("adam", flags)
    h = np.array([weight_decay, 1 - lr * weight_decay, w, 1 - w, 1 - beta2, beta2, (1 - beta2 ** t) ** 0.5, eps,
                  -(lr / (1 - beta1 ** t))], p.dtype)  # each number rounded to the dtype, as NumPy's weak scalars
    _run(rows, [a.reshape(-1) for a in (p, m, v, vmax if vmax is not None else p, g)], h)


def sgd_update(p, buf, g, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """SGD in one pass over ``p`` and its momentum buffer ``buf`` (None without a momentum)."""
    rows = _loop("sgd", (bool(maximize), weight_decay != 0, buf is not None, bool(nesterov)))
    h = np.array([weight_decay, momentum, 1 - dampening, -lr], p.dtype)
    _run(rows, [a.reshape(-1) for a in (p, buf if buf is not None else p, g)], h)
