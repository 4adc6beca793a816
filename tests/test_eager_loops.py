"""Eager fast paths that must give the NumPy forms' bits: max pooling's numba loops (``ops/pool_loops.py``),
``where`` as one select pass (``ops/select_loops.py``) and large ufunc calls spread over the cores
(``ops/_spread.ufunc_call``), each at 1 and 2 threads, with NaN / inf / -0.0 in the data."""
from __future__ import annotations

import numpy as np
import pytest

from ember import _threads
from ember.ops import _spread, conv, pool_loops, select_loops
from ember.ops.elementwise import _where_fwd

jit = pytest.mark.skipif(not pool_loops.applies((2, 2)), reason="numba loops off (no numba, or EMBER_NO_JIT)")


@pytest.fixture
def threads(monkeypatch):
    """Ember's thread count for the test, with every pass large enough to spread."""
    monkeypatch.setitem(_threads._STATE, "n", _threads._STATE["n"])
    monkeypatch.setattr(_spread, "SPREAD_MIN", 1)
    monkeypatch.setattr(_spread, "blas_quiet", lambda: True)  # as inside a BLAS hold (see the last test)

    def use(n):
        _threads._STATE["n"] = n
    return use


def _specials(x):
    flat = x.reshape(-1)
    flat[[3, 4, 17, 40]] = [np.nan, np.inf, -0.0, np.nan]
    return x


# (id, input shape, kernel): whole windows and ragged edges (rows / columns past the last window), 2x2 and 3x3
TILING = [("2x2", (5, 3, 12, 10), (2, 2)), ("2x2_ragged", (3, 2, 11, 9), (2, 2)),
          ("3x3_ragged", (4, 2, 11, 10), (3, 3))]


@jit
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kernel", [r[1:] for r in TILING], ids=[r[0] for r in TILING])
def test_pool_loops_equal_the_numpy_forms(shape, kernel, dtype, n_threads, threads):
    threads(n_threads)
    rng = np.random.default_rng(0)
    x = _specials(rng.standard_normal(shape).astype(dtype))
    win = dict(kernel=kernel, stride=kernel, padding=((0, 0), (0, 0)), dilation=(1, 1))
    outs = conv.out_sizes(shape[2:], **win)
    ref = np.empty((2,) + shape[:2] + tuple(outs), dtype=dtype)
    conv._running_argmax(np, x, into=ref, **win)  # the NumPy form: first maximum, the last NaN
    packed = conv._pool_max_arg_fwd(np, x, **win)
    np.testing.assert_array_equal(packed, ref)
    g = _specials(rng.standard_normal(packed.shape[1:]).astype(dtype)).transpose(1, 0, 2, 3).copy().transpose(
        1, 0, 2, 3)  # not C-contiguous: the loop reads any strides
    dx = conv._pool_scatter_at_fwd(np, g, packed[1], shape[2:], **win)
    expected = conv._scatter_at(np, g, packed[1], shape[2:], outs=outs, **win)
    np.testing.assert_array_equal(dx, expected)  # (== : a zero's sign may differ, see pool_loops)


@jit
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_select_is_numpys_where_bit_for_bit(dtype, n_threads, threads):
    threads(n_threads)
    rng = np.random.default_rng(1)
    a, b = (_specials(rng.standard_normal((6, 5, 300)).astype(dtype)) for _ in range(2))
    c = rng.standard_normal(a.shape) > 0
    zero = np.zeros((), dtype)
    for args in [(c, a, zero), (c, zero, b), (c, a, b), (c, a, np.full((), -0.0, dtype))]:
        got = _where_fwd(np, *args)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), np.where(*args).view(f"u{got.itemsize}"))
    assert select_loops.where(c, a, b[:, :1]) is None  # broadcast operands: the NumPy form
    assert select_loops.where(c, a, b.astype(np.float16)) is None


UFUNC_CASES = [  # (id, ufunc, operands): broadcasting on the first axis, weak Python scalars, bool results
    ("add_bias", np.add, lambda r: (r.standard_normal((8, 4, 5, 5)).astype(np.float32),
                                    r.standard_normal((4, 1, 1)).astype(np.float32))),
    ("mul_python_float", np.multiply, lambda r: (r.standard_normal((9, 70)).astype(np.float32), 0.5)),
    ("sub_first_axis_broadcast", np.subtract, lambda r: (r.standard_normal((1, 30)), r.standard_normal((7, 30)))),
    ("max_numpy_scalar", np.maximum, lambda r: (r.standard_normal((5, 3, 8)).astype(np.float32), np.float32(0))),
    ("greater_bool", np.greater, lambda r: (r.standard_normal((6, 40)), np.zeros(()))),
    ("exp", np.exp, lambda r: (r.standard_normal((4, 33)).astype(np.float32),)),
    ("int_add", np.add, lambda r: (r.integers(-5, 5, (6, 7)), 3)),
]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("fn,make", [r[1:] for r in UFUNC_CASES], ids=[r[0] for r in UFUNC_CASES])
def test_spread_ufunc_call_gives_the_same_bits(fn, make, n_threads, threads):
    threads(n_threads)
    args = make(np.random.default_rng(2))
    args = tuple(_specials(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size > 40 else a
                 for a in args)
    got, ref = _spread.ufunc_call(np, fn, *args), fn(*args)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


def test_passes_spread_only_while_blas_is_held(threads, monkeypatch):
    """Outside a BLAS hold OpenBLAS's worker spins on a core after each threaded GEMM, and a pool helper put
    there waits for it: passes then stay on the calling thread."""
    threads(2)
    calls = []
    real = _spread.over_batch
    monkeypatch.setattr(_spread, "over_batch", lambda *a: calls.append(a) or real(*a))
    x = np.ones((4, 1000), np.float32)
    for quiet in (True, False):
        monkeypatch.setattr(_spread, "blas_quiet", lambda q=quiet: q)
        calls.clear()
        np.testing.assert_array_equal(_spread.ufunc_call(np, np.add, x, x), x + x)
        assert bool(calls) is quiet
    monkeypatch.undo()
    held = _threads._LINGER["held"]
    assert _threads.blas_quiet() is bool(held or _threads.QUIET["holds"])
