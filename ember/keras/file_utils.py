"""``keras.utils.get_file``: download a file once into Keras's cache (``$KERAS_HOME`` or ``~/.keras``, folder
``cache_subdir``), check its hash, optionally extract a tar/zip archive; a progress bar (size, speed) shows
while downloading. Offline, the error names the URL and the cache path to copy the file to.

>>> import os, tempfile
>>> src = os.path.join(tempfile.mkdtemp(), "hello.txt")
>>> with open(src, "w") as f: _ = f.write("hi")
>>> cache = tempfile.mkdtemp()
>>> sha = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"
>>> path = get_file("hello.txt", "file://" + src, cache_dir=cache, file_hash=sha)
>>> open(path).read(), path == os.path.join(cache, "datasets", "hello.txt")
('hi', True)
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from ember.utils import download as dl

_CHUNK = 1 << 20


def keras_home():
    """``$KERAS_HOME`` when set, else ``~/.keras`` (Keras's cache root)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _hasher(algorithm, file_hash):
    if algorithm == "auto":
        algorithm = "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}")
    return algorithm


def hash_file(fpath, algorithm="sha256"):
    """The hex digest of a file (``"sha256"`` or ``"md5"``)."""
    digest = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.sha256()
    with open(fpath, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto"):
    """Whether ``fpath``'s hash equals ``file_hash``."""
    return hash_file(fpath, _hasher(algorithm, file_hash)) == str(file_hash).lower()


def _targets(fname, origin, datadir, extract):
    """(where the download goes, where it is extracted), following Keras 3's naming."""
    given = bool(fname)
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"get_file: cannot tell a file name from origin {origin!r}; pass fname=")
    elif os.sep in fname:
        raise ValueError(f"get_file: fname must be a file name, not a path ({fname!r}); use cache_dir= to "
                         "choose the folder")
    if not extract:
        return os.path.join(datadir, fname), None
    if given and "." in fname:
        stem = fname[: fname.find(".")]
        return os.path.join(datadir, fname), os.path.join(datadir, f"{stem}_extracted")
    return os.path.join(datadir, f"{fname}_archive"), os.path.join(datadir, fname)


def _download(origin, target):
    try:
        dl.download_url(origin, target, md5=None, progress=True)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RuntimeError(
            f"get_file: could not download {origin} ({type(exc).__name__}: {reason}). If this machine is "
            f"offline, copy the file to {target} yourself (it is used from there), or pass cache_dir= "
            "pointing at a folder that already holds it."
        ) from None


def _safe_extract(archive, dest, archive_format="auto"):
    """Extract a tar (any compression) or zip archive into ``dest``, refusing members that would land outside
    it and links (Python's 'data' filter for tar). Returns whether the archive was recognised."""
    formats = ["tar", "zip"] if archive_format == "auto" else [archive_format] if isinstance(
        archive_format, str) else list(archive_format)
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=os.path.dirname(os.path.abspath(dest)))
    try:
        if "tar" in formats and tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        elif "zip" in formats and zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    path = os.path.realpath(os.path.join(tmp, name))
                    if not path.startswith(os.path.realpath(tmp) + os.sep):
                        raise ValueError(f"get_file: {archive!r} holds {name!r}, a path outside the archive")
                zf.extractall(tmp)
        else:
            return False
        if os.path.isdir(dest):
            import shutil

            shutil.rmtree(dest)
        os.replace(tmp, dest)
        return True
    finally:
        if os.path.isdir(tmp):
            import shutil

            shutil.rmtree(tmp)


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """The local path of ``origin``, downloaded into ``cache_dir/cache_subdir`` (default ``~/.keras/datasets``)
    unless already there with the right hash. ``file_hash`` (sha256 or md5, told apart by length;
    ``md5_hash`` is the older spelling) is checked after download and on cached files (a stale cached file
    is fetched again). ``extract=True`` (or ``untar=True``) unpacks a tar.gz/tar/zip archive and returns
    the extracted folder, as Keras 3 does."""
    if origin is None:
        raise ValueError('get_file: pass origin= (the URL of the file to download)')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(os.fspath(cache_dir) if cache_dir is not None else keras_home())
    if not os.access(base, os.W_OK) and os.path.exists(base):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    extract = extract or untar
    target, extract_dir = _targets(os.fspath(fname) if fname else None, origin, datadir, extract)
    fresh = force_download or not os.path.exists(target)
    if not fresh and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print(f"A local file was found at {target}, but its {_hasher(hash_algorithm, file_hash)} hash does not "
              f"match {file_hash}; downloading it again.", file=sys.stderr)
        fresh = True
    if fresh:
        _download(origin, target)
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            got = hash_file(target, _hasher(hash_algorithm, file_hash))
            os.remove(target)
            raise ValueError(f"get_file: {origin} downloaded, but its {_hasher(hash_algorithm, file_hash)} hash is "
                             f"{got}, not {file_hash}: the file is incomplete or not the expected one")
    if not extract:
        return target
    if fresh or not os.path.isdir(extract_dir):
        if not _safe_extract(target, extract_dir, "tar" if untar else archive_format):
            raise ValueError(f"get_file: {target} is not a tar or zip archive, so it cannot be extracted")
    return extract_dir
