"""``torch.backends.cudnn``: accepted flags. Ember does not call cuDNN (convolutions are im2col + GEMM, cuBLAS on
the GPU), so ``is_available()`` is False and the flags change nothing: ``benchmark`` (no algorithm search to
do), ``deterministic`` (Ember's GPU ops are deterministic except scatter-adds, which use atomics), ``enabled``,
``allow_tf32``."""
from __future__ import annotations

import contextlib

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10


def is_available() -> bool:
    return False


def version():
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set the flags for a block and restore them after (``torch.backends.cudnn.flags``)."""
    g = globals()
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")
    old = {n: g[n] for n in names}
    g.update(zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32)))
    try:
        yield
    finally:
        g.update(old)
