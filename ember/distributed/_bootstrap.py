"""What ``ember-run`` starts in each rank: set the torchrun variables, run the user's program, report its exit.

``python -m ember.distributed._bootstrap [-m] program args...``. The exit code is written as a tagged line
that the launcher reads (a rank that dies without one was killed).
"""
from __future__ import annotations

import os
import runpy
import sys

from .run import EXIT_MARK


def _report(code: int) -> None:
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:  # noqa: BLE001
            pass
    os.write(1, f"{EXIT_MARK} {code}\n".encode())


def _code(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return 1


def main() -> None:
    args = sys.argv[1:]
    as_module = bool(args) and args[0] == "-m"
    if as_module:
        args = args[1:]
    if not args:
        raise SystemExit("usage: python -m ember.distributed._bootstrap [-m] program args...")
    env = os.environ
    if "OMPI_COMM_WORLD_RANK" in env:
        env.setdefault("RANK", env["OMPI_COMM_WORLD_RANK"])
        env.setdefault("WORLD_SIZE", env["OMPI_COMM_WORLD_SIZE"])
        env.setdefault("LOCAL_RANK", env.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"))
        env.setdefault("LOCAL_WORLD_SIZE", env.get("OMPI_COMM_WORLD_LOCAL_SIZE", "1"))
        env.setdefault("GROUP_RANK", env.get("OMPI_COMM_WORLD_NODE_RANK", "0"))
    sys.argv = list(args)
    import atexit

    try:
        if as_module:
            runpy.run_module(args[0], run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as exc:
        atexit.register(_report, _code(exc.code))  # after the program's own exit handlers
        raise
    except BaseException:
        _report(1)
        raise
    atexit.register(_report, 0)


if __name__ == "__main__":
    main()
