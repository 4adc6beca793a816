"""``ember.set_num_threads`` / ``ember.get_num_threads``: the threads Ember's CPU work may use (PyTorch's names).

On CPU the threaded work is BLAS (NumPy's OpenBLAS or MKL: every matmul and convolution GEMM) and any OpenMP
pool loaded in the process; NumPy's elementwise passes and the compiled executor's numba loops run on the
calling thread. The environment variables (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``) fix the count when
NumPy loads; ``set_num_threads`` changes it at run time through ``threadpoolctl`` (the optional ``threads``
extra), which talks to each loaded BLAS/OpenMP library directly. numba's pool follows too when numba is loaded.

Why it matters (issue 16): on a machine whose cores other processes also use, OpenBLAS's threaded GEMM waits
in spin loops for a worker thread that is not running; measured on the 2-core bench machine with others
using ~1.5 cores, the cnn's compiled step took 670-900 ms at 2 BLAS threads and 357 ms at 1.

>>> import ember
>>> ember.set_num_threads(1)  # doctest: +SKIP
>>> ember.get_num_threads()  # doctest: +SKIP
1
"""
from __future__ import annotations

import os
import sys
import threading
import time

_STATE: dict = {"n": None, "limits": None, "found": None}


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError as exc:
        raise ImportError("ember.set_num_threads needs threadpoolctl to change BLAS/OpenMP threads at run time: "
                          "pip install 'ember[threads]' (or threadpoolctl), or set OMP_NUM_THREADS and "
                          "OPENBLAS_NUM_THREADS before starting Python") from exc
    return threadpoolctl


def set_num_threads(n: int) -> None:
    """Use at most ``n`` threads for BLAS (matmul, convolution GEMMs), OpenMP and numba pools in this process.

    Like ``torch.set_num_threads``: it stays in effect until the next call. ``n`` must be a positive int."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"ember.set_num_threads expects a positive integer, got {n!r}")
    tpc = _threadpoolctl()
    _forget_lingering_hold()  # the new count stands; a lingering hold must not restore the old one later
    _STATE["limits"] = tpc.threadpool_limits(limits=n)  # applies now, to every library loaded so far
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _STATE["n"] = n


def get_num_threads() -> int:
    """The threads CPU work may use: the last ``set_num_threads``, else BLAS's own count, else the environment's
    ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS``, else the number of CPUs."""
    if _STATE["n"] is not None:
        return _STATE["n"]
    held = [n for c, n in _LINGER["held"] if c is not None] if _LINGER["pid"] == os.getpid() else []
    if held:
        return max(held)  # BLAS sits at one thread for a lingering hold (below): the count it had before
    try:
        info = _threadpoolctl().threadpool_info()
    except ImportError:
        info = []
    blas = [lib["num_threads"] for lib in info if lib.get("user_api") == "blas"]
    if blas:
        return max(blas)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def cached_num_threads() -> int:
    """``get_num_threads()`` for hot paths (the compiled executor's split passes): the last
    ``set_num_threads``, else the count found once per process (asking the libraries costs ~1 ms)."""
    if _STATE["n"] is not None:
        return _STATE["n"]
    if _STATE["found"] is None or _STATE["found"][0] != os.getpid():
        _STATE["found"] = (os.getpid(), get_num_threads())
    return _STATE["found"][1]


_BLAS: dict = {"pid": None, "controllers": []}


def blas_controllers() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries ([] without threadpoolctl), found once per
    process (a forked child looks again)."""
    if _BLAS["pid"] != os.getpid():
        try:
            from threadpoolctl import ThreadpoolController

            found = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        except ImportError:
            found = []
        _BLAS.update(pid=os.getpid(), controllers=found)
    return _BLAS["controllers"]


def hold_blas_at_one_thread() -> list:
    """Set every loaded BLAS that runs more than one thread to one; returns ``[(controller, threads)]`` for
    ``release_blas`` (empty without threadpoolctl or when all are at one thread already)."""
    cached_num_threads()  # found before the hold: asked inside it, BLAS would answer 1 for the whole process
    held = [(c, n) for c in blas_controllers() for n in (c.get_num_threads(),) if n > 1]
    for c, _ in held:
        c.set_num_threads(1)
    return held


def release_blas(held: list) -> None:
    """Give back the thread counts ``hold_blas_at_one_thread`` took."""
    for c, n in held:
        c.set_num_threads(n)


# -- the lingering hold of eager pool work ------------------------------------------------------------------
# Eager ops that spread work over Ember's pool (the Winograd convolutions) run BLAS at one thread. Holding and
# giving the threads back around each call left OpenBLAS's worker spinning on the pool's core after every
# threaded GEMM between them (the eager cnn step at 2 threads: 13.4 steps/s; 20.1 with BLAS held for the
# whole step). So the hold lingers: it is kept LINGER_S seconds after the last such op, and the next GEMM
# after that gives the threads back (``release_lingering_hold``, called by ``ops.linalg.gemm``).
LINGER_S = float(os.environ.get("EMBER_BLAS_LINGER", "1.0"))
_LINGER: dict = {"held": [], "until": 0.0, "pid": None}
_LINGER_LOCK = threading.Lock()
QUIET = {"holds": 0}  # compiled steps' BLAS holds in progress (``graph/blas_calls`` counts them here)


def blas_quiet() -> bool:
    """Whether BLAS runs at one thread now (a lingering eager hold, or a compiled step's): then its worker
    threads are parked and Ember's pool has the other cores. Outside a hold, OpenBLAS's worker spins on a
    core for a while after every threaded GEMM, and a pool helper put on that core waits for it (eager
    transformer at 2 threads: a ``neg`` spread over the pool took 4.7 ms a call, 0.29 ms on one thread)."""
    return bool(_LINGER["held"]) or QUIET["holds"] > 0


def lingering_hold() -> bool:
    """Whether eager pool work holds BLAS at one thread now (``hold_blas_lingering``): then ``ops.linalg.gemm``
    splits its large GEMMs over the pool itself."""
    return bool(_LINGER["held"])


def hold_blas_lingering() -> None:
    """BLAS at one thread from now until ``LINGER_S`` seconds after the last call (see above); nothing to do
    when Ember works on one thread."""
    if cached_num_threads() < 2:
        return
    with _LINGER_LOCK:
        if _LINGER["pid"] != os.getpid():  # a forked child: the parent's hold is not ours to give back
            _LINGER.update(held=[], pid=os.getpid())
        if not _LINGER["held"]:
            _LINGER["held"] = hold_blas_at_one_thread() or [(None, 1)]  # (nothing to hold: still marked)
        _LINGER["until"] = time.monotonic() + LINGER_S


def release_lingering_hold(force: bool = False) -> None:
    """Give BLAS its threads back once the lingering hold has expired (or now, ``force``); cheap otherwise."""
    if not _LINGER["held"] or (not force and time.monotonic() < _LINGER["until"]):
        return
    with _LINGER_LOCK:
        held, _LINGER["held"] = _LINGER["held"], []
        if _LINGER["pid"] == os.getpid():
            release_blas([(c, n) for c, n in held if c is not None])


def _forget_lingering_hold() -> None:
    with _LINGER_LOCK:
        _LINGER["held"] = []
