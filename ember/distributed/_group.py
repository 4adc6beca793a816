"""Process groups: ``init_process_group``, ``new_group``, ranks and sizes (``torch.distributed``'s names).

The ``mpi`` backend takes the ranks from MPI (``mpirun`` / ``ember-run`` start them); ``gloo`` is accepted as
another name for it, so CPU programs written for PyTorch run unchanged.
"""
from __future__ import annotations

import datetime
import logging
import os
import signal

from ..errors import mark, with_user_line
from ._mpi import DistBackendError, World, install_exit_hooks, load_mpi

logger = logging.getLogger("ember")
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)
_STATE = {"world": None, "groups": {}, "next_gid": 1, "backend": None}


class Backend:
    """Backend names (``torch.distributed.Backend``)."""

    MPI, GLOO, NCCL = "mpi", "gloo", "nccl"


class ProcessGroup:
    """A set of ranks that run collectives together; ``group.WORLD`` holds every rank."""

    def __init__(self, gid: int, comm, ranks, timeout: float):
        self.gid, self.comm, self.ranks, self.timeout = gid, comm, list(ranks), timeout
        self.seq = 0

    def rank(self) -> int:
        """This process's rank inside the group (-1 when it is not a member)."""
        return -1 if self.comm is None else self.comm.Get_rank()

    def size(self) -> int:
        return len(self.ranks)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def __repr__(self):
        return f"ProcessGroup(id={self.gid}, ranks={self.ranks})"


class _GroupNamespace:
    @property
    def WORLD(self):  # noqa: N802  (PyTorch's name)
        return _STATE["groups"].get(0)


group = _GroupNamespace()
GroupMember = group


def _seconds(timeout) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def is_available() -> bool:
    """Whether the MPI backend can be used (mpi4py is installed)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    return is_available()


def is_gloo_available() -> bool:  # gloo programs run on the MPI backend
    return is_available()


def is_nccl_available() -> bool:
    return False


def is_initialized() -> bool:
    return _STATE["world"] is not None


def get_backend(group=None) -> str:
    _require("get_backend")
    return Backend.MPI


def _require(op: str):
    if _STATE["world"] is None:
        raise mark(with_user_line(RuntimeError(
            f"{op}: the default process group has not been initialized; call "
            "ember.distributed.init_process_group() first (and start the ranks with ember-run or mpirun)"), 3))
    return _STATE["world"]


def world():
    return _STATE["world"]


def resolve(group_, op: str) -> ProcessGroup:
    _require(op)
    return _STATE["groups"][0] if group_ is None else group_


def _check_backend(backend):
    if backend is None:
        return
    names = {part.split(":")[-1].strip().lower() for part in str(backend).split(",")}
    if names - {"mpi", "gloo", "nccl"}:
        raise mark(with_user_line(ValueError(
            f"init_process_group: unknown backend {backend!r}; Ember has 'mpi' (CPU; 'gloo' is accepted as "
            "another name for it)"), 3))
    if names == {"nccl"}:
        raise mark(with_user_line(ValueError(
            "init_process_group: backend 'nccl' is not available: ember.distributed has no GPU backend yet "
            "(collectives run on CPU arrays through MPI); use backend='mpi' (or 'gloo', the same) with CPU "
            "tensors"), 3))
    if "gloo" in names:
        logger.info("ember.distributed: backend 'gloo' runs on Ember's MPI backend")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group. Ranks come from MPI: start the program with ``ember-run`` or
    ``mpirun``; a plain ``python train.py`` is a group of one. ``timeout`` bounds every collective.

    >>> import ember.distributed as dist          # doctest: +SKIP
    >>> dist.init_process_group("mpi")           # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()   # doctest: +SKIP
    (0, 2)
    """
    if _STATE["world"] is not None:
        raise mark(with_user_line(RuntimeError("trying to initialize the default process group twice!"), 2))
    _check_backend(backend)
    MPI = load_mpi()
    if not MPI.Is_initialized():
        MPI.Init()
    size, me = MPI.COMM_WORLD.Get_size(), MPI.COMM_WORLD.Get_rank()
    env_size = os.environ.get("WORLD_SIZE")
    launched = "OMPI_COMM_WORLD_SIZE" in os.environ
    if env_size is not None and env_size.isdigit() and int(env_size) != size and not launched:
        raise mark(with_user_line(RuntimeError(
            f"init_process_group: WORLD_SIZE={env_size} in the environment but MPI started {size} "
            f"process(es); start the ranks with `ember-run --nproc_per_node {env_size} script.py` or "
            f"`mpirun -n {env_size}`"), 2))
    for name, want, have in (("world_size", world_size, size), ("rank", rank, me)):
        if want is not None and want >= 0 and want != have:
            raise mark(with_user_line(ValueError(
                f"init_process_group: {name}={want} but MPI says {have}; with the MPI backend the launcher "
                f"decides ranks (omit {name}=)"), 2))
    seconds = _seconds(timeout)
    w = World(MPI, seconds)
    _STATE["world"] = w
    _STATE["groups"] = {0: ProcessGroup(0, w.comm, range(size), seconds)}
    _STATE["next_gid"] = 1
    set_rank_env(me, size)
    install_exit_hooks(world)
    _install_sigterm()


def set_rank_env(rank, size):
    """RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE as torchrun sets them (kept when already set)."""
    env = os.environ
    env.setdefault("RANK", str(rank))
    env.setdefault("WORLD_SIZE", str(size))
    env.setdefault("LOCAL_RANK", env.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"))
    env.setdefault("LOCAL_WORLD_SIZE", env.get("OMPI_COMM_WORLD_LOCAL_SIZE", "1"))


def _install_sigterm():
    """mpirun stops the other ranks with SIGTERM when one dies: say why instead of dying silently."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_term(signum, frame):
        raise DistBackendError(
            f"rank {get_rank()}: terminated by the launcher (SIGTERM), usually because another rank failed; "
            "see the launcher's message above for which one")

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        pass


def destroy_process_group(group=None):
    """Leave the process group (the default one: every group); collectives then need a new init."""
    w = _require("destroy_process_group")
    if group is not None and group.gid != 0:
        _STATE["groups"].pop(group.gid, None)
        return
    w.close()
    _STATE["world"] = None
    _STATE["groups"] = {}


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None):
    """A sub-group of ``ranks`` (every rank must call this, members or not, in the same order)."""
    w = _require("new_group")
    MPI = w.MPI
    ranks = sorted(range(w.size) if ranks is None else {int(r) for r in ranks})
    bad = [r for r in ranks if not 0 <= r < w.size]
    if bad:
        raise mark(with_user_line(ValueError(
            f"new_group: ranks {bad} are outside the world of {w.size} rank(s)"), 2))
    comm = w.comm.Create(w.comm.Get_group().Incl(ranks))
    if comm == MPI.COMM_NULL:
        comm = None
    else:
        comm.Set_errhandler(MPI.ERRORS_RETURN)
    gid = _STATE["next_gid"]
    _STATE["next_gid"] += 1
    pg = ProcessGroup(gid, comm, ranks, _seconds(timeout) if timeout is not None else w.timeout)
    _STATE["groups"][gid] = pg
    return pg


def group_by_id(gid: int) -> ProcessGroup:
    _require("a collective")
    return _STATE["groups"][gid]


def get_rank(group=None) -> int:
    """This process's rank (in ``group``; -1 when not a member)."""
    w = _require("get_rank")
    return w.rank if group is None else group.rank()


def get_world_size(group=None) -> int:
    w = _require("get_world_size")
    return w.size if group is None else group.size()


def get_process_group_ranks(group) -> list:
    return list(resolve(group, "get_process_group_ranks").ranks)
