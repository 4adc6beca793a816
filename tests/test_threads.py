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
