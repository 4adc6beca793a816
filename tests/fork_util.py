"""Shared piece of the fork-safety tests: run a function in a forked child and get what it sent back."""

import multiprocessing

import pytest


def run_forked(target, *args, what="the forked child", timeout=60):
    """``target(*args, conn)`` in a child made by ``fork``; returns what it sent on ``conn``. Fails the test
    (killing the child) when it is still running after ``timeout`` seconds, exits non-zero or sent nothing."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=target, args=(*args, send))
    child.start()
    send.close()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail(f"{what} hung")
    assert child.exitcode == 0, f"{what} exited with {child.exitcode}"
    assert recv.poll(1), f"{what} sent nothing back"
    return recv.recv()
