"""What a process started by ``ember.multiprocessing.spawn`` runs: read the payload from stdin, import the
function by name, call ``fn(index, *args)``; on an exception, write the traceback to the error pipe the parent
gave (``EMBER_MP_ERROR_FD``) and exit 1."""
from __future__ import annotations

import os
import runpy
import sys
import traceback
import types

ERROR_LIMIT = 32_000  # stays below a pipe's buffer, so the write never waits for the parent


def _load_main(path):
    """The parent's main script as ``__mp_main__`` (its ``if __name__ == "__main__":`` part does not run)."""
    if not path:
        return
    module = types.ModuleType("__mp_main__")
    module.__dict__.update(runpy.run_path(path, run_name="__mp_main__"))
    sys.modules["__mp_main__"] = module


def main():
    raw = sys.stdin.buffer.read()
    index = int(os.environ["EMBER_MP_INDEX"])
    err_fd = int(os.environ["EMBER_MP_ERROR_FD"])
    try:
        import json

        header = json.loads(raw.partition(b"\n")[0].decode())
        sys.path[:0] = [p for p in header["sys_path"] if p not in sys.path]
        _load_main(header.get("main"))
        from ._wire import loads, resolve

        header, decoder = loads(raw)
        fn = resolve(header["fn"])
        args = decoder.decode(header["args"])
        fn(index, *args)
    except BaseException as exc:  # noqa: BLE001  (reported to the parent, which raises it)
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            return
        text = traceback.format_exc()
        os.write(err_fd, text.encode(errors="replace")[-ERROR_LIMIT:])
        sys.stderr.write(text)
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
