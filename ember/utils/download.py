"""Cached, checksummed downloads for datasets (used by ``ember.vision.datasets`` and Keras' datasets).

Files are fetched with urllib from a list of mirrors (first success wins), verified against a known MD5,
and moved into place atomically, so a cache never holds a half-written file.

>>> import os, tempfile
>>> src = os.path.join(tempfile.mkdtemp(), "hello.txt")
>>> with open(src, "w") as f: _ = f.write("hi")
>>> dest = fetch("hello.txt", ["file://" + os.path.dirname(src)], tempfile.mkdtemp(),
...              md5="49f68a5c8493ec2c0bf489821c21fc3b")
>>> open(dest).read()
'hi'
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request

__all__ = ["DownloadError", "default_data_dir", "md5sum", "check_md5", "download_url", "fetch",
           "gunzip", "extract_tar_members"]

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror could deliver a file with the expected checksum."""


def default_data_dir() -> str:
    """Where datasets are cached when no root is given: ``$EMBER_DATA_DIR`` or ``~/.cache/ember/datasets``."""
    return os.environ.get("EMBER_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "ember",
                                                           "datasets")


def md5sum(path: str) -> str:
    """The hex MD5 digest of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path: str, md5: str | None) -> bool:
    """Whether ``path`` exists and (when ``md5`` is given) has that MD5."""
    return os.path.isfile(path) and (md5 is None or md5sum(path) == md5)


def _temp_beside(path: str) -> tuple[int, str]:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=folder)


def _write_atomically(path: str, fill) -> None:
    """Call ``fill(binary_file)`` on a temp file beside ``path``, then move it into place."""
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class _Progress:
    """A one-line progress bar on stderr: percent, bytes done / total and speed (like torchvision's tqdm bar).
    On a terminal it redraws in place; elsewhere (logs, CI) it prints the final line only."""

    def __init__(self, total: int | None, stream=None):
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        speed = f"{_size(self.done / elapsed)}/s"
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 20)
            return f"{frac:4.0%} |{bar:<20}| {_size(self.done)}/{_size(self.total)} [{elapsed:.1f}s, {speed}]"
        return f"{_size(self.done)} [{elapsed:.1f}s, {speed}]"

    def close(self) -> None:
        self.stream.write(("\r" if self.tty else "") + self.line() + "\n")
        self.stream.flush()


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def download_url(url: str, path: str, md5: str | None = None, timeout: float = 60.0, progress: bool = True) -> str:
    """Download ``url`` to ``path`` (atomically), checking the MD5 when given; with ``progress``, say what is
    downloaded where and show a progress bar (size and speed) on stderr. Returns ``path``."""
    digest = hashlib.md5(usedforsecurity=False)

    def fill(out):
        request = urllib.request.Request(url, headers={"User-Agent": "ember-datasets"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            bar = None
            if progress:
                print(f"Downloading {url} to {path}", file=sys.stderr, flush=True)
                bar = _Progress(int(length) if length and length.isdigit() else None)
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        if md5 is not None and digest.hexdigest() != md5:
            raise ValueError(f"MD5 mismatch: expected {md5}, got {digest.hexdigest()}")

    _write_atomically(path, fill)
    return path


def fetch(filename: str, mirrors, folder: str, md5: str | None = None, timeout: float = 60.0,
          progress: bool = True) -> str:
    """``folder/filename``, downloading it from the first of ``mirrors`` (base URLs) that works when it
    is missing or fails its checksum. Raises :class:`DownloadError` listing every attempt."""
    path = os.path.join(folder, filename)
    if check_md5(path, md5):
        return path
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            return download_url(url, path, md5, timeout, progress)
        except (OSError, ValueError, http.client.HTTPException) as e:
            errors.append(f"  {url}: {type(e).__name__}: {e}")
    checksum = f" (MD5 {md5})" if md5 else ""
    raise DownloadError(f"could not download {filename!r} into {folder!r}; tried:\n" + "\n".join(errors) +
                        f"\nIf this machine is offline, copy {filename}{checksum} into {folder!r} yourself.")


def gunzip(src: str, dest: str) -> str:
    """Decompress the gzip file ``src`` to ``dest`` (atomically). Returns ``dest``."""
    def fill(out):
        with gzip.open(src, "rb") as f:
            shutil.copyfileobj(f, out, _CHUNK)

    _write_atomically(dest, fill)
    return dest


def extract_tar_members(archive: str, members: dict) -> None:
    """Extract the regular files ``{member name: destination path}`` from a tar archive, and nothing
    else (no links, no paths taken from the archive)."""
    with tarfile.open(archive, "r:*") as tar:
        for name, dest in members.items():
            try:
                info = tar.getmember(name)
            except KeyError:
                raise DownloadError(f"{archive!r} has no member {name!r}; the archive is not the expected "
                                    "one (delete it and download again)") from None
            if not info.isfile():
                raise DownloadError(f"{archive!r}: member {name!r} is not a regular file")
            source = tar.extractfile(info)
            _write_atomically(dest, lambda out, source=source: shutil.copyfileobj(source, out, _CHUNK))
