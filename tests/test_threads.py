"""ember.set_num_threads / get_num_threads: run-time control of BLAS threads (PyTorch's names)."""
import sys

import numpy as np
import pytest

import ember

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}


@pytest.fixture
def restore_threads():
    before = threadpoolctl.threadpool_info()
    yield
    ember._threads._STATE.update(n=None, limits=None)
    threadpoolctl.threadpool_limits(limits={lib["prefix"]: lib["num_threads"] for lib in before})


def test_set_num_threads_limits_blas_and_is_reported(restore_threads):
    for n in (2, 1):  # both ways, so the check does not depend on the count BLAS started with
        ember.set_num_threads(n)
        assert _blas_threads() == {n}
        assert ember.get_num_threads() == n
    a = ember.randn(64, 48)
    np.testing.assert_allclose((a @ a.T).numpy(), a.numpy() @ a.numpy().T, rtol=1e-5, atol=1e-5)


def test_get_num_threads_defaults_to_blas_count(restore_threads):
    ember._threads._STATE["n"] = None
    assert ember.get_num_threads() == max(_blas_threads())


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match=r"ember.set_num_threads expects a positive integer"):
        ember.set_num_threads(bad)


def test_set_num_threads_without_threadpoolctl_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'ember\[threads\]'"):
        ember.set_num_threads(1)


def test_an_eager_winograd_hold_lingers_then_gives_the_threads_back(restore_threads, monkeypatch):
    """Eager Winograd convolutions hold BLAS at one thread and keep it held ``LINGER_S`` after the last one
    (toggling per call left OpenBLAS's worker spinning on the pool's core); the next GEMM after that gives it
    back. ``set_num_threads`` drops a lingering hold without restoring the old count."""
    ember.set_num_threads(2)
    monkeypatch.setattr(ember._threads, "LINGER_S", 0.2)
    a = ember.randn(8, 8)
    monkeypatch.setitem(ember._threads._STATE, "found", None)  # found again below, as the process's first
    ember._threads._STATE["n"] = None  # as in a process that never called set_num_threads
    ember._threads.hold_blas_lingering()  # what each eager Winograd convolution calls first
    assert _blas_threads() == {1}  # held, and still held after it: the next eager convolution will want it
    assert ember.get_num_threads() == 2  # the count the process works with, not the hold's
    a @ a
    assert _blas_threads() == {1}
    import time

    time.sleep(0.25)
    a @ a  # the first GEMM after the linger gives the threads back
    assert _blas_threads() == {2}
    ember._threads.hold_blas_lingering()
    ember.set_num_threads(2)
    time.sleep(0.25)
    a @ a
    assert _blas_threads() == {2} and not ember._threads._LINGER["held"]
    from ember.ops import winograd

    if winograd.available():  # an eager Winograd convolution takes the hold itself
        x, w = np.ones((1, 8, 12, 12), np.float32), np.ones((8, 8, 3, 3), np.float32)
        winograd._conv_fwd(np, x, w, ((1, 1), (1, 1)))
        assert ember._threads._LINGER["held"]
        ember.set_num_threads(2)


def test_a_compiled_step_gives_an_expired_lingering_hold_back(restore_threads, monkeypatch):
    """A compiled step's GEMMs do not go through the eager ``gemm`` that gives the threads back, so the
    executor does it on entry (a compiled MLP trained after an eager CNN ran at one BLAS thread before)."""
    ember.set_num_threads(2)
    monkeypatch.setattr(ember._threads, "LINGER_S", 0.1)
    step = ember.compile(lambda x: (x @ x).sum())
    x = ember.randn(8, 8)
    step(x)  # traced and built before the hold
    ember._threads.hold_blas_lingering()
    step(x)
    assert ember._threads._LINGER["held"] and 1 in _blas_threads()  # not expired yet: still held
    import time

    time.sleep(0.15)
    step(x)
    assert _blas_threads() == {2} and not ember._threads._LINGER["held"]
