"""``ember/graph/infer_pool.py``: Ember's helper threads for batch-1 inference kernels (atomic hand-off in a
compiled loop). Each block runs once, the result equals the one-thread loop bit for bit, a busy pool or one
thread means the caller runs everything, sleeping helpers are woken, a forked child gets a pool of its own,
and two threads calling at once both get right answers. Numba's threading layer is never loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from fork_util import run_forked

from ember.graph import infer_pool_layout as layout
from ember.graph import kernels

pytestmark = pytest.mark.skipif(not kernels.jit_available("cpu"), reason="numba is not installed")


def _case(n=256, k=96, rows=1, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((rows, k), (n, k), (n,)))
    return x, w, b


def _alone(x, w, b, relu):
    from ember.graph.infer_loops import loop

    out = np.empty((x.shape[0], w.shape[0]), x.dtype)
    loop("linear_rows")(x, w, b, out, 0, w.shape[0], relu, x.dtype.type(0))
    return out


# (name, N, K, rows, dtype, relu, step, threads)
CASES = [
    ("two_blocks", 256, 96, 1, np.float32, True, 128, 2),
    ("uneven_last_block", 250, 33, 1, np.float32, False, 64, 2),
    ("batch_5", 96, 40, 5, np.float32, True, 32, 2),
    ("float64", 100, 20, 2, np.float64, True, 48, 2),
    ("three_threads", 300, 64, 1, np.float32, False, 16, 3),
    ("one_thread", 64, 64, 1, np.float32, True, 32, 1),
]


@pytest.mark.parametrize("name, n, k, rows, dtype, relu, step, threads", CASES, ids=[c[0] for c in CASES])
def test_split_equals_the_one_thread_loop(name, n, k, rows, dtype, relu, step, threads):
    from ember.graph import infer_pool

    x, w, b = _case(n, k, rows, dtype)
    ref = _alone(x, w, b, relu)
    for _ in range(50):  # the helper takes blocks in some calls, not in others: the same bits either way
        out = np.full_like(ref, np.nan)
        mine = infer_pool.linear_split(x, w, b, out, relu, step, threads)
        assert 1 <= mine <= -(-n // step)
        np.testing.assert_array_equal(out, ref)


def test_a_helper_takes_blocks_and_sleeps_then_wakes(monkeypatch):
    from ember.graph import infer_pool

    monkeypatch.setattr(infer_pool, "SPIN_US", 500.0)
    monkeypatch.setattr(infer_pool, "SHARED_CORE_NAP", False)  # on a busy (or 1-core) machine: still split
    monkeypatch.setattr(infer_pool, "_POOL", {"pid": None})  # a pool of its own, with the short spin
    x, w, b = _case(512, 256)
    ref, out = _alone(x, w, b, True), np.empty((1, 512), np.float32)
    pool = infer_pool.pool(2)
    try:
        deadline = time.monotonic() + 20  # on a busy machine the helper may need a while to get a core
        while pool.ctl[layout.TAKEN] == 0 and time.monotonic() < deadline:
            infer_pool.linear_split(x, w, b, out, True, 256, 2)
            np.testing.assert_array_equal(out, ref)
        assert pool.ctl[layout.TAKEN] > 0, "the helper never took a block"
        deadline = time.monotonic() + 20
        while pool.ctl[layout.STATE] != layout.SLEEP and time.monotonic() < deadline:
            time.sleep(0.01)  # idle: past its spin it goes to sleep
        assert pool.ctl[layout.STATE] == layout.SLEEP
        taken = pool.ctl[layout.TAKEN]
        deadline = time.monotonic() + 20
        while pool.ctl[layout.TAKEN] == taken and time.monotonic() < deadline:
            infer_pool.linear_split(x, w, b, out, True, 256, 2)  # the first call wakes it
            np.testing.assert_array_equal(out, ref)
        assert pool.ctl[layout.TAKEN] > taken, "the woken helper took no block"
    finally:
        pool.stop()
        for t in pool.threads:
            t.join(10)
        assert not any(t.is_alive() for t in pool.threads)


def test_a_pool_in_use_by_another_thread_means_running_alone():
    from ember.graph import infer_pool

    x, w, b = _case()
    pool = infer_pool.pool(2)
    out = np.empty((1, 256), np.float32)
    with pool.lock:  # another caller holds the pool: no waiting, every block on this thread
        taken = pool.ctl[layout.TAKEN]
        assert infer_pool.linear_split(x, w, b, out, True, 64, 2) == 4
        assert pool.ctl[layout.TAKEN] == taken
    np.testing.assert_array_equal(out, _alone(x, w, b, True))


def test_two_threads_split_different_layers_at_once():
    from ember.graph import infer_pool

    cases = [_case(384, 200, seed=s) for s in (1, 2)]
    refs = [_alone(*c, relu=True) for c in cases]
    errors = []

    def work(i):
        try:
            out = np.empty_like(refs[i])
            for _ in range(300):
                out.fill(np.nan)
                infer_pool.linear_split(*cases[i], out, True, 128, 2)
                np.testing.assert_array_equal(out, refs[i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1, 0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads) and not errors, errors


def _child(conn):
    from ember.graph import infer_pool

    try:
        x, w, b = _case()
        out = np.empty((1, 256), np.float32)
        for _ in range(20):
            infer_pool.linear_split(x, w, b, out, True, 128, 2)
        pool = infer_pool.pool(2)
        conn.send((bool(np.array_equal(out, _alone(x, w, b, True))), all(t.is_alive() for t in pool.threads)))
    finally:
        conn.close()


def test_a_forked_child_gets_a_pool_of_its_own():
    from ember.graph import infer_pool

    x, w, b = _case()
    infer_pool.linear_split(x, w, b, np.empty((1, 256), np.float32), True, 128, 2)  # the parent's pool runs
    parent_pool = infer_pool.pool(2)
    assert run_forked(_child) == (True, True)
    assert infer_pool.pool(2) is parent_pool  # the parent's is untouched


def test_numba_threading_layer_is_left_to_the_user():
    """A program's split loads no numba threading layer: the user's own parallel code chooses it later."""
    code = (
        "import numpy as np, numba\n"
        "from ember.graph import infer_pool\n"
        "x, w, b = np.ones((1, 64), np.float32), np.ones((256, 64), np.float32), np.zeros(256, np.float32)\n"
        "infer_pool.linear_split(x, w, b, np.empty((1, 256), np.float32), True, 128, 2)\n"
        "try:\n"
        "    numba.threading_layer()\n"
        "    print('loaded')\n"
        "except ValueError:\n"
        "    print('none')\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": root}, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity (Linux)")
def test_a_helper_on_the_callers_core_is_sent_to_sleep(monkeypatch):
    """Both threads pinned to one CPU (what a busy machine's scheduler may do): the caller sees the helper
    there, sends it to sleep and runs every block itself, with the same results."""
    from ember.graph import infer_pool

    monkeypatch.setattr(infer_pool, "_POOL", {"pid": None})  # a pool of its own, pinned below
    monkeypatch.setattr(infer_pool, "SPIN_US", 60e6)  # it would spin for a minute: only the caller sends it to sleep
    x, w, b = _case(512, 256)
    ref, out = _alone(x, w, b, True), np.empty((1, 512), np.float32)
    mask = os.sched_getaffinity(0)
    cpu = min(mask)
    pool = infer_pool.pool(2)
    try:
        os.sched_setaffinity(0, {cpu})
        os.sched_setaffinity(pool.threads[0].native_id, {cpu})
        deadline = time.monotonic() + 20
        while ((pool.ctl[layout.STATE] != layout.RUN or pool.ctl[layout.CPU] != cpu)
               and time.monotonic() < deadline):
            time.sleep(0.001)  # (it spins from its start, and says where it runs every few polls)
        assert pool.ctl[layout.CPU] == cpu, pool.ctl[:48]
        assert infer_pool.linear_split(x, w, b, out, True, 256, 2) == 2  # every block here
        np.testing.assert_array_equal(out, ref)
        deadline = time.monotonic() + 60  # its own wait: the helper needs the shared core once to go to sleep
        while pool.ctl[layout.STATE] != layout.SLEEP and time.monotonic() < deadline:
            time.sleep(0.001)
        assert pool.ctl[layout.STATE] == layout.SLEEP
        for _ in range(4):  # (a call may wake it: it lands on the same core and is sent back)
            out.fill(np.nan)
            assert infer_pool.linear_split(x, w, b, out, True, 256, 2) == 2
            np.testing.assert_array_equal(out, ref)
    finally:
        os.sched_setaffinity(0, mask)
        pool.stop()
        for t in pool.threads:
            t.join(10)
