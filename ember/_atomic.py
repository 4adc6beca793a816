"""Atomic file writes, shared by every saver (weights, artifacts, ONNX, TFLite): a temp file in the target's
folder, flushed to disk, then ``os.replace``, so a crash or an error mid-write leaves the previous file.

>>> import os, tempfile
>>> from ember._atomic import atomic_open
>>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
>>> with atomic_open(path) as f:
...     _ = f.write(b"hi")
>>> open(path, "rb").read()
b'hi'
"""
from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_open(path, suffix: str = ".tmp"):
    """A binary file object whose content replaces ``path`` only when the block ends without an error."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_atomic(path, data: bytes, suffix: str = ".tmp") -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_open``)."""
    with atomic_open(path, suffix) as f:
        f.write(data)
